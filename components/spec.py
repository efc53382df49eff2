"""The typed, validated, cloud-neutral platform spec.

What: one frozen pydantic v2 model (:class:`PlatformSpec`) describing a GPU platform: the target
cloud and region, the control plane's exposure, a system pool, GPU pools named by GPU model, and the
tenants that share them. Components take this spec (or values derived from it) and never read
Pulumi config themselves.

Why: every mistake we can see in a stack file must fail before any resource is registered, with
the offending key named and the fix said. Structural errors (types, unknown keys, ranges) come from
pydantic with ``extra="forbid"``; cross-field errors (a GPU model the cloud lacks, quotas above the
pools' capacity, duplicate names) are collected by :func:`semantic_problems` and raised together as
a :class:`SpecError`, which is deliberately *not* a ``ValueError`` so pydantic passes it through
unchanged.

Keys are camelCase in stack files (``gpuPools[0].minNodes``) and snake_case in Python.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components import catalog, gcp_zones
from components.catalog import Cloud, Offering
from components.versions import DEFAULT_KUBERNETES_VERSION, KUBERNETES_VERSIONS, offered_kubernetes_versions

DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
K8S_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
K8S_VERSION = r"^1\.(3[0-9])$"

GPU_RESOURCE = "nvidia.com/gpu"
SYSTEM_POOL_NAME = "system"
MAX_GPU_POOLS = 64
AWS_ZONE_COUNT = 2
"""Availability zones an EKS stack's VPC spans (a private and a public subnet in each)."""
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kueue-system",
        "gpu-operator",
        "monitoring",
        "envoy-gateway-system",
        "envoy-ai-gateway-system",
        "gpuplane-gateway",
        "gpuplane-ratelimit",
        "openfga",
        "node-exporter",
        "dcgm-exporter",
        "custom-metrics",
        "jobset-system",
        "lws-system",
    }
)
"""Namespaces the platform itself uses (plus ``kube-*``): never a tenant's name
(tests/components/test_gpu_platform.py checks every namespace the platform creates is listed)."""
RESERVED_LABEL_PREFIXES = ("gpuplane.io/",)
"""Label keys gpuplane sets itself on GPU nodes: a pool's extra ``labels`` may not override them."""
QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
ASG_TAG_KEY_MAX = 128
"""EC2 Auto Scaling tag keys, which carry each EKS GPU pool's labels and taints for scale-from-zero."""
ASG_NODE_TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template"
GPU_TAINT_KEY = "nvidia.com/gpu"
POOL_LABEL = "gpuplane.io/pool"
GPU_MODEL_LABEL = "gpuplane.io/gpu"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
USER_ID = r"^[A-Za-z0-9][-A-Za-z0-9._@+|]{0,127}$"
MODEL_ID = r"^[A-Za-z0-9][-A-Za-z0-9._:/@]{0,127}$"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CREDENTIAL_NAME = r"^[A-Za-z][A-Za-z0-9_-]*$"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: the key path (camelCase, ``gpuPools[1].minNodes``) and the fix."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class SpecError(Exception):
    """A spec that must not be deployed. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )


class Taint(_Model):
    """A Kubernetes node taint."""

    key: Annotated[str, Field(min_length=1, max_length=253)]
    value: Annotated[str, Field(max_length=63, pattern=K8S_LABEL_VALUE)] = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    def toleration(self) -> dict[str, str]:
        """The toleration that lets a pod onto nodes with this taint (any value of the key)."""
        return {"key": self.key, "operator": "Exists", "effect": self.effect}


GPU_TAINT = Taint(key=GPU_TAINT_KEY, value="present", effect="NoSchedule")
"""The taint every managed GPU pool gets: the one GKE adds to GPU nodes itself (``nvidia.com/gpu=present``),
so a GKE pool never carries a second, conflicting taint with the same key, and every cloud's pools, Kueue
flavors and tolerations share one value."""


class ApiAccess(_Model):
    """Who can reach the Kubernetes API: nobody from the internet (``private``), or listed CIDRs."""

    mode: Literal["private", "public"] = "private"
    allowed_cidrs: tuple[str, ...] = ()

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs_are_networks(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR block (e.g. 203.0.113.0/24): {exc}") from None
            if network.prefixlen == 0:
                raise ValueError(f"{cidr!r} opens the API to the whole internet; list your own ranges")
        return cidrs


class SystemPool(_Model):
    """The always-on pool for controllers (Kueue, gateway, Prometheus...). Never has GPUs."""

    size: Literal["small", "medium", "large"] = "small"
    instance_type: str | None = None
    min_nodes: Annotated[int, Field(ge=1, le=100)] = 2
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 4


class Sharing(_Model):
    """How a GPU is shared between pods: not at all, time-sliced, or MIG-partitioned."""

    mode: Literal["none", "time-slicing", "mig"] = "none"
    replicas: Annotated[int, Field(ge=2, le=48)] | None = None
    mig_profile: Annotated[str, Field(pattern=r"^[1-7]g\.[0-9]+gb$")] | None = None


class GpuPool(_Model):
    """A group of identical GPU nodes, named by what it is for and typed by GPU model."""

    name: Annotated[str, Field(min_length=1, max_length=30, pattern=DNS_LABEL)]
    gpu: Annotated[str, Field(min_length=1)]
    gpus_per_node: Annotated[int, Field(ge=1, le=16)] = 1
    min_nodes: Annotated[int, Field(ge=0, le=1000)] = 0
    max_nodes: Annotated[int, Field(ge=1, le=1000)]
    capacity: Literal["on-demand", "spot"] = "on-demand"
    sharing: Sharing = Sharing()
    instance_type: str | None = None
    labels: Mapping[str, Annotated[str, Field(max_length=63, pattern=K8S_LABEL_VALUE)]] = Field(
        default_factory=dict[str, str]
    )
    taints: Annotated[tuple[Taint, ...], Field(max_length=8)] | None = None
    zones: (
        Annotated[tuple[Annotated[str, Field(min_length=1, max_length=64)], ...], Field(min_length=1, max_length=6)]
        | None
    ) = None
    """Zones this pool's nodes may run in (``us-east-1a`` on AWS, ``us-central1-a`` on GCP). ``None``: the
    cluster component picks them where the pool's instance type is offered (EKS: the EC2 offerings lookup at
    deploy time; GKE: the zones :mod:`components.gcp_zones` records for the machine type)."""

    @property
    def spot(self) -> bool:
        return self.capacity == "spot"

    @property
    def node_labels(self) -> dict[str, str]:
        """Labels every node of this pool carries: the pool, the GPU model, how the GPU is shared
        (the labels the NVIDIA device plugin and MIG manager read), then the stack's extras."""
        return {POOL_LABEL: self.name, GPU_MODEL_LABEL: self.gpu, **self.sharing_labels, **self.labels}

    @property
    def sharing_labels(self) -> dict[str, str]:
        """``nvidia.com/device-plugin.config`` selects this pool's time-slicing entry in the device
        plugin config; ``nvidia.com/mig.config`` tells the MIG manager which layout to apply."""
        if self.sharing.mode == "time-slicing":
            return {DEVICE_PLUGIN_CONFIG_LABEL: self.name}
        if self.sharing.mode == "mig":
            return {MIG_CONFIG_LABEL: f"all-{self.sharing.mig_profile}"}
        return {}

    @property
    def node_taints(self) -> tuple[Taint, ...]:
        """Taints every node of this pool carries (the GPU taint unless an existing cluster says)."""
        return self.taints if self.taints is not None else (GPU_TAINT,)

    @property
    def slices_per_gpu(self) -> int:
        """How many ``nvidia.com/gpu`` units one physical GPU advertises (time-slicing replicas, or the
        instances of the pool's MIG profile on this GPU model; the spec rejects unknown profiles)."""
        if self.sharing.mode == "time-slicing":
            return self.sharing.replicas or 1
        if self.sharing.mode == "mig":
            model = catalog.GPU_MODELS.get(self.gpu)
            return 1 if model is None else model.mig_profiles.get(self.sharing.mig_profile or "", 1)
        return 1

    @property
    def max_gpus(self) -> int:
        return self.max_nodes * self.gpus_per_node

    @property
    def max_gpu_units(self) -> int:
        """Schedulable ``nvidia.com/gpu`` units at maximum scale (after time-slicing or MIG)."""
        return self.max_gpus * self.slices_per_gpu


