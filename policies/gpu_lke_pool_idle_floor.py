"""gpu-lke-pool-idle-floor: every LKE GPU pool's idle cost floor is shown on every plan.

LKE's node-pool autoscaler cannot go below one node (``autoscaler.min`` >= 1; a fixed pool has
``count`` >= 1), so an LKE GPU pool never scales to zero: an idle platform still pays for at least one
GPU node per pool. ``gpu-pool-scale-to-zero`` accepts that floor of 1 on LKE (it enforces 0 on EKS and
GKE); this advisory policy makes the price of it visible instead of silent: for each GPU pool of an
``LkeNodePool`` or of an ``LkeCluster``'s inline ``pools`` it reports the plan type, the minimum node
count (at least 1) and the hourly list price of that minimum (from ``gpu_catalog.json``, a dated copy of
``components/catalog.py``; a month is 730 hours, as in ``components/cost.py``). A plan without a known
price is reported as unpriced.

Reads the camelCase inputs ``type`` and ``autoscaler.{enabled,min}``; a pool without autoscaler runs
its fixed size (``count`` inline, ``nodeCount`` on ``LkeNodePool``); an unknown minimum counts as LKE's
1. Config: ``maxIdleHourlyUsd`` silences floors at or below that hourly price (default 0: every LKE GPU
pool is reported). Advisory by default: the floor is a fact of the cloud, not a mistake; make it
mandatory with a threshold to cap what idle GPUs may cost.

Reads:
    linode:index/lkeCluster:LkeCluster: pools[].type, pools[].count, pools[].autoscaler
    linode:index/lkeNodePool:LkeNodePool: type, nodeCount, autoscaler
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import LKE_NODE_POOL, Meta, NodePool, Resource, as_int, as_number, node_pools, resource_policy

HOURS_PER_MONTH = 730
"""Hours in a month for the monthly figure (``components/cost.py`` uses the same)."""

META = Meta(
    name="gpu-lke-pool-idle-floor",
    description="Every LKE GPU pool keeps at least one node running; its idle hourly list price is reported.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    tags=("gpu", "linode", "autoscaling", "cost"),
    remediation=(
        "Accept the floor (LKE's autoscaler minimum is 1 node per pool), pick a cheaper GPU plan for pools that "
        "idle, merge rarely used GPU pools, or raise maxIdleHourlyUsd to the idle cost you have agreed to."
    ),
    rationale="LKE GPU pools cannot scale to zero: each one bills at least one GPU node around the clock.",
    config={
        "maxIdleHourlyUsd": {
            "type": "number",
            "minimum": 0,
            "default": 0,
            "description": "Idle floors at or below this hourly list price (USD) are not reported (0: report all).",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    threshold = as_number(config["maxIdleHourlyUsd"]) or 0.0
    for pool in node_pools(resource):
        if pool.cloud != "linode" or not pool.gpu:
            continue
        nodes = max(_minimum(resource, pool) or 0, 1)  # LKE never runs a pool below one node
        plan = pool.instance_types[0] if pool.instance_types else "unknown plan"
        running = f"{pool.title} keeps at least {nodes} {plan} node{'s' if nodes != 1 else ''} running"
        floor = " (LKE's autoscaler minimum is 1)" if nodes == 1 else ""
        if pool.hourly_usd is None:
            yield f"{running}{floor}; {plan} has no known hourly price, so its idle cost floor is unknown"
            continue
        hourly = nodes * pool.hourly_usd
        if hourly <= threshold:
            continue
        yield (
            f"{running}{floor}: an idle cost floor of ${hourly:.2f}/hour "
            f"(${hourly * HOURS_PER_MONTH:,.0f}/month) at list price"
        )


def _minimum(resource: Resource, pool: NodePool) -> int | None:
    """The nodes the pool keeps when idle: the autoscaler minimum, or the fixed size."""
    if pool.min_nodes is None and not pool.autoscaled and resource.type == LKE_NODE_POOL:
        return as_int(resource.props.get("nodeCount"))
    return pool.min_nodes


POLICY = resource_policy(META, check)
