"""gpu-stack-max-hourly-cost: everything the stack's node pools can run at full size stays under an
hourly budget -- GPU pools and the system pool alike.

Property: the worst-case hourly compute bill (every pool at its maximum size) is at most
``maxHourlyUsd``. Every pool of every cloud counts (``_compute.stack_node_pools``, the same readers
as ``gpu-stack-max-gpus``), CPU pools included: a system pool of 100 x u-24tb1.metal is a bill too.
Prices: gpuplane's catalog list prices for GPU types (dated in components/catalog.py) and
``_compute.CPU_PRICES`` for CPU types, overridable per instance type (negotiated or spot prices). A
pool whose price or maximum size is unknown is reported rather than priced at zero. Control planes,
storage and egress are not counted.

Reads:
    aws:eks/nodeGroup:NodeGroup: instanceTypes, scalingConfig.maxSize, launchTemplate.id, launchTemplate.name
    aws:ec2/launchTemplate:LaunchTemplate: name, instanceType
    aws:autoscaling/group:Group: maxSize, launchTemplate, launchConfiguration, mixedInstancesPolicy.launchTemplate
    aws:ec2/instance:Instance: instanceType
    kubernetes:karpenter.sh/v1:NodePool: spec.template.spec.requirements, spec.limits
    gcp:container/nodePool:NodePool: nodeConfig.machineType, autoscaling, nodeCount, initialNodeCount, location, nodeLocations
    gcp:container/cluster:Cluster: removeDefaultNodePool, nodeConfig, initialNodeCount, nodePools[], location, nodeLocations, clusterAutoscaling.resourceLimits
    gcp:compute/instance:Instance: machineType
    linode:index/lkeCluster:LkeCluster: pools[].type, pools[].count, pools[].autoscaler
    linode:index/lkeNodePool:LkeNodePool: type, nodeCount, autoscaler
    linode:index/instance:Instance: type
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._compute import hourly_price, stack_node_pools
from ._support import Finding, Meta, Resource, as_map, as_number, fmt_number, stack_policy

META = Meta(
    name="gpu-stack-max-hourly-cost",
    description="The node pools (GPU and CPU) of one stack at maximum size must stay under the configured hourly cost.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "cost", "governance"),
    remediation="Lower maxNodes, choose cheaper GPU types, or raise maxHourlyUsd in the policy config.",
    rationale="The worst-case bill of a GPU platform is set by maxNodes; make it a reviewed number.",
    config={
        "maxHourlyUsd": {
            "type": "number",
            "minimum": 0,
            "default": 250,
            "description": "The most the stack's node pools (GPU and system) may cost per hour at maximum size (USD).",
        },
        "hourlyPriceOverrides": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "default": {},
            "description": "USD per node-hour by instance type, replacing or adding to the catalog's list prices.",
        },
    },
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    cap = float(config["maxHourlyUsd"])
    overrides = {k: as_number(v) for k, v in as_map(config["hourlyPriceOverrides"]).items()}
    total = 0.0
    parts: list[str] = []
    for pool in sorted(stack_node_pools(resources), key=lambda p: p.title):
        prices = [overrides.get(t) for t in pool.instance_types]
        price = max(p for p in prices if p is not None) if prices and None not in prices else pool.hourly_usd
        if price is None and pool.instance_types:
            listed = [hourly_price(pool.cloud, t) for t in pool.instance_types]
            price = None if None in listed else max(p for p in listed if p is not None)
        nodes = pool.max_nodes
        if nodes is None and pool.max_gpus_limit is not None and pool.gpus_per_node:
            nodes = -(-pool.max_gpus_limit // pool.gpus_per_node)
        if price is None or nodes is None:
            what = ", ".join(pool.instance_types) or "its instance types"
            why = (
                f"{pool.unreadable}, which the stack does not declare"
                if pool.unreadable and not pool.instance_types
                else (f"{what} has no known hourly price or the pool no maximum size")
            )
            yield Finding(
                f"{pool.title} cannot be priced ({why}); add hourlyPriceOverrides or bound the pool",
                pool.urn,
            )
            continue
        cost = price * nodes
        total += cost
        parts.append(f"{pool.title}: {nodes} x ${fmt_number(price)}")
    if total > cap + 1e-9:
        yield Finding(
            f"the node pools can cost ${total:.2f}/hour at maximum size ({'; '.join(parts)}), "
            f"above the budget of ${fmt_number(cap)}/hour"
        )


POLICY = stack_policy(META, check)
