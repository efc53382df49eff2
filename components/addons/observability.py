"""Observability: kube-prometheus-stack, GPU and Kueue dashboards and alerts, and the hook other
add-ons plug their monitors, rules and dashboards into.

What it builds (children of :class:`Observability`, all through the cluster's provider and
``deleted_with`` the native cluster):
- ``{name}-namespace``: ``monitoring``, Pod Security ``baseline`` enforced, ``restricted`` warned and
  audited; ``{name}-node-exporter-namespace``: ``node-exporter``, ``privileged``, holding only the
  node exporter (it needs hostNetwork, hostPID and hostPath, which ``baseline`` forbids, so it is
  kept out of the namespace the web-facing Grafana and Prometheus run in);
- ``{name}-grafana-password`` (``random.RandomPassword``) and ``{name}-grafana-admin``, the Secret
  Grafana reads its admin login from (``grafana.admin.existingSecret``): the password exists only in
  Pulumi state (as a secret) and in that Secret, never in Helm values;
- ``{name}-stack``: kube-prometheus-stack (:data:`~components.versions.KUBE_PROMETHEUS_STACK`) as a
  ``helm.v3.Release``: Prometheus keeps ``spec.observability.retentionDays`` days on a
  ``storageGb`` volume (and stops at 85 % of it, ``retentionSize``), Alertmanager on, Grafana with
  the dashboard sidecar watching every namespace; operator, Prometheus, Alertmanager, Grafana and
  the hook Jobs on the system pool;
- ``{name}-dashboard-gpu`` / ``{name}-rules-gpu``: the GPU dashboard and alerts (DCGM);
  ``{name}-dashboard-kueue`` / ``{name}-rules-kueue``: Kueue's, only when ``spec.kueue.enabled``.

:attr:`Observability.hook` is the :class:`~components.addons.base.MonitoringHook` the GPU, Kueue and
later add-ons get: every ServiceMonitor/PodMonitor/PrometheusRule carrying ``hook.selector_labels``
is picked up, because the same labels are written into Prometheus' selectors here. The module-level
helpers :func:`service_monitor`, :func:`pod_monitor`, :func:`prometheus_rule` and
:func:`dashboard_config_map` apply the hook's labels and the dependency on the CRDs for them.

Why these choices:
- Selectors are set explicitly to ``release: kube-prometheus-stack`` (with the
  ``*SelectorNilUsesHelmValues`` flags off) instead of relying on the chart's implicit default: the
  chart's own monitors carry that label, so Prometheus keeps scraping the cluster, and a test can
  compare the selector with the labels every monitor carries.
- Helm hooks: the admission webhook's certificate/patch Jobs and the CRD upgrade Job are hooks;
  ``helm.v4.Chart`` skips hooks (pulumi/pulumi-kubernetes#3284), so the chart is a
  ``helm.v3.Release`` (docs/decisions/helm-release-vs-chart.md). The CRD upgrade Job is switched on
  (it is off by default): Helm installs ``crds/`` once and never upgrades them, so a chart bump with
  new CRD fields would otherwise break the operator. Its kubectl and busybox images are pinned in
  ``components/versions.py``: the chart's default kubectl tag is the server's version string, which
  is not an image tag on EKS/GKE (``v1.34.1-eks-…``).

Upstream gotchas:
- DCGM series name the pod holding a GPU in ``exported_pod``/``exported_namespace`` because the
  exporters' ServiceMonitors keep ``honorLabels: false`` (``components.addons.alerts.series``).
- Kueue's quota series need ``metrics.enableClusterQueueResources`` in Kueue's configuration.
- Prometheus' volume needs a default StorageClass (EKS ≥ 1.30 ships none marked default; GKE and
  LKE do). Alertmanager routes to the chart's ``null`` receiver until a receiver is configured.
- Custom resources whose CRDs the chart installs in the same ``up`` fail preview against an existing
  cluster (pulumi/pulumi-kubernetes#3035, #3247): they depend on the release, which orders ``up``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.addons.alerts import RuleGroup
from components.addons.alerts.gpu import gpu_rules
from components.addons.alerts.kueue import kueue_rules
from components.addons.base import (
    MANAGED_BY,
    PVC_DELETED_WITH_STATEFULSET,
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    custom_resource,
    helm_release,
    namespace,
)
from components.addons.dashboards import DATASOURCE_UID, Dashboard
from components.addons.dashboards.gpu import gpu_dashboard
from components.addons.dashboards.kueue import kueue_dashboard
from components.spec import PlatformSpec
from components.versions import (
    KUBE_PROMETHEUS_CRD_UPGRADE_BUSYBOX,
    KUBE_PROMETHEUS_CRD_UPGRADE_KUBECTL,
    KUBE_PROMETHEUS_STACK,
    ImagePin,
)

NAMESPACE = "monitoring"
NODE_EXPORTER_NAMESPACE = "node-exporter"
SELECTOR_LABELS: Mapping[str, str] = {"release": KUBE_PROMETHEUS_STACK.release}
"""What Prometheus selects monitors and rules by (the label the chart puts on its own monitors)."""
DASHBOARD_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"
GRAFANA_PASSWORD_LENGTH = 32
RETENTION_SIZE_PERCENT = 85
SELECTED_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
MONITORING_API = "monitoring.coreos.com/v1"


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    """``scope``: the cluster to install into. Build only when ``spec.observability.enabled``."""

    scope: AddonScope

    def __post_init__(self) -> None:
        if not isinstance(self.scope, AddonScope):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"scope: expected an AddonScope, got {type(self.scope).__name__}")
        if not self.scope.spec.observability.enabled:
            raise ValueError("scope: spec.observability.enabled is false; the platform must not build Observability")


class Observability(pulumi.ComponentResource):
    """kube-prometheus-stack with gpuplane's dashboards and alerts. See the module docstring."""

    hook: MonitoringHook
    """Where other add-ons plug in monitors, rules and dashboards."""
    release: k8s.helm.v3.Release
    """The kube-prometheus-stack release (installs the monitoring.coreos.com CRDs)."""
    grafana_admin_password: pulumi.Output[str]
    """Grafana's admin password (secret)."""
    dashboards: dict[str, k8s.core.v1.ConfigMap]
    rules: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:Observability", name, None, opts)
        scope = args.scope
        spec = scope.spec
        monitoring_ns = namespace(
            f"{name}-namespace",
            NamespaceSpec(
                name=NAMESPACE,
                pod_security="baseline",
                labels={
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/warn-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/audit-version": "latest",
                },
            ),
            scope,
            self,
        )
        exporter_ns = namespace(
            f"{name}-node-exporter-namespace",
            NamespaceSpec(name=NODE_EXPORTER_NAMESPACE, pod_security="privileged"),
            scope,
            self,
        )
        password = random.RandomPassword(
            f"{name}-grafana-password",
            length=GRAFANA_PASSWORD_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GRAFANA_ADMIN_SECRET, namespace=NAMESPACE, labels=dict(MANAGED_BY)
            ),
            type="Opaque",
            string_data={GRAFANA_USER_KEY: GRAFANA_ADMIN_USER, GRAFANA_PASSWORD_KEY: self.grafana_admin_password},
            opts=scope.opts(self, [monitoring_ns]),
        )
        self.release = helm_release(
            f"{name}-stack",
            KUBE_PROMETHEUS_STACK,
            namespace=NAMESPACE,
            values=stack_values(spec),
            scope=scope,
            parent=self,
            depends_on=[monitoring_ns, exporter_ns, admin_secret],
            # Prometheus' PersistentVolume: uninstalled for real on destroy, before the CSI driver goes.
            owns_cloud_resources=True,
        )
        self.hook = MonitoringHook(
            namespace=NAMESPACE,
            selector_labels=dict(SELECTOR_LABELS),
            dashboard_label=DASHBOARD_LABEL,
            crds=self.release,
            dashboards_folder_annotation=FOLDER_ANNOTATION,
        )

        dashboards: dict[str, Dashboard] = {"gpu": gpu_dashboard()}
        groups: dict[str, RuleGroup] = {"gpu": gpu_rules()}
        if spec.kueue.enabled:
            dashboards["kueue"] = kueue_dashboard()
            groups["kueue"] = kueue_rules(spec.observability.pending_alert_minutes)
        self.dashboards = {
            role: dashboard_config_map(f"{name}-dashboard-{role}", board, hook=self.hook, scope=scope, parent=self)
            for role, board in dashboards.items()
        }
        self.rules = {
            role: prometheus_rule(
                f"{name}-rules-{role}",
                name=f"gpuplane-{role}",
                groups=[group],
                hook=self.hook,
                scope=scope,
                parent=self,
            )
            for role, group in groups.items()
        }
        self.register_outputs(
            {
                "namespace": NAMESPACE,
                "release": self.release.name,
                "grafanaAdminSecret": GRAFANA_ADMIN_SECRET,
                "grafanaAdminPassword": self.grafana_admin_password,
            }
        )


