"""``promtool`` on the alert rules exactly as the observability add-on deploys them.

The rule groups are taken from the PrometheusRule objects of a recorded platform (not from the Python
builders), written to ``rules.yaml`` next to a copy of each fixture in ``promtool/``, then checked with
``promtool check rules`` and unit-tested with ``promtool test rules`` (input series, expected alerts
with their labels and rendered annotations). promtool comes from Debian's ``prometheus`` package
(``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.addons.observability import Observability, ObservabilityArgs
from gpuplane.render import kubernetes_objects
from tests.support import addon_scope, build_platform, record, spec_for

FIXTURES = Path(__file__).parent / "promtool"
FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))


@pytest.fixture(scope="module")
def rule_groups() -> list[dict[str, Any]]:
    def build() -> None:
        platform = build_platform(spec_for("aws"))
        Observability("gp-obs", ObservabilityArgs(scope=addon_scope(platform)), pulumi.ResourceOptions(parent=platform))

    rules = [o for o in kubernetes_objects(record(build)) if o["kind"] == "PrometheusRule"]
    return [group for rule in rules for group in rule["spec"]["groups"]]


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return path


def _write(tmp_path: Path, groups: list[dict[str, Any]], fixture: Path | None = None) -> Path:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, allow_unicode=True))
    if fixture is None:
        return tmp_path / "rules.yaml"
    target = tmp_path / fixture.name
    shutil.copy(fixture, target)
    return target


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_promtool_accepts_the_deployed_rules(tmp_path: Path, rule_groups: list[dict[str, Any]]) -> None:
    rules = _write(tmp_path, rule_groups)
    result = _run("check", "rules", str(rules), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[f.stem for f in FIXTURE_FILES])
def test_alert_unit_tests_pass(tmp_path: Path, rule_groups: list[dict[str, Any]], fixture: Path) -> None:
    test_file = _write(tmp_path, rule_groups, fixture)
    result = _run("test", "rules", test_file.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case(rule_groups: list[dict[str, Any]]) -> None:
    deployed = {rule["alert"] for group in rule_groups for rule in group["rules"]}
    firing: set[str] = set()
    silent: set[str] = set()
    for fixture in FIXTURE_FILES:
        for case in yaml.safe_load(fixture.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert deployed == {
        "GpuAllocatedButIdle",
        "GpuXidHardwareError",
        "GpuXidApplicationError",
        "GpuTemperatureHigh",
        "KueueWorkloadsPendingTooLong",
    }
    assert firing == deployed
    assert silent == deployed


def test_the_unit_tests_catch_a_changed_threshold(tmp_path: Path, rule_groups: list[dict[str, Any]]) -> None:
    """The fixtures are strict enough to fail: a temperature threshold of 95°C misses the 90°C GPU."""
    mutated = yaml.safe_load(yaml.safe_dump(rule_groups))
    for group in mutated:
        for rule in group["rules"]:
            if rule["alert"] == "GpuTemperatureHigh":
                rule["expr"] = rule["expr"].replace("> 85", "> 95")
    test_file = _write(tmp_path, mutated, FIXTURES / "gpu_temperature.yaml")
    result = _run("test", "rules", test_file.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "GpuTemperatureHigh" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "expr",
    [
        # the rule this replaced: fires for as long as the gauge shows the last XID, i.e. forever
        "max by (Hostname, gpu, UUID, modelName) (DCGM_FI_DEV_XID_ERRORS) > 0",
        # changes() per series: never fires, because the exporter's err_code label makes each XID a new series
        "DCGM_FI_DEV_XID_ERRORS > 0 and changes(DCGM_FI_DEV_XID_ERRORS[10m]) > 0",
    ],
    ids=["level", "per-series-changes"],
)
def test_the_xid_unit_tests_catch_a_naive_rule(tmp_path: Path, rule_groups: list[dict[str, Any]], expr: str) -> None:
    mutated = yaml.safe_load(yaml.safe_dump(rule_groups))
    for group in mutated:
        for rule in group["rules"]:
            if rule["alert"] == "GpuXidHardwareError":
                rule["expr"] = expr
    test_file = _write(tmp_path, mutated, FIXTURES / "gpu_xid.yaml")
    result = _run("test", "rules", test_file.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "GpuXidHardwareError" in result.stdout + result.stderr
