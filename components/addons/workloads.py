"""Workload controllers: JobSet and LeaderWorkerSet, the APIs Kueue's integrations admit.

Why: Kueue (components/addons/kueue.py) enables its ``jobset.x-k8s.io/jobset`` and
``leaderworkerset.x-k8s.io/leaderworkerset`` integrations, but without the controllers and CRDs they
manage nothing: there is no JobSet to suspend and no LeaderWorkerSet group to gate. Both controllers
also run admission webhooks (defaulting and validation of their own kinds and of the pods they
create), which is what CNCF AI Conformance ``robust_controller`` asks for.

What it builds (children of the component, named ``f"{name}-{role}"``, all through the cluster's
Kubernetes provider and ``deleted_with`` the native cluster). With ``spec.workloads.jobset``:

- ``{name}-jobset-namespace``: ``jobset-system``, Pod Security ``restricted``.
- ``{name}-jobset-release``: the ``jobset`` chart (pin: ``versions.JOBSET``) as a ``helm.v3.Release``
  named ``jobset``; controller image pinned (``versions.JOBSET_CONTROLLER``), on the system pool, two
  replicas (leader election is on by default) and the chart's PodDisruptionBudget when
  ``spec.production``. ``certManager.enable: false``: the controller's internal certificate
  management (open-policy-agent/cert-controller) writes the webhook serving certificate into the
  chart's empty ``jobset-webhook-server-cert`` Secret and injects the CA bundle into the webhook
  configurations; cert-manager is not part of the platform. The chart's ``prometheus.enable`` stays
  off (see below).

With ``spec.workloads.leader_worker_set``:

- ``{name}-lws-namespace``: ``lws-system``, Pod Security ``restricted``.
- ``{name}-lws-release``: the ``lws`` chart (pin: ``versions.LWS``) as a ``helm.v3.Release`` named
  ``lws``; controller image pinned (``versions.LWS_CONTROLLER``), on the system pool,
  ``enableCertManager: false`` (internal certificate management, as for JobSet), two replicas in
  production. The chart's default pod security context has no seccomp profile, which Pod Security
  ``restricted`` rejects, so ``podSecurityContext`` adds ``seccompProfile: RuntimeDefault`` (the
  deployment template renders the whole map with ``toYaml``).
- ``{name}-lws-pdb`` (only with ``spec.production``): a PodDisruptionBudget ``lws-controller-manager``
  (``minAvailable: 1``) over the controller pods; the pinned chart has no PDB value.

Only with a :class:`MonitoringHook`, per controller (``{ctl}`` is ``jobset`` or ``lws``):
``{name}-{ctl}-service-monitor`` scrapes the chart's HTTPS metrics Service and carries the hook's
selector labels; it authenticates as ``{name}-{ctl}-metrics-reader`` (ServiceAccount
``gpuplane-metrics-reader`` in the controller namespace, no automounted token), allowed nothing but
``get /metrics`` by ``{name}-{ctl}-metrics-reader-role`` / ``-binding`` (ClusterRole/Binding
``gpuplane-{ctl}-metrics-reader``), with the token from ``{name}-{ctl}-metrics-reader-token``. Both
controllers serve metrics over HTTPS on ``:8443`` with a self-signed certificate, hence
``insecureSkipVerify`` (as for Kueue), behind controller-runtime's authentication/authorization filter
(TokenReview + SubjectAccessReview, for which the charts ship RBAC: LWS ``lws-proxy-role``, JobSet
``metrics_auth_role``), so the scrape needs a token allowed to ``get /metrics``.

:attr:`WorkloadControllers.releases` lists the releases: **Kueue must depend on them**. Kueue
enables an integration only if its CRD exists when the manager starts; started before the JobSet or
LeaderWorkerSet CRD, the integration stays off until Kueue restarts.

Upstream gotchas:

- Neither chart uses Helm hooks in the pinned versions (JobSet 0.11.0: controller, webhook,
  internal-cert Secret, RBAC and Prometheus templates; LWS v0.8.0: the ``crdUpgrade`` pre-install/
  pre-upgrade Job came later, and its template needs ``crdUpgrade`` values that v0.8.0 does not have).
  Both are still ``helm.v3.Release`` (docs/decisions/helm-release-vs-chart.md).
- Both charts ship their CRDs in ``crds/``: Helm installs them on the first install and **never
  upgrades them**. A chart bump must apply the new CRDs first (``kubectl apply --server-side``), as
  both projects document. LWS moved its CRD from ``templates/`` to ``crds/`` in v0.8.0; upgrading a
  v0.7.x release in place deletes the CRD and every LeaderWorkerSet with it (kubernetes-sigs/lws#880,
  #1049) unless the CRD is first annotated ``helm.sh/resource-policy=keep``.
- Release names: the JobSet chart names the webhook Service and Secret (and configures internal cert
  management with them) after the release (``jobset`` -> ``jobset-webhook-service``,
  ``jobset-webhook-server-cert``) but hard-codes the webhook configuration names; the LWS chart
  hard-codes ``lws-webhook-service``/``lws-webhook-server-cert`` and its webhook configurations. The
  metrics Service selectors below assume the release names ``ChartPin.release`` pins: ``jobset`` and
  ``lws``.
- The webhooks fail closed (``failurePolicy: Fail``); the pod webhooks select only pods carrying
  ``jobset.sigs.k8s.io/jobset-name`` / ``leaderworkerset.sigs.k8s.io/name``, so an unavailable
  controller blocks only its own workloads' pods (hence two replicas and a PDB in production).
- The charts' own ServiceMonitors cannot carry extra labels, use the deprecated ``bearerTokenFile``
  and bind RBAC to a ``prometheus-k8s`` account kube-prometheus-stack does not have. JobSet's stays off
  (its metrics Service is rendered regardless). LWS renders its metrics Service *and* metrics container
  port only with ``enablePrometheus: true``, which also renders its ServiceMonitor, so that flag is on
  exactly when a monitoring hook is given and the release then depends on the hook's CRD release (the
  chart fails to install a ServiceMonitor without the CRD). Prometheus selects only monitors with the
  hook's labels, so the chart's monitor is inert; ours is the one scraped.
- The chart defaults were read from the repositories at commits where ``Chart.yaml`` names the pinned
  version (third_party/upstream-extra/charts/{jobset,lws}/*/SOURCE.md). The published charts differ
  only in what the release scripts rewrite: ``image.repository``/``tag``/``pullPolicy``, all of which
  this component sets itself.

Compatibility: Kueue 0.19.2 watches ``jobset.x-k8s.io/v1alpha2`` and ``leaderworkerset.x-k8s.io/v1``,
which these releases serve (``versions.COMPATIBILITY["kueue"]``). Kueue's own ``go.mod`` at v0.19.2
could not be read (not stored at the tag commit). Kueue main moved to ``sigs.k8s.io/lws`` v0.9.0 on
2026-06-18 (kubernetes-sigs/kueue#12327), and Kueue v0.17.8 is reported to build against
``sigs.k8s.io/jobset`` v0.11.1, so Kueue 0.19.2 most likely builds against slightly newer releases of the
same API groups than the controllers pinned here: the newest whose chart defaults could be verified.

Both switches off is rejected by :class:`WorkloadControllersArgs`: ``GpuPlatform`` does not build the
component then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.addons.base import (
    MANAGED_BY,
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    custom_resource,
    helm_release,
    namespace,
)
from components.spec import PlatformSpec
from components.versions import JOBSET, JOBSET_CONTROLLER, LWS, LWS_CONTROLLER, ChartPin

JOBSET_NAMESPACE = "jobset-system"
LWS_NAMESPACE = "lws-system"
METRICS_READER = "gpuplane-metrics-reader"
"""ServiceAccount (in each controller namespace) whose token Prometheus presents to the controller."""
METRICS_READER_TOKEN = f"{METRICS_READER}-token"
"""Its ``kubernetes.io/service-account-token`` Secret (same namespace as the ServiceMonitor)."""
LWS_POD_LABELS: Mapping[str, str] = {
    "control-plane": "controller-manager",
    "app.kubernetes.io/name": "lws",
    "app.kubernetes.io/instance": LWS.release,
}
"""The LWS controller pods' labels (chart ``templates/manager/deployment.yaml``)."""


