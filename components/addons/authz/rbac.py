"""Queue access as Kubernetes RBAC: tenant members may create workloads in their tenant namespace only.

What: for every tenant with a Kueue LocalQueue and at least one member, a namespaced Role
``gpuplane-tenant-submitter`` and a RoleBinding of the same name in the tenant's namespace, binding
each ``tenants[].members`` entry as a ``User``. Nothing cluster-scoped (no ClusterRole, no
ClusterRoleBinding). :func:`bindings` is computed from the same inputs as the OpenFGA ``submitter``
tuples (``components.addons.authz.tuples``: members and ``local_queues``), and a test checks both
views agree for every tenant of every example stack.
Why: OpenFGA answers "may this member submit to this queue", but the Kubernetes API server is what
accepts or refuses a Job; the RoleBinding is that answer where it is enforced. Kueue itself only
admits workloads that name a LocalQueue of the namespace they are in (the LocalQueue is namespaced),
so namespace RBAC is queue access.
Gotchas: members are Kubernetes user names as your authenticator reports them (OIDC ``sub``/``email``
claim, EKS access entry, GKE Google account); a member string that is not what the API server sees
binds nobody. Workloads need ``kueue.x-k8s.io/queue-name`` (the admission guardrails enforce it for GPU
pods); the Role lets members read Kueue ``workloads`` and ``localqueues`` to follow their jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.spec import PlatformSpec

ROLE = "gpuplane-tenant-submitter"
RBAC_API = "rbac.authorization.k8s.io"

WORKLOAD_RULES: tuple[Mapping[str, Any], ...] = (
    {
        "apiGroups": ["batch"],
        "resources": ["jobs", "cronjobs"],
        "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["jobset.x-k8s.io"],
        "resources": ["jobsets"],
        "verbs": ["create", "get", "list", "watch", "patch", "delete"],
    },
    {
        "apiGroups": ["leaderworkerset.x-k8s.io"],
        "resources": ["leaderworkersets"],
        "verbs": ["create", "get", "list", "watch", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads", "localqueues"], "verbs": ["get", "list", "watch"]},
)


@dataclass(frozen=True)
class TenantBinding:
    namespace: str
    """The tenant namespace (named after the tenant), where its LocalQueue lives."""
    queue: str
    users: tuple[str, ...]


def bindings(spec: PlatformSpec, local_queues: Mapping[str, str]) -> list[TenantBinding]:
    """One binding per tenant that has a LocalQueue and members, sorted by namespace."""
    found: list[TenantBinding] = []
    for tenant in sorted(spec.tenants, key=lambda t: t.name):
        queue = local_queues.get(tenant.name)
        if queue is None or not tenant.members:
            continue
        found.append(TenantBinding(namespace=tenant.name, queue=queue, users=tuple(sorted(set(tenant.members)))))
    return found


def role_spec() -> dict[str, Any]:
    return {"rules": [dict(rule) for rule in WORKLOAD_RULES]}


def role_binding_body(binding: TenantBinding) -> dict[str, Any]:
    """``roleRef`` and ``subjects`` of the RoleBinding (RoleBindings have no ``spec``)."""
    return {
        "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": ROLE},
        "subjects": [{"apiGroup": RBAC_API, "kind": "User", "name": user} for user in binding.users],
    }
