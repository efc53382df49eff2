"""The platform's run-time guardrails in one place: what a GPU pod must and must not do.

What: plain constants (no Pulumi, no I/O) that two enforcement layers share:

- in the cluster, :mod:`components.addons.admission` generates ValidatingAdmissionPolicies (CEL, built into
  Kubernetes) from them, so a pod that breaks a rule is refused by the API server whoever creates it;
- before deployment, the CrossGuard pack (``policies/``) checks the same rules on what a stack registers:
  ``platform-workload-queue-label`` (:data:`QUEUE_LABEL`, :data:`GPU_RESOURCES`,
  :data:`QUEUE_EXEMPT_NAMESPACES`) and ``platform-container-not-privileged`` (:data:`HOST_NAMESPACES`,
  :data:`DANGEROUS_CAPABILITIES`, :data:`PRIVILEGED_NAMESPACES`).

Note for the pack's maintainers: the pack is deliberately self-contained (it is published without gpuplane's
``components``), so it keeps its own copies of these values; ``tests/controlplane/test_guardrails_sync.py``
fails when a copy drifts from this module. Change a rule here first, then the pack's copy.

Why these rules (docs/decisions/control-plane.md):

- GPU pods carry the Kueue queue label :data:`QUEUE_LABEL`: with ``manageJobsWithoutQueueName: false``
  Kueue ignores an unlabelled workload, which then takes GPUs other tenants were promised. Pods that a Kueue-
  admitted Job/JobSet/LWS creates do not inherit the label from their owner; Kueue writes
  :data:`KUEUE_ADMITTED_POD_LABEL` (``kueue.x-k8s.io/local-queue-name``, feature ``AssignQueueLabelsForPods``,
  on by default since Kueue 0.13) into their template when it starts the admitted workload. That label alone
  could be forged by anyone who may create pods, so it only counts when the pod's creator is a controller
  running as a ``kube-system`` ServiceAccount (:data:`CONTROLLER_USER_PREFIX`; kube-controller-manager's
  job, replicaset and statefulset controllers use per-controller ServiceAccounts there).
- GPU pods are not privileged, share no host namespace, add no dangerous capability and mount no
  ``hostPath``: any of these is root on a node whose GPUs other tenants' jobs share. Device access goes
  through the device plugin (``nvidia.com/gpu`` resources), never ``/dev`` mounts.
- GPUs are requested as limits: Kubernetes does not overcommit extended resources, and the device plugin
  allocates by limit. (The API server's own validation already refuses a GPU request without a limit; the
  policy keeps the rule explicit and covers what core validation may allow later.)

Upstream gotchas: ``kubernetes.io/metadata.name`` is set by the API server on every namespace (since 1.21)
and cannot be changed, so exempting namespaces by that label is exempting them by name. MIG devices appear
as ``nvidia.com/mig-<profile>`` with the ``mixed`` MIG strategy, hence the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
"""The label naming a workload's Kueue LocalQueue (sigs.k8s.io/kueue pkg/controller/constants.QueueLabel)."""

KUEUE_ADMITTED_POD_LABEL = "kueue.x-k8s.io/local-queue-name"
"""Set by Kueue on the pods of an admitted workload (sigs.k8s.io/kueue pkg/constants.LocalQueueLabel, v0.19.2)."""

CONTROLLER_USER_PREFIX = "system:serviceaccount:kube-system:"
"""Identities of in-tree controllers (``--use-service-account-credentials``, the default on EKS, GKE, LKE)."""

GPU_RESOURCES: tuple[str, ...] = ("nvidia.com/gpu",)
"""Extended resources that are whole or time-sliced GPUs."""

GPU_RESOURCE_PREFIXES: tuple[str, ...] = ("nvidia.com/mig-",)
"""Prefixes of extended resources that are GPU partitions (MIG ``mixed`` strategy)."""

HOST_NAMESPACES: Mapping[str, str] = {
    "hostPID": "its containers see and can signal every process on the node",
    "hostNetwork": "it shares the node's network stack",
    "hostIPC": "it shares the node's IPC namespace",
}
"""Pod fields that share a node namespace, with what that gives the pod."""

DANGEROUS_CAPABILITIES: tuple[str, ...] = (
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "BPF",
    "PERFMON",
    "NET_ADMIN",
    "DAC_READ_SEARCH",
    "DAC_OVERRIDE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
)
"""``capabilities.add`` entries refused (compared upper-case, without a ``CAP_`` prefix): each gives a
container its node (kernel modules, tracing other processes, raw I/O, eBPF, the node's network, any file
regardless of permissions, the LSM policy) -- issue 10's list, shared with the CrossGuard pack."""

PRIVILEGED_NAMESPACES: tuple[str, ...] = ("gpu-operator", "dcgm-exporter", "node-exporter")
"""The platform's own namespaces whose pods legitimately need privileges: the NVIDIA GPU operator (driver,
toolkit, device plugin, validators — the validator requests a GPU), GKE's standalone DCGM exporter, and
kube-prometheus-stack's node exporter. gpuplane creates them with Pod Security ``privileged``."""

QUEUE_EXEMPT_NAMESPACES: tuple[str, ...] = ("gpu-operator", "kube-system")
"""Namespaces whose GPU pods are platform components rather than tenant work (the operator's validators)."""
