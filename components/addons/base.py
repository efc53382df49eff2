"""What every add-on shares: where it installs (the cluster's provider), what it dies with, and how
it plugs into monitoring.

Why: add-ons must never build providers or guess teardown order. :class:`AddonScope` carries the
cluster's Kubernetes provider, the native cluster resource (``deleted_with``: when the cluster goes,
nothing inside it is deleted one by one) and the GPU pools' scheduling facts. ``deleted_with`` makes
the engine skip the delete call when the named resource is deleted in the same operation
(pulumi/pulumi ``pkg/resource/deploy/step.go``, ``DeleteStep.Apply``/``isDeletedWith``): right for
ConfigMaps and RBAC, wrong for anything that owns a cloud resource — a LoadBalancer Service or a
PersistentVolume outlives the cluster, and on EKS the VPC then cannot be deleted. Those use
:meth:`AddonScope.owner_opts` instead (docs/decisions/eks-destroy-order.md). :class:`MonitoringHook`
is what the observability add-on hands to the others so their ServiceMonitors, PodMonitors,
PrometheusRules and dashboards carry exactly the labels Prometheus and Grafana select on.

Upstream gotchas:
- Charts that rely on Helm hooks go through ``helm.v3.Release`` (``helm.v4.Chart`` skips hooks,
  pulumi/pulumi-kubernetes#3284); see docs/decisions/helm-release-vs-chart.md.
- Custom resources whose CRDs a chart installs in the same ``up`` must ``depends_on`` that chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.clusters.contract import GpuPoolScheduling
from components.spec import PlatformSpec
from components.versions import ChartPin

SYSTEM_NODE_SELECTOR: Mapping[str, str] = {"gpuplane.io/pool": "system"}
PVC_DELETED_WITH_STATEFULSET: Mapping[str, str] = {"whenDeleted": "Delete", "whenScaled": "Retain"}
"""StatefulSet ``persistentVolumeClaimRetentionPolicy`` (GA in Kubernetes 1.32): deleting the StatefulSet
deletes its PVCs (and so, with reclaim policy Delete, the cloud volumes); scaling down keeps them."""
MANAGED_BY = {"app.kubernetes.io/managed-by": "gpuplane"}


@dataclass(frozen=True, kw_only=True)
class AddonScope:
    """The cluster an add-on installs into."""

    spec: PlatformSpec
    provider: k8s.Provider
    native: pulumi.Resource | None
    gpu_pools: Sequence[GpuPoolScheduling]
    storage: Sequence[pulumi.Resource] = ()
    """What a PersistentVolumeClaim needs to bind (EKS: the EBS CSI add-on and the default StorageClass);
    empty where the cluster ships a default StorageClass."""

    def owner_opts(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (), **extra: Any
    ) -> pulumi.ResourceOptions:
        """Options for an object that owns a cloud resource (a LoadBalancer, a PersistentVolume): *not*
        ``deleted_with`` the cluster, so ``pulumi destroy`` really deletes it — and waits — while the
        nodes, their controllers and the CSI driver still run (it depends on the provider, which the
        cluster creates after its system nodes, and on :attr:`storage`)."""
        return pulumi.ResourceOptions(
            parent=parent,
            provider=self.provider,
            depends_on=[*depends_on, *self.storage],
            **extra,
        )

    def opts(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (), **extra: Any
    ) -> pulumi.ResourceOptions:
        """Options for a Kubernetes child: the cluster's provider, teardown with the cluster."""
        return pulumi.ResourceOptions(
            parent=parent,
            provider=self.provider,
            deleted_with=self.native,
            depends_on=list(depends_on),
            **extra,
        )


@dataclass(frozen=True, kw_only=True)
class MonitoringHook:
    """How to plug monitors, rules and dashboards into the observability add-on."""

    namespace: str
    selector_labels: Mapping[str, str]
    """Labels every ServiceMonitor/PodMonitor/PrometheusRule must carry to be picked up."""
    dashboard_label: tuple[str, str]
    """The label (key, value) the Grafana dashboard sidecar watches ConfigMaps for."""
    crds: pulumi.Resource
    """The release that installs the monitoring.coreos.com CRDs (depend on it)."""
    dashboards_folder_annotation: str = "grafana_folder"


@dataclass(frozen=True, kw_only=True)
class NamespaceSpec:
    name: str
    pod_security: Literal["restricted", "baseline", "privileged"] = "restricted"
    labels: Mapping[str, str] = field(default_factory=dict[str, str])


def namespace(
    resource_name: str, ns: NamespaceSpec, scope: AddonScope, parent: pulumi.Resource
) -> k8s.core.v1.Namespace:
    """A namespace with Pod Security Admission enforced at the given level."""
    labels = {
        **MANAGED_BY,
        "pod-security.kubernetes.io/enforce": ns.pod_security,
        "pod-security.kubernetes.io/enforce-version": "latest",
        **ns.labels,
    }
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=ns.name, labels=labels),
        opts=scope.opts(parent),
    )


def helm_release(
    resource_name: str,
    pin: ChartPin,
    *,
    namespace: str,
    values: pulumi.Input[Mapping[str, Any]],
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    owns_cloud_resources: bool = False,
) -> k8s.helm.v3.Release:
    """Install a pinned chart as a Helm release (hooks run, upgrades are atomic). A release whose objects
    own cloud resources (``owns_cloud_resources``) is uninstalled for real on destroy: the Helm release
    provider waits for its objects to be gone (``atomic`` → ``uninstall.Wait``)."""
    return k8s.helm.v3.Release(
        resource_name,
        k8s.helm.v3.ReleaseArgs(
            name=pin.release,
            chart=pin.chart_ref,
            version=pin.version,
            repository_opts=None if pin.is_oci else k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository),
            namespace=namespace,
            create_namespace=False,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            wait_for_jobs=True,
            max_history=10,
            timeout=900,
        ),
        opts=scope.owner_opts(parent, depends_on) if owns_cloud_resources else scope.opts(parent, depends_on),
    )


def custom_resource(
    resource_name: str,
    *,
    api_version: str,
    kind: str,
    metadata: Mapping[str, Any],
    spec: pulumi.Input[Mapping[str, Any]] | None,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A custom resource with a plain-dict metadata/spec (validated in tests against upstream CRDs)."""
    extra: dict[str, Any] = {} if spec is None else {"spec": spec}
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=api_version, kind=kind, metadata=dict(metadata), opts=opts, **extra
    )
