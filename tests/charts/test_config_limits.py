"""Limits of the upstream APIs enforced at config time, naming the key, before anything is rendered:
Kueue ResourceFlavor nodeLabels (at most 8, checked against the vendored CRD) and token budgets (Envoy
Gateway rate limits hold a uint32, checked against the vendored BackendTrafficPolicy CRD)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components import spec as spec_module
from components.spec import SpecError, parse_spec
from tests.support import raw_spec

CHARTS = Path(__file__).resolve().parents[2] / "third_party" / "charts"


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    return [str(p) for p in caught.value.problems]


def test_the_limits_are_the_vendored_crds() -> None:
    text = (CHARTS / "kueue/0.19.2/templates/crd/kueue.x-k8s.io_resourceflavors.yaml").read_text()
    # The CRD is a template; the nodeLabels schema itself is plain YAML: its description names the limit.
    assert text.count("nodeLabels can be up to 8 elements.") == 2
    assert text.count(f"maxProperties: {spec_module.MAX_FLAVOR_NODE_LABELS}") >= 2
    policy = (
        CHARTS / "gateway-helm/v1.8.3/charts/crds/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml"
    ).read_text()
    assert f"maximum: {spec_module.MAX_TOKEN_BUDGET}" in policy


def test_a_pool_with_more_flavor_labels_than_kueue_takes_is_rejected_naming_the_key() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["labels"] = {f"example.com/l{i}": "x" for i in range(7)}
    problems = _problems(raw)
    assert any(p.startswith("gpuPools[0].labels") and "at most 8 node labels" in p for p in problems), problems


def test_the_most_labels_a_pool_can_carry_are_accepted() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["labels"] = {f"example.com/l{i}": "x" for i in range(6)}  # + pool and GPU model = 8
    parsed = parse_spec(raw)
    assert len(parsed.gpu_pools[0].node_labels) == 8


@pytest.mark.parametrize(("tokens", "ok"), [(4_294_967_295, True), (4_294_967_296, False)])
def test_token_budgets_above_uint32_are_rejected_naming_the_key(tokens: int, ok: bool) -> None:
    raw = raw_spec("aws")
    raw.setdefault("gateway", {})["enabled"] = True
    raw["gateway"]["defaultBudget"] = {"tokens": tokens, "per": "Hour"}
    if ok:
        assert parse_spec(raw).gateway.default_budget.tokens == tokens
    else:
        assert any(p.startswith("gateway.defaultBudget.tokens") for p in _problems(raw))
