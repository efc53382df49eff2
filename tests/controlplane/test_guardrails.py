"""The GPU pod guardrails (components/addons/admission.py) against the real API server's admission chain.

Every case creates a pod (``dryRun=All``: the full admission chain runs, nothing is stored) and asserts the
server's own answer. Namespaces:

- ``gr-open``: no Pod Security label, like ``default`` or a namespace made by hand: only the admission
  policies stand between a GPU pod and the node, so their messages are what the server returns;
- ``gr-tenant``: a tenant namespace as the Kueue add-on makes it (Pod Security ``restricted``);
- ``gpu-operator``: the GPU operator's namespace (privileged, exempt by name).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from components import guardrails
from components.addons import admission
from tests.controlplane.client import ApiError, KubeClient
from tests.controlplane.cluster import ControlPlane

OPEN, TENANT, OPERATOR = "gr-open", "gr-tenant", "gpu-operator"
RESTRICTED_SC = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.fixture(scope="module")
def guarded(control_plane: ControlPlane) -> Iterator[KubeClient]:
    kube = control_plane.client
    for ns, level in ((OPEN, None), (TENANT, "restricted"), (OPERATOR, "privileged")):
        labels = {} if level is None else {"pod-security.kubernetes.io/enforce": level}
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    for obj in admission.manifests(kueue=True):
        kube.apply(obj)
    for ns in (OPEN, TENANT, OPERATOR):
        kube.wait_for(f"ServiceAccount {ns}/default", lambda ns=ns: kube.get("v1", "ServiceAccount", "default", ns))
    _wait_until_enforced(kube)
    yield kube
    for obj in reversed(admission.manifests(kueue=True)):
        kube.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
    for ns in (OPEN, TENANT, OPERATOR):
        kube.delete("v1", "Namespace", ns)


def _wait_until_enforced(kube: KubeClient) -> None:
    """Policies take effect once the API server's policy informer sees them (about a second)."""

    def enforced() -> bool:
        try:
            kube.create(gpu_pod(OPEN, labels={}), dry_run=True)
        except ApiError as exc:
            return admission.QUEUE_POLICY in exc.message
        return False

    kube.wait_for("the queue policy to be enforced", enforced, timeout=30)


def gpu_pod(
    namespace: str,
    *,
    labels: dict[str, str] | None = None,
    resource: str = "nvidia.com/gpu",
    limits: bool = True,
    security: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    res = {"limits": {resource: 1}} if limits else {"requests": {resource: 1}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "gpu-",
            "namespace": namespace,
            "labels": {guardrails.QUEUE_LABEL: "default"} if labels is None else labels,
        },
        "spec": {
            "containers": [
                {
                    "name": "trainer",
                    "image": "nvcr.io/nvidia/pytorch:25.01-py3",
                    "resources": res,
                    "securityContext": copy.deepcopy(RESTRICTED_SC) if security is None else security,
                }
            ],
            **spec,
        },
    }


def refusal(kube: KubeClient, pod: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as refused:
        kube.create(pod, dry_run=True)
    return refused.value.message


def test_a_compliant_gpu_pod_is_admitted_everywhere(guarded: KubeClient) -> None:
    for ns in (OPEN, TENANT):
        created = guarded.create(gpu_pod(ns), dry_run=True)
        assert created["spec"]["containers"][0]["resources"]["requests"] == {"nvidia.com/gpu": "1"}  # defaulted


def test_a_gpu_pod_without_a_queue_label_is_refused(guarded: KubeClient) -> None:
    for ns in (OPEN, TENANT):
        message = refusal(guarded, gpu_pod(ns, labels={}))
        assert f"ValidatingAdmissionPolicy '{admission.QUEUE_POLICY}'" in message
        assert f"must carry the Kueue queue label {guardrails.QUEUE_LABEL}" in message


def test_an_empty_queue_label_is_refused(guarded: KubeClient) -> None:
    assert admission.QUEUE_POLICY in refusal(guarded, gpu_pod(OPEN, labels={guardrails.QUEUE_LABEL: ""}))


def test_a_mig_slice_counts_as_a_gpu(guarded: KubeClient) -> None:
    message = refusal(guarded, gpu_pod(OPEN, labels={}, resource="nvidia.com/mig-1g.10gb"))
    assert admission.QUEUE_POLICY in message


def test_a_cpu_pod_needs_no_queue_label(guarded: KubeClient) -> None:
    pod = gpu_pod(OPEN, labels={})
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    guarded.create(pod, dry_run=True)


def test_the_kueue_admission_label_counts_only_for_controllers(guarded: KubeClient) -> None:
    # A tenant (here: the admin, who is not a kube-system controller) cannot forge Kueue's pod label.
    forged = gpu_pod(OPEN, labels={guardrails.KUEUE_ADMITTED_POD_LABEL: "default"})
    assert admission.QUEUE_POLICY in refusal(guarded, forged)


def test_the_kueue_admission_label_is_accepted_from_the_job_controller(
    guarded: KubeClient, control_plane: ControlPlane
) -> None:
    # Impersonation is what the job controller's identity looks like to admission: its ServiceAccount user.
    job_controller = control_plane.pki.issue(
        "job-controller", f"{guardrails.CONTROLLER_USER_PREFIX}job-controller", client=True
    )
    guarded.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "gr-job-controller-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {
                    "kind": "User",
                    "name": f"{guardrails.CONTROLLER_USER_PREFIX}job-controller",
                    "apiGroup": "rbac.authorization.k8s.io",
                }
            ],
        }
    )
    as_controller = KubeClient(control_plane.socket, control_plane.pki.ca.cert, job_controller.cert, job_controller.key)
    try:
        as_controller.create(gpu_pod(OPEN, labels={guardrails.KUEUE_ADMITTED_POD_LABEL: "default"}), dry_run=True)
    finally:
        guarded.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "gr-job-controller-pods")


