"""Every pinned chart is vendored at exactly its pin, with its subcharts, licence and source note.

A pin that was never released (prometheus-adapter 4.9.2) has no tag to vendor from, so it cannot land:
this test fails on any pin without ``third_party/charts/<chart>/<version>/Chart.yaml`` of that version.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from components import versions

CHARTS = Path(__file__).resolve().parents[2] / "third_party" / "charts"
PINS = sorted(versions.CHARTS.values(), key=lambda p: p.chart)


def _vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpuplane_vendor", CHARTS / "vendor.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _chart_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load((path / "Chart.yaml").read_text())


def _satisfies(version: str, constraint: str) -> bool:
    """The constraint forms the vendored charts use: exact, ``x.y.*`` / ``x.x.x`` wildcards, ``>=``."""
    constraint = constraint.strip().lstrip("v")
    version = version.lstrip("v")
    if constraint.startswith(">="):
        return tuple(int(p) for p in version.split(".")[:3]) >= tuple(int(p) for p in constraint[2:].split(".")[:3])
    pattern = re.escape(constraint).replace(r"\*", r"\d+").replace("x", r"\d+")
    return re.fullmatch(pattern, version) is not None


@pytest.mark.parametrize("pin", PINS, ids=lambda p: p.chart)
def test_every_pin_is_vendored_at_exactly_its_version(pin: versions.ChartPin) -> None:
    path = CHARTS / pin.chart / pin.version
    assert (path / "Chart.yaml").is_file(), f"{pin.chart} {pin.version} is not vendored under {path}"
    chart = _chart_yaml(path)
    assert chart["name"] == pin.chart
    assert str(chart["version"]) == pin.version, f"vendored Chart.yaml says {chart['version']}, pin is {pin.version}"
    assert (path / "LICENSE").is_file()
    source = (path / "SOURCE.md").read_text()
    assert re.search(r"\| commit \| `[0-9a-f]{40}` \|", source), "SOURCE.md names the commit"
    assert "| tag |" in source
    assert "| repository |" in source


@pytest.mark.parametrize("pin", PINS, ids=lambda p: p.chart)
def test_only_the_pinned_version_is_vendored(pin: versions.ChartPin) -> None:
    assert sorted(p.name for p in (CHARTS / pin.chart).iterdir() if p.is_dir()) == [pin.version]


def test_no_vendored_chart_without_a_pin() -> None:
    vendored = {p.name for p in CHARTS.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert vendored == {pin.chart for pin in PINS}


@pytest.mark.parametrize("pin", PINS, ids=lambda p: p.chart)
def test_every_dependency_is_present_at_a_matching_version(pin: versions.ChartPin) -> None:
    """Helm refuses to render a chart whose Chart.yaml dependency is missing from charts/ (even when its
    condition is false), so each one is vendored, recursively."""

    def check(path: Path) -> None:
        for dep in _chart_yaml(path).get("dependencies") or []:
            sub = path / "charts" / dep["name"]
            assert (sub / "Chart.yaml").is_file(), f"{path}: dependency {dep['name']} missing"
            version = str(_chart_yaml(sub)["version"])
            assert _satisfies(version, str(dep["version"])), f"{sub}: {version} does not satisfy {dep['version']}"
            check(sub)

    check(CHARTS / pin.chart / pin.version)


def test_the_vendor_script_vendors_exactly_the_pins() -> None:
    script = _vendor_script()
    assert {name: spec.version for name, spec in script.CHARTS.items()} == {p.chart: p.version for p in PINS}


def test_every_image_placeholder_was_substituted() -> None:
    """Release-process placeholders (``main``, ``latest``, ``v0.0.0-latest``, ``v1.0.0-devel``,
    ``release-0.19``) would make the rendered chart pull a moving or nonexistent tag."""
    for pin in PINS:
        path = CHARTS / pin.chart / pin.version
        chart = _chart_yaml(path)
        assert str(chart.get("appVersion", "")) not in {"latest", "main-latest", "main"}, pin.chart
        text = (path / "values.yaml").read_text()
        for placeholder in (r"tag: main\b", r"tag: release-", r"\$\{Gateway\w+\}", r"v0\.0\.0-latest"):
            assert not re.search(placeholder, text), f"{pin.chart}: {placeholder} left in values.yaml"


@pytest.mark.parametrize(
    ("version", "constraint", "ok"),
    [
        ("0.12.8", "0.12.*", True),
        ("0.13.0", "0.12.*", False),
        ("2.12.0", "2.x.x", True),
        ("3.0.0", "2.x.x", False),
        ("4.8.2", "4.8.2", True),
        ("4.8.3", "4.8.2", False),
    ],
)
def test_constraint_matching(version: str, constraint: str, ok: bool) -> None:
    assert _satisfies(version, constraint) is ok
