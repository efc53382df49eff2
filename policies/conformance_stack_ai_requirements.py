"""conformance-stack-ai-requirements: which CNCF Kubernetes AI Conformance v1.36 MUST requirements the
stack provides, and which are missing.

Detection is from what the stack installs (Helm chart names, Kueue/KEDA objects) and from managed
cluster features (GKE managed Prometheus/DCGM metrics, GKE Gateway API, GKE's own GPU device plugin,
autoscaled node pools). It says what the stack *provides*, not what an adopted cluster may already
run: conformance is about the platform you ship. Advisory; ``required`` narrows the list.

A chart counts only when the wiring the requirement needs is there (:data:`WIRING`): Prometheus keeps
its data on a volume that can bind and selects the monitors the stack ships (``ai_service_metrics``),
prometheus-adapter serves custom metrics from a Prometheus the stack installs (``pod_autoscaling``),
the DCGM exporter is scraped (``accelerator_metrics``). A chart that is present but not wired is named
with what is missing.

Reads:
    kubernetes:helm.sh/v3:Release: chart, name, values
    kubernetes:monitoring.coreos.com/v1:ServiceMonitor, kubernetes:monitoring.coreos.com/v1:PodMonitor: metadata.labels
    kubernetes:storage.k8s.io/v1:StorageClass: metadata.annotations
    aws:eks/cluster:Cluster: (presence: EKS marks no StorageClass default)
    gcp:container/cluster:Cluster: monitoringConfig, gatewayApiConfig
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyComplianceFramework, Severity

from ._support import (
    EKS_CLUSTER,
    GKE_CLUSTER,
    NODE_GROUP,
    Finding,
    HelmChart,
    Meta,
    Resource,
    all_node_pools,
    as_bool,
    as_map,
    as_str,
    dig,
    helm_charts,
    is_karpenter_node_pool,
    k8s_kind,
    node_pools,
    stack_policy,
    str_list,
)


@dataclass(frozen=True)
class Requirement:
    id: str
    hint: str
    charts: tuple[str, ...]
    detect: Callable[[Sequence[Resource], set[str]], bool]


def _gke(resources: Sequence[Resource]) -> list[Mapping[str, object]]:
    return [r.props for r in resources if r.type == GKE_CLUSTER]


def _groups(resources: Sequence[Resource], *groups: str) -> bool:
    return any(k8s_kind(r.type)[0].split("/")[0] in groups for r in resources)


def _gang(resources: Sequence[Resource], charts: set[str]) -> bool:
    return _groups(resources, "kueue.x-k8s.io", "scheduling.volcano.sh")


def _cluster_autoscaling(resources: Sequence[Resource], charts: set[str]) -> bool:
    autoscaler = bool(charts & {"cluster-autoscaler", "karpenter"})
    gpu = [(r, p) for r in resources for p in node_pools(r) if p.gpu]
    if not gpu:
        return autoscaler
    for resource, pool in gpu:
        if resource.type == NODE_GROUP and not autoscaler:
            return False
        if not is_karpenter_node_pool(resource.type) and not pool.autoscaled:
            return False
    return True


def _pod_autoscaling(resources: Sequence[Resource], charts: set[str]) -> bool:
    return _groups(resources, "keda.sh")


def _accelerator_metrics(resources: Sequence[Resource], charts: set[str]) -> bool:
    for chart in helm_charts(resources):
        enabled = as_bool(dig(chart.values, "dcgmExporter", "enabled")) is not False
        if chart.name == "gpu-operator" and enabled and _dcgm_wiring(resources) is None:
            return True
    return any("DCGM" in str_list(dig(p, "monitoringConfig", "enableComponents")) for p in _gke(resources))


def _service_metrics(resources: Sequence[Resource], charts: set[str]) -> bool:
    return any(as_bool(dig(p, "monitoringConfig", "managedPrometheus", "enabled")) is True for p in _gke(resources))


def _secure_access(resources: Sequence[Resource], charts: set[str]) -> bool:
    # GKE installs and manages the NVIDIA device plugin on every GPU node pool itself.
    return any(p.gpu and p.cloud == "gcp" for p in all_node_pools(resources))


def _inference(resources: Sequence[Resource], charts: set[str]) -> bool:
    return any(as_str(dig(p, "gatewayApiConfig", "channel")) not in (None, "CHANNEL_DISABLED") for p in _gke(resources))


def _nothing(resources: Sequence[Resource], charts: set[str]) -> bool:
    return False


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        "ai_inference",
        "a Gateway API implementation",
        ("gateway-helm", "istiod", "kgateway", "nginx-gateway-fabric"),
        _inference,
    ),
    Requirement("gang_scheduling", "Kueue or Volcano", ("kueue", "volcano"), _gang),
    Requirement("cluster_autoscaling", "GPU pools autoscaled on pending pods", (), _cluster_autoscaling),
    Requirement(
        "pod_autoscaling",
        "HPA on custom metrics: prometheus-adapter or KEDA",
        ("prometheus-adapter", "keda"),
        _pod_autoscaling,
    ),
    Requirement(
        "accelerator_metrics", "DCGM exporter (GPU operator or standalone)", ("dcgm-exporter",), _accelerator_metrics
    ),
    Requirement(
        "ai_service_metrics", "Prometheus scraping workloads", ("kube-prometheus-stack", "prometheus"), _service_metrics
    ),
    Requirement(
        "secure_accelerator_access",
        "the NVIDIA device plugin or DRA driver",
        ("gpu-operator", "nvidia-device-plugin", "nvidia-dra-driver-gpu"),
        _secure_access,
    ),
    Requirement(
        "robust_controller",
        "an AI operator such as KubeRay",
        ("kuberay-operator", "kubeflow-trainer", "training-operator", "lws", "jobset"),
        _nothing,
    ),
)
IDS = [r.id for r in REQUIREMENTS]

META = Meta(
    name="conformance-stack-ai-requirements",
    description="Reports which CNCF Kubernetes AI Conformance v1.36 MUST requirements the stack provides.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    tags=("conformance", "cncf", "ai"),
    remediation="Add the missing add-ons (see the message) or narrow `required` for a deliberately partial platform.",
    rationale="Conformant platforms run the common AI stack (Kueue, KubeRay, DCGM, Gateway API) without surprises.",
    config={
        "required": {
            "type": "array",
            "items": {"type": "string", "enum": IDS},
            "default": IDS,
            "description": "The MUST requirements this stack is expected to provide.",
        },
        "extraCharts": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": {},
            "description": "Requirement id -> more chart names that provide it.",
        },
    },
    framework=PolicyComplianceFramework(
        name="CNCF Kubernetes AI Conformance",
        version="v1.36",
        reference="https://github.com/cncf/k8s-ai-conformance",
    ),
)


# --- wiring: a chart counts only when what the requirement needs is connected ----------------------


def _chart(resources: Sequence[Resource], name: str) -> HelmChart | None:
    return next((c for c in helm_charts(resources) if c.name == name), None)


def _kps_wiring(resources: Sequence[Resource]) -> str | None:
    chart = _chart(resources, "kube-prometheus-stack")
    if chart is None:
        return None
    if as_bool(dig(chart.values, "prometheus", "enabled")) is False:
        return "kube-prometheus-stack runs no Prometheus"
    spec = as_map(dig(chart.values, "prometheus", "prometheusSpec"))
    claim = as_map(dig(spec, "storageSpec", "volumeClaimTemplate"))
    if not claim:
        return "Prometheus has no storage (prometheusSpec.storageSpec.volumeClaimTemplate)"
    named_class = as_str(dig(claim, "spec", "storageClassName"))
    if any(r.type == EKS_CLUSTER for r in resources) and not named_class and not _default_storage_class(resources):
        return "Prometheus' volume cannot bind: EKS marks no StorageClass default and the stack creates none"
    selector = as_map(dig(spec, "serviceMonitorSelector", "matchLabels"))
    for monitor in resources:
        if k8s_kind(monitor.type)[1] not in ("ServiceMonitor", "PodMonitor"):
            continue
        labels = as_map(dig(monitor.props, "metadata", "labels"))
        if any(labels.get(k) != v for k, v in selector.items()):
            name = as_str(dig(monitor.props, "metadata", "name")) or monitor.name
            return f"Prometheus' selector {dict(selector)} does not pick {k8s_kind(monitor.type)[1]} {name}"
    return None


def _default_storage_class(resources: Sequence[Resource]) -> bool:
    return any(
        k8s_kind(r.type)[1] == "StorageClass"
        and as_str(dig(r.props, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class")) == "true"
        for r in resources
    )


def _adapter_wiring(resources: Sequence[Resource]) -> str | None:
    chart = _chart(resources, "prometheus-adapter")
    if chart is None:
        return None
    rules = as_map(chart.values.get("rules"))
    if not rules.get("custom") and as_bool(rules.get("default")) is not True:
        return "prometheus-adapter serves no custom metrics (rules.custom is empty and rules.default is off)"
    url = as_str(dig(chart.values, "prometheus", "url")) or ""
    prometheus = _chart(resources, "kube-prometheus-stack")
    if prometheus is None:
        return "prometheus-adapter has no Prometheus in the stack to read"
    release = as_str(prometheus.resource.props.get("name")) or "kube-prometheus-stack"
    if f"//{release}-prometheus." not in url:
        return f"prometheus-adapter reads {url or 'nothing'}, not the stack's Prometheus ({release}-prometheus)"
    return None


def _dcgm_wiring(resources: Sequence[Resource]) -> str | None:
    operator = _chart(resources, "gpu-operator")
    standalone = _chart(resources, "dcgm-exporter")
    if operator is not None and as_bool(dig(operator.values, "dcgmExporter", "serviceMonitor", "enabled")) is True:
        return None
    if standalone is not None and as_bool(dig(standalone.values, "serviceMonitor", "enabled")) is True:
        return None
    if operator is None and standalone is None:
        return None
    return "the DCGM exporter has no ServiceMonitor enabled, so nothing scrapes it"


WIRING: Mapping[str, Callable[[Sequence[Resource]], str | None]] = {
    "ai_service_metrics": _kps_wiring,
    "pod_autoscaling": _adapter_wiring,
    "accelerator_metrics": _dcgm_wiring,
}
"""Requirement id -> why a chart that provides it is not wired (``None``: wired, or not this chart)."""


def unwired(resources: Sequence[Resource]) -> dict[str, str]:
    """Requirement id -> what is missing, for every requirement whose chart is present but not wired."""
    return {rid: reason for rid, check_wiring in WIRING.items() if (reason := check_wiring(resources)) is not None}


def provided(resources: Sequence[Resource], config: Mapping[str, Any]) -> dict[str, bool]:
    """Requirement id -> whether the stack provides it (a present chart counts only when wired)."""
    charts = {chart.name for chart in helm_charts(resources)}
    extra = as_map(config.get("extraCharts"))
    broken = unwired(resources)
    return {
        req.id: (bool(charts & {*req.charts, *str_list(extra.get(req.id))}) and req.id not in broken)
        or req.detect(resources, charts)
        for req in REQUIREMENTS
    }


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    required = [r for r in REQUIREMENTS if r.id in str_list(config["required"])]
    status = provided(resources, config)
    missing = [r for r in required if not status[r.id]]
    if not missing:
        return
    have = [r.id for r in required if status[r.id]]
    broken = unwired(resources)
    yield Finding(
        f"CNCF Kubernetes AI Conformance v1.36: missing {len(missing)} of {len(required)} MUST requirements: "
        + "; ".join(f"{r.id} ({broken.get(r.id, r.hint)})" for r in missing)
        + f". Provided: {', '.join(have) or 'none'}"
    )


POLICY = stack_policy(META, check)
