"""platform-kueue-quota-within-capacity: ClusterQueues never guarantee more GPUs than the pools have.

For each flavor, the ``nominalQuota`` of the configured resources summed over every ClusterQueue must
fit the capacity of the GPU pools the flavor selects at their maximum size. Capacity counts
``nvidia.com/gpu`` units: physical GPUs times the time-slicing/MPS replicas of the GPU operator's
device-plugin config the pool's nodes select (label ``nvidia.com/device-plugin.config`` or the
chart's ``devicePlugin.config.default``), or the MIG slices of an ``all-<profile>`` MIG config.
Flavors whose pools cannot be counted are left to the other policies.

Reads:
    kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue: spec.resourceGroups[].flavors[].resources[].nominalQuota
    kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor: spec.nodeLabels
    aws:eks/nodeGroup:NodeGroup: instanceTypes, scalingConfig.maxSize, labels
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._kueue import flavors, is_kueue, quantity, units_per_gpu
from ._support import (
    GPU_RESOURCE,
    Finding,
    Meta,
    Resource,
    all_node_pools,
    as_list,
    as_map,
    as_str,
    dig,
    fmt_number,
    stack_policy,
    str_list,
)

META = Meta(
    name="platform-kueue-quota-within-capacity",
    description="ClusterQueue nominal GPU quotas per flavor must fit the capacity of the pools behind the flavor.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "kueue", "gpu", "quota", "correctness"),
    remediation="Lower tenants' quotas or raise the pools' maxNodes so guaranteed quotas can all be met.",
    rationale="Quotas above capacity are promises the cluster cannot keep: admitted jobs wait for nodes that never come.",
    config={
        "resources": {
            "type": "array",
            "items": {"type": "string"},
            "default": [GPU_RESOURCE],
            "description": "Resource names whose nominal quotas are checked.",
        },
        "overcommitFactor": {
            "type": "number",
            "minimum": 0,
            "default": 1,
            "description": "How far the summed nominal quota may exceed capacity (1 = not at all).",
        },
    },
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    names = set(str_list(config["resources"]))
    factor = float(config["overcommitFactor"])
    quotas: dict[str, list[tuple[str, float]]] = {}
    for resource in resources:
        if not is_kueue(resource, "ClusterQueue"):
            continue
        queue = as_str(dig(resource.props, "metadata", "name")) or resource.name
        for group in as_list(dig(resource.props, "spec", "resourceGroups")):
            for flavor in as_list(as_map(group).get("flavors")):
                flavor_name = as_str(as_map(flavor).get("name")) or ""
                for entry in as_list(as_map(flavor).get("resources")):
                    if as_str(as_map(entry).get("name")) in names:
                        amount = quantity(as_map(entry).get("nominalQuota"))
                        if amount:
                            quotas.setdefault(flavor_name, []).append((queue, amount))
    if not quotas:
        return
    pools = [p for p in all_node_pools(resources) if p.gpu]
    by_name = {f.name: f for f in flavors(resources)}
    for flavor_name, entries in sorted(quotas.items()):
        flavor = by_name.get(flavor_name)
        if flavor is None:
            continue
        selected = [p for p in pools if flavor.node_labels and flavor.selects(p)]
        counts = [p.max_gpus for p in selected]
        if not selected or None in counts:
            continue
        capacity = sum((p.max_gpus or 0) * units_per_gpu(p, resources) for p in selected)
        total = sum(amount for _, amount in entries)
        if total > capacity * factor + 1e-9:
            listing = ", ".join(f"{queue}: {fmt_number(amount)}" for queue, amount in sorted(entries))
            yield Finding(
                f"ClusterQueues guarantee {fmt_number(total)} {'/'.join(sorted(names))} on flavor {flavor_name} "
                f"({listing}) but its pools provide at most {capacity}",
                flavor.resource.urn,
            )


POLICY = stack_policy(META, check)
