"""gpu-pool-scale-to-zero: idle GPU pools shrink to the smallest size the cloud allows.

EKS node groups and GKE node pools can scale to zero; Karpenter always can. LKE's autoscaler cannot go
below one node, so an LKE GPU pool is fine at a minimum of 1. Mandatory by default and in dev (idle GPUs
are the first cost to cut); ``policies/config/production.json`` makes it advisory, where a warm minimum for
latency-sensitive inference can be a deliberate choice.

Reads:
    aws:eks/nodeGroup:NodeGroup: instanceTypes, amiType, scalingConfig.minSize
    gcp:container/nodePool:NodePool: nodeConfig, autoscaling, nodeCount, initialNodeCount
    linode:index/lkeCluster:LkeCluster: pools[]
    linode:index/lkeNodePool:LkeNodePool: type, nodeCount, autoscaler
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Meta, Resource, node_pools, resource_policy

META = Meta(
    name="gpu-pool-scale-to-zero",
    description="GPU node pools should scale down to zero nodes where the cloud allows it (LKE: one).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "autoscaling", "cost"),
    remediation="Set the pool's minNodes to 0 (1 on LKE) and let the autoscaler add nodes for pending pods.",
    rationale="An idle GPU node costs $0.52-$88.49 an hour at list price; dev and batch pools idle most of the day.",
    config={
        "maxMinNodes": {
            "type": "integer",
            "minimum": 0,
            "default": 0,
            "description": "The largest acceptable minimum size (LKE pools are allowed at least 1).",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = int(config["maxMinNodes"])
    for pool in node_pools(resource):
        if not pool.gpu or pool.min_nodes is None:
            continue
        floor = max(allowed, pool.floor)
        if pool.min_nodes <= floor:
            continue
        note = " (LKE cannot scale below 1)" if pool.floor else ""
        if pool.autoscaled:
            yield (f"{pool.title} keeps at least {pool.min_nodes} GPU nodes running; set its minimum to {floor}{note}")
        else:
            yield (
                f"{pool.title} has a fixed size of {pool.min_nodes} GPU nodes and no autoscaling; "
                f"autoscale it from {floor}{note}"
            )


POLICY = resource_policy(META, check)
