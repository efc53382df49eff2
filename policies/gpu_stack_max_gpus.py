"""gpu-stack-max-gpus: all GPU capacity the stack can buy stays under a configured number of GPUs.

Property: the stack cannot reach more GPUs than ``maxGpus``, through any compute resource of any cloud.
Counts every pool at its maximum size (``_compute.stack_node_pools``): EKS managed node groups
(``instanceTypes``, or the instance type of the launch template they name, resolved in the stack),
self-managed auto scaling groups (``mixedInstancesPolicy`` overrides or launch template), EC2
instances, Karpenter NodePools (``spec.limits["nvidia.com/gpu"]``), GKE node pools, the GKE
cluster's default pool and inline ``nodePools`` (per-zone counts times zones), GKE node
auto-provisioning GPU limits, Compute Engine instances, LKE pools (inline and standalone) and Linode
instances. A GPU pool whose maximum or GPU count cannot be read, and a pool whose instance type
cannot be read at all (a launch template or configuration the stack does not declare), is reported:
an unbounded or unknown pool defeats the cap.

Reads:
    aws:eks/nodeGroup:NodeGroup: instanceTypes, amiType, scalingConfig.minSize, scalingConfig.maxSize, launchTemplate.id, launchTemplate.name
    aws:ec2/launchTemplate:LaunchTemplate: name, instanceType
    aws:autoscaling/group:Group: minSize, maxSize, launchTemplate, launchConfiguration, mixedInstancesPolicy.launchTemplate
    aws:ec2/instance:Instance: instanceType
    kubernetes:karpenter.sh/v1:NodePool: spec.template.spec.requirements, spec.limits
    gcp:container/nodePool:NodePool: nodeConfig.machineType, nodeConfig.guestAccelerators, autoscaling, nodeCount, initialNodeCount, location, nodeLocations
    gcp:container/cluster:Cluster: removeDefaultNodePool, nodeConfig, initialNodeCount, nodePools[], location, nodeLocations, clusterAutoscaling.resourceLimits
    gcp:compute/instance:Instance: machineType, guestAccelerators
    linode:index/lkeCluster:LkeCluster: pools[].type, pools[].count, pools[].autoscaler
    linode:index/lkeNodePool:LkeNodePool: type, nodeCount, autoscaler
    linode:index/instance:Instance: type
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._compute import stack_node_pools
from ._support import Finding, Meta, Resource, stack_policy

META = Meta(
    name="gpu-stack-max-gpus",
    description="The GPU pools of one stack must not be able to scale past the configured number of GPUs.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "capacity", "cost", "governance"),
    remediation="Lower maxNodes of the GPU pools or raise maxGpus in the policy config after approval.",
    rationale="A runaway autoscaler or a typo in maxNodes can buy hundreds of GPUs in minutes.",
    config={
        "maxGpus": {
            "type": "integer",
            "minimum": 0,
            "default": 64,
            "description": "The most GPUs all GPU pools of the stack may reach together.",
        }
    },
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    cap = int(config["maxGpus"])
    total = 0
    parts: list[str] = []
    for pool in sorted(stack_node_pools(resources), key=lambda p: p.title):
        if pool.unreadable and not pool.instance_types:
            yield Finding(
                f"{pool.title}: {pool.unreadable}, which the stack does not declare, so its GPUs cannot be counted",
                pool.urn,
            )
            continue
        if not pool.gpu:
            continue
        if pool.max_gpus is None:
            reason = (
                "has no spec.limits for nvidia.com/gpu"
                if pool.max_nodes is None and not pool.instance_types
                else "has an unknown maximum size or GPU count"
            )
            yield Finding(f"{pool.title} {reason}, so the stack's GPU count is unbounded", pool.urn)
            continue
        total += pool.max_gpus
        parts.append(f"{pool.title}: {pool.max_gpus}")
    if total > cap:
        yield Finding(f"the GPU pools can scale to {total} GPUs ({'; '.join(parts)}), above the cap of {cap}")


POLICY = stack_policy(META, check)
