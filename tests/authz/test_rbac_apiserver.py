"""Queue access enforced by the real kube-apiserver (issue 14 item 4): the tenant Role + RoleBinding the
OpenFGA add-on creates let each member create workloads in their own tenant namespace and nothing else.

Uses the shared real control plane (tests/controlplane: etcd + kube-apiserver v1.36.3 in a loopback-only
network namespace) and asks it with SubjectAccessReviews, for every member of every example stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.addons.authz import rbac
from gpuplane import access, stackfiles
from tests.controlplane.client import KubeClient

STACKS = stackfiles.discover()


def _review(kube: KubeClient, user: str, verb: str, group: str, resource: str, namespace: str | None) -> bool:
    attributes: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
    if namespace is not None:
        attributes["namespace"] = namespace
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": attributes},
    }
    return bool(kube.create(review)["status"].get("allowed", False))


def _apply_bindings(kube: KubeClient, bindings: list[rbac.TenantBinding]) -> None:
    for binding in bindings:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": binding.namespace}})
        meta = {"name": rbac.ROLE, "namespace": binding.namespace}
        kube.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, **rbac.role_spec()})
        kube.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                **rbac.role_binding_body(binding),
            }
        )


@pytest.mark.parametrize("stack_path", STACKS, ids=[stackfiles.stack_name(p) for p in STACKS])
def test_members_create_workloads_in_their_namespace_only(kube: KubeClient, stack_path: Path) -> None:
    spec = access.spec_from_stack(stackfiles.load(stack_path))
    bindings = rbac.bindings(spec, access.local_queues(spec))
    assert bindings, "every example stack has tenants with members"
    _apply_bindings(kube, bindings)
    namespaces = [b.namespace for b in bindings]
    # Expectations from the spec itself, not from the bindings under test.
    member_of = {
        user: {t.name for t in spec.tenants if user in t.members} for t0 in spec.tenants for user in t0.members
    }
    assert set(member_of) == {u for b in bindings for u in b.users}
    for binding in bindings:
        for user in binding.users:
            for namespace in namespaces:
                own = namespace in member_of[user]
                assert _review(kube, user, "create", "batch", "jobs", namespace) is own, (user, namespace)
                assert _review(kube, user, "create", "jobset.x-k8s.io", "jobsets", namespace) is own
                assert _review(kube, user, "list", "kueue.x-k8s.io", "workloads", namespace) is own
            # Never: other kinds in their own namespace, anything cluster-wide.
            assert _review(kube, user, "get", "", "secrets", binding.namespace) is False
            assert (
                _review(kube, user, "create", "rbac.authorization.k8s.io", "rolebindings", binding.namespace) is False
            )
            assert _review(kube, user, "create", "kueue.x-k8s.io", "localqueues", binding.namespace) is False
            assert _review(kube, user, "create", "batch", "jobs", None) is False
            assert _review(kube, user, "list", "kueue.x-k8s.io", "clusterqueues", None) is False
    assert _review(kube, "mallory@example.com", "create", "batch", "jobs", namespaces[0]) is False