@dataclass(frozen=True, kw_only=True)
class Controller:
    """What differs between the two controllers: where they live and how their metrics are found."""

    key: str
    """Role prefix of the children (``jobset`` / ``lws``)."""
    pin: ChartPin
    namespace: str
    metrics_service_labels: Mapping[str, str]
    """Labels of the chart's metrics Service (port ``https`` -> 8443)."""
    service_monitor: str
    """Name of our ServiceMonitor."""

    @property
    def reader_role(self) -> str:
        """ClusterRole/ClusterRoleBinding name (the charts own ``<release>-metrics-reader``)."""
        return f"gpuplane-{self.key}-metrics-reader"


JOBSET_CONTROLLER_SPEC = Controller(
    key="jobset",
    pin=JOBSET,
    namespace=JOBSET_NAMESPACE,
    # templates/prometheus/service.yaml: `jobset.controller.selectorLabels` of release `jobset`.
    metrics_service_labels={
        "app.kubernetes.io/name": "jobset",
        "app.kubernetes.io/instance": JOBSET.release,
        "app.kubernetes.io/component": "controller",
    },
    service_monitor="jobset-controller-metrics",
)
LWS_CONTROLLER_SPEC = Controller(
    key="lws",
    pin=LWS,
    namespace=LWS_NAMESPACE,
    # templates/manager/service.yaml: `lws-controller-manager-metrics-service`.
    metrics_service_labels={
        "app.kubernetes.io/name": "lws",
        "app.kubernetes.io/instance": "controller-manager-metrics-service",
    },
    service_monitor="lws-controller-manager-metrics",
)


