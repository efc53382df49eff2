"""GpuPlatform: the cluster for the spec's cloud, with the AI platform's add-ons hanging off it.

What: picks ``EksGpuCluster``, ``GkeGpuCluster``, ``LkeGpuCluster`` or ``ExistingCluster`` from
``spec.cloud``, exposes it through the cloud-neutral :class:`GpuCluster` contract, then installs the
same add-ons on every target through that cluster's provider: observability first (it owns the
monitoring CRDs the others plug into), then GPU enablement, the JobSet/LeaderWorkerSet controllers,
Kueue (after their CRDs, so its integrations switch on), prometheus-adapter, the AI gateway and OpenFGA.
Why: the cloud is a stack choice, not a flag deep inside components; this is the one place that
switches on it. Each cloud's module (and so its SDK) is imported only when that cloud is chosen: a
Linode stack never pays for importing ``pulumi_aws`` or ``pulumi_gcp``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.addons.admission import AdmissionGuardrails, AdmissionGuardrailsArgs
from components.addons.autoscaling import CustomMetricsAutoscaling, CustomMetricsAutoscalingArgs
from components.addons.base import AddonScope
from components.addons.gateway import AiGateway, AiGatewayArgs
from components.addons.gpu import GpuEnablement, GpuEnablementArgs
from components.addons.kueue import KueueAddon, KueueArgs
from components.addons.observability import Observability, ObservabilityArgs
from components.addons.openfga import OpenFga, OpenFgaArgs
from components.addons.workloads import WorkloadControllers, WorkloadControllersArgs
from components.clusters.contract import GpuCluster
from components.spec import PlatformSpec


@dataclass(frozen=True, kw_only=True)
class GpuPlatformArgs:
    """``kubeconfig`` is required for (and only used by) ``cloud: existing``."""

    spec: PlatformSpec
    kubeconfig: pulumi.Input[str] | None = None
    model_credentials: Mapping[str, pulumi.Input[str]] = field(default_factory=dict[str, pulumi.Input[str]])
    """``models[].backend.credential`` name -> value (Pulumi secrets)."""
    openfga_datastore_uri: pulumi.Input[str] | None = None
    """The external Postgres URI (a secret) for ``openfga.datastore: external``."""
    install_addons: bool = True
    """``False`` builds the cluster alone, for layering add-ons of your own (and for add-on tests)."""

    def __post_init__(self) -> None:
        if self.spec.cloud == "existing" and self.kubeconfig is None:
            raise ValueError("kubeconfig: required when spec.cloud is 'existing'")
        if self.spec.cloud != "existing" and self.kubeconfig is not None:
            raise ValueError(f"kubeconfig: only used for existing clusters, not {self.spec.cloud!r}")


class GpuPlatform(pulumi.ComponentResource):
    """A GPU Kubernetes cluster on the spec's cloud, ready for the platform add-ons."""

    cluster: GpuCluster
    """The cloud's cluster component, seen through the shared contract."""
    observability: Observability | None
    """kube-prometheus-stack, dashboards and alerts (``None`` when disabled)."""
    gpu: GpuEnablement | None
    """Driver/toolkit/device plugin/DCGM for this cloud (``None`` only without add-ons)."""
    kueue: KueueAddon | None
    """Quotas and queues (``None`` when disabled)."""
    workloads: WorkloadControllers | None
    """JobSet and LeaderWorkerSet controllers (``None`` when both are disabled)."""
    autoscaling: CustomMetricsAutoscaling | None
    """prometheus-adapter: HPAs on custom metrics (``None`` when disabled)."""
    gateway: AiGateway | None
    """Envoy Gateway + Envoy AI Gateway: model routes, tenant authentication, token limits."""
    openfga: OpenFga | None
    """Who may invoke which model and submit to which queue."""
    guardrails: AdmissionGuardrails | None
    """ValidatingAdmissionPolicies for GPU pods (``None`` only without add-ons)."""

    def __init__(self, name: str, args: GpuPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:index:GpuPlatform", name, None, opts)
        spec = args.spec
        self.spec = spec
        self.cluster = _build_cluster(f"{name}-cluster", args, pulumi.ResourceOptions(parent=self))
        self.observability, self.gpu, self.kueue, self.gateway, self.openfga = None, None, None, None, None
        self.workloads, self.autoscaling, self.guardrails = None, None, None
        if args.install_addons:
            self._install_addons(name, args)
        self.register_outputs(
            {
                "clusterName": self.cluster.cluster_name,
                "kubeconfig": self.cluster.kubeconfig,
            }
        )

    def _install_addons(self, name: str, args: GpuPlatformArgs) -> None:
        spec = args.spec
        # EKS brings its CSI driver and default StorageClass as resources add-ons with volumes wait for.
        storage: Sequence[pulumi.Resource] = getattr(self.cluster, "storage_dependencies", ())
        scope = AddonScope(
            spec=spec,
            provider=self.cluster.provider,
            native=self.cluster.native,
            gpu_pools=self.cluster.gpu_pools,
            storage=storage,
        )
        child = pulumi.ResourceOptions(parent=self)
        self.observability = (
            Observability(f"{name}-observability", ObservabilityArgs(scope=scope), child)
            if spec.observability.enabled
            else None
        )
        monitoring = None if self.observability is None else self.observability.hook
        self.gpu = GpuEnablement(f"{name}-gpu", GpuEnablementArgs(scope=scope, monitoring=monitoring), child)
        # Run-time guardrails for GPU pods on every target (the GPU stack's own namespaces exempt by name).
        self.guardrails = AdmissionGuardrails(f"{name}-guardrails", AdmissionGuardrailsArgs(scope=scope), child)
        self.workloads = (
            WorkloadControllers(f"{name}-workloads", WorkloadControllersArgs(scope=scope, monitoring=monitoring), child)
            if spec.workloads.jobset or spec.workloads.leader_worker_set
            else None
        )
        after = [] if self.workloads is None else list(self.workloads.releases)
        self.kueue = (
            KueueAddon(f"{name}-kueue", KueueArgs(scope=scope, monitoring=monitoring, after=after), child)
            if spec.kueue.enabled
            else None
        )
        if spec.autoscaling.custom_metrics and self.observability is not None:
            adapter_args = CustomMetricsAutoscalingArgs(scope=scope, monitoring=self.observability.hook)
            self.autoscaling = CustomMetricsAutoscaling(f"{name}-autoscaling", adapter_args, child)
        if spec.gateway.enabled:
            gateway_args = AiGatewayArgs(scope=scope, monitoring=monitoring, credentials=args.model_credentials)
            self.gateway = AiGateway(f"{name}-gateway", gateway_args, child)
        if spec.openfga.enabled:
            openfga_args = OpenFgaArgs(
                scope=scope,
                monitoring=monitoring,
                datastore_uri=args.openfga_datastore_uri,
                local_queues={} if self.kueue is None else self.kueue.local_queues,
                tenant_namespaces={} if self.kueue is None else dict(self.kueue.tenant_namespaces),
            )
            self.openfga = OpenFga(f"{name}-openfga", openfga_args, child)


def _build_cluster(name: str, args: GpuPlatformArgs, opts: pulumi.ResourceOptions) -> GpuCluster:
    spec = args.spec
    if spec.cloud == "aws":
        from components.clusters.eks import EksGpuCluster, EksGpuClusterArgs

        return EksGpuCluster(name, EksGpuClusterArgs(spec=spec), opts)
    if spec.cloud == "gcp":
        from components.clusters.gke import GkeGpuCluster, GkeGpuClusterArgs

        return GkeGpuCluster(name, GkeGpuClusterArgs(spec=spec), opts)
    if spec.cloud == "linode":
        from components.clusters.lke import LkeGpuCluster, LkeGpuClusterArgs

        return LkeGpuCluster(name, LkeGpuClusterArgs(spec=spec), opts)
    from components.clusters.existing import ExistingCluster, ExistingClusterArgs

    assert args.kubeconfig is not None, "checked in GpuPlatformArgs"
    return ExistingCluster(name, ExistingClusterArgs(spec=spec, kubeconfig=args.kubeconfig), opts)