def test_gpus_only_as_requests_are_refused(guarded: KubeClient) -> None:
    # Core validation answers before admission: extended resources cannot be overcommitted.
    message = refusal(guarded, gpu_pod(OPEN, limits=False))
    assert "Limit must be set for non overcommitable resources" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"security": {"privileged": True}}, "must not run privileged containers"),
        (
            {"security": {"capabilities": {"add": ["SYS_ADMIN"]}}},
            "must not add the capabilities ALL, SYS_ADMIN, SYS_MODULE",
        ),
        ({"security": {"capabilities": {"add": ["cap_sys_admin"]}}}, "must not add the capabilities"),
        ({"security": {"capabilities": {"add": ["all"]}}}, "must not add the capabilities"),
        ({"security": {"capabilities": {"add": ["NET_ADMIN"]}}}, "must not add the capabilities"),
        ({"hostPID": True}, "must not set hostPID: true"),
        ({"hostNetwork": True}, "must not set hostNetwork: true"),
        ({"hostIPC": True}, "must not set hostIPC: true"),
        (
            {"volumes": [{"name": "dev", "hostPath": {"path": "/dev"}}]},
            "must not mount hostPath volumes",
        ),
    ],
    ids=[
        "privileged",
        "sys-admin",
        "cap-prefix-lower",
        "all-lower",
        "net-admin",
        "hostPID",
        "hostNetwork",
        "hostIPC",
        "hostPath",
    ],
)
def test_isolation_breaches_are_refused_by_the_policy(
    guarded: KubeClient, change: dict[str, Any], expected: str
) -> None:
    message = refusal(guarded, gpu_pod(OPEN, **change))

    assert f"ValidatingAdmissionPolicy '{admission.ISOLATION_POLICY}'" in message
    assert expected in message


def test_a_privileged_init_container_is_refused(guarded: KubeClient) -> None:
    pod = gpu_pod(OPEN)
    pod["spec"]["initContainers"] = [
        {"name": "setup", "image": "busybox:1.37", "securityContext": {"privileged": True}}
    ]
    assert "must not run privileged containers" in refusal(guarded, pod)


def test_pod_security_answers_first_in_tenant_namespaces(guarded: KubeClient) -> None:
    message = refusal(guarded, gpu_pod(TENANT, security={"privileged": True}))
    assert 'violates PodSecurity "restricted:latest"' in message


def test_the_gpu_operator_namespace_is_exempt(guarded: KubeClient) -> None:
    # The operator's validator requests a GPU and runs privileged with host paths; no queue label.
    pod = gpu_pod(
        OPERATOR,
        labels={},
        security={"privileged": True},
        volumes=[{"name": "run", "hostPath": {"path": "/run/nvidia"}}],
    )
    guarded.create(pod, dry_run=True)


def test_an_ephemeral_privileged_container_cannot_be_added(guarded: KubeClient) -> None:
    pod = guarded.create({**gpu_pod(OPEN), "metadata": {**gpu_pod(OPEN)["metadata"], "name": "gr-running"}})
    name = pod["metadata"]["name"]
    try:
        pod["spec"]["ephemeralContainers"] = [
            {"name": "debug", "image": "busybox:1.37", "securityContext": {"privileged": True}}
        ]
        with pytest.raises(ApiError) as refused:
            guarded.request(
                "PUT", f"/api/v1/namespaces/{OPEN}/pods/{name}/ephemeralcontainers", pod, what=f"Pod {OPEN}/{name}"
            )
        assert admission.ISOLATION_POLICY in refused.value.message
        assert "must not run privileged containers" in refused.value.message
    finally:
        guarded.delete("v1", "Pod", name, OPEN)
