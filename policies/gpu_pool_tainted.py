"""gpu-pool-tainted: every compute resource that brings up GPU nodes taints them ``nvidia.com/gpu``.

Property: no GPU node accepts pods that do not tolerate the GPU taint, whichever resource creates it.
Covers EKS managed node groups (``taints``), Karpenter ``NodePool``s, GKE node pools, the GKE
cluster's default pool and inline ``nodePools`` (``nodeConfig.taints``), LKE GPU pools (standalone or
inline), EC2 launch templates and instances with a GPU instance type (the kubelet's
``--register-with-taints`` or nodeadm ``taints`` in ``userData``), and self-managed auto scaling
groups with GPU override types (the cluster-autoscaler node-template taint tag). EKS and GKE spell
effects ``NO_SCHEDULE``; they are compared as Kubernetes spells them. Fail closed: a node group or
group whose instance type lives in a launch template or configuration (so whether it has GPUs cannot
be read here) must carry the taint itself; a launch template whose ``userData`` is not base64 is
reported.

Reads:
    aws:eks/nodeGroup:NodeGroup: instanceTypes, amiType, taints, launchTemplate
    aws:ec2/launchTemplate:LaunchTemplate: instanceType, userData
    aws:autoscaling/group:Group: mixedInstancesPolicy.launchTemplate.overrides[].instanceType, launchTemplate, tags
    aws:ec2/instance:Instance: instanceType, userData
    kubernetes:karpenter.sh/v1:NodePool: spec.template.spec.requirements, spec.template.spec.taints
    gcp:container/nodePool:NodePool: nodeConfig.machineType, nodeConfig.guestAccelerators, nodeConfig.taints
    gcp:container/cluster:Cluster: removeDefaultNodePool, nodeConfig, nodePools[].nodeConfig
    linode:index/lkeCluster:LkeCluster: pools[].type, pools[].taints
    linode:index/lkeNodePool:LkeNodePool: type, taints
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._compute import compute_pools
from ._support import GPU_TAINT_KEY, Meta, Resource, resource_policy, str_list

META = Meta(
    name="gpu-pool-tainted",
    description="Every GPU node pool must carry the nvidia.com/gpu taint so only GPU workloads land there.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "scheduling", "cost", "correctness"),
    remediation=(
        "Declare the GPU taint once on the pool (gpuplane does this for managed pools: nvidia.com/gpu=present:"
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
    for pool in compute_pools(resource):
        tainted = any(t.key == key and t.effect in effects for t in pool.taints)
        if pool.unreadable and not pool.instance_types:
            if not tainted:
                yield (
                    f"{pool.title}: {pool.unreadable}, so whether its nodes have GPUs cannot be checked here; "
                    f"declare instanceTypes or the {key} taint on it"
                )
            continue
        if pool.unreadable:
            yield f"{pool.title}: {pool.unreadable}"
            continue
        if pool.gpu and not tainted:
            yield f"{pool.title} has GPUs but no {key} taint with effect {' or '.join(effects)}"


POLICY = resource_policy(META, check)
