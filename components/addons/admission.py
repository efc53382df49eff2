"""Run-time guardrails: ValidatingAdmissionPolicies (CEL, built into Kubernetes) for GPU pods.

What it builds (children of the component, through the cluster's provider, ``deleted_with`` the cluster):

- ``{name}-policy-isolation`` / ``{name}-binding-isolation``: ValidatingAdmissionPolicy + binding
  ``gpuplane-gpu-pod-isolation``. A pod that requests a GPU (``components.guardrails.GPU_RESOURCES`` or a
  ``GPU_RESOURCE_PREFIXES`` resource, in any container's requests or limits) must not be privileged, add
  ``SYS_ADMIN``/``ALL``, share the node's PID/network/IPC namespace or mount a ``hostPath`` volume. Checked on
  pod create and on every update (including ``pods/ephemeralcontainers``, which can add a privileged
  container to a running pod). Exempt by name: ``guardrails.PRIVILEGED_NAMESPACES``.
- ``{name}-policy-queue`` / ``{name}-binding-queue`` (only with Kueue on): ``gpuplane-gpu-pod-queue``. A GPU
  pod must carry ``guardrails.QUEUE_LABEL``, or be created by an in-tree controller for a workload Kueue has
  admitted (``guardrails.KUEUE_ADMITTED_POD_LABEL`` + a ``kube-system`` ServiceAccount identity); every GPU
  resource a container requests must also be in its limits. Checked on create. Exempt by name:
  ``guardrails.QUEUE_EXEMPT_NAMESPACES``.

Both policies fail closed (``failurePolicy: Fail``) and bind with ``validationActions: [Deny]``. The same
rules are CrossGuard policies before deployment (see components/guardrails.py); these catch what is created
in the cluster by anyone, whatever tool they use.

Why CEL policies and not a webhook: they are served by the API server itself (GA in Kubernetes 1.30, every
supported version of EKS, GKE and LKE), so there is no extra deployment to keep available, and no webhook
outage can open the gate.

Upstream gotchas:
- ``matchConditions`` cannot use ``variables``, so every validation starts with ``!variables.isGpuPod ||``.
- ``containers``/``initContainers`` and ``ephemeralContainers`` have different CEL types; concatenating them
  fails type checking, so ephemeral containers get their own expressions.
- The ``strings`` CEL library (``upperAscii``) is on in every API server since 1.27.
- Pod Security Admission runs before admission policies: in a ``restricted`` namespace a privileged pod is
  refused by Pod Security first. These policies matter where Pod Security is ``privileged`` or unset
  (``default``, namespaces created by hand) — tests/controlplane/test_guardrails.py shows both.
- The namespace exemptions use ``kubernetes.io/metadata.name``, which the API server sets and keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import guardrails
from components.addons.base import MANAGED_BY, AddonScope, custom_resource

API_VERSION = "admissionregistration.k8s.io/v1"
ISOLATION_POLICY = "gpuplane-gpu-pod-isolation"
QUEUE_POLICY = "gpuplane-gpu-pod-queue"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _cel_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _is_gpu(resource_var: str) -> str:
    """CEL: the resource name in ``resource_var`` is a GPU (whole, time-sliced or MIG)."""
    prefixes = " || ".join(f"{resource_var}.startsWith('{p}')" for p in guardrails.GPU_RESOURCE_PREFIXES)
    return f"({resource_var} in {_cel_list(guardrails.GPU_RESOURCES)}" + (f" || {prefixes})" if prefixes else ")")


def _variables() -> list[dict[str, str]]:
    gpu_in = (
        "(has(c.resources.{s}) && c.resources.{s}.exists(r, " + _is_gpu("r") + "))"
    )  # fmt: skip
    return [
        {
            "name": "containers",
            "expression": "object.spec.containers + "
            "(has(object.spec.initContainers) ? object.spec.initContainers : [])",
        },
        {
            "name": "ephemeralContainers",
            "expression": "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []",
        },
        {
            "name": "isGpuPod",
            "expression": "variables.containers.exists(c, has(c.resources) && ("
            + gpu_in.format(s="limits")
            + " || "
            + gpu_in.format(s="requests")
            + "))",
        },
        {"name": "labels", "expression": "has(object.metadata.labels) ? object.metadata.labels : {}"},
    ]


def _not_privileged(var: str) -> str:
    return (
        f"variables.{var}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) "
        "|| !c.securityContext.privileged)"
    )


def _no_dangerous_capabilities(var: str) -> str:
    caps = _cel_list(guardrails.DANGEROUS_CAPABILITIES)
    return (
        f"variables.{var}.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities) "
        "|| !has(c.securityContext.capabilities.add) || c.securityContext.capabilities.add.all(a, "
        f"!((a.upperAscii().startsWith('CAP_') ? a.upperAscii().substring(4) : a.upperAscii()) in {caps})))"
    )


def isolation_policy() -> dict[str, Any]:
    """The ``gpuplane-gpu-pod-isolation`` ValidatingAdmissionPolicy as a manifest."""
    validations: list[dict[str, str]] = []
    for var in ("containers", "ephemeralContainers"):
        validations.append(
            {
                "expression": f"!variables.isGpuPod || {_not_privileged(var)}",
                "message": "GPU pods must not run privileged containers (securityContext.privileged); "
                "GPUs are reached through the device plugin's nvidia.com/gpu resources",
                "reason": "Forbidden",
            }
        )
        validations.append(
            {
                "expression": f"!variables.isGpuPod || {_no_dangerous_capabilities(var)}",
                "message": "GPU pods must not add the capabilities "
                f"{', '.join(guardrails.DANGEROUS_CAPABILITIES)} (securityContext.capabilities.add)",
                "reason": "Forbidden",
            }
        )
    for field, meaning in guardrails.HOST_NAMESPACES.items():
        validations.append(
            {
                "expression": f"!variables.isGpuPod || !has(object.spec.{field}) || !object.spec.{field}",
                "message": f"GPU pods must not set {field}: true ({meaning})",
                "reason": "Forbidden",
            }
        )
    validations.append(
        {
            "expression": "!variables.isGpuPod || !has(object.spec.volumes) "
            "|| object.spec.volumes.all(v, !has(v.hostPath))",
            "message": "GPU pods must not mount hostPath volumes (the node's file system)",
            "reason": "Forbidden",
        }
    )
    return _policy(
        ISOLATION_POLICY,
        operations=["CREATE", "UPDATE"],
        resources=["pods", "pods/ephemeralcontainers"],
        exempt=guardrails.PRIVILEGED_NAMESPACES,
        validations=validations,
    )


def queue_policy() -> dict[str, Any]:
    """The ``gpuplane-gpu-pod-queue`` ValidatingAdmissionPolicy as a manifest."""
    label, admitted = guardrails.QUEUE_LABEL, guardrails.KUEUE_ADMITTED_POD_LABEL
    queued = f"('{label}' in variables.labels && variables.labels['{label}'] != '')"
    by_kueue = (
        f"('{admitted}' in variables.labels && "
        f"request.userInfo.username.startsWith('{guardrails.CONTROLLER_USER_PREFIX}'))"
    )
    limits = (
        "variables.containers.all(c, !has(c.resources) || !has(c.resources.requests) || "
        f"c.resources.requests.all(r, !{_is_gpu('r')} || (has(c.resources.limits) && r in c.resources.limits)))"
    )
    return _policy(
        QUEUE_POLICY,
        operations=["CREATE"],
        resources=["pods"],
        exempt=guardrails.QUEUE_EXEMPT_NAMESPACES,
        validations=[
            {
                "expression": f"!variables.isGpuPod || {queued} || {by_kueue}",
                "message": f"GPU pods must carry the Kueue queue label {label} naming the tenant's LocalQueue "
                "(or be created by a controller for a workload Kueue admitted)",
                "reason": "Forbidden",
            },
            {
                "expression": f"!variables.isGpuPod || {limits}",
                "message": "GPU resources must be requested as limits (resources.limits), not only as requests",
                "reason": "Invalid",
            },
        ],
    )


def _policy(
    name: str,
    *,
    operations: list[str],
    resources: list[str],
    exempt: Sequence[str],
    validations: list[dict[str, str]],
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": list(exempt)},
                    ]
                },
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations, "resources": resources}
                ],
            },
            "variables": _variables(),
            "validations": validations,
        },
    }


def binding(policy_name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name, "labels": dict(MANAGED_BY)},
        "spec": {"policyName": policy_name, "validationActions": ["Deny"]},
    }


def manifests(*, kueue: bool) -> list[dict[str, Any]]:
    """Every object the add-on creates, policies before their bindings."""
    policies = [isolation_policy(), *([queue_policy()] if kueue else [])]
    return [*policies, *(binding(p["metadata"]["name"]) for p in policies)]


@dataclass(frozen=True, kw_only=True)
class AdmissionGuardrailsArgs:
    scope: AddonScope


class AdmissionGuardrails(pulumi.ComponentResource):
    """The GPU pod guardrails as ValidatingAdmissionPolicies and their bindings."""

    policies: dict[str, pulumi.CustomResource]
    """Policy name -> ValidatingAdmissionPolicy."""
    bindings: dict[str, pulumi.CustomResource]
    """Policy name -> its ValidatingAdmissionPolicyBinding."""

    def __init__(self, name: str, args: AdmissionGuardrailsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:AdmissionGuardrails", name, None, opts)
        scope = args.scope
        self.policies, self.bindings = {}, {}
        short = {ISOLATION_POLICY: "isolation", QUEUE_POLICY: "queue"}
        for obj in manifests(kueue=scope.spec.kueue.enabled):
            policy_name = (
                obj["metadata"]["name"] if obj["kind"] == "ValidatingAdmissionPolicy" else obj["spec"]["policyName"]
            )
            role = "policy" if obj["kind"] == "ValidatingAdmissionPolicy" else "binding"
            depends = [] if role == "policy" else [self.policies[policy_name]]
            resource = custom_resource(
                f"{name}-{role}-{short[policy_name]}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                spec=obj["spec"],
                opts=scope.opts(self, depends),
            )
            (self.policies if role == "policy" else self.bindings)[policy_name] = resource
        self.register_outputs({})