@dataclass(frozen=True, kw_only=True)
class WorkloadControllersArgs:
    scope: AddonScope
    monitoring: MonitoringHook | None

    def __post_init__(self) -> None:
        workloads = self.scope.spec.workloads
        if not (workloads.jobset or workloads.leader_worker_set):
            raise ValueError(
                "scope.spec.workloads: jobset and leaderWorkerSet are both off; "
                "there is nothing to install (do not build WorkloadControllers)"
            )


class WorkloadControllers(pulumi.ComponentResource):
    """JobSet and LeaderWorkerSet controllers (CRDs, webhooks, metrics) for Kueue's integrations."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    """Controller key (``jobset``/``lws``) -> its namespace."""
    jobset_release: k8s.helm.v3.Release | None
    """The JobSet chart release (CRD ``jobsets.jobset.x-k8s.io``), or ``None`` when switched off."""
    lws_release: k8s.helm.v3.Release | None
    """The LeaderWorkerSet chart release (CRD ``leaderworkersets.leaderworkerset.x-k8s.io``), or ``None``."""
    releases: list[k8s.helm.v3.Release]
    """Every release installed: make the Kueue release depend on these (CRDs before Kueue starts)."""
    lws_pdb: k8s.policy.v1.PodDisruptionBudget | None
    """The LWS controller's PodDisruptionBudget (production only)."""
    service_monitors: dict[str, k8s.apiextensions.CustomResource]
    """Controller key -> its ServiceMonitor (empty without a monitoring hook)."""

    def __init__(self, name: str, args: WorkloadControllersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:WorkloadControllers", name, None, opts)
        scope = args.scope
        spec = scope.spec
        self.namespaces = {}
        self.jobset_release = None
        self.lws_release = None
        self.lws_pdb = None
        self.service_monitors = {}
        if spec.workloads.jobset:
            ctl = JOBSET_CONTROLLER_SPEC
            ns = self._namespace(name, ctl, scope)
            self.jobset_release = helm_release(
                f"{name}-jobset-release",
                JOBSET,
                namespace=ctl.namespace,
                values=jobset_values(spec),
                scope=scope,
                parent=self,
                depends_on=[ns],
            )
            if args.monitoring is not None:
                self._scrape(name, ctl, scope, args.monitoring, self.jobset_release)
        if spec.workloads.leader_worker_set:
            ctl = LWS_CONTROLLER_SPEC
            ns = self._namespace(name, ctl, scope)
            # With monitoring the chart renders a ServiceMonitor: its CRD must exist first.
            crds = [] if args.monitoring is None else [args.monitoring.crds]
            self.lws_release = helm_release(
                f"{name}-lws-release",
                LWS,
                namespace=ctl.namespace,
                values=lws_values(spec, monitoring=args.monitoring is not None),
                scope=scope,
                parent=self,
                depends_on=[ns, *crds],
            )
            if spec.production:
                self.lws_pdb = k8s.policy.v1.PodDisruptionBudget(
                    f"{name}-lws-pdb",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name="lws-controller-manager", namespace=LWS_NAMESPACE, labels=dict(MANAGED_BY)
                    ),
                    spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                        min_available=1,
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(LWS_POD_LABELS)),
                    ),
                    opts=scope.opts(self, [ns]),
                )
            if args.monitoring is not None:
                self._scrape(name, ctl, scope, args.monitoring, self.lws_release)
        self.releases = [r for r in (self.jobset_release, self.lws_release) if r is not None]
        self.register_outputs(
            {
                "namespaces": [ctl.namespace for ctl in controllers(spec)],
                "releases": [r.name for r in self.releases],
                "serviceMonitors": list(self.service_monitors),
            }
        )

    def _namespace(self, name: str, ctl: Controller, scope: AddonScope) -> k8s.core.v1.Namespace:
        ns = namespace(f"{name}-{ctl.key}-namespace", NamespaceSpec(name=ctl.namespace), scope, self)
        self.namespaces[ctl.key] = ns
        return ns

    def _scrape(
        self, name: str, ctl: Controller, scope: AddonScope, hook: MonitoringHook, release: pulumi.Resource
    ) -> None:
        """A metrics-only identity, its token, and the ServiceMonitor that presents it to the controller."""
        prefix = f"{name}-{ctl.key}"
        ns = self.namespaces[ctl.key]
        reader = k8s.core.v1.ServiceAccount(
            f"{prefix}-metrics-reader",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_READER, namespace=ctl.namespace, labels=dict(MANAGED_BY)),
            automount_service_account_token=False,
            opts=scope.opts(self, [ns]),
        )
        role = k8s.rbac.v1.ClusterRole(
            f"{prefix}-metrics-reader-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ctl.reader_role, labels=dict(MANAGED_BY)),
            rules=[k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"])],
            opts=scope.opts(self),
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{prefix}-metrics-reader-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ctl.reader_role, labels=dict(MANAGED_BY)),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=ctl.reader_role
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=METRICS_READER, namespace=ctl.namespace)],
            opts=scope.opts(self, [role, reader]),
        )
        # The token controller fills in ``data.token``; it deletes the Secret if the account is missing.
        token = k8s.core.v1.Secret(
            f"{prefix}-metrics-reader-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=METRICS_READER_TOKEN,
                namespace=ctl.namespace,
                labels=dict(MANAGED_BY),
                annotations={"kubernetes.io/service-account.name": METRICS_READER},
            ),
            type="kubernetes.io/service-account-token",
            opts=scope.opts(self, [reader]),
        )
        self.service_monitors[ctl.key] = custom_resource(
            f"{prefix}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={
                "name": ctl.service_monitor,
                "namespace": ctl.namespace,
                "labels": {**MANAGED_BY, **hook.selector_labels},
            },
            spec=service_monitor_spec(ctl),
            opts=scope.opts(self, [release, hook.crds, token, binding]),
        )