class Tenant(_Model):
    """A team that gets GPU quota.

    ``quotas`` maps GPU model to ``nvidia.com/gpu`` units as Kueue counts them: physical GPUs, or
    slices on a time-sliced or MIG pool. ``weight`` is the tenant's fair-sharing weight.
    """

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=DNS_LABEL)]
    quotas: Mapping[str, Annotated[int, Field(ge=0, le=100000)]] = Field(default_factory=dict[str, int])
    weight: Annotated[float, Field(gt=0, le=1000)] = 1.0
    members: tuple[Annotated[str, Field(pattern=USER_ID)], ...] = ()
    """User ids (as the identity provider names them) that belong to this tenant; they become
    ``user:<id> member tenant:<name>`` tuples in OpenFGA."""


class GpuSettings(_Model):
    """GPU enablement. ``driver`` says who installs the NVIDIA driver on GPU nodes:
    ``auto`` picks per cloud (EKS NVIDIA AMI and LKE GPU nodes: pre-installed; GKE: Google-managed;
    existing: the GPU operator installs it), or force ``operator`` / ``preinstalled``."""

    driver: Literal["auto", "operator", "preinstalled"] = "auto"


class KueueSettings(_Model):
    """Kueue quotas and queues generated from the GPU pools and tenants."""

    enabled: bool = True
    cohort: Annotated[str, Field(pattern=DNS_LABEL, max_length=40)] = "gpuplane"
    borrowing: bool = True
    pods_ready_timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = 10