def retention_size_gb(storage_gb: int) -> int:
    """Prometheus stops keeping data at this size, so a full volume never crashes it."""
    return storage_gb * RETENTION_SIZE_PERCENT // 100


def _image(pin: ImagePin) -> dict[str, str]:
    registry, _, repository = pin.repository.partition("/")
    return {"registry": registry, "repository": repository, "tag": pin.tag}


def stack_values(spec: PlatformSpec) -> dict[str, Any]:
    """kube-prometheus-stack values for ``spec`` (plain data: no secret ever goes in here)."""
    settings = spec.observability
    system = dict(SYSTEM_NODE_SELECTOR)
    prometheus_spec: dict[str, Any] = {
        "retention": f"{settings.retention_days}d",
        "retentionSize": f"{retention_size_gb(settings.storage_gb)}GB",
        "storageSpec": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{settings.storage_gb}Gi"}},
                }
            }
        },
        # The volume goes with the Prometheus StatefulSet (uninstall, destroy) instead of outliving it.
        "persistentVolumeClaimRetentionPolicy": dict(PVC_DELETED_WITH_STATEFULSET),
        "nodeSelector": system,
    }
    for kind in SELECTED_KINDS:
        prometheus_spec[f"{kind}SelectorNilUsesHelmValues"] = False
        prometheus_spec[f"{kind}Selector"] = {"matchLabels": dict(SELECTOR_LABELS)}
    return {
        "crds": {
            "enabled": True,
            "upgradeJob": {
                "enabled": True,
                "nodeSelector": system,
                "image": {
                    "busybox": _image(KUBE_PROMETHEUS_CRD_UPGRADE_BUSYBOX),
                    "kubectl": _image(KUBE_PROMETHEUS_CRD_UPGRADE_KUBECTL),
                },
            },
        },
        "prometheusOperator": {
            "nodeSelector": system,
            "admissionWebhooks": {"patch": {"nodeSelector": system}},
        },
        "prometheus": {"enabled": True, "prometheusSpec": prometheus_spec},
        "alertmanager": {"enabled": True, "alertmanagerSpec": {"nodeSelector": system}},
        "grafana": {
            "enabled": True,
            "nodeSelector": system,
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": GRAFANA_USER_KEY,
                "passwordKey": GRAFANA_PASSWORD_KEY,
            },
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL[0],
                    "labelValue": DASHBOARD_LABEL[1],
                    "searchNamespace": "ALL",
                    "folderAnnotation": FOLDER_ANNOTATION,
                    "provider": {"foldersFromFilesStructure": True},
                },
                "datasources": {"uid": DATASOURCE_UID},
            },
        },
        "prometheus-node-exporter": {"namespaceOverride": NODE_EXPORTER_NAMESPACE},
        # The only kube-prometheus-stack workload the chart does not place with prometheusOperator's or
        # prometheus' nodeSelector: the subchart reads its own top-level nodeSelector.
        "kube-state-metrics": {"nodeSelector": system},
        **control_plane_monitors(spec),
    }


