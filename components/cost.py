"""Estimated running cost of a platform spec, from the dated list prices in the catalog.

What: hourly and monthly cost at minimum scale (every GPU pool at ``minNodes``: the idle floor) and at
maximum scale (every pool at ``maxNodes``), itemised as :class:`CostLine` s: the control-plane fee (the EKS
extended-support fee when the version is in extended support), the system nodes, NAT, the gateway's load
balancer, block storage (node boot disks and the volumes the spec sizes) and each GPU pool.
Why: "what does this platform cost when nobody uses it?" is the question scale-to-zero is meant to
answer, and the GPU pools alone do not answer it: an idle EKS platform still pays for two system nodes,
a NAT gateway, a load balancer and Prometheus' volume. ``hourly_min`` is that idle cost; the report
prints every line with its source and date.

Gotchas: prices are list prices in each cloud's reference region (us-east-1, us-central1, Linode's single
price), per hour, without traffic, data processing, egress or taxes; spot pools are priced at the
on-demand price (an upper bound). Volumes the platform creates without a size in the spec (Alertmanager,
Grafana) are not counted. A system ``instanceType`` outside the catalog has no price: the estimate says so
instead of guessing. The node disk sizes mirror the cluster components (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

from components import catalog
from components.catalog import Cloud, PriceSource
from components.spec import PlatformSpec
from components.versions import EKS_EXTENDED_SUPPORT

HOURS_PER_MONTH = 730
NAT_VM_CAP = 32
"""Cloud NAT charges per VM up to this many VMs (then a flat rate per gateway)."""

NODE_DISK_GB: dict[Cloud, tuple[int, int]] = {
    # (system node, GPU node) boot disk in GB, per cloud; LKE plans include their disk.
    "aws": (50, 200),  # eks.SYSTEM_DISK_GIB, eks.GPU_DISK_GIB (gp3 root volumes in the launch templates)
    "gcp": (100, 100),  # the provider's default disk_size_gb (gke.py sets none), balanced PD
    "linode": (0, 0),
    "existing": (0, 0),
}


@dataclass(frozen=True, kw_only=True)
class CostLine:
    """One always-on or scaling part of the platform, priced at minimum and maximum scale."""

    part: str
    hourly_min: float
    hourly_max: float
    detail: str

    def __str__(self) -> str:
        if round(self.hourly_min, 4) == round(self.hourly_max, 4):
            amount = f"{self.hourly_min:.4f}/h"
        else:
            amount = f"{self.hourly_min:.4f}-{self.hourly_max:.4f}/h"
        return f"{self.part}: {amount} ({self.detail})"


@dataclass(frozen=True, kw_only=True)
class CostEstimate:
    hourly_min: float
    hourly_max: float
    currency: str
    notes: tuple[str, ...]
    lines: tuple[CostLine, ...] = ()
    """The breakdown; ``hourly_min``/``hourly_max`` are their sums."""

    @property
    def monthly_min(self) -> float:
        return round(self.hourly_min * HOURS_PER_MONTH, 2)

    @property
    def monthly_max(self) -> float:
        return round(self.hourly_max * HOURS_PER_MONTH, 2)


def _cite(source: PriceSource | None) -> str:
    if source is None:
        return "[no source]"
    note = f"; {source.note}" if source.note else ""
    return f"[{source.key}, {source.as_of}{note}]"


def _control_plane(spec: PlatformSpec) -> CostLine | None:
    if spec.cloud == "existing":
        return None
    fee = catalog.CONTROL_PLANE_FEES[(spec.cloud, spec.production)]
    detail = f"{fee.hourly_usd:.2f}/h {_cite(fee.source)}"
    if spec.cloud == "aws" and spec.kubernetes_version in EKS_EXTENDED_SUPPORT.versions:
        fee = catalog.EKS_EXTENDED_SUPPORT_FEE
        detail = f"Kubernetes {spec.kubernetes_version} is in EKS extended support: {fee.hourly_usd:.2f}/h {_cite(fee.source)}"
    return CostLine(part="control plane", hourly_min=fee.hourly_usd, hourly_max=fee.hourly_usd, detail=detail)


def _system_nodes(spec: PlatformSpec, notes: list[str]) -> CostLine | None:
    if spec.cloud == "existing":
        return None
    system = spec.system_pool
    machine = spec.system_instance_type()
    offering = catalog.SYSTEM_NODE_PRICES.get(machine)
    if offering is None or offering.hourly_usd is None:
        notes.append(f"system nodes: {machine} has no list price in the catalog (not counted)")
        return None
    price = offering.hourly_usd
    return CostLine(
        part="system nodes",
        hourly_min=system.min_nodes * price,
        hourly_max=system.max_nodes * price,
        detail=f"{system.min_nodes}-{system.max_nodes} x {machine} at {price}/h {_cite(offering.source)}",
    )


def _node_counts(spec: PlatformSpec) -> tuple[int, int, int, int]:
    """(system min, system max, GPU nodes min, GPU nodes max)."""
    gpu_min = sum(pool.min_nodes for pool in spec.gpu_pools)
    gpu_max = sum(pool.max_nodes for pool in spec.gpu_pools)
    return spec.system_pool.min_nodes, spec.system_pool.max_nodes, gpu_min, gpu_max


def _nat(spec: PlatformSpec) -> CostLine | None:
    prices = catalog.ALWAYS_ON_PRICES[spec.cloud]
    if spec.cloud == "aws":
        gateways = 2 if spec.production else 1  # eks.py: one per AZ in production, one shared otherwise
        hourly = gateways * prices.nat_gateway_hourly
        detail = f"{gateways} NAT gateway(s) at {prices.nat_gateway_hourly}/h {_cite(prices.nat_source)}"
        return CostLine(part="NAT", hourly_min=hourly, hourly_max=hourly, detail=detail)
    if spec.cloud == "gcp":
        sys_min, sys_max, gpu_min, gpu_max = _node_counts(spec)
        low_vms, high_vms = min(sys_min + gpu_min, NAT_VM_CAP), min(sys_max + gpu_max, NAT_VM_CAP)
        low = low_vms * prices.nat_per_vm_hourly + prices.nat_ip_hourly
        high = high_vms * prices.nat_per_vm_hourly + prices.nat_ip_hourly
        detail = (
            f"Cloud NAT {prices.nat_per_vm_hourly}/h per VM ({low_vms}-{high_vms} VMs) + one NAT IP at "
            f"{prices.nat_ip_hourly}/h {_cite(prices.nat_source)}"
        )
        return CostLine(part="NAT", hourly_min=low, hourly_max=high, detail=detail)
    return None


def _load_balancer(spec: PlatformSpec) -> CostLine | None:
    prices = catalog.ALWAYS_ON_PRICES[spec.cloud]
    if not spec.gateway.enabled or prices.load_balancer_hourly == 0:
        return None
    return CostLine(
        part="load balancer",
        hourly_min=prices.load_balancer_hourly,
        hourly_max=prices.load_balancer_hourly,
        detail=f"the AI gateway's LoadBalancer Service at {prices.load_balancer_hourly}/h {_cite(prices.load_balancer_source)}",
    )


def _volumes(spec: PlatformSpec) -> CostLine | None:
    prices = catalog.ALWAYS_ON_PRICES[spec.cloud]
    if prices.volume_gb_month == 0:
        return None
    sys_min, sys_max, gpu_min, gpu_max = _node_counts(spec)
    system_disk, gpu_disk = NODE_DISK_GB[spec.cloud]
    sized = 0
    parts: list[str] = []
    if spec.observability.enabled:
        sized += spec.observability.storage_gb
        parts.append(f"Prometheus {spec.observability.storage_gb} GB")
    if spec.openfga.enabled and spec.openfga.datastore == "in-cluster":
        sized += spec.openfga.storage_gb
        parts.append(f"OpenFGA Postgres {spec.openfga.storage_gb} GB")
    low_gb = sized + sys_min * system_disk + gpu_min * gpu_disk
    high_gb = sized + sys_max * system_disk + gpu_max * gpu_disk
    if low_gb == 0 and high_gb == 0:
        return None
    if system_disk or gpu_disk:
        parts.append(f"node boot disks {system_disk} GB per system node, {gpu_disk} GB per GPU node")
    per_hour = prices.volume_gb_month / HOURS_PER_MONTH
    return CostLine(
        part="volumes",
        hourly_min=low_gb * per_hour,
        hourly_max=high_gb * per_hour,
        detail=f"{low_gb}-{high_gb} GB at {prices.volume_gb_month}/GB-month ({', '.join(parts)}) {_cite(prices.volume_source)}",
    )


def _gpu_pools(spec: PlatformSpec, notes: list[str]) -> list[CostLine]:
    lines: list[CostLine] = []
    for pool in spec.gpu_pools:
        offering = spec.offering(pool)
        if offering.hourly_usd is None:
            notes.append(f"{pool.name}: no list price (nodes not bought by gpuplane)")
            continue
        spot = "; spot priced at the on-demand list price (an upper bound)" if pool.spot else ""
        lines.append(
            CostLine(
                part=f"GPU pool {pool.name}",
                hourly_min=pool.min_nodes * offering.hourly_usd,
                hourly_max=pool.max_nodes * offering.hourly_usd,
                detail=f"{pool.min_nodes}-{pool.max_nodes} x {offering.instance_type} at {offering.hourly_usd}/h "
                f"{_cite(offering.source)}{spot}",
            )
        )
    return lines


def estimate_cost(spec: PlatformSpec) -> CostEstimate:
    """List-price estimate for ``spec`` (USD), itemised."""
    notes: list[str] = []
    parts = [
        _control_plane(spec),
        _system_nodes(spec, notes),
        _nat(spec),
        _load_balancer(spec),
        _volumes(spec),
    ]
    lines = [line for line in parts if line is not None] + _gpu_pools(spec, notes)
    if spec.cloud == "linode":
        notes.append("LKE GPU pools cannot scale below 1 node: the minimum is the idle floor")
    if spec.cloud == "existing":
        notes.append("an existing cluster's nodes, network and storage are paid elsewhere: nothing is priced")
    notes.append("traffic, data processing, egress and unsized volumes (Alertmanager, Grafana) are not included")
    return CostEstimate(
        hourly_min=round(sum(line.hourly_min for line in lines), 4),
        hourly_max=round(sum(line.hourly_max for line in lines), 4),
        currency="USD",
        notes=tuple([str(line) for line in lines] + notes),
        lines=tuple(lines),
    )
