"""gpu-pool-instance-type-allowed: GPU pools use only approved instance types and accelerators.

The default allow-list is gpuplane's catalog (every type whose GPU count and price we know), so a
typo or an unpriced type fails before it is bought. Narrow it per stack in the policy config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    GKE_NODE_POOL,
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    catalog_accelerators,
    catalog_instance_types,
    dig,
    node_pools,
    resource_policy,
    str_list,
)

META = Meta(
    name="gpu-pool-instance-type-allowed",
    description="GPU node pools may only use instance types and accelerators on the allow-list.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "cost", "governance"),
    remediation="Pick a GPU model/instance type from components/catalog.py or extend allowedInstanceTypes.",
    rationale="Unknown GPU types escape the capacity and cost caps and usually mean a typo or a surprise bill.",
    config={
        "allowedInstanceTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": catalog_instance_types(),
            "description": "Instance/machine/plan types GPU pools may use (default: gpuplane's catalog).",
        },
        "allowedAccelerators": {
            "type": "array",
            "items": {"type": "string"},
            "default": catalog_accelerators(),
            "description": "GKE guest accelerator types GPU pools may attach (default: gpuplane's catalog).",
        },
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(str_list(config["allowedInstanceTypes"]))
    for pool in node_pools(resource):
        if not pool.gpu:
            continue
        for instance_type in pool.instance_types:
            if instance_type not in allowed:
                yield f"{pool.title} uses {instance_type}, which is not on the GPU instance type allow-list"
    if resource.type == GKE_NODE_POOL:
        accelerators = set(str_list(config["allowedAccelerators"]))
        for item in as_list(dig(resource.props, "nodeConfig", "guestAccelerators")):
            accelerator = as_str(as_map(item).get("type")) or ""
            if accelerator and accelerator not in accelerators:
                yield f"GKE node pool {resource.name} attaches {accelerator}, which is not on the accelerator allow-list"


POLICY = resource_policy(META, check)
