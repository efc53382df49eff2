"""``gpuplane render`` on every example stack, and everything it writes checked against upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from gpuplane import cli, stackfiles
from gpuplane.plan import plan_stack
from tests import upstream

EXAMPLES = [stackfiles.stack_name(p) for p in stackfiles.discover()]
# Charts whose default values are not in third_party/upstream (no offline copy exists): their values are
# checked by the owning component's tests against the chart's documented keys instead.
NO_UPSTREAM_DEFAULTS = {"cluster-autoscaler"}
# Container fields a chart copies verbatim into its pod template (absent from its defaults); the GPU
# add-on's tests render that pod and validate it with kubernetes-validate.
# kube-prometheus-stack 88.5.3 bundles grafana 12.11.1, whose defaults could not be had offline: these
# grafana.* keys are checked by tests/components/addons/test_observability.py against the grafana chart
# defaults stored in third_party/upstream-extra (13.1.0, and present in 11.1.6 too).
CHECKED_ELSEWHERE = {
    "dcgm-exporter": {"securityContext.privileged", "extraVolumeMounts[1].readOnly", "extraVolumeMounts[2].readOnly"},
    # The EnvoyGateway config document (config.envoyGateway) is free-form in the chart; its fields are
    # checked by tests/components/addons/test_gateway.py against Envoy Gateway v1.8.3's config types.
    "gateway-helm": {
        "config.envoyGateway.provider.kubernetes",
        "config.envoyGateway.rateLimit",
        "config.envoyGateway.extensionManager",
    },
    "kube-prometheus-stack": {
        "grafana.nodeSelector",
        "grafana.sidecar.dashboards.folderAnnotation",
        "grafana.sidecar.dashboards.provider.foldersFromFilesStructure",
    },
}


@pytest.fixture(scope="module", params=EXAMPLES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    stack = str(request.param)
    out = tmp_path_factory.mktemp(stack)
    assert cli.main(["render", stack, "--out", str(out)]) == cli.EXIT_OK
    return stack, out


def _objects(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))]


def test_every_object_validates_against_upstream(rendered: tuple[str, Path]) -> None:
    stack, out = rendered
    spec = plan_stack(stackfiles.load(stackfiles.resolve(stack))).spec
    assert spec is not None
    objects = _objects(out)
    assert objects, "a platform creates namespaces and queues"
    for obj in objects:
        upstream.validate_object(obj, spec.kubernetes_version)


def test_one_file_per_object_and_no_secret_in_plain_text(rendered: tuple[str, Path]) -> None:
    stack, out = rendered
    plan = plan_stack(stackfiles.load(stackfiles.resolve(stack)))
    objects = [r for r in plan.recording.resources if r.type.startswith("kubernetes:") and "helm.sh" not in r.type]
    assert len(list(out.glob("*.yaml"))) == len(objects)
    secrets = [r for r in plan.recording.resources if any(r.is_secret(k) for k in r.wire_inputs)]
    text = "\n".join(p.read_text() for p in out.rglob("*.yaml"))
    for resource in secrets:
        for key, value in resource.inputs.items():
            if resource.is_secret(key) and isinstance(value, str) and len(value) > 8:
                assert value not in text, f"{resource.name}.{key} leaked"


def test_charts_json_lists_every_release_at_its_pin(rendered: tuple[str, Path]) -> None:
    _, out = rendered
    charts = json.loads((out / "charts.json").read_text())
    assert charts
    pins = {(p.chart, p.version, p.repository) for p in versions.CHARTS.values()}
    for chart in charts:
        assert set(chart) == {"release", "namespace", "chart", "repository", "version"}
        assert (chart["chart"], chart["version"], chart["repository"]) in pins
        assert (out / "values" / f"{chart['release']}.yaml").is_file()


def test_every_values_key_path_exists_in_the_pinned_chart(rendered: tuple[str, Path]) -> None:
    _, out = rendered
    for chart in json.loads((out / "charts.json").read_text()):
        if chart["chart"] in NO_UPSTREAM_DEFAULTS:
            continue
        values = yaml.safe_load((out / "values" / f"{chart['release']}.yaml").read_text()) or {}
        unknown = set(upstream.unknown_value_paths(chart["chart"], chart["version"], values))
        assert unknown == CHECKED_ELSEWHERE.get(chart["chart"], set()), chart
        upstream.validate_values_schema(chart["chart"], chart["version"], values)


def test_only_the_documented_charts_lack_upstream_defaults() -> None:
    missing = {
        pin.chart
        for pin in versions.CHARTS.values()
        if not (upstream.UPSTREAM / "charts" / pin.chart / pin.version / "values.json").exists()
    }
    assert missing == NO_UPSTREAM_DEFAULTS