MANAGED_CONTROL_PLANES = frozenset({"aws", "gcp", "linode"})
"""Clouds whose control plane (controller-manager, scheduler, etcd) runs outside the cluster's nodes."""


def control_plane_monitors(spec: PlatformSpec) -> dict[str, Any]:
    """The chart's control-plane monitors that can see something on ``spec.cloud``.

    EKS, GKE and LKE run kube-controller-manager, kube-scheduler and etcd outside the nodes: the chart's
    Services for them (``component: kube-scheduler`` etc. in kube-system) select no pod, the targets
    never come up and ``KubeControllerManagerDown``/``KubeSchedulerDown`` fire forever. They are turned
    off there (Services, ServiceMonitors and their alert groups go together). GKE's Dataplane V2
    (``components/clusters/gke.py``) replaces kube-proxy with Cilium, so ``kubeProxy`` is off on GKE too.
    An existing cluster keeps the chart's defaults (a kubeadm cluster has all of them).
    """
    if spec.cloud not in MANAGED_CONTROL_PLANES:
        return {}
    values: dict[str, Any] = {
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
    }
    if spec.cloud == "gcp":
        values["kubeProxy"] = {"enabled": False}
    return values


# --- helpers other add-ons call with the hook -------------------------------------------------


def _monitoring_metadata(name: str, namespace: str, hook: MonitoringHook) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **hook.selector_labels}}


