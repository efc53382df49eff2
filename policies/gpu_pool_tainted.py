"""gpu-pool-tainted: every GPU node pool carries the ``nvidia.com/gpu`` taint.

Covers EKS managed node groups, Karpenter ``NodePool``s, GKE node pools with accelerators (or
accelerator-optimised machine types) and LKE GPU pools (standalone or inline in the cluster). EKS and
GKE spell effects ``NO_SCHEDULE``; they are compared as Kubernetes spells them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import GPU_TAINT_KEY, Meta, Resource, node_pools, resource_policy, str_list

META = Meta(
    name="gpu-pool-tainted",
    description="Every GPU node pool must carry the nvidia.com/gpu taint so only GPU workloads land there.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "scheduling", "cost", "correctness"),
    remediation=(
        "Declare the GPU taint once on the pool (gpuplane does this for managed pools: nvidia.com/gpu=true:"
        "NoSchedule) and let GPU daemonsets and Kueue flavors tolerate it."
    ),
    rationale="Untainted GPU nodes fill up with CPU pods, so GPU jobs stay Pending while you pay for GPUs.",
    config={
        "taintKey": {"type": "string", "default": GPU_TAINT_KEY, "description": "The taint key GPU pools carry."},
        "allowedEffects": {
            "type": "array",
            "items": {"type": "string", "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
            "default": ["NoSchedule", "NoExecute"],
            "description": "Taint effects that keep non-GPU pods off.",
        },
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    key = str(config["taintKey"])
    effects = str_list(config["allowedEffects"])
    for pool in node_pools(resource):
        if not pool.gpu:
            continue
        if not any(t.key == key and t.effect in effects for t in pool.taints):
            yield f"{pool.title} has GPUs but no {key} taint with effect {' or '.join(effects)}"


POLICY = resource_policy(META, check)
