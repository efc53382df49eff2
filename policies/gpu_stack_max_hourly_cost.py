"""gpu-stack-max-hourly-cost: the stack's GPU pools at full size stay under an hourly budget.

Prices are gpuplane's catalog list prices (on-demand, dated in components/catalog.py), overridable per
instance type (negotiated or spot prices). Control planes and system pools are not counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Finding, Meta, Resource, all_node_pools, as_map, as_number, fmt_number, stack_policy

META = Meta(
    name="gpu-stack-max-hourly-cost",
    description="The GPU pools of one stack at maximum size must stay under the configured hourly cost.",
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
            "description": "The most the stack's GPU pools may cost per hour at maximum size (USD).",
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
    for pool in sorted(all_node_pools(resources), key=lambda p: p.title):
        if not pool.gpu:
            continue
        prices = [overrides.get(t) for t in pool.instance_types]
        price = max(p for p in prices if p is not None) if prices and None not in prices else pool.hourly_usd
        nodes = pool.max_nodes
        if nodes is None and pool.max_gpus_limit is not None and pool.gpus_per_node:
            nodes = -(-pool.max_gpus_limit // pool.gpus_per_node)
        if price is None or nodes is None:
            what = ", ".join(pool.instance_types) or "its instance types"
            yield Finding(
                f"{pool.title} cannot be priced ({what} has no known hourly price or the pool no maximum size); "
                "add hourlyPriceOverrides or bound the pool",
                pool.urn,
            )
            continue
        cost = price * nodes
        total += cost
        parts.append(f"{pool.title}: {nodes} x ${fmt_number(price)}")
    if total > cap + 1e-9:
        yield Finding(
            f"the GPU pools can cost ${total:.2f}/hour at maximum size ({'; '.join(parts)}), "
            f"above the budget of ${fmt_number(cap)}/hour"
        )


POLICY = stack_policy(META, check)
