"""``gpuplane render`` on every example stack, and everything it writes checked against upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from gpuplane import cli, stackfiles
from tests import upstream
from tests.support import example_plan, replay_example_plans

EXAMPLES = [stackfiles.stack_name(p) for p in stackfiles.discover()]
# Pinned charts whose default values exist nowhere offline (neither third_party/upstream nor
# third_party/upstream-extra, nor a stand-in below); their values would be checked against nothing.
NO_UPSTREAM_DEFAULTS: set[str] = set()
# Pinned (chart, version) whose own values.yaml could not be had offline, mapped to the folder in
# third_party/upstream-extra/charts/<chart>/ holding the nearest version that could. The key paths are
# checked against that file (never skipped); its SOURCE.md says how near it is and what it cannot catch.
STAND_IN_DEFAULTS: dict[tuple[str, str], str] = {
    # Every pinned chart is vendored at its pin now (third_party/charts): no stand-in is needed.
}
# Container fields a chart copies verbatim into its pod template (absent from its defaults); the GPU
# add-on's tests render that pod and validate it with kubernetes-validate.
# kube-prometheus-stack's grafana.* keys are checked against the grafana 12.11.1 subchart vendored with it.
CHECKED_ELSEWHERE = {
    # The LWS chart renders podSecurityContext whole into the pod spec; the seccomp profile a restricted
    # namespace requires is checked as a PodSecurityContext in tests/components/addons/test_workloads.py.
    "lws": {"podSecurityContext.seccompProfile"},
    "dcgm-exporter": {"securityContext.privileged", "extraVolumeMounts[1].readOnly", "extraVolumeMounts[2].readOnly"},
    # The EnvoyGateway config document (config.envoyGateway) is free-form in the chart; its fields are
    # checked by tests/components/addons/test_gateway.py against Envoy Gateway v1.8.3's config types.
    "gateway-helm": {
        "config.envoyGateway.provider.kubernetes",
        "config.envoyGateway.rateLimit",
        "config.envoyGateway.extensionManager",
    },
    # extraArgs is free-form in the chart: templates/deployment.yaml renders every entry as a
    # `--<key>=<value>` container argument, so these keys are cluster-autoscaler flags, not chart values.
    # Each was checked by hand against cluster-autoscaler/config/flags/flags.go (kubernetes/autoscaler,
    # 1.34 line); the commits are in third_party/upstream-extra/charts/cluster-autoscaler/*/SOURCE.md.
    # Check a new flag there before adding it here.
    "cluster-autoscaler": {
        "extraArgs.balance-similar-node-groups",
        "extraArgs.skip-nodes-with-local-storage",
        "extraArgs.expander",
        "extraArgs.scale-down-unneeded-time",
        "extraArgs.scale-down-delay-after-add",
    },
}


@pytest.fixture(scope="module", params=EXAMPLES)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    stack = str(request.param)
    out = tmp_path_factory.mktemp(stack)
    with pytest.MonkeyPatch.context() as patch:  # the plan the other tests here check, made once per process
        replay_example_plans(patch)
        assert cli.main(["render", stack, "--out", str(out)]) == cli.EXIT_OK
    return stack, out


def _defaults_version(chart: str, version: str) -> str:
    """The folder holding the defaults ``chart`` ``version`` is checked against (a stand-in, if mapped)."""
    return STAND_IN_DEFAULTS.get((chart, version), version)


def _objects(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))]


def test_every_object_validates_against_upstream(rendered: tuple[str, Path]) -> None:
    stack, out = rendered
    spec = example_plan(stack).spec
    assert spec is not None
    objects = _objects(out)
    assert objects, "a platform creates namespaces and queues"
    for obj in objects:
        upstream.validate_object(obj, spec.kubernetes_version)


def test_one_file_per_object_and_no_secret_in_plain_text(rendered: tuple[str, Path]) -> None:
    stack, out = rendered
    plan = example_plan(stack)
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
        defaults = _defaults_version(chart["chart"], chart["version"])
        unknown = set(upstream.unknown_value_paths(chart["chart"], defaults, values))
        assert unknown == CHECKED_ELSEWHERE.get(chart["chart"], set()), chart
        upstream.validate_values_schema(chart["chart"], defaults, values)


def _has_defaults(chart: str, version: str) -> bool:
    try:
        path = upstream.chart_dir(chart, version)
    except LookupError:
        return False
    return (path / "values.json").is_file() or (path / "values.yaml").is_file()


def test_only_the_documented_charts_lack_upstream_defaults() -> None:
    missing = {
        pin.chart
        for pin in versions.CHARTS.values()
        if not _has_defaults(pin.chart, _defaults_version(pin.chart, pin.version))
    }
    assert missing == NO_UPSTREAM_DEFAULTS


def test_stand_ins_are_only_for_current_pins_without_their_own_defaults() -> None:
    pins = {(pin.chart, pin.version) for pin in versions.CHARTS.values()}
    for (chart, version), folder in STAND_IN_DEFAULTS.items():
        assert (chart, version) in pins, f"{chart} {version} is no longer pinned: drop or redo its stand-in"
        assert not _has_defaults(chart, version), f"{chart} {version} has its own defaults now: drop the stand-in"
        source = upstream.UPSTREAM_EXTRA / "charts" / chart / folder / "SOURCE.md"
        assert source.is_file(), f"{source} must say where the stand-in comes from"
        assert version in source.read_text(), f"{source} must say what it stands in for"