class ObservabilitySettings(_Model):
    """kube-prometheus-stack, GPU and queue monitors, dashboards and alerts."""

    enabled: bool = True
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 15
    storage_gb: Annotated[int, Field(ge=5, le=10000)] = 50
    pending_alert_minutes: Annotated[int, Field(ge=1, le=1440)] = 30


TokenUnit = Literal["Minute", "Hour", "Day", "Month"]
ModelProvider = Literal["in-cluster", "openai", "openai-compatible", "anthropic", "bedrock", "vertex"]
EXTERNAL_PROVIDERS: tuple[str, ...] = ("openai", "openai-compatible", "anthropic", "bedrock", "vertex")


MAX_TOKEN_BUDGET = 4_294_967_295
MAX_FLAVOR_NODE_LABELS = 8
"""Kueue 0.19.2 ResourceFlavor ``spec.nodeLabels`` holds at most 8 entries (CRD ``maxProperties: 8``)."""


class TokenBudget(_Model):
    """Tokens (total: input plus output, as the backend reports them) one tenant may spend on one
    model per ``per``; enforced by the gateway's global rate limit."""

    # Envoy Gateway v1.8.3 rate limits hold the budget in a uint32 (api/v1alpha1/ratelimit_types.go
    # ``Requests uint32``; the BackendTrafficPolicy CRD's ``maximum: 4294967295``): more is refused here.
    tokens: Annotated[int, Field(ge=1, le=MAX_TOKEN_BUDGET)]
    per: TokenUnit = "Hour"


class ModelBackend(_Model):
    """Where a model is served: an in-cluster inference Service (OpenAI-compatible API, e.g. vLLM)
    or an external provider whose credential is an entry of the secret ``gpuplane:modelCredentials``."""

    provider: ModelProvider
    service: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)] | None = None
    namespace: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    hostname: Annotated[str, Field(max_length=253, pattern=HOSTNAME)] | None = None
    region: Annotated[str, Field(min_length=1, max_length=64, pattern=DNS_LABEL)] | None = None
    project: Annotated[str, Field(min_length=1, max_length=64, pattern=DNS_LABEL)] | None = None
    credential: Annotated[str, Field(min_length=1, max_length=63, pattern=CREDENTIAL_NAME)] | None = None

    @property
    def external(self) -> bool:
        return self.provider != "in-cluster"


class ServedModel(_Model):
    """A model offered through the AI gateway, the tenants allowed to call it and their budgets.

    ``name`` names the Kubernetes objects and the OpenFGA ``model:<name>`` object; ``modelId`` is
    what clients put in the request's ``model`` field (defaults to ``name``). ``budgets`` maps a
    tenant (one of ``tenants``) to its token budget on this model; tenants without an entry get
    ``gateway.defaultBudget``.
    """

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=DNS_LABEL)]
    model_id: Annotated[str, Field(min_length=1, max_length=128, pattern=MODEL_ID)] | None = None
    backend: ModelBackend
    tenants: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    budgets: Mapping[str, TokenBudget] = Field(default_factory=dict[str, TokenBudget])

    @property
    def served_name(self) -> str:
        """The ``model`` value clients send (the AI gateway matches it as header ``x-ai-eg-model``)."""
        return self.model_id or self.name


class GatewayAuth(_Model):
    """How callers prove which tenant they are: a per-tenant API key generated by gpuplane
    (``api-key``), or a JWT from your identity provider whose ``tenantClaim`` names the tenant."""

    mode: Literal["api-key", "jwt"] = "api-key"
    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    jwks_uri: Annotated[str, Field(pattern=r"^https://")] | None = None
    audiences: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    tenant_claim: Annotated[str, Field(min_length=1, max_length=128)] = "tenant"


class GatewayTls(_Model):
    """The HTTPS listener's certificate: ``self-signed`` (generated, for development) or ``secret``
    (a ``kubernetes.io/tls`` Secret you provide in the gateway namespace, e.g. from cert-manager)."""

    mode: Literal["self-signed", "secret"] = "self-signed"
    secret_name: Annotated[str, Field(max_length=253, pattern=DNS_LABEL)] | None = None


class GatewaySettings(_Model):
    """Envoy Gateway + Envoy AI Gateway: one HTTPS Gateway, a route per model, authentication and
    per-tenant token limits."""

    enabled: bool = True
    hostname: Annotated[str, Field(max_length=253, pattern=HOSTNAME)] | None = None
    auth: GatewayAuth = GatewayAuth()
    tls: GatewayTls = GatewayTls()
    default_budget: TokenBudget = TokenBudget(tokens=100_000, per="Hour")
    rate_limit_fail_closed: bool = True
    replicas: Annotated[int, Field(ge=1, le=20)] = 2


class OpenFgaSettings(_Model):
    """OpenFGA with a durable Postgres datastore: one the stack runs (``in-cluster``) or yours
    (``external``, its URI in the secret ``gpuplane:openfgaDatastoreUri``)."""

    enabled: bool = True
    datastore: Literal["in-cluster", "external"] = "in-cluster"
    storage_gb: Annotated[int, Field(ge=1, le=1000)] = 10
    replicas: Annotated[int, Field(ge=1, le=10)] = 2


