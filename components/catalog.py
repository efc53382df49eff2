"""GPU catalog: cloud-neutral GPU models mapped to each cloud's instance or plan types.

Why: stacks name GPU pools by GPU model (``nvidia-l4``), never by instance type, so one stack file
moves to another cloud by changing ``cloud`` and ``region``. This module is the only place that
knows which instance types carry which GPU, how many, and what they cost.

Every price is an on-demand list price in USD per hour in the cloud's reference region
(AWS us-east-1, GCP us-central1, Linode: same price in every region), carried over from
``docs/gpu-offerings.md`` with the source key and the date the figure was taken. Prices change;
the plan prints them as estimates with their date.

Upstream gotchas recorded here as data rather than prose:
- GCP ``a3-highgpu-1g/2g/4g`` and ``a3-ultragpu-8g`` cannot be bought as standard on-demand VMs
  (Spot, Flex-start or reservations only): ``spot_only=True``.
- AWS ``p4d``/``p4de``/``p5.48xlarge`` come only with 8 GPUs per node.
- Linode ``g1-gpu-rtx6000-*`` (Quadro RTX 6000) plans cannot be deployed in LKE or LKE Enterprise clusters
  (Akamai, "Using GPUs on LKE", techdocs.akamai.com/cloud-computing/docs/gpus-on-lke, read 2026-12-05):
  they are not in this catalog. LKE runs the RTX 4000 Ada and RTX PRO 6000 Blackwell plans.
- LKE GPU node pools cannot scale below one node.
- GKE offers a GPU machine type only in some zones of a region: :mod:`components.gcp_zones` records which.

The always-on parts of a platform (system nodes, NAT, the gateway's load balancer, volumes, the
control-plane fee) are priced here too (:data:`SYSTEM_NODE_PRICES`, :data:`ALWAYS_ON_PRICES`), each with
its source and date, so the cost floor is what an idle platform costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Cloud = Literal["aws", "gcp", "linode", "existing"]
MANAGED_CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "linode")
ALL_CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "linode", "existing")


@dataclass(frozen=True, kw_only=True)
class PriceSource:
    """Where a price came from and when it was true."""

    key: str
    as_of: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Offering:
    """One instance/plan type that carries ``gpus`` GPUs of one model."""

    instance_type: str
    gpus: int
    hourly_usd: float | None
    source: PriceSource
    accelerator: str = ""  # GKE guest accelerator type (GCP only)
    spot_only: bool = False


@dataclass(frozen=True, kw_only=True)
class GpuModel:
    """A cloud-neutral GPU model."""

    name: str
    product: str
    memory_gb: int
    offerings: Mapping[Cloud, tuple[Offering, ...]]
    mig_profiles: Mapping[str, int] = field(default_factory=dict[str, int])
    """MIG profile -> instances per GPU (same profile on every slice); empty: no MIG."""

    @property
    def mig_capable(self) -> bool:
        return bool(self.mig_profiles)


@dataclass(frozen=True, kw_only=True)
class ControlPlaneFee:
    hourly_usd: float
    source: PriceSource


_AWS_SKY = PriceSource(key="AWS-SKY", as_of="undated snapshot, content later than late 2025")
_AWS_DR = PriceSource(key="AWS-SKY/AWS-DR", as_of="2026-11-09", note="after the June 2025 P-family cut")
_AWS_P5EN = PriceSource(key="AWS-SKY/AWS-DSTACK", as_of="2026-08-07")
_GCP_CYC = PriceSource(key="GCP-CYC", as_of="2026-07-30")
_GCP_CYC_SPOT = PriceSource(key="GCP-CYC", as_of="2026-07-30", note="list-equivalent: Spot or Flex-start only")
_GCP_TANOD = PriceSource(key="GCP-TANOD", as_of="2026-10-13", note="reservation/Spot/Flex-start only")
_GCP_T4 = PriceSource(key="GCP-CYC+GCP-SKY", as_of="2026-07-30", note="N1 VM plus attached T4")
_LIN_ADA = PriceSource(key="LIN-ADA", as_of="2026-06-05", note="secondary sources")
_LIN_BW = PriceSource(
    key="LIN-BW",
    as_of="2026-09-06",
    note="third-party: 'observed catalog base price'; an older note (2026-06-05) says 2.50; access-gated plan",
)


# Single-profile MIG layouts and their instances per GPU, from NVIDIA's MIG User Guide ("Supported MIG
# Profiles" tables for A100 40GB, A100 80GB, H100 80GB and H200 141GB).
_MIG_A100_40GB: Mapping[str, int] = {"1g.5gb": 7, "1g.10gb": 4, "2g.10gb": 3, "3g.20gb": 2, "4g.20gb": 1, "7g.40gb": 1}
_MIG_80GB: Mapping[str, int] = {"1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1}
_MIG_H200: Mapping[str, int] = {"1g.18gb": 7, "1g.35gb": 4, "2g.35gb": 3, "3g.71gb": 2, "4g.71gb": 1, "7g.141gb": 1}


def _aws(instance_type: str, gpus: int, hourly: float | None, source: PriceSource = _AWS_SKY) -> Offering:
    return Offering(instance_type=instance_type, gpus=gpus, hourly_usd=hourly, source=source)


def _gcp(
    machine: str,
    accelerator: str,
    gpus: int,
    hourly: float,
    source: PriceSource = _GCP_CYC,
    *,
    spot_only: bool = False,
) -> Offering:
    return Offering(
        instance_type=machine,
        gpus=gpus,
        hourly_usd=hourly,
        source=source,
        accelerator=accelerator,
        spot_only=spot_only,
    )


def _lin(plan: str, gpus: int, hourly: float, source: PriceSource = _LIN_ADA) -> Offering:
    return Offering(instance_type=plan, gpus=gpus, hourly_usd=hourly, source=source)


GPU_MODELS: Mapping[str, GpuModel] = {
    m.name: m
    for m in (
        GpuModel(
            name="nvidia-t4",
            product="NVIDIA T4",
            memory_gb=16,
            offerings={
                "aws": (_aws("g4dn.xlarge", 1, 0.526),),
                "gcp": (
                    _gcp("n1-standard-4", "nvidia-tesla-t4", 1, 0.54, _GCP_T4),
                    _gcp("n1-standard-8", "nvidia-tesla-t4", 1, 0.73, _GCP_T4),
                    _gcp("n1-standard-16", "nvidia-tesla-t4", 1, 1.11, _GCP_T4),
                ),
            },
        ),
        GpuModel(
            name="nvidia-a10g",
            product="NVIDIA A10G",
            memory_gb=24,
            offerings={
                "aws": (
                    _aws("g5.xlarge", 1, 1.006),
                    _aws("g5.2xlarge", 1, 1.212),
                    _aws("g5.12xlarge", 4, 5.672),
                    _aws("g5.48xlarge", 8, 16.288),
                ),
            },
        ),
        GpuModel(
            name="nvidia-l4",
            product="NVIDIA L4",
            memory_gb=24,
            offerings={
                "aws": (
                    _aws("g6.xlarge", 1, 0.8048),
                    _aws("g6.2xlarge", 1, 0.9776),
                    _aws("g6.12xlarge", 4, 4.6016),
                    _aws("g6.48xlarge", 8, 13.3504),
                ),
                "gcp": (
                    _gcp("g2-standard-4", "nvidia-l4", 1, 0.7068),
                    _gcp("g2-standard-8", "nvidia-l4", 1, 0.8536),
                    _gcp("g2-standard-12", "nvidia-l4", 1, 1.0004),
                    _gcp("g2-standard-16", "nvidia-l4", 1, 1.1472),
                    _gcp("g2-standard-32", "nvidia-l4", 1, 1.7344),
                    _gcp("g2-standard-24", "nvidia-l4", 2, 2.0008),
                    _gcp("g2-standard-48", "nvidia-l4", 4, 4.0017),
                    _gcp("g2-standard-96", "nvidia-l4", 8, 8.0033),
                ),
            },
        ),
        GpuModel(
            name="nvidia-l40s",
            product="NVIDIA L40S",
            memory_gb=48,
            offerings={
                "aws": (
                    _aws("g6e.xlarge", 1, 1.861),
                    _aws("g6e.2xlarge", 1, 2.24208),
                    _aws("g6e.12xlarge", 4, 10.49264),
                    _aws("g6e.48xlarge", 8, 30.13118),
                ),
            },
        ),
        GpuModel(
            name="nvidia-a100-40gb",
            product="NVIDIA A100 40GB",
            memory_gb=40,
            mig_profiles=_MIG_A100_40GB,
            offerings={
                "aws": (_aws("p4d.24xlarge", 8, 21.957642, _AWS_DR),),
                "gcp": (
                    _gcp("a2-highgpu-1g", "nvidia-tesla-a100", 1, 3.6734),
                    _gcp("a2-highgpu-2g", "nvidia-tesla-a100", 2, 7.3468),
                    _gcp("a2-highgpu-4g", "nvidia-tesla-a100", 4, 14.6935),
                    _gcp("a2-highgpu-8g", "nvidia-tesla-a100", 8, 29.3871),
                    _gcp("a2-megagpu-16g", "nvidia-tesla-a100", 16, 55.7395),
                ),
            },
        ),
        GpuModel(
            name="nvidia-a100-80gb",
            product="NVIDIA A100 80GB",
            memory_gb=80,
            mig_profiles=_MIG_80GB,
            offerings={
                "aws": (_aws("p4de.24xlarge", 8, 27.44705, _AWS_DR),),
                "gcp": (
                    _gcp("a2-ultragpu-1g", "nvidia-a100-80gb", 1, 5.0688),
                    _gcp("a2-ultragpu-2g", "nvidia-a100-80gb", 2, 10.1376),
                    _gcp("a2-ultragpu-4g", "nvidia-a100-80gb", 4, 20.2752),
                    _gcp("a2-ultragpu-8g", "nvidia-a100-80gb", 8, 40.5504),
                ),
            },
        ),
        GpuModel(
            name="nvidia-h100-80gb",
            product="NVIDIA H100 80GB",
            memory_gb=80,
            mig_profiles=_MIG_80GB,
            offerings={
                "aws": (
                    _aws("p5.4xlarge", 1, 6.88),
                    _aws("p5.48xlarge", 8, 55.04, _AWS_DR),
                ),
                "gcp": (
                    _gcp("a3-highgpu-1g", "nvidia-h100-80gb", 1, 11.0612, _GCP_CYC_SPOT, spot_only=True),
                    _gcp("a3-highgpu-2g", "nvidia-h100-80gb", 2, 22.1225, _GCP_CYC_SPOT, spot_only=True),
                    _gcp("a3-highgpu-4g", "nvidia-h100-80gb", 4, 44.2450, _GCP_CYC_SPOT, spot_only=True),
                    _gcp("a3-highgpu-8g", "nvidia-h100-80gb", 8, 88.4900),
                ),
            },
        ),
        GpuModel(
            name="nvidia-h200",
            product="NVIDIA H200 141GB",
            memory_gb=141,
            mig_profiles=_MIG_H200,
            offerings={
                "aws": (_aws("p5en.48xlarge", 8, 63.296, _AWS_P5EN),),
                "gcp": (_gcp("a3-ultragpu-8g", "nvidia-h200-141gb", 8, 83.492, _GCP_TANOD, spot_only=True),),
            },
        ),
        GpuModel(
            name="nvidia-rtx4000-ada",
            product="NVIDIA RTX 4000 Ada Generation",
            memory_gb=20,
            offerings={
                "linode": (
                    _lin("g2-gpu-rtx4000a1-s", 1, 0.52),
                    _lin("g2-gpu-rtx4000a1-m", 1, 0.67),
                    _lin("g2-gpu-rtx4000a1-l", 1, 0.96),
                    _lin("g2-gpu-rtx4000a1-xl", 1, 1.53),
                    _lin("g2-gpu-rtx4000a2-s", 2, 1.05),
                    _lin("g2-gpu-rtx4000a2-m", 2, 1.34),
                    _lin("g2-gpu-rtx4000a2-hs", 2, 1.49),
                    _lin("g2-gpu-rtx4000a4-s", 4, 2.96),
                    _lin("g2-gpu-rtx4000a4-m", 4, 3.57),
                ),
            },
        ),
        GpuModel(
            # NVIDIA RTX PRO 6000 Blackwell Server Edition, 96 GB (not the Quadro RTX 6000). Only the 1-GPU
            # plan is listed: the -2/-4 plan ids appear in third-party material without any price, and an
            # unpriced plan would slip past the cost guardrails. No MIG layouts: none sourced.
            name="nvidia-rtx-pro-6000",
            product="NVIDIA RTX PRO 6000 Blackwell Server Edition",
            memory_gb=96,
            offerings={"linode": (_lin("g3-gpu-rtxpro6000-blackwell-1", 1, 3.00, _LIN_BW),)},
        ),
    )
}

_EKS_FEE = PriceSource(
    key="EKS-BLOG", as_of="2024-04", note="$0.10/h standard support; effective from the April 2024 billing cycle"
)
_GKE_FEE = PriceSource(
    key="GKE-PRICE",
    as_of="fee unchanged since 2020-06-06",
    note="$0.10 per cluster-hour; the free-tier credit covers one zonal or Autopilot cluster, never a regional one",
)
CONTROL_PLANE_FEES: Mapping[tuple[Cloud, bool], ControlPlaneFee] = {
    ("aws", False): ControlPlaneFee(hourly_usd=0.10, source=_EKS_FEE),
    ("aws", True): ControlPlaneFee(hourly_usd=0.10, source=_EKS_FEE),
    ("gcp", False): ControlPlaneFee(hourly_usd=0.10, source=_GKE_FEE),
    ("gcp", True): ControlPlaneFee(hourly_usd=0.10, source=_GKE_FEE),
    ("linode", False): ControlPlaneFee(
        hourly_usd=0.0, source=PriceSource(key="LIN-GO-LKE", as_of="2024-09-06", note="lke-sa")
    ),
    ("linode", True): ControlPlaneFee(
        hourly_usd=0.09, source=PriceSource(key="LIN-GO-LKE", as_of="2024-09-06", note="lke-ha")
    ),
    ("existing", False): ControlPlaneFee(hourly_usd=0.0, source=PriceSource(key="n/a", as_of="n/a")),
    ("existing", True): ControlPlaneFee(hourly_usd=0.0, source=PriceSource(key="n/a", as_of="n/a")),
}
"""Control-plane fee per cloud and ``spec.production`` (LKE: HA control plane for production)."""

EKS_EXTENDED_SUPPORT_FEE = ControlPlaneFee(
    hourly_usd=0.60,
    source=PriceSource(
        key="EKS-BLOG", as_of="2024-04", note="$0.60/h in total while the cluster's version is in extended support"
    ),
)
"""What an EKS control plane costs while its Kubernetes minor is in extended support (replaces the $0.10)."""

# System (non-GPU) pool machine types per size.
SYSTEM_INSTANCE_TYPES: Mapping[Cloud, Mapping[str, str]] = {
    "aws": {"small": "m6i.large", "medium": "m6i.xlarge", "large": "m6i.2xlarge"},
    "gcp": {"small": "e2-standard-4", "medium": "e2-standard-8", "large": "e2-standard-16"},
    "linode": {"small": "g6-dedicated-4", "medium": "g6-dedicated-8", "large": "g6-dedicated-16"},
    "existing": {"small": "existing", "medium": "existing", "large": "existing"},
}

_AWS_M6I = PriceSource(
    key="AWS-TABLES",
    as_of="2026 (undated third-party tables)",
    note="us-east-1 on-demand; several independent price tables agree; AWS's own page not read",
)
_GCP_SKY_VM = PriceSource(key="GCP-SKY", as_of="undated snapshot (commit 006059e)", note="us-central1 on-demand")
_LIN_GO_TYPES = PriceSource(key="LIN-GO", as_of="2024-07-19", note="recorded GET /v4beta/linode/types")

SYSTEM_NODE_PRICES: Mapping[str, Offering] = {
    o.instance_type: o
    for o in (
        Offering(instance_type="m6i.large", gpus=0, hourly_usd=0.096, source=_AWS_M6I),
        Offering(instance_type="m6i.xlarge", gpus=0, hourly_usd=0.192, source=_AWS_M6I),
        Offering(instance_type="m6i.2xlarge", gpus=0, hourly_usd=0.384, source=_AWS_M6I),
        Offering(instance_type="e2-standard-4", gpus=0, hourly_usd=0.13402, source=_GCP_SKY_VM),
        Offering(instance_type="e2-standard-8", gpus=0, hourly_usd=0.26805, source=_GCP_SKY_VM),
        Offering(instance_type="e2-standard-16", gpus=0, hourly_usd=0.53609, source=_GCP_SKY_VM),
        Offering(instance_type="g6-dedicated-4", gpus=0, hourly_usd=0.108, source=_LIN_GO_TYPES),
        Offering(instance_type="g6-dedicated-8", gpus=0, hourly_usd=0.216, source=_LIN_GO_TYPES),
        Offering(instance_type="g6-dedicated-16", gpus=0, hourly_usd=0.432, source=_LIN_GO_TYPES),
    )
}
"""List price of every system-pool machine type gpuplane picks by size (a custom ``systemPool.instanceType``
has none: the estimate says so)."""


@dataclass(frozen=True, kw_only=True)
class AlwaysOnPrices:
    """List prices of the parts that run while every GPU pool is idle, per cloud (reference region)."""

    nat_gateway_hourly: float = 0.0
    """Per NAT gateway-hour (AWS NAT gateway)."""
    nat_per_vm_hourly: float = 0.0
    """Per VM behind NAT per hour (GCP Cloud NAT, up to 32 VMs)."""
    nat_ip_hourly: float = 0.0
    """Per external IP the NAT gateway holds per hour (GCP)."""
    nat_source: PriceSource | None = None
    load_balancer_hourly: float = 0.0
    """One load balancer (the gateway's LoadBalancer Service) per hour, before traffic charges."""
    load_balancer_source: PriceSource | None = None
    volume_gb_month: float = 0.0
    """Block storage per GB-month (the default StorageClass's disk type)."""
    volume_source: PriceSource | None = None


ALWAYS_ON_PRICES: Mapping[Cloud, AlwaysOnPrices] = {
    "aws": AlwaysOnPrices(
        nat_gateway_hourly=0.045,
        nat_source=PriceSource(
            key="AWS-VPC", as_of="2026-09-20", note="aws.amazon.com/vpc/pricing as transcribed by api-evangelist"
        ),
        load_balancer_hourly=0.0225,
        load_balancer_source=PriceSource(
            key="AWS-ELB",
            as_of="2026-09-20",
            note="aws.amazon.com/elasticloadbalancing/pricing example rate, as transcribed by api-evangelist",
        ),
        volume_gb_month=0.08,
        volume_source=PriceSource(key="EBS-GP3", as_of="undated third-party notes", note="gp3, us-east-1"),
    ),
    "gcp": AlwaysOnPrices(
        nat_per_vm_hourly=0.0014,
        nat_ip_hourly=0.005,
        nat_source=PriceSource(
            key="GCP-NAT", as_of="2026-10-16", note="third-party reading of Google's Cloud NAT and network pricing"
        ),
        load_balancer_hourly=0.025,
        load_balancer_source=PriceSource(
            key="GCP-LB", as_of="2026-09-20", note="forwarding rule, first 5; as transcribed by api-evangelist"
        ),
        volume_gb_month=0.10,
        volume_source=PriceSource(
            key="GCP-PD", as_of="2023-05-18", note="balanced PD, Google pricing calculator export (Iowa)"
        ),
    ),
    "linode": AlwaysOnPrices(
        load_balancer_hourly=0.015,
        load_balancer_source=PriceSource(
            key="LIN-NB", as_of="undated", note="NodeBalancer $10/month; linode/ansible_linode sample response"
        ),
        volume_gb_month=0.10,
        volume_source=PriceSource(key="LIN-VOL", as_of="undated", note="Block Storage; linode/docs"),
    ),
    "existing": AlwaysOnPrices(),
}
"""NAT, load balancer and block storage list prices; zero where the cloud has no such charge (LKE nodes need no
NAT) or gpuplane does not pay it (existing clusters)."""

# The smallest node count an autoscaled GPU pool may have on each cloud.
MIN_AUTOSCALED_NODES: Mapping[Cloud, int] = {"aws": 0, "gcp": 0, "linode": 1, "existing": 0}


def models_offered_on(cloud: Cloud) -> list[str]:
    """GPU model names that ``cloud`` offers (every known model for ``existing``)."""
    if cloud == "existing":
        return sorted(GPU_MODELS)
    return sorted(name for name, model in GPU_MODELS.items() if cloud in model.offerings)


def offerings(gpu: str, cloud: Cloud) -> tuple[Offering, ...]:
    """Offerings of ``gpu`` on ``cloud``; empty when the cloud does not offer it."""
    model = GPU_MODELS.get(gpu)
    return () if model is None else model.offerings.get(cloud, ())


def default_offering(gpu: str, cloud: Cloud, gpus_per_node: int, *, spot: bool) -> Offering | None:
    """The cheapest offering of ``gpu`` on ``cloud`` with exactly ``gpus_per_node`` GPUs that can be
    bought with the requested capacity type (on-demand excludes spot-only types)."""
    candidates = [o for o in offerings(gpu, cloud) if o.gpus == gpus_per_node and (spot or not o.spot_only)]
    return min(candidates, key=lambda o: o.hourly_usd or float("inf"), default=None)


def find_offering(gpu: str, cloud: Cloud, instance_type: str) -> Offering | None:
    """The offering named ``instance_type`` for ``gpu`` on ``cloud``, if the catalog has it."""
    return next((o for o in offerings(gpu, cloud) if o.instance_type == instance_type), None)


def existing_offering(gpus_per_node: int) -> Offering:
    """An existing cluster's GPU nodes: bought elsewhere, so no price."""
    return Offering(
        instance_type="existing",
        gpus=gpus_per_node,
        hourly_usd=None,
        source=PriceSource(key="n/a", as_of="n/a", note="existing cluster"),
    )
