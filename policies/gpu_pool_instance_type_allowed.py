"""gpu-pool-instance-type-allowed: GPU capacity uses only approved instance types and accelerators.

Property: every GPU the stack can start is of a type on the allow-list, whichever resource starts it.
The default allow-list is gpuplane's catalog (every type whose GPU count and price we know), so a
typo or an unpriced type fails before it is bought. Narrow it per stack in the policy config. Checks
the instance types of every compute resource ``gpu-pool-tainted`` covers (launch templates and
instances included) and the accelerators of GKE node pools, the cluster's default and inline pools,
node auto-provisioning limits and Compute Engine instances.

Reads:
    aws:eks/nodeGroup:NodeGroup: instanceTypes, amiType
    aws:ec2/launchTemplate:LaunchTemplate: instanceType
    aws:autoscaling/group:Group: mixedInstancesPolicy.launchTemplate.overrides[].instanceType
    aws:ec2/instance:Instance: instanceType
    kubernetes:karpenter.sh/v1:NodePool: spec.template.spec.requirements
    gcp:container/nodePool:NodePool: nodeConfig.machineType, nodeConfig.guestAccelerators[].type
    gcp:container/cluster:Cluster: nodeConfig, nodePools[].nodeConfig, clusterAutoscaling.resourceLimits[].resourceType
    gcp:compute/instance:Instance: machineType, guestAccelerators[].type
    linode:index/lkeCluster:LkeCluster: pools[].type
    linode:index/lkeNodePool:LkeNodePool: type
    linode:index/instance:Instance: type
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._compute import GCE_INSTANCE, compute_pools
from ._support import (
    GKE_CLUSTER,
    GKE_NODE_POOL,
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    catalog_accelerators,
    catalog_instance_types,
    dig,
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


def _accelerators(resource: Resource) -> list[tuple[str, str]]:
    """(where, accelerator type) of every GPU a GKE/GCE resource attaches."""
    props = resource.props
    configs: list[tuple[str, object]] = []
    if resource.type == GKE_NODE_POOL:
        configs.append((f"GKE node pool {resource.name}", props.get("nodeConfig")))
    elif resource.type == GKE_CLUSTER:
        configs.append((f"GKE cluster {resource.name} default node pool", props.get("nodeConfig")))
        for index, inline in enumerate(as_list(props.get("nodePools"))):
            name = as_str(as_map(inline).get("name")) or str(index)
            configs.append((f"GKE cluster {resource.name} nodePools[{name}]", as_map(inline).get("nodeConfig")))
    elif resource.type == GCE_INSTANCE:
        configs.append((f"Compute Engine instance {resource.name}", props))
    found = [
        (where, as_str(as_map(item).get("type")) or "")
        for where, config in configs
        for item in as_list(dig(config, "guestAccelerators"))
    ]
    if resource.type == GKE_CLUSTER:
        for item in as_list(dig(props, "clusterAutoscaling", "resourceLimits")):
            kind = as_str(as_map(item).get("resourceType")) or ""
            if kind.startswith("nvidia-"):
                found.append((f"GKE cluster {resource.name} node auto-provisioning", kind))
    return [(where, kind) for where, kind in found if kind]


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(str_list(config["allowedInstanceTypes"]))
    for pool in compute_pools(resource):
        if not pool.gpu:
            continue
        for instance_type in pool.instance_types:
            if instance_type not in allowed:
                yield f"{pool.title} uses {instance_type}, which is not on the GPU instance type allow-list"
    accelerators = set(str_list(config["allowedAccelerators"]))
    for where, accelerator in _accelerators(resource):
        if accelerator not in accelerators:
            yield f"{where} attaches {accelerator}, which is not on the accelerator allow-list"


POLICY = resource_policy(META, check)
