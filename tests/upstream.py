"""Checks against what upstream accepts, with upstream's own validators and data.

- custom resources: the pinned releases' strict CRD schemas (``third_party/upstream/schemas-strict``)
  with ``jsonschema``; gateway groups use the tree of what Envoy Gateway v1.8.3 installs;
- core objects: ``kubernetes-validate`` in strict mode for the stack's Kubernetes version;
- Helm values: every key path we set must exist in the pinned chart's default values (the rule in
  ``third_party/upstream/README.md``), plus the chart's ``values.schema.json`` where it ships one;
- PromQL: ``promql-parser``; metric names: the pinned releases' metric lists.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import yaml

UPSTREAM = Path(__file__).resolve().parents[1] / "third_party" / "upstream"
# Defaults that upstream/ does not have, taken from the chart's own repository: sub-charts that upstream/
# lists as dependencies but does not package (e.g. grafana inside kube-prometheus-stack), and charts with
# no upstream/ folder at all (cluster-autoscaler, looked up by chart_dir). Each folder holds values.json
# (or, for a partial stand-in, an excerpt) and a SOURCE.md naming repository, commit, path and version.
UPSTREAM_EXTRA = Path(__file__).resolve().parents[1] / "third_party" / "upstream-extra"
# The pinned charts themselves, vendored at their release tags (third_party/charts/README.md).
VENDORED_CHARTS = Path(__file__).resolve().parents[1] / "third_party" / "charts"
GATEWAY_TREE = "envoy-gateway-v1.8.3"
GATEWAY_GROUPS = {"gateway.envoyproxy.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io"}


@functools.cache
def _index() -> dict[str, Any]:
    return json.loads((UPSTREAM / "schemas" / "index.json").read_text())


def crd_kinds() -> set[str]:
    """``group/version/Kind`` of every CRD kind we have a schema for."""
    return set(_index()["default"]) | {k for tree in _index()["variants"].values() for k in tree}


def is_custom(obj: Mapping[str, Any]) -> bool:
    group = str(obj["apiVersion"]).rpartition("/")[0]
    return any(key.startswith(f"{group}/") for key in crd_kinds()) if group else False


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


@functools.cache
def _strict_schema(api_version: str, kind: str) -> dict[str, Any]:
    key = f"{api_version}/{kind}"
    group = api_version.rpartition("/")[0]
    entry = None
    if group in GATEWAY_GROUPS:
        entry = _index()["variants"].get(GATEWAY_TREE, {}).get(key)
    entry = entry or _index()["default"].get(key)
    if entry is None:
        raise LookupError(f"no upstream schema for {key}")
    return json.loads((UPSTREAM / entry["strictSchema"]).read_text())


def validate_custom(obj: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``obj`` is valid for its pinned CRD (strict)."""
    schema = _strict_schema(str(obj["apiVersion"]), str(obj["kind"]))
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(
        strip_nulls(dict(obj))
    )


def validate_core(obj: Mapping[str, Any], kubernetes_version: str) -> None:
    """Raise ``kubernetes_validate.ValidationError`` unless ``obj`` is a valid core object (strict)."""
    kubernetes_validate.validate(strip_nulls(dict(obj)), f"{kubernetes_version}.0", strict=True)


def validate_object(obj: Mapping[str, Any], kubernetes_version: str) -> None:
    if is_custom(obj):
        validate_custom(obj)
    else:
        validate_core(obj, kubernetes_version)


# --- Helm values -----------------------------------------------------------------------------


def chart_dir(chart: str, version: str) -> Path:
    """The chart's folder in ``upstream/charts``, else in ``upstream-extra/charts`` (with a ``values.json``).

    ``upstream-extra`` holds defaults taken by hand from a chart's own repository (its ``SOURCE.md`` says
    from where); such a folder has no ``chart.json``, so the chart is treated as having no dependencies.
    """
    path = UPSTREAM / "charts" / chart / version
    if path.is_dir():
        return path
    extra = UPSTREAM_EXTRA / "charts" / chart / version
    if (extra / "values.json").is_file():
        return extra
    vendored = VENDORED_CHARTS / chart / version
    if (vendored / "values.yaml").is_file():
        return vendored
    raise LookupError(f"no upstream defaults for chart {chart} {version}")


def _load_defaults(path: Path) -> dict[str, Any]:
    if not (path / "values.json").is_file():  # a vendored chart (third_party/charts): its own values.yaml
        return yaml.safe_load((path / "values.yaml").read_text()) or {}
    return json.loads((path / "values.json").read_text())


