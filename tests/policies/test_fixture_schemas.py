"""The add-ons the policy tests register are real objects: custom resources validate against the
upstream CRD schemas (strict: unknown fields rejected), core objects against Kubernetes 1.34 in
strict mode, and every Helm value path exists in the pinned chart's default values. So the shapes
the policies are tested on are the shapes a cluster would accept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gpuplane.recording import Recording
from tests.stacks.test_render import CHECKED_ELSEWHERE
from tests.upstream import strip_nulls, unknown_value_paths, validate_object

# The Kubernetes version the policy baselines are built for (tests/policies/builders.py); core objects are
# checked with kubernetes-validate strict for it, custom resources against the vendored strict CRD schemas
# (third_party/upstream, never ../shared: a fresh clone has only the repository).
KUBERNETES_VERSION = "1.35"


def _objects(recording: Recording) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in recording.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith(
            ("kubernetes:helm", "kubernetes:yaml")
        ):
            continue
        inputs = strip_nulls(resource.inputs)
        if "apiVersion" in inputs and "kind" in inputs:
            yield resource.name, inputs


@pytest.mark.parametrize("cloud", ["aws", "gcp", "linode", "existing"])
def test_fixture_objects_validate(cloud: str, baseline: Callable[[str], Recording]) -> None:
    checked = 0
    for name, obj in _objects(baseline(cloud)):
        try:
            validate_object(obj, KUBERNETES_VERSION)
        except Exception as error:  # name the object in the failure
            pytest.fail(f"{name} ({obj['apiVersion']}/{obj['kind']}): {error}")
        checked += 1
    assert checked >= 13


def test_fixture_helm_values_exist_in_the_charts(baseline: Callable[[str], Recording]) -> None:
    checked = 0
    for resource in baseline("aws").of_type("kubernetes:helm.sh/v3:Release"):
        chart, version = resource.inputs["chart"], resource.inputs["version"]
        values = resource.inputs.get("values", {})
        try:
            unknown = unknown_value_paths(chart, version, values)
        except LookupError:  # not a chart the platform pins (e.g. the baseline's KubeRay operator)
            continue
        # Keys the chart passes through as free-form (cluster-autoscaler's extraArgs flags) were checked by
        # hand against the component's own flags; everything else must exist in the pinned chart.
        assert set(unknown) <= CHECKED_ELSEWHERE.get(chart, set()), f"{chart} {version}: {unknown}"
        checked += 1
    assert checked >= 8
