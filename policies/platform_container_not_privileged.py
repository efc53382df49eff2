"""platform-container-not-privileged: no workload can take over its node, whatever kind carries it.

Property: outside the GPU stack's documented needs, nothing the stack deploys runs privileged, shares
a host namespace (``hostPID``/``hostNetwork``/``hostIPC``), mounts a ``hostPath``, adds a dangerous
capability (``SYS_ADMIN``, ``ALL``, ``SYS_MODULE``, ``SYS_PTRACE``, ``BPF``, ``NET_ADMIN``,
``DAC_READ_SEARCH``... see ``_pods.DANGEROUS_CAPABILITIES``), unmasks ``/proc`` or runs as a Windows
host process. Each of them is root on a node whose GPUs other tenants' jobs share.

Where it looks (``_pods.py``): every pod spec at any depth of any Kubernetes resource's inputs, found by
shape (Pod, Deployment/StatefulSet/DaemonSet/ReplicaSet/Job, CronJob, ReplicationController,
PodTemplate, JobSet, LeaderWorkerSet, every ``*Patch`` kind, any custom resource embedding a pod
template), ``yaml.v2.ConfigGroup``/``ConfigFile`` children (expanded offline, ``gpuplane/expand.py``),
and Helm values of ``helm.v3.Release``/``helm.v4.Chart``/``helm.v3.Chart`` by key under any spelling
and inside YAML/JSON strings (``extraManifests``).

Exempt, by chart name and namespace only (``exemptCharts``, ``allowedNamespaces``): the NVIDIA GPU
operator chart (``gpu-operator``: privileged driver/toolkit/validator pods, ``hostPID`` for the driver,
``hostPath`` mounts of the driver root and device nodes) and NVIDIA's DCGM exporter chart
(``dcgm-exporter``, standalone on GKE: privileged to read every GPU, ``hostPath`` of GKE's driver
directory ``/home/kubernetes/bin/nvidia``), each only in a namespace of ``allowedNamespaces``. A
privileged DaemonSet dropped into the ``gpu-operator`` namespace is not the GPU operator.

Reads:
    kubernetes:core/v1:Pod: spec
    kubernetes:apps/v1:Deployment: spec.template.spec
    kubernetes:apps/v1:DaemonSet: spec.template.spec
    kubernetes:apps/v1:StatefulSet: spec.template.spec
    kubernetes:apps/v1:ReplicaSet: spec.template.spec
    kubernetes:batch/v1:Job: spec.template.spec
    kubernetes:batch/v1:CronJob: spec.jobTemplate.spec.template.spec
    kubernetes:core/v1:ReplicationController: spec.template.spec
    kubernetes:core/v1:PodTemplate: template.spec
    kubernetes:core/v1:PodPatch: spec
    kubernetes:apps/v1:DeploymentPatch: spec.template.spec
    kubernetes:apps/v1:DaemonSetPatch: spec.template.spec
    kubernetes:batch/v1:CronJobPatch: spec.jobTemplate.spec.template.spec
    kubernetes:jobset.x-k8s.io/v1alpha2:JobSet: spec.replicatedJobs[].template.spec.template.spec
    kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet: spec.leaderWorkerTemplate.*Template.spec
    kubernetes:ray.io/v1:RayCluster: any embedded pod spec
    kubernetes:helm.sh/v3:Release: namespace, chart, values (any depth, YAML strings)
    kubernetes:helm.sh/v4:Chart: namespace, chart, values (any depth, YAML strings)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._pods import DANGEROUS_CAPABILITIES, HOST_NAMESPACES, Finding, find_pod_specs, pod_findings, values_findings
from ._support import Meta, Resource, as_map, as_str, helm_chart, k8s_kind, namespace_of, resource_policy, str_list

__all__ = ["DANGEROUS_CAPABILITIES", "DEFAULT_ALLOWED_NAMESPACES", "HOST_NAMESPACES", "META", "POLICY", "check"]

DEFAULT_ALLOWED_NAMESPACES = [
    # The NVIDIA GPU operator (EKS, LKE, existing clusters): driver, toolkit, device plugin, DCGM exporter.
    "gpu-operator",
    # GKE: the standalone DCGM exporter (components/addons/gpu.py), privileged to see every GPU.
    "dcgm-exporter",
    # kube-prometheus-stack's node exporter namespace (components/addons/observability.py).
    "node-exporter",
]
"""Namespaces the exempt charts may run in (a copy of ``components/guardrails.PRIVILEGED_NAMESPACES``)."""

DEFAULT_EXEMPT_CHARTS: dict[str, list[str]] = {
    # github.com/NVIDIA/gpu-operator deployments/gpu-operator: driver/toolkit/validator/mig-manager run
    # privileged, the driver shares hostPID, the operands mount the driver root and /dev, /sys, /run/nvidia.
    "gpu-operator": ["privileged", "hostPID", "hostPath:*"],
    # github.com/NVIDIA/dcgm-exporter deployment/values.yaml (securityContext; extraHostVolumes): on GKE
    # the exporter reads the GPUs through Google's driver directory.
    "dcgm-exporter": ["privileged", "hostPath:/home/kubernetes/bin/nvidia"],
}

META = Meta(
    name="platform-container-not-privileged",
    description=(
        "Nothing may run privileged, in a host namespace, with a hostPath or a dangerous capability, except the "
        "GPU operator's and DCGM exporter's documented needs."
    ),
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "workloads", "isolation", "security"),
    remediation=(
        "Remove privileged, hostPID/hostNetwork/hostIPC, hostPath volumes and dangerous capabilities (pod specs, "
        "Helm values, embedded manifests); request GPUs as nvidia.com/gpu resources instead."
    ),
    rationale=(
        "A privileged or host-namespace container owns its node, and with it every other tenant's GPU job "
        "and credentials."
    ),
    config={
        "allowedNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_ALLOWED_NAMESPACES,
            "description": "Namespaces in which the charts of exemptCharts may use their documented privileges.",
        },
        "exemptCharts": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": DEFAULT_EXEMPT_CHARTS,
            "description": (
                "Chart name -> the grants it may use (privileged, hostPID, hostNetwork, hostIPC, "
                "capability:<CAP>, hostPath:<dir> or hostPath:*)."
            ),
        },
    },
)

_ADVICE = "only the GPU operator's and DCGM exporter's documented needs are exempt"


def _granted(need: str, allowed: list[str]) -> bool:
    for grant in allowed:
        if grant == need or (grant == "hostPath:*" and need.startswith("hostPath:") and need != "hostPath:?"):
            return True
        if grant.startswith("hostPath:/") and need.startswith("hostPath:"):
            base = grant.removeprefix("hostPath:").rstrip("/")
            path = need.removeprefix("hostPath:")
            if path == base or (path.startswith(base + "/") and ".." not in path.split("/")):
                return True
    return False


def _distinct(findings: Iterator[Finding]) -> list[Finding]:
    return list({f.text: f for f in findings}.values())


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is not None:
        namespace = as_str(resource.props.get("namespace")) or "default"
        exempt = as_map(config["exemptCharts"]).get(chart.name)
        granted = str_list(exempt) if namespace in str_list(config["allowedNamespaces"]) else []
        for finding in _distinct(values_findings(chart.values, "values")):
            if not _granted(finding.need, granted):
                yield f"{chart.via} {resource.name} (chart {chart.name}, namespace {namespace}) {finding.text}; {_ADVICE}"
        return
    _, kind = k8s_kind(resource.type)
    if not kind or kind in ("ConfigMap", "Secret", "CustomResourceDefinition"):
        return
    title = f"{kind} {namespace_of(resource)}/{resource.name}"
    props = {k: v for k, v in resource.props.items() if k not in ("metadata", "apiVersion", "kind")}
    findings = _distinct(f for pod in find_pod_specs(props, "") for f in pod_findings(pod))
    for finding in findings:
        yield f"{title}: {finding.text}, which gives it control of its node; {_ADVICE}"


POLICY = resource_policy(META, check)