def unknown_value_paths(chart: str, version: str, values: Mapping[str, Any]) -> list[str]:
    """Key paths set in ``values`` that the pinned chart (or its sub-charts) does not have."""
    base = chart_dir(chart, version)
    info = json.loads((base / "chart.json").read_text()) if (base / "chart.json").is_file() else {}
    subcharts: dict[str, Path] = {}
    for dep in info.get("dependencies", []):
        key = dep.get("valuesKey") or dep.get("alias") or dep["name"]
        vendored = VENDORED_CHARTS / chart / version / "charts" / dep["name"]
        if dep.get("filesIn"):
            subcharts[key] = base / dep["filesIn"]
        elif (vendored / "values.yaml").is_file():  # the subchart the published package carries
            subcharts[key] = vendored
        elif (UPSTREAM_EXTRA / "charts" / dep["name"] / dep["version"] / "values.json").exists():
            subcharts[key] = UPSTREAM_EXTRA / "charts" / dep["name"] / dep["version"]
    missing: list[str] = []
    defaults = _load_defaults(base)
    for key, value in values.items():
        if key not in defaults and key in subcharts:
            sub_defaults = _load_defaults(subcharts[key])
            missing.extend(f"{key}.{p}" for p in _missing(value, sub_defaults, ""))
        elif key in subcharts and isinstance(value, dict):
            # Helm merges the parent's block over the sub-chart's defaults all the way down.
            merged = _deep_merge(_load_defaults(subcharts[key]), defaults.get(key) or {})
            missing.extend(f"{key}.{p}" for p in _missing(value, merged, ""))
        else:
            missing.extend(_missing({key: value}, defaults, ""))
    return missing


# Keys that are Kubernetes label/annotation/selector maps wherever they appear: free-form by definition,
# even when a chart's default happens to hold an entry (e.g. nodeSelector: {kubernetes.io/os: linux}).
FREE_FORM_MAPS = frozenset(
    {"nodeSelector", "labels", "annotations", "podLabels", "podAnnotations", "additionalLabels", "commonLabels"}
)


def _missing(values: Any, defaults: Any, prefix: str) -> Iterator[str]:
    if not isinstance(values, dict):
        return
    if not isinstance(defaults, dict):
        yield from (f"{prefix}{k}" for k in values)
        return
    if not defaults:  # a free-form map (annotations, labels, nodeSelector, resources ...)
        return
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in defaults:
            yield path
            continue
        if key in FREE_FORM_MAPS and isinstance(value, dict):
            continue
        default = defaults[key]
        if isinstance(value, dict):
            yield from _missing(value, default, f"{path}.")
        elif isinstance(value, list) and isinstance(default, list) and default and isinstance(default[0], dict):
            for index, item in enumerate(value):
                yield from _missing(item, default[0], f"{path}[{index}].")


def validate_values_schema(chart: str, version: str, values: Mapping[str, Any]) -> None:
    """Validate against the chart's ``values.schema.json`` (merged over defaults, as Helm does)."""
    base = chart_dir(chart, version)
    schema_path = base / "values.schema.json"
    if not schema_path.exists():
        return
    merged = _deep_merge(_load_defaults(base), dict(values))
    jsonschema.Draft7Validator(json.loads(schema_path.read_text())).validate(merged)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


# --- PromQL and metrics ----------------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """Every metric name an expression selects (parsing it with promql-parser)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            names.update(m.value for m in node.matchers.matchers if m.name == "__name__")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


@functools.cache
def known_metrics() -> frozenset[str]:
    """Metric names the pinned releases export (histogram/summary rows expand to their series)."""
    names: set[str] = set()
    for path in (UPSTREAM / "metrics").rglob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if "field" in row:  # DCGM exporter counters files
                    if row.get("type") != "label" and row.get("enabled", "true") != "false":
                        names.add(row["field"])
                    continue
                name = row["name"]
                names.add(name)
                if row.get("type") in {"histogram", "summary"}:
                    names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return frozenset(names)


def dcgm_enabled_counters() -> frozenset[str]:
    """Counters the DCGM exporter collects with its default counters file."""
    path = UPSTREAM / "metrics" / "dcgm-exporter" / "4.5.3-4.8.2" / "default-counters.csv"
    with path.open(newline="") as handle:
        return frozenset(
            row["field"] for row in csv.DictReader(handle) if row["enabled"] == "true" and row["type"] != "label"
        )
