"""platform-container-not-privileged: no privileged or host-level pods outside the GPU stack's namespaces.

The GPU operator's driver, toolkit and validator pods need privileged mode; nothing else on a shared
GPU platform does. Device access goes through the device plugin or DRA, not ``privileged: true``.

What is checked, outside ``allowedNamespaces``:

- pod templates (Pods, apps/batch workloads, JobSet, LWS, Ray): ``securityContext.privileged: true``
  on any container, ``hostPID`` / ``hostNetwork`` / ``hostIPC: true`` on the pod, and
  ``securityContext.capabilities.add`` containing ``SYS_ADMIN`` or ``ALL`` (``CAP_`` prefix and case
  ignored): each of them is root on the node in all but name;
- Helm values (``helm.v3.Release``, the way every gpuplane add-on is installed, and the Chart
  resources): ``privileged: true`` and ``capabilities.add`` with ``SYS_ADMIN``/``ALL`` at any depth
  under any key ending in ``securityContext`` (``securityContext``, ``containerSecurityContext``,
  ``podSecurityContext``...), judged by the release's ``namespace`` (``default`` when unset). Charts
  spell host namespaces their own way (``hostNetwork: true``, ``hostNetwork: {enabled: true}``,
  per sub-chart), so those are not guessed from values; the rendered pods are checked when the
  program registers them.

Default allow-list: ``gpu-operator`` (the operator's driver, toolkit, device plugin and DCGM exporter
DaemonSets), ``dcgm-exporter`` (GKE: gpuplane installs NVIDIA's standalone DCGM exporter there, and it
runs privileged to read every GPU without requesting one) and ``node-exporter`` (kube-prometheus-stack's
node exporter, which gpuplane moves into its own namespace because it needs hostNetwork, hostPID and
hostPath). gpuplane creates all three with Pod Security ``privileged`` and puts nothing else there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    Meta,
    Resource,
    as_bool,
    as_map,
    as_str,
    containers,
    dig,
    helm_chart,
    k8s_kind,
    namespace_of,
    pod_templates,
    resource_policy,
    str_list,
)

DEFAULT_ALLOWED_NAMESPACES = [
    # The NVIDIA GPU operator (EKS, LKE, existing clusters): driver, toolkit, device plugin, DCGM exporter.
    "gpu-operator",
    # GKE: the standalone DCGM exporter (components/addons/gpu.py) runs privileged to see every GPU
    # on the node without requesting one; Google manages driver and device plugin there.
    "dcgm-exporter",
    # kube-prometheus-stack's node exporter (components/addons/observability.py) needs hostNetwork,
    # hostPID and hostPath, so gpuplane runs it alone in this namespace rather than in `monitoring`.
    "node-exporter",
]

HOST_NAMESPACES: Mapping[str, str] = {
    "hostPID": "its containers see and can signal every process on the node",
    "hostNetwork": "it shares the node's network stack",
    "hostIPC": "it shares the node's IPC namespace",
}
"""Pod fields that share a node namespace, with what that gives the pod."""

DANGEROUS_CAPABILITIES = ("SYS_ADMIN", "ALL")

META = Meta(
    name="platform-container-not-privileged",
    description=(
        "Containers must not run privileged, in the node's PID/network/IPC namespace or with SYS_ADMIN/ALL "
        "capabilities outside the GPU stack's namespaces."
    ),
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "workloads", "isolation", "security"),
    remediation=(
        "Remove securityContext.privileged, hostPID/hostNetwork/hostIPC and SYS_ADMIN/ALL from "
        "capabilities.add (in pod specs and Helm values); request GPUs as nvidia.com/gpu resources instead."
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
            "description": (
                "Namespaces where privileged containers, host namespaces (hostPID/hostNetwork/hostIPC) and "
                "SYS_ADMIN/ALL capabilities are allowed (Helm releases: the release's namespace)."
            ),
        }
    },
)


def _dangerous(capabilities: object) -> list[str]:
    """The ``SYS_ADMIN``/``ALL`` entries of a ``capabilities.add`` list, as written."""
    found: list[str] = []
    for capability in str_list(capabilities):
        if capability.strip().upper().removeprefix("CAP_") in DANGEROUS_CAPABILITIES:
            found.append(capability)
    return found


def _helm_findings(value: object, path: str, in_security_context: bool) -> Iterator[str]:
    """Paths (and what they grant) of ``privileged: true`` and ``capabilities.add`` entries under a
    ``*securityContext`` key, at any depth of Helm values."""
    if isinstance(value, Mapping):
        mapping = cast(Mapping[str, object], value)
        for key, item in mapping.items():
            child = f"{path}.{key}"
            if in_security_context and key == "privileged":
                if as_bool(item) is True:
                    yield f"sets {child} to true"
                continue
            if in_security_context and key == "capabilities":
                for capability in _dangerous(as_map(item).get("add")):
                    yield f"adds capability {capability} in {child}.add"
                continue
            yield from _helm_findings(item, child, in_security_context or key.lower().endswith("securitycontext"))
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(cast(Sequence[object], value)):
            yield from _helm_findings(item, f"{path}[{index}]", in_security_context)


def _only(allowed: list[str]) -> str:
    return f"only namespaces {', '.join(allowed) or '(none)'} may run"


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = str_list(config["allowedNamespaces"])
    chart = helm_chart(resource)
    if chart is not None:
        namespace = as_str(resource.props.get("namespace")) or "default"
        if namespace in allowed:
            return
        for finding in dict.fromkeys(_helm_findings(chart.values, "values", False)):
            yield (
                f"{chart.via} {resource.name} (namespace {namespace}) {finding}; {_only(allowed)} privileged containers"
            )
        return
    namespace = namespace_of(resource)
    if namespace in allowed:
        return
    _, kind = k8s_kind(resource.type)
    title = f"{kind} {namespace}/{resource.name}"
    seen: set[str] = set()
    for template in pod_templates(resource):
        messages: list[str] = []
        for field_name, meaning in HOST_NAMESPACES.items():
            if as_bool(template.spec.get(field_name)) is True:
                messages.append(
                    f"{title} sets {field_name}: true ({meaning}); {_only(allowed)} pods in host namespaces"
                )
        for name, container in containers(template.spec):
            security = as_map(container.get("securityContext"))
            if as_bool(security.get("privileged")) is True:
                messages.append(f"{title} container {name} is privileged; {_only(allowed)} privileged containers")
            for capability in _dangerous(dig(security, "capabilities", "add")):
                messages.append(
                    f"{title} container {name} adds capability {capability} (securityContext.capabilities.add); "
                    f"{_only(allowed)} containers with SYS_ADMIN or ALL"
                )
        for message in messages:
            if message not in seen:
                seen.add(message)
                yield message


POLICY = resource_policy(META, check)