class WorkloadControllers(_Model):
    """Controllers for the multi-pod workload APIs Kueue admits: JobSet (training gangs) and
    LeaderWorkerSet (multi-host inference). Without them Kueue's integrations have nothing to manage."""

    jobset: bool = True
    leader_worker_set: bool = True


class AutoscalingSettings(_Model):
    """Pod autoscaling on custom metrics: prometheus-adapter serves Prometheus series (inference queue
    depth, tokens per second ...) to HorizontalPodAutoscalers through the custom metrics API."""

    custom_metrics: bool = True


class PlatformSpec(_Model):
    """The whole platform, cloud-neutral. See the module docstring."""

    cloud: Cloud
    region: Annotated[str, Field(min_length=1, max_length=64)]
    kubernetes_version: Annotated[str, Field(pattern=K8S_VERSION)] = DEFAULT_KUBERNETES_VERSION
    cluster_name: Annotated[str, Field(min_length=1, max_length=32, pattern=DNS_LABEL)]
    kubeconfig_context: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """Existing clusters: the context of ``gpuplane:kubeconfig`` to use; required when it has several."""
    api_access: ApiAccess = ApiAccess()
    system_pool: SystemPool = SystemPool()
    gpu_pools: tuple[GpuPool, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    tags: Mapping[str, Annotated[str, Field(max_length=63, pattern=K8S_LABEL_VALUE)]] = Field(
        default_factory=dict[str, str]
    )
    production: bool = False
    gpu: GpuSettings = GpuSettings()
    kueue: KueueSettings = KueueSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    workloads: WorkloadControllers = WorkloadControllers()
    autoscaling: AutoscalingSettings = AutoscalingSettings()
    models: tuple[ServedModel, ...] = ()
    gateway: GatewaySettings = GatewaySettings()
    openfga: OpenFgaSettings = OpenFgaSettings()

    @model_validator(mode="after")
    def _consistent(self) -> PlatformSpec:
        problems = list(semantic_problems(self))
        if problems:
            raise SpecError(problems)
        return self

    def offering(self, pool: GpuPool) -> Offering:
        """The instance/plan type a pool runs on (validated to exist when the spec was built)."""
        found = _resolve_offering(self.cloud, pool)
        assert found is not None, "validated in semantic_problems"
        return found

    def gpu_capacity(self) -> dict[str, int]:
        """Schedulable GPU units per GPU model at the pools' maximum scale."""
        capacity: dict[str, int] = {}
        for pool in self.gpu_pools:
            capacity[pool.gpu] = capacity.get(pool.gpu, 0) + pool.max_gpu_units
        return capacity

    def driver_preinstalled(self) -> bool:
        """Whether GPU nodes come with the NVIDIA driver (so the GPU operator must not install one)."""
        if self.gpu.driver != "auto":
            return self.gpu.driver == "preinstalled"
        return self.cloud in ("aws", "gcp", "linode")

    def system_instance_type(self) -> str:
        return self.system_pool.instance_type or catalog.SYSTEM_INSTANCE_TYPES[self.cloud][self.system_pool.size]


def _resolve_offering(cloud: Cloud, pool: GpuPool) -> Offering | None:
    if cloud == "existing":
        return catalog.existing_offering(pool.gpus_per_node)
    if pool.instance_type is not None:
        return catalog.find_offering(pool.gpu, cloud, pool.instance_type)
    return catalog.default_offering(pool.gpu, cloud, pool.gpus_per_node, spot=pool.spot)


def semantic_problems(spec: PlatformSpec) -> Iterator[Problem]:
    """Every cross-field problem of a structurally valid spec."""
    from components.regions import region_problem

    wrong_region = region_problem(spec.cloud, spec.region)
    if wrong_region:
        yield Problem("region", wrong_region)
    if spec.system_pool.instance_type is not None and spec.cloud != "existing":
        known_system = catalog.SYSTEM_INSTANCE_TYPES[spec.cloud].values()
        if spec.system_pool.instance_type not in known_system:
            yield Problem(
                "systemPool.instanceType",
                f"{spec.system_pool.instance_type!r} is not in the catalog for {spec.cloud}; "
                f"choose one of: {', '.join(sorted(known_system))} (or set systemPool.size)",
            )
    yield from _api_access_problems(spec)
    yield from _version_problems(spec)
    if not spec.gpu_pools:
        yield Problem("gpuPools", "at least one GPU pool is required")
    if len(spec.gpu_pools) > MAX_GPU_POOLS:
        yield Problem("gpuPools", f"at most {MAX_GPU_POOLS} GPU pools (Kueue flavors per quota)")
    system = spec.system_pool
    if system.min_nodes > system.max_nodes:
        yield Problem("systemPool.minNodes", f"minNodes ({system.min_nodes}) is above maxNodes ({system.max_nodes})")
    yield from _duplicate_names("gpuPools", [p.name for p in spec.gpu_pools])
    yield from _duplicate_names("tenants", [t.name for t in spec.tenants])
    for index, tenant in enumerate(spec.tenants):
        if tenant.name in RESERVED_NAMESPACES or tenant.name.startswith("kube-"):
            yield Problem(
                f"tenants[{index}].name",
                f"{tenant.name!r} is a system or platform namespace; tenants get a namespace named after them",
            )
    for index, pool in enumerate(spec.gpu_pools):
        yield from _pool_problems(spec, index, pool)
    yield from _quota_problems(spec)
    yield from _tag_problems(spec)
    if spec.autoscaling.custom_metrics and not spec.observability.enabled:
        yield Problem(
            "autoscaling.customMetrics",
            "custom metrics come from the observability add-on's Prometheus; enable observability or set false",
        )
    if spec.cloud == "gcp" and spec.gpu.driver == "operator":
        yield Problem("gpu.driver", "GKE installs the NVIDIA driver on every GPU node pool; use auto or preinstalled")
    yield from _model_problems(spec)
    if spec.cloud == "aws":
        yield from _aws_zone_problems(spec)
    yield from _kubeconfig_context_problems(spec)


def _kubeconfig_context_problems(spec: PlatformSpec) -> Iterator[Problem]:
    if spec.kubeconfig_context is not None and spec.cloud != "existing":
        yield Problem("kubeconfigContext", "only used with cloud: existing; remove it")


def _version_problems(spec: PlatformSpec) -> Iterator[Problem]:
    """The version must be one gpuplane is tested with *and* one the stack's cloud offers today."""
    version = spec.kubernetes_version
    if version not in KUBERNETES_VERSIONS:
        yield Problem(
            "kubernetesVersion",
            f"{version} is not in the tested set; choose one of: {', '.join(KUBERNETES_VERSIONS)}",
        )
        return
    offered = offered_kubernetes_versions(spec.cloud, production=spec.production)
    if version not in offered:
        where = {
            "aws": "EKS",
            "gcp": f"GKE's {'STABLE' if spec.production else 'REGULAR'} release channel",
            "linode": "LKE",
        }.get(spec.cloud, spec.cloud)
        yield Problem(
            "kubernetesVersion",
            f"{where} does not offer Kubernetes {version} today; choose one of: {', '.join(offered)}",
        )


def _gcp_zone_problems(spec: PlatformSpec, key: str, pool: GpuPool) -> Iterator[Problem]:
    """GKE GPU pools run only in zones that offer their machine type: the region must have one, and every
    pinned zone must be one of them."""
    machine = spec.offering(pool).instance_type
    if not gcp_zones.recorded(machine):
        yield Problem(
            f"{key}.gpu",
            f"gpuplane records no zones for {machine} ({pool.gpu}) on GKE, so it cannot place the pool; "
            "choose another GPU model",
        )
        return
    offered = gcp_zones.gpu_zones(machine, spec.region)
    if not offered:
        regions = ", ".join(gcp_zones.regions_with(machine))
        yield Problem(
            f"{key}.gpu",
            f"{machine} ({pool.gpu}) is not offered in any zone of {spec.region}; regions with it: {regions}",
        )
        return
    seen: set[str] = set()
    for index, zone in enumerate(pool.zones or ()):
        if zone in seen:
            yield Problem(f"{key}.zones[{index}]", f"zone {zone!r} is listed twice")
        elif zone not in offered:
            yield Problem(
                f"{key}.zones[{index}]",
                f"{zone} does not offer {machine} ({pool.gpu}); zones of {spec.region} that do: {', '.join(offered)}",
            )
        seen.add(zone)


def _aws_zone_problems(spec: PlatformSpec) -> Iterator[Problem]:
    """Pinned EKS zones: availability zone names of the stack's region; the VPC spans two AZs."""
    zone = re.compile(rf"^{re.escape(spec.region)}[a-z]$")
    pinned: set[str] = set()
    for index, pool in enumerate(spec.gpu_pools):
        for z in pool.zones or ():
            if not zone.match(z):
                yield Problem(f"gpuPools[{index}].zones", f"{z!r} is not an availability zone of {spec.region}")
            pinned.add(z)
    if len(pinned) > AWS_ZONE_COUNT:
        yield Problem(
            "gpuPools",
            f"the pools pin {len(pinned)} zones ({', '.join(sorted(pinned))}); the EKS VPC spans {AWS_ZONE_COUNT}",
        )


_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def _tag_problems(spec: PlatformSpec) -> Iterator[Problem]:
    """Tags become GCP resource labels (strict charset) or Linode tags (``k:v``, 3 to 50 characters)."""
    for key, value in spec.tags.items():
        if spec.cloud == "gcp" and not (_GCP_LABEL_KEY.match(key) and _GCP_LABEL_VALUE.match(value)):
            yield Problem(
                f"tags.{key}",
                "GCP labels take lowercase letters, digits, '_' and '-' (keys start with a letter)",
            )
        linode_tag = f"{key}:{value}" if value else key
        if spec.cloud == "linode" and not 3 <= len(linode_tag) <= 50:
            yield Problem(f"tags.{key}", f"Linode tags ({linode_tag!r}) must be 3 to 50 characters long")


def _api_access_problems(spec: PlatformSpec) -> Iterator[Problem]:
    access = spec.api_access
    if access.mode == "public" and not access.allowed_cidrs:
        yield Problem("apiAccess.allowedCidrs", "public API access needs at least one CIDR to allow")
    if access.mode == "private" and access.allowed_cidrs:
        yield Problem("apiAccess.allowedCidrs", "set apiAccess.mode to public to allow CIDRs, or remove them")
    if spec.cloud == "linode" and access.mode == "private":
        yield Problem(
            "apiAccess.mode",
            "LKE has no private API endpoint; use mode public with allowedCidrs (enforced by the control-plane ACL)",
        )


def _duplicate_names(key: str, names: Sequence[str]) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield Problem(f"{key}[{index}].name", f"duplicate name {name!r}; names must be unique")
        seen.add(name)


def _pool_problems(spec: PlatformSpec, index: int, pool: GpuPool) -> Iterator[Problem]:
    key = f"gpuPools[{index}]"
    if pool.name == SYSTEM_POOL_NAME:
        yield Problem(f"{key}.name", "'system' is the name of the non-GPU pool; choose another name")
    # Checks that do not depend on the GPU model come first, so a stack moved to another cloud hears
    # about every problem in one run.
    if pool.min_nodes > pool.max_nodes:
        yield Problem(f"{key}.minNodes", f"minNodes ({pool.min_nodes}) is above maxNodes ({pool.max_nodes})")
    minimum = catalog.MIN_AUTOSCALED_NODES[spec.cloud]
    if pool.min_nodes < minimum:
        yield Problem(
            f"{key}.minNodes",
            f"{spec.cloud} GPU pools cannot scale below {minimum} node (LKE's autoscaler minimum); set minNodes: {minimum}",
        )
    yield from _capacity_problems(spec.cloud, key, pool)
    offered = catalog.models_offered_on(spec.cloud)
    if pool.gpu not in offered:
        yield Problem(f"{key}.gpu", f"{spec.cloud} does not offer {pool.gpu!r}; choose one of: {', '.join(offered)}")
        return
    offering_problems = list(_offering_problems(spec.cloud, key, pool))
    yield from offering_problems
    if spec.cloud == "gcp" and not offering_problems:
        yield from _gcp_zone_problems(spec, key, pool)
    if spec.cloud in ("linode", "existing") and pool.zones is not None:
        yield Problem(f"{key}.zones", f"zones can be pinned on aws and gcp only, not {spec.cloud}")
    yield from _sharing_problems(key, pool)
    yield from _label_key_problems(spec.cloud, key, pool)
    if len(pool.node_labels) > MAX_FLAVOR_NODE_LABELS:
        platform = len(pool.node_labels) - len(pool.labels)
        yield Problem(
            f"{key}.labels",
            f"{len(pool.labels)} labels plus the {platform} gpuplane sets make {len(pool.node_labels)}; a Kueue "
            f"ResourceFlavor holds at most {MAX_FLAVOR_NODE_LABELS} node labels, so at most "
            f"{MAX_FLAVOR_NODE_LABELS - platform} here",
        )
    if pool.taints is not None and spec.cloud != "existing":
        yield Problem(
            f"{key}.taints",
            "taints can only be declared for existing clusters; gpuplane taints managed pools",
        )


def _label_key_problems(cloud: Cloud, key: str, pool: GpuPool) -> Iterator[Problem]:
    reserved = {DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL}
    for label in pool.labels:
        if not _is_qualified_name(label):
            yield Problem(
                f"{key}.labels.{label}", "not a Kubernetes label key ([prefix/]name, name up to 63 characters)"
            )
        elif label.startswith(RESERVED_LABEL_PREFIXES) or label in reserved:
            yield Problem(f"{key}.labels.{label}", "set by gpuplane from the pool's name, GPU and sharing; remove it")
    for index, taint in enumerate(pool.taints or ()):
        if not _is_qualified_name(taint.key):
            yield Problem(f"{key}.taints[{index}].key", "not a Kubernetes taint key ([prefix/]name)")
    if cloud == "aws":
        keys = [f"label/{k}" for k in pool.node_labels] + [f"taint/{t.key}" for t in pool.node_taints]
        for suffix in keys:
            if len(f"{ASG_NODE_TEMPLATE_PREFIX}/{suffix}") > ASG_TAG_KEY_MAX:
                yield Problem(
                    f"{key}.labels",
                    f"{suffix.partition('/')[2]!r} is too long for the Auto Scaling group tag that lets the "
                    f"autoscaler scale this pool from zero (at most {ASG_TAG_KEY_MAX} characters with its prefix)",
                )


def _is_qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(QUALIFIED_NAME.match(key)) and len(name) <= 63 and len(prefix) <= 253


def _capacity_problems(cloud: Cloud, key: str, pool: GpuPool) -> Iterator[Problem]:
    if pool.spot and cloud == "linode":
        yield Problem(f"{key}.capacity", "Linode has no spot capacity; use on-demand")
    if pool.spot and cloud == "existing":
        yield Problem(f"{key}.capacity", "an existing cluster's capacity is not bought by gpuplane; use on-demand")


def _offering_problems(cloud: Cloud, key: str, pool: GpuPool) -> Iterator[Problem]:
    if cloud == "existing":
        if pool.instance_type is not None:
            yield Problem(f"{key}.instanceType", "existing clusters have no instance type to choose; remove it")
        return
    available = catalog.offerings(pool.gpu, cloud)
    types = ", ".join(f"{o.instance_type} ({o.gpus} GPU)" for o in available)
    if pool.instance_type is not None:
        chosen = catalog.find_offering(pool.gpu, cloud, pool.instance_type)
        if chosen is None:
            yield Problem(
                f"{key}.instanceType",
                f"{pool.instance_type!r} does not carry {pool.gpu} on {cloud}; choose one of: {types}",
            )
        elif chosen.gpus != pool.gpus_per_node:
            yield Problem(
                f"{key}.gpusPerNode",
                f"{pool.instance_type} has {chosen.gpus} GPUs per node; set gpusPerNode: {chosen.gpus}",
            )
        elif chosen.spot_only and not pool.spot:
            yield Problem(
                f"{key}.capacity", f"{pool.instance_type} is sold only as spot/flex-start; set capacity: spot"
            )
        return
    if _resolve_offering(cloud, pool) is None:
        counts = sorted({o.gpus for o in available if pool.spot or not o.spot_only})
        yield Problem(
            f"{key}.gpusPerNode",
            f"{pool.gpu} on {cloud} ({pool.capacity}) comes with {counts} GPUs per node, not {pool.gpus_per_node}",
        )


def _sharing_problems(key: str, pool: GpuPool) -> Iterator[Problem]:
    sharing = pool.sharing
    if sharing.mode == "time-slicing" and sharing.replicas is None:
        yield Problem(f"{key}.sharing.replicas", "time-slicing needs replicas (how many pods share one GPU)")
    if sharing.mode != "time-slicing" and sharing.replicas is not None:
        yield Problem(f"{key}.sharing.replicas", "replicas applies only to mode time-slicing")
    if sharing.mode == "mig":
        if not catalog.GPU_MODELS[pool.gpu].mig_capable:
            capable = sorted(n for n, m in catalog.GPU_MODELS.items() if m.mig_capable)
            yield Problem(f"{key}.sharing.mode", f"{pool.gpu} does not support MIG; MIG GPUs: {', '.join(capable)}")
        profiles = catalog.GPU_MODELS[pool.gpu].mig_profiles
        if sharing.mig_profile is None:
            yield Problem(f"{key}.sharing.migProfile", "mig needs a profile such as 1g.10gb")
        elif profiles and sharing.mig_profile not in profiles:
            yield Problem(
                f"{key}.sharing.migProfile",
                f"{pool.gpu} has no MIG profile {sharing.mig_profile!r}; choose one of: {', '.join(profiles)}",
            )
    elif sharing.mig_profile is not None:
        yield Problem(f"{key}.sharing.migProfile", "migProfile applies only to mode mig")


def _quota_problems(spec: PlatformSpec) -> Iterator[Problem]:
    capacity = spec.gpu_capacity()
    totals: dict[str, int] = {}
    for index, tenant in enumerate(spec.tenants):
        for gpu, quota in tenant.quotas.items():
            key = f"tenants[{index}].quotas.{gpu}"
            if gpu not in capacity:
                pools = ", ".join(sorted(capacity))
                yield Problem(key, f"no GPU pool provides {gpu!r}; pools provide: {pools}")
                continue
            if quota > capacity[gpu]:
                yield Problem(key, f"quota {quota} is above the {capacity[gpu]} {gpu} GPUs the pools reach at maxNodes")
            totals[gpu] = totals.get(gpu, 0) + quota
    for gpu, total in sorted(totals.items()):
        if total > capacity[gpu]:
            yield Problem(
                "tenants",
                f"quotas for {gpu} add up to {total}, above the {capacity[gpu]} the pools reach at maxNodes; "
                "lower quotas or raise maxNodes",
            )


def parse_spec(raw: Mapping[str, Any]) -> PlatformSpec:
    """Validate ``raw`` (camelCase keys) into a spec, or raise :class:`SpecError` with every problem."""
    try:
        return PlatformSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([_problem_from_pydantic(e) for e in exc.errors()]) from None


def _problem_from_pydantic(error: Any) -> Problem:
    loc: tuple[Any, ...] = tuple(error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        message = "unknown key (check its spelling against docs/spec.md)"
    elif error.get("type") == "missing":
        message = "required key is missing"
    return Problem(format_key(loc), message.removeprefix("Value error, "))


def format_key(loc: Sequence[Any]) -> str:
    """``("gpuPools", 1, "minNodes")`` -> ``gpuPools[1].minNodes``."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


# --- models, gateway and OpenFGA (issue 4) ---------------------------------------------------------

_BACKEND_FIELDS: Mapping[str, tuple[str, ...]] = {
    # provider -> the backend keys it needs (beyond ``provider``); every other key must be absent.
    "in-cluster": ("service", "namespace", "port"),
    "openai": ("credential",),
    "openai-compatible": ("hostname", "credential"),
    "anthropic": ("credential",),
    "bedrock": ("region", "credential"),
    "vertex": ("region", "project", "credential"),
}
_BACKEND_KEYS = ("service", "namespace", "port", "hostname", "region", "project", "credential")


def _model_problems(spec: PlatformSpec) -> Iterator[Problem]:
    """Models name known tenants, once each; budgets only for tenants with access; backends are
    complete for their provider; the gateway and its auth/TLS settings are coherent."""
    yield from _duplicate_names("models", [m.name for m in spec.models])
    served: dict[str, int] = {}
    for index, model in enumerate(spec.models):
        if model.served_name in served:
            yield Problem(
                f"models[{index}].modelId",
                f"model id {model.served_name!r} is already served by models[{served[model.served_name]}]; "
                "clients could not tell them apart",
            )
        served.setdefault(model.served_name, index)
        yield from _model_access_problems(spec, index, model)
        yield from _backend_problems(f"models[{index}].backend", model.backend)
    for index, tenant in enumerate(spec.tenants):
        seen: set[str] = set()
        for position, member in enumerate(tenant.members):
            if member in seen:
                yield Problem(f"tenants[{index}].members[{position}]", f"duplicate member {member!r}")
            seen.add(member)
    yield from _gateway_problems(spec)


def _model_access_problems(spec: PlatformSpec, index: int, model: ServedModel) -> Iterator[Problem]:
    key = f"models[{index}]"
    known = [t.name for t in spec.tenants]
    if not model.tenants:
        yield Problem(f"{key}.tenants", "list the tenants that may use this model (at least one)")
    seen: set[str] = set()
    for position, tenant in enumerate(model.tenants):
        if tenant not in known:
            yield Problem(
                f"{key}.tenants[{position}]",
                f"unknown tenant {tenant!r}; tenants are: {', '.join(known) or '(none)'}",
            )
        elif tenant in seen:
            yield Problem(f"{key}.tenants[{position}]", f"tenant {tenant!r} is listed twice")
        seen.add(tenant)
    for tenant in model.budgets:
        if tenant not in known:
            yield Problem(
                f"{key}.budgets.{tenant}",
                f"unknown tenant {tenant!r}; tenants are: {', '.join(known) or '(none)'}",
            )
        elif tenant not in model.tenants:
            yield Problem(
                f"{key}.budgets.{tenant}",
                f"tenant {tenant!r} has no access to {model.name!r}; add it to {key}.tenants or remove the budget",
            )


def _backend_problems(key: str, backend: ModelBackend) -> Iterator[Problem]:
    needed = _BACKEND_FIELDS[backend.provider]
    for field_name in _BACKEND_KEYS:
        value = getattr(backend, field_name)
        camel = to_camel(field_name)
        if field_name in needed and value is None:
            what = (
                "the name of its entry in the secret config gpuplane:modelCredentials"
                if field_name == "credential"
                else "a value"
            )
            yield Problem(f"{key}.{camel}", f"provider {backend.provider} needs {camel}: {what}")
        elif field_name not in needed and value is not None:
            yield Problem(f"{key}.{camel}", f"{camel} does not apply to provider {backend.provider}; remove it")


def _gateway_problems(spec: PlatformSpec) -> Iterator[Problem]:
    gateway = spec.gateway
    if spec.models and not gateway.enabled:
        yield Problem("gateway.enabled", "models are served through the gateway; enable it or remove models")
    auth = gateway.auth
    if auth.mode == "jwt":
        if auth.issuer is None:
            yield Problem("gateway.auth.issuer", "jwt auth needs the issuer of the tokens (the iss claim)")
        if auth.jwks_uri is None:
            yield Problem("gateway.auth.jwksUri", "jwt auth needs the https URI of the issuer's JWKS")
    else:
        for field_name in ("issuer", "jwks_uri", "audiences"):
            if getattr(auth, field_name):
                yield Problem(f"gateway.auth.{to_camel(field_name)}", "applies only to mode jwt; remove it")
    tls = gateway.tls
    if tls.mode == "secret" and tls.secret_name is None:
        yield Problem("gateway.tls.secretName", "mode secret needs the name of a kubernetes.io/tls Secret")
    if tls.mode == "self-signed" and tls.secret_name is not None:
        yield Problem("gateway.tls.secretName", "applies only to mode secret; remove it")
