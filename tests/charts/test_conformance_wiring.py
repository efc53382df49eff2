"""conformance-stack-ai-requirements counts a MUST as met only when its wiring is there: on every example
stack the real platform is wired, and each broken wire makes its requirement missing, naming the wire."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies import conformance_stack_ai_requirements as conformance
from policies._support import Resource
from tests.charts.conftest import RenderedStack, rendered_stack


def _resources(stack: RenderedStack) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, r.inputs) for r in stack.recording.resources]


def test_every_example_stack_is_wired(stack: RenderedStack) -> None:
    resources = _resources(stack)
    assert conformance.unwired(resources) == {}
    status = conformance.provided(resources, conformance.META.defaults())
    assert status["pod_autoscaling"]
    assert status["ai_service_metrics"]
    assert status["accelerator_metrics"]


def _release(resources: list[Resource], chart: str) -> dict[str, Any]:
    (found,) = [r for r in resources if r.type == "kubernetes:helm.sh/v3:Release" and r.props.get("chart") == chart]
    return found.props["values"]


def _break(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        values = values[key]
    if value is None:
        values.pop(path[-1])
    else:
        values[path[-1]] = value


BREAKS: list[tuple[str, str, str, Callable[[list[Resource]], None], str]] = [
    (
        "aws-dev",
        "pod_autoscaling",
        "no adapter rules",
        lambda rs: _break(_release(rs, "prometheus-adapter"), ("rules", "custom"), []),
        "prometheus-adapter serves no custom metrics",
    ),
    (
        "aws-dev",
        "pod_autoscaling",
        "adapter reads another Prometheus",
        lambda rs: _break(_release(rs, "prometheus-adapter"), ("prometheus", "url"), "http://prometheus.elsewhere.svc"),
        "not the stack's Prometheus",
    ),
    (
        "aws-dev",
        "ai_service_metrics",
        "no Prometheus volume",
        lambda rs: _break(_release(rs, "kube-prometheus-stack"), ("prometheus", "prometheusSpec", "storageSpec"), None),
        "Prometheus has no storage",
    ),
    (
        "aws-dev",
        "ai_service_metrics",
        "EKS without a default StorageClass",
        lambda rs: rs.__setitem__(
            slice(None), [r for r in rs if r.type != "kubernetes:storage.k8s.io/v1:StorageClass"]
        ),
        "EKS marks no StorageClass default",
    ),
    (
        "gcp-dev",
        "ai_service_metrics",
        "a monitor Prometheus does not select",
        lambda rs: (
            next(r for r in rs if r.type == "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
            .props["metadata"]["labels"]
            .clear()
        ),
        "does not pick ServiceMonitor",
    ),
    (
        "linode-dev",
        "accelerator_metrics",
        "DCGM not scraped",
        lambda rs: _break(_release(rs, "gpu-operator"), ("dcgmExporter", "serviceMonitor", "enabled"), False),
        "nothing scrapes it",
    ),
]


@pytest.mark.parametrize(("stack_name", "requirement", "what", "mutate", "reason"), BREAKS, ids=[b[2] for b in BREAKS])
def test_a_broken_wire_makes_its_requirement_missing(
    stack_name: str, requirement: str, what: str, mutate: Callable[[list[Resource]], None], reason: str
) -> None:
    resources = [
        Resource(r.type, r.name, r.urn, copy.deepcopy(dict(r.props))) for r in _resources(rendered_stack(stack_name))
    ]
    mutate(resources)
    config = conformance.META.defaults()
    assert conformance.provided(resources, config)[requirement] is False, what
    (finding,) = list(conformance.check(resources, config))
    assert reason in finding.message
    assert f"{requirement} (" in finding.message
