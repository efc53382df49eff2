"""The CrossGuard pack's copies of the guardrail definitions equal components/guardrails.py.

The pack is self-contained (published without gpuplane's components), so it cannot import the module; this
test is what keeps the two enforcement layers — admission policies in the cluster, CrossGuard before
deployment — on one definition.
"""

from __future__ import annotations

from components import guardrails
from components.addons import admission
from policies import _support, platform_container_not_privileged, platform_workload_queue_label


def test_queue_label_and_gpu_resources_match() -> None:
    assert _support.QUEUE_LABEL == guardrails.QUEUE_LABEL
    assert (_support.GPU_RESOURCE,) == guardrails.GPU_RESOURCES
    config = platform_workload_queue_label.META.config
    assert config["queueLabel"]["default"] == guardrails.QUEUE_LABEL
    assert tuple(config["exemptNamespaces"]["default"]) == guardrails.QUEUE_EXEMPT_NAMESPACES


def test_the_pack_counts_every_gpu_prefix_as_a_gpu() -> None:
    for prefix in guardrails.GPU_RESOURCE_PREFIXES:
        spec = {"containers": [{"name": "c", "resources": {"limits": {f"{prefix}1g.10gb": 1}}}]}
        assert _support.requests_gpu(spec, [_support.GPU_RESOURCE])


def test_isolation_definitions_match() -> None:
    assert platform_container_not_privileged.HOST_NAMESPACES == guardrails.HOST_NAMESPACES
    assert platform_container_not_privileged.DANGEROUS_CAPABILITIES == guardrails.DANGEROUS_CAPABILITIES
    assert tuple(platform_container_not_privileged.DEFAULT_ALLOWED_NAMESPACES) == guardrails.PRIVILEGED_NAMESPACES


def test_admission_policies_are_generated_from_the_definitions() -> None:
    isolation = admission.isolation_policy()
    exempt = isolation["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"]
    text = str(isolation)

    assert tuple(exempt) == guardrails.PRIVILEGED_NAMESPACES
    for field in guardrails.HOST_NAMESPACES:
        assert f"object.spec.{field}" in text
    for capability in guardrails.DANGEROUS_CAPABILITIES:
        assert f"'{capability}'" in text
    for resource in guardrails.GPU_RESOURCES:
        assert f"'{resource}'" in text
    queue = admission.queue_policy()
    assert tuple(queue["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"]) == (
        guardrails.QUEUE_EXEMPT_NAMESPACES
    )
    assert guardrails.QUEUE_LABEL in str(queue)