def _monitoring_resource(
    resource_name: str,
    *,
    kind: str,
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    hook: MonitoringHook,
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    return custom_resource(
        resource_name,
        api_version=MONITORING_API,
        kind=kind,
        metadata=_monitoring_metadata(name, namespace, hook),
        spec=dict(spec),
        opts=scope.opts(parent, [hook.crds, *depends_on]),
    )


def prometheus_rule(
    resource_name: str,
    *,
    name: str,
    groups: Sequence[RuleGroup],
    hook: MonitoringHook,
    scope: AddonScope,
    parent: pulumi.Resource,
    namespace: str | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """A PrometheusRule Prometheus evaluates: carries the hook's labels, waits for the CRDs."""
    if not groups:
        raise ValueError(f"groups: PrometheusRule {name!r} has no rule group")
    return _monitoring_resource(
        resource_name,
        kind="PrometheusRule",
        name=name,
        namespace=namespace or hook.namespace,
        spec={"groups": [g.to_spec() for g in groups]},
        hook=hook,
        scope=scope,
        parent=parent,
        depends_on=depends_on,
    )


def service_monitor(
    resource_name: str,
    *,
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    hook: MonitoringHook,
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor (``spec``: ``selector``, ``endpoints`` ...) Prometheus picks up."""
    return _monitoring_resource(
        resource_name,
        kind="ServiceMonitor",
        name=name,
        namespace=namespace,
        spec=spec,
        hook=hook,
        scope=scope,
        parent=parent,
        depends_on=depends_on,
    )


def pod_monitor(
    resource_name: str,
    *,
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    hook: MonitoringHook,
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """A PodMonitor (``spec``: ``selector``, ``podMetricsEndpoints`` ...) Prometheus picks up."""
    return _monitoring_resource(
        resource_name,
        kind="PodMonitor",
        name=name,
        namespace=namespace,
        spec=spec,
        hook=hook,
        scope=scope,
        parent=parent,
        depends_on=depends_on,
    )


def dashboard_config_map(
    resource_name: str,
    dashboard: Dashboard,
    *,
    hook: MonitoringHook,
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.core.v1.ConfigMap:
    """A ConfigMap Grafana's dashboard sidecar loads into the dashboard's folder."""
    key, value = hook.dashboard_label
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"grafana-dashboard-{dashboard.uid}",
            namespace=hook.namespace,
            labels={**MANAGED_BY, key: value},
            annotations={hook.dashboards_folder_annotation: dashboard.folder},
        ),
        data={f"{dashboard.uid}.json": json.dumps(dashboard.to_json(), sort_keys=True)},
        opts=scope.opts(parent, [hook.crds, *depends_on]),
    )
