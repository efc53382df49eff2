"""Estimated running cost of a platform spec, from the dated list prices in the GPU catalog.

What: hourly and monthly cost at minimum scale (every GPU pool at ``minNodes``: the idle floor) and
at maximum scale (every pool at ``maxNodes``), plus the control-plane fee.
Why: "do GPUs scale to zero" is a cost question; the plan shows the idle floor next to the ceiling
so a reviewer sees both before ``pulumi up``. The system pool is not priced: no sourced list price
for it is recorded (the estimate says so rather than inventing one).
"""

from __future__ import annotations

from dataclasses import dataclass

from components import catalog
from components.spec import PlatformSpec

HOURS_PER_MONTH = 730


@dataclass(frozen=True, kw_only=True)
class CostEstimate:
    hourly_min: float
    hourly_max: float
    currency: str
    notes: tuple[str, ...]

    @property
    def monthly_min(self) -> float:
        return round(self.hourly_min * HOURS_PER_MONTH, 2)

    @property
    def monthly_max(self) -> float:
        return round(self.hourly_max * HOURS_PER_MONTH, 2)


def estimate_cost(spec: PlatformSpec) -> CostEstimate:
    """List-price estimate for ``spec`` (USD)."""
    fee = catalog.CONTROL_PLANE_FEES[(spec.cloud, spec.production)]
    low = high = fee.hourly_usd
    notes: list[str] = []
    if spec.cloud != "existing":
        notes.append(f"control plane {fee.hourly_usd:.2f}/h [{fee.source.key}, {fee.source.as_of}]")
    for pool in spec.gpu_pools:
        offering = spec.offering(pool)
        if offering.hourly_usd is None:
            notes.append(f"{pool.name}: no list price (nodes not bought by gpuplane)")
            continue
        low += pool.min_nodes * offering.hourly_usd
        high += pool.max_nodes * offering.hourly_usd
        source = offering.source
        extra = f"; {source.note}" if source.note else ""
        spot = "; spot priced at the on-demand list price (an upper bound)" if pool.spot else ""
        notes.append(
            f"{pool.name}: {offering.instance_type} {offering.hourly_usd}/h [{source.key}, {source.as_of}{extra}]{spot}"
        )
    if spec.cloud == "aws":
        notes.append("an EKS version in extended support costs 0.60/h for the control plane [EKS-BLOG, 2024-04]")
    if spec.cloud == "linode":
        notes.append("LKE GPU pools cannot scale below 1 node: the minimum is the idle floor")
    notes.append("system pool and storage/egress not included")
    return CostEstimate(hourly_min=round(low, 4), hourly_max=round(high, 4), currency="USD", notes=tuple(notes))
