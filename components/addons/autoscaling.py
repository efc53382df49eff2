"""Pod autoscaling on custom metrics: prometheus-adapter serves per-pod GPU series from the
observability add-on's Prometheus to HorizontalPodAutoscalers (CNCF Kubernetes AI Conformance
``pod_autoscaling``: HPA on custom metrics).

What it builds (children of :class:`CustomMetricsAutoscaling`, named ``f"{name}-{role}"``; the
Kubernetes ones through the cluster's provider and ``deleted_with`` the native cluster):

- ``{name}-namespace``: ``custom-metrics``, Pod Security ``restricted``.
- ``{name}-serving-key`` / ``{name}-serving-cert``: an ECDSA P-256 key and a self-signed serving
  certificate for the adapter's Service (``prometheus-adapter.custom-metrics.svc`` and its short
  names), valid 5 years and replaced by any ``pulumi up`` in its last year. The chart puts the
  certificate into the APIService's ``caBundle`` (``tls.enable``), so the API server verifies the
  adapter instead of the chart's default ``insecureSkipTLSVerify: true``. The key reaches Helm only
  as a Pulumi secret (``gpuplane render`` writes it as ``[secret]``).
- ``{name}-release``: the prometheus-adapter chart (:data:`~components.versions.PROMETHEUS_ADAPTER`,
  5.3.0; image :data:`~components.versions.PROMETHEUS_ADAPTER_IMAGE`, v0.12.0, the chart's appVersion)
  as a ``helm.v3.Release`` named ``prometheus-adapter``, after the namespace and the observability
  release. It queries ``http://kube-prometheus-stack-prometheus.monitoring.svc:9090``: the service
  kube-prometheus-stack names ``<fullname>-prometheus``, where the fullname is the release name
  because it contains the chart name (no ``fullnameOverride``/``nameOverride`` is set), in the
  hook's namespace, on the chart's default port (``prometheus.service.port: 9090``). The adapter runs
  on the system pool, non-root with a read-only root filesystem, all capabilities dropped and the
  runtime's seccomp profile; two replicas, a PodDisruptionBudget and a spread over nodes when
  ``spec.production``.

APIs registered (exactly one): ``v1beta1.custom.metrics.k8s.io``. Not registered:

- ``v1beta1.metrics.k8s.io`` (resource metrics, ``kubectl top`` and CPU/memory HPAs): metrics-server
  owns it on EKS, GKE and LKE. A second APIService of that name fails the install (Helm will not adopt
  an object it does not own) or, where the cloud manages metrics-server, ends up fighting the cloud's
  own reconciliation; where nothing serves it yet it would silently move ``kubectl top`` onto Prometheus. The chart
  registers it only when ``rules.resource`` is set, and 5.3.0 has no such default: these values never
  set it (tested against the chart's defaults).
- ``v1beta1.external.metrics.k8s.io``: KEDA and the clouds' own adapters (GKE's Stackdriver adapter)
  register it, and a group-version has one APIService, so taking it would break theirs. ``rules.external``
  is set to ``[]`` explicitly.

Rules: the chart's default rules are off (``rules.default: false``). They discover every namespaced
series in Prometheus on every relist (``{namespace!="",__name__!~"^container_.*"}``), which puts
thousands of metrics into the API and drives the adapter's CPU and memory with cluster size
(prometheus-community/helm-charts#2052: 9,197 listed metrics, 4 after trimming), and their cAdvisor
``container_*`` series are in none of the pinned metric lists. Instead :data:`RULES` exposes, per pod
(and per namespace), the DCGM series of the GPUs a pod holds. The DCGM ServiceMonitors scrape with
``honorLabels: false`` (``components.addons.alerts.series``), so the pod holding a GPU is
``exported_pod``/``exported_namespace`` (``pod``/``namespace`` are the exporter's own); the rules map
exactly those labels to pods and namespaces and select only series that have them.

- ``gpu_utilization`` (``DCGM_FI_DEV_GPU_UTIL``): percent of time busy (0-100), mean over the pod's GPUs;
- ``gpu_engine_active`` (``DCGM_FI_PROF_GR_ENGINE_ACTIVE``): ratio 0-1, mean over the pod's GPUs;
- ``gpu_tensor_active`` (``DCGM_FI_PROF_PIPE_TENSOR_ACTIVE``): ratio 0-1, mean over the pod's GPUs;
- ``gpu_memory_used_bytes`` (``DCGM_FI_DEV_FB_USED``, MiB): framebuffer in use in bytes, summed.

An HPA on GPU busy time::

    metrics:
    - type: Pods
      pods:
        metric: {name: gpu_utilization}
        target: {type: AverageValue, averageValue: "70"}

Why no gateway metrics: the Envoy AI Gateway's ``gen_ai_*`` and Envoy's request series are labelled
with the Envoy proxy pods in ``envoy-gateway-system`` and with the model and tenant, never with the pods
that serve the model, so they cannot be per-pod custom metrics, and an HPA can only describe objects in
its own namespace. Scaling a model on its gateway request rate needs the external metrics API, which is
left to KEDA (see above).

Upstream gotchas:

- The chart has no Helm hooks; it is a ``helm.v3.Release`` like every add-on (one install path,
  docs/decisions/helm-release-vs-chart.md).
- ``rules.custom`` goes through Helm's ``tpl``: a rule must not contain ``{{`` (the adapter's own
  templates use ``<<``/``>>`` for that reason; tested).
- An unavailable aggregated API breaks API discovery for its group: namespace deletion hangs and
  clients warn until the adapter answers again. Hence the system pool and, in production, two replicas
  with a PodDisruptionBudget.
- On an existing cluster that already has a ``v1beta1.custom.metrics.k8s.io`` APIService (another
  adapter), the install fails and ``atomic`` rolls it back: set ``autoscaling.customMetrics: false``.
- ``DCGM_FI_DEV_GPU_UTIL`` is not reported for MIG slices (use ``gpu_engine_active``). On a
  time-sliced GPU the series are per GPU, so each pod sharing it sees the whole GPU's values. ``DCGM_FI_PROF_*`` need a GPU with
  profiling (DCP) support; where a series does not exist, its metric is simply not listed.
- The serving certificate is replaced by a ``pulumi up`` in its last year of validity; a stack left
  untouched for five years serves an expired certificate and the API server stops using the adapter.

``spec.autoscaling.custom_metrics = false`` is handled by ``GpuPlatform`` not constructing this
component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.addons.alerts.series import NAMESPACE as DCGM_NAMESPACE_LABEL
from components.addons.alerts.series import POD as DCGM_POD_LABEL
from components.addons.base import (
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    helm_release,
    namespace,
)
from components.spec import PlatformSpec
from components.versions import KUBE_PROMETHEUS_STACK, PROMETHEUS_ADAPTER, PROMETHEUS_ADAPTER_IMAGE

NAMESPACE = "custom-metrics"
SERVICE = PROMETHEUS_ADAPTER.release
"""The adapter's Service: the chart's fullname, which is the release name (it contains the chart name)."""
CUSTOM_METRICS_API = "v1beta1.custom.metrics.k8s.io"
RESOURCE_METRICS_API = "v1beta1.metrics.k8s.io"
EXTERNAL_METRICS_API = "v1beta1.external.metrics.k8s.io"
API_SERVICES: tuple[str, ...] = (CUSTOM_METRICS_API,)
"""The APIServices the release registers (tested against the chart's defaults and template conditions)."""
PROMETHEUS_PORT = 9090
"""kube-prometheus-stack's ``prometheus.service.port`` default (observability does not change it)."""
ADAPTER_UID = 10001
"""The chart's default non-root user and fsGroup (``securityContext.runAsUser``, ``podSecurityContext``)."""
CERT_VALIDITY_HOURS = 5 * 365 * 24
CERT_EARLY_RENEWAL_HOURS = 365 * 24
SELECTOR_LABELS: Mapping[str, str] = {
    "app.kubernetes.io/name": PROMETHEUS_ADAPTER.chart,
    "app.kubernetes.io/instance": PROMETHEUS_ADAPTER.release,
}
"""The chart's pod selector labels (``k8s-prometheus-adapter.selectorLabels``)."""


def prometheus_service(release: str = KUBE_PROMETHEUS_STACK.release, chart: str = KUBE_PROMETHEUS_STACK.chart) -> str:
    """kube-prometheus-stack's Prometheus Service: ``<fullname>-prometheus`` (its ``_helpers.tpl``: the
    release name when it contains the chart name, else ``<release>-<chart>``, cut to 26 characters)."""
    fullname = release if chart in release else f"{release}-{chart}"
    return f"{fullname[:26].removesuffix('-')}-prometheus"


def prometheus_url(hook: MonitoringHook) -> str:
    """Where the adapter queries Prometheus (the observability release's namespace is the hook's)."""
    return f"http://{prometheus_service()}.{hook.namespace}.svc"


def service_dns_names() -> list[str]:
    """The names the API server's aggregator may dial the adapter's Service by."""
    return [SERVICE, f"{SERVICE}.{NAMESPACE}", f"{SERVICE}.{NAMESPACE}.svc", f"{SERVICE}.{NAMESPACE}.svc.cluster.local"]


@dataclass(frozen=True, kw_only=True)
class PodMetricRule:
    """One prometheus-adapter discovery rule: a DCGM series exposed per pod (and per namespace) of the
    pods holding the GPUs, under ``metric``. ``query`` is the adapter's ``metricsQuery`` template
    (``<<.Series>>``, ``<<.LabelMatchers>>``, ``<<.GroupBy>>`` are filled in per request)."""

    metric: str
    series: str
    query: str
    description: str

    @property
    def series_query(self) -> str:
        """Discovery selects only series of GPUs a pod holds (the exporter's pod mapping set the labels)."""
        return f'{self.series}{{{DCGM_NAMESPACE_LABEL}!="",{DCGM_POD_LABEL}!=""}}'

    def to_values(self) -> dict[str, Any]:
        return {
            "seriesQuery": self.series_query,
            "resources": {
                "overrides": {
                    DCGM_NAMESPACE_LABEL: {"resource": "namespace"},
                    DCGM_POD_LABEL: {"resource": "pod"},
                }
            },
            "name": {"matches": f"^{self.series}$", "as": self.metric},
            "metricsQuery": self.query,
        }


_MEAN = "avg by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})"
MIB = 1024 * 1024

RULES: tuple[PodMetricRule, ...] = (
    PodMetricRule(
        metric="gpu_utilization",
        series="DCGM_FI_DEV_GPU_UTIL",
        query=_MEAN,
        description="Percent of time the pod's GPUs were busy (0-100), mean over its GPUs; not for MIG slices.",
    ),
    PodMetricRule(
        metric="gpu_engine_active",
        series="DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        query=_MEAN,
        description="Ratio of time the graphics/compute engine was active (0-1), mean over the pod's GPUs.",
    ),
    PodMetricRule(
        metric="gpu_tensor_active",
        series="DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        query=_MEAN,
        description="Ratio of cycles the tensor pipe was active (0-1), mean over the pod's GPUs.",
    ),
    PodMetricRule(
        metric="gpu_memory_used_bytes",
        series="DCGM_FI_DEV_FB_USED",
        query=f"sum by (<<.GroupBy>>) (<<.Series>>{{<<.LabelMatchers>>}}) * {MIB}",
        description="GPU framebuffer in use by the pod, bytes (DCGM reports MiB), summed over its GPUs.",
    ),
)
METRICS: tuple[str, ...] = tuple(rule.metric for rule in RULES)


@dataclass(frozen=True, kw_only=True)
class ServingTls:
    """The adapter's serving certificate (also the APIService's ``caBundle``) and its key (a secret)."""

    certificate: pulumi.Input[str]
    key: pulumi.Input[str]


def registered_api_services(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The APIServices the chart renders for fully merged ``values`` (the conditions of its
    ``templates/*-apiservice.yaml``: custom when ``rules.default`` or ``rules.custom``, external when
    ``rules.external``, resource when ``rules.resource``; Go templates treat empty/null as false)."""
    rules: Mapping[str, Any] = values.get("rules") or {}
    found: list[str] = []
    if rules.get("default") or rules.get("custom"):
        found.append(CUSTOM_METRICS_API)
    if rules.get("external"):
        found.append(EXTERNAL_METRICS_API)
    if rules.get("resource"):
        found.append(RESOURCE_METRICS_API)
    return tuple(found)


def chart_values(spec: PlatformSpec, hook: MonitoringHook, serving: ServingTls) -> dict[str, Any]:
    """Helm values for the pinned prometheus-adapter chart (every key path exists in its defaults; tested)."""
    production = spec.production
    spread: list[dict[str, Any]] = []
    if production:
        spread = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": dict(SELECTOR_LABELS)},
            }
        ]
    return {
        "image": {
            "repository": PROMETHEUS_ADAPTER_IMAGE.repository,
            "tag": PROMETHEUS_ADAPTER_IMAGE.tag,
            "pullPolicy": "IfNotPresent",
        },
        "prometheus": {"url": prometheus_url(hook), "port": PROMETHEUS_PORT, "path": ""},
        "metricsRelistInterval": "1m",
        "replicas": 2 if production else 1,
        "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
        "tolerations": [],
        "topologySpreadConstraints": spread,
        "podDisruptionBudget": {"enabled": production, "maxUnavailable": 1},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "hostNetwork": {"enabled": False},
        "podSecurityContext": {"fsGroup": ADAPTER_UID},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": ADAPTER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "rbac": {"create": True},
        # The APIServices follow these three keys (see the module docstring). `rules.resource` is never
        # set: 5.3.0 has no default for it, so resource metrics stay with metrics-server.
        "rules": {
            "default": False,
            "custom": [rule.to_values() for rule in RULES],
            "external": [],
        },
        "tls": {
            "enable": True,
            "ca": serving.certificate,
            "certificate": serving.certificate,
            "key": serving.key,
        },
        "certManager": {"enabled": False},
    }


@dataclass(frozen=True, kw_only=True)
class CustomMetricsAutoscalingArgs:
    """``scope``: the cluster; ``monitoring``: the observability add-on's hook (the adapter reads its
    Prometheus, so it is required)."""

    scope: AddonScope
    monitoring: MonitoringHook

    def __post_init__(self) -> None:
        if not isinstance(self.monitoring, MonitoringHook):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"monitoring: expected the observability add-on's MonitoringHook, got {type(self.monitoring).__name__}"
            )
        spec = self.scope.spec
        if not spec.autoscaling.custom_metrics:
            raise ValueError(
                "scope.spec.autoscaling.custom_metrics: custom metrics are off; "
                "GpuPlatform must not build CustomMetricsAutoscaling"
            )
        if not spec.observability.enabled:  # the spec rejects this too; kept for direct callers
            raise ValueError(
                "scope.spec.observability.enabled: the adapter reads the observability add-on's Prometheus"
            )


class CustomMetricsAutoscaling(pulumi.ComponentResource):
    """prometheus-adapter serving per-pod GPU metrics to HPAs. See the module docstring."""

    namespace: k8s.core.v1.Namespace
    """``custom-metrics``."""
    serving_key: tls.PrivateKey
    serving_cert: tls.SelfSignedCert
    """The adapter's serving certificate, trusted by the APIService (``caBundle``)."""
    release: k8s.helm.v3.Release
    """The Helm release ``prometheus-adapter``."""
    api_services: tuple[str, ...]
    """The APIServices the release registers: only ``v1beta1.custom.metrics.k8s.io``."""
    metrics: tuple[str, ...]
    """The custom metric names an HPA can use (``type: Pods``, ``pods.metric.name``)."""
    prometheus_url: str
    """The Prometheus the adapter queries."""

    def __init__(
        self, name: str, args: CustomMetricsAutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:addons:CustomMetricsAutoscaling", name, None, opts)
        scope = args.scope
        hook = args.monitoring
        self.namespace = namespace(f"{name}-namespace", NamespaceSpec(name=NAMESPACE), scope, self)
        self.serving_key = tls.PrivateKey(
            f"{name}-serving-key", algorithm="ECDSA", ecdsa_curve="P256", opts=pulumi.ResourceOptions(parent=self)
        )
        self.serving_cert = tls.SelfSignedCert(
            f"{name}-serving-cert",
            private_key_pem=self.serving_key.private_key_pem,
            validity_period_hours=CERT_VALIDITY_HOURS,
            early_renewal_hours=CERT_EARLY_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            dns_names=service_dns_names(),
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{SERVICE}.{NAMESPACE}.svc", organization="gpuplane"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        serving = ServingTls(
            certificate=self.serving_cert.cert_pem,
            key=pulumi.Output.secret(self.serving_key.private_key_pem),
        )
        self.release = helm_release(
            f"{name}-release",
            PROMETHEUS_ADAPTER,
            namespace=NAMESPACE,
            values=chart_values(scope.spec, hook, serving),
            scope=scope,
            parent=self,
            depends_on=[self.namespace, hook.crds],
        )
        self.api_services = API_SERVICES
        self.metrics = METRICS
        self.prometheus_url = f"{prometheus_url(hook)}:{PROMETHEUS_PORT}"
        self.register_outputs(
            {
                "namespace": NAMESPACE,
                "release": self.release.name,
                "apiServices": list(self.api_services),
                "metrics": list(self.metrics),
                "prometheusUrl": self.prometheus_url,
            }
        )