# --- pure builders (plain values; tested directly and through the component) ---------------------


def _replicas(spec: PlatformSpec) -> int:
    return 2 if spec.production else 1


def jobset_values(spec: PlatformSpec) -> dict[str, Any]:
    """Helm values for the pinned JobSet chart (every key path exists in its defaults; tested)."""
    return {
        "image": {
            "repository": JOBSET_CONTROLLER.repository,
            "tag": JOBSET_CONTROLLER.tag,
            "pullPolicy": "IfNotPresent",
        },
        "controller": {
            "replicas": _replicas(spec),
            "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
            "podDisruptionBudget": {"enabled": spec.production, "minAvailable": 1},
        },
        # Internal certificate management (cert-controller) issues and rotates the webhook certificate.
        "certManager": {"enable": False},
        # The chart's ServiceMonitor cannot carry the hook's labels; ours scrapes the same Service.
        "prometheus": {"enable": False},
    }


def lws_values(spec: PlatformSpec, *, monitoring: bool) -> dict[str, Any]:
    """Helm values for the pinned LWS chart. ``podSecurityContext.seccompProfile`` is the one key path the
    defaults do not list: the chart renders ``podSecurityContext`` whole (``toYaml``); tested."""
    return {
        "replicaCount": _replicas(spec),
        "image": {
            "manager": {
                "repository": LWS_CONTROLLER.repository,
                "tag": LWS_CONTROLLER.tag,
                "pullPolicy": "IfNotPresent",
            }
        },
        "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
        # Pod Security `restricted` requires a seccomp profile; the chart default sets none.
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "enableCertManager": False,
        # Renders the metrics Service and port (and the chart's own, inert, ServiceMonitor).
        "enablePrometheus": monitoring,
    }


def service_monitor_spec(ctl: Controller) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(ctl.metrics_service_labels)},
        "namespaceSelector": {"matchNames": [ctl.namespace]},
        "endpoints": [
            {
                "port": "https",
                "scheme": "https",
                "path": "/metrics",
                "interval": "30s",
                "authorization": {"type": "Bearer", "credentials": {"name": METRICS_READER_TOKEN, "key": "token"}},
                "tlsConfig": {"insecureSkipVerify": True},
            }
        ],
    }


def controllers(spec: PlatformSpec) -> Sequence[Controller]:
    """The controllers ``spec.workloads`` switches on, in install order."""
    chosen = ((spec.workloads.jobset, JOBSET_CONTROLLER_SPEC), (spec.workloads.leader_worker_set, LWS_CONTROLLER_SPEC))
    return tuple(ctl for on, ctl in chosen if on)
