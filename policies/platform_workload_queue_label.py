"""platform-workload-queue-label: workloads that request GPUs go through a Kueue LocalQueue.

Kueue only manages workloads that carry ``kueue.x-k8s.io/queue-name`` (with the default
``manageJobsWithoutQueueName: false``); an unlabelled GPU Job or Deployment bypasses every quota.
Checked on the workload's labels or its pod template's. DaemonSets are skipped (Kueue cannot queue
them), as are the namespaces in ``exemptNamespaces``.

Reads:
    kubernetes:batch/v1:Job: metadata.labels, spec.template.metadata.labels, spec.template.spec.containers[].resources
    kubernetes:apps/v1:Deployment: metadata.labels, spec.template.metadata.labels, spec.template.spec.containers[].resources
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    GPU_RESOURCE,
    QUEUE_LABEL,
    Meta,
    Resource,
    dig,
    k8s_kind,
    namespace_of,
    pod_templates,
    requests_gpu,
    resource_policy,
    str_list,
    str_map,
)

META = Meta(
    name="platform-workload-queue-label",
    description="Workloads that request GPUs must carry the Kueue queue label.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "kueue", "gpu", "quota", "fairness"),
    remediation="Add metadata.labels[kueue.x-k8s.io/queue-name] naming the tenant's LocalQueue.",
    rationale="GPU workloads outside Kueue take GPUs other tenants were guaranteed.",
    config={
        "queueLabel": {"type": "string", "default": QUEUE_LABEL, "description": "The label naming the LocalQueue."},
        "gpuResources": {
            "type": "array",
            "items": {"type": "string"},
            "default": [GPU_RESOURCE],
            "description": "Extended resources that count as GPUs (nvidia.com/mig-* always do).",
        },
        "exemptNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["gpu-operator", "kube-system"],
            "description": "Namespaces whose GPU workloads are platform components, not tenants.",
        },
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    _, kind = k8s_kind(resource.type)
    if kind == "DaemonSet":
        return
    namespace = namespace_of(resource)
    if namespace in str_list(config["exemptNamespaces"]):
        return
    label = str(config["queueLabel"])
    resources = str_list(config["gpuResources"])
    templates = [t for t in pod_templates(resource) if requests_gpu(t.spec, resources)]
    if not templates:
        return
    own = str_map(dig(resource.props, "metadata", "labels"))
    if own.get(label) or all(t.labels.get(label) for t in templates):
        return
    yield f"{kind} {namespace}/{resource.name} requests GPUs but has no {label} label; it bypasses Kueue quotas"


POLICY = resource_policy(META, check)
