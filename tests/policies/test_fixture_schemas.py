"""The add-ons the policy tests register are real objects: custom resources validate against the
upstream CRD schemas (strict: unknown fields rejected), core objects against Kubernetes 1.34 in
strict mode, and every Helm value path exists in the pinned chart's default values. So the shapes
the policies are tested on are the shapes a cluster would accept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from gpuplane.recording import Recording

UPSTREAM = Path("/work/shared/upstream")
GATEWAY_TREE = "_releases/envoy-gateway-v1.8.3/"
GATEWAY_GROUPS = ("gateway.envoyproxy.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io")
CORE_KINDS = {"core/v1", "apps/v1", "batch/v1"}


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _objects(recording: Recording) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in recording.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith(
            ("kubernetes:helm", "kubernetes:yaml")
        ):
            continue
        inputs = _strip_nulls(resource.inputs)
        if "apiVersion" in inputs and "kind" in inputs:
            yield resource.name, inputs


@pytest.mark.parametrize("cloud", ["aws", "gcp", "linode", "existing"])
def test_fixture_objects_validate(cloud: str, baseline: Callable[[str], Recording]) -> None:
    checked = 0
    for name, obj in _objects(baseline(cloud)):
        group_version: str = obj["apiVersion"]
        if group_version.split("/", maxsplit=1)[0] in ("v1",) or group_version in CORE_KINDS:
            kubernetes_validate.validate(obj, "1.34.0", strict=True)
        else:
            tree = GATEWAY_TREE if group_version.split("/", maxsplit=1)[0] in GATEWAY_GROUPS else ""
            path = UPSTREAM / "schemas-strict" / f"{tree}{group_version}" / f"{obj['kind']}.json"
            assert path.is_file(), f"{name}: no upstream schema at {path}"
            jsonschema.validate(obj, json.loads(path.read_text()))
        checked += 1
    assert checked >= 13


def _paths(values: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            yield from _paths(value, path)
        else:
            yield path


def _exists(defaults: Any, path: tuple[str, ...]) -> bool:
    node = defaults
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def test_fixture_helm_values_exist_in_the_charts(baseline: Callable[[str], Recording]) -> None:
    checked = 0
    for resource in baseline("aws").of_type("kubernetes:helm.sh/v3:Release"):
        chart, version = resource.inputs["chart"], resource.inputs["version"]
        values_file = UPSTREAM / "charts" / chart / version / "values.json"
        if not values_file.is_file():
            continue
        defaults = json.loads(values_file.read_text())
        for path in _paths(resource.inputs.get("values", {})):
            assert _exists(defaults, path), f"{chart} {version} has no value {'.'.join(path)}"
            checked += 1
    assert checked >= 8
