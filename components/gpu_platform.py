"""GpuPlatform: the cluster for the spec's cloud, with the AI platform's add-ons hanging off it.

What: picks ``EksGpuCluster``, ``GkeGpuCluster``, ``LkeGpuCluster`` or ``ExistingCluster`` from
``spec.cloud`` and exposes it through the cloud-neutral :class:`GpuCluster` contract.
Why: the cloud is a stack choice, not a flag deep inside components; this is the one place that
switches on it. Each cloud's module (and so its SDK) is imported only when that cloud is chosen: a
Linode stack never pays for importing ``pulumi_aws`` or ``pulumi_gcp``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.clusters.contract import GpuCluster
from components.spec import PlatformSpec


@dataclass(frozen=True, kw_only=True)
class GpuPlatformArgs:
    """``kubeconfig`` is required for (and only used by) ``cloud: existing``."""

    spec: PlatformSpec
    kubeconfig: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if self.spec.cloud == "existing" and self.kubeconfig is None:
            raise ValueError("kubeconfig: required when spec.cloud is 'existing'")
        if self.spec.cloud != "existing" and self.kubeconfig is not None:
            raise ValueError(f"kubeconfig: only used for existing clusters, not {self.spec.cloud!r}")


class GpuPlatform(pulumi.ComponentResource):
    """A GPU Kubernetes cluster on the spec's cloud, ready for the platform add-ons."""

    cluster: GpuCluster
    """The cloud's cluster component, seen through the shared contract."""

    def __init__(self, name: str, args: GpuPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:index:GpuPlatform", name, None, opts)
        self.spec = args.spec
        self.cluster = _build_cluster(f"{name}-cluster", args, pulumi.ResourceOptions(parent=self))
        self.register_outputs(
            {
                "clusterName": self.cluster.cluster_name,
                "kubeconfig": self.cluster.kubeconfig,
            }
        )


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
