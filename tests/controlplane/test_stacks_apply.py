"""Every example stack, applied for real: chart CRDs, then every object ``gpuplane render`` writes.

Each stack gets its own control plane (cluster-scoped names — tenants' ClusterQueues, flavors — are the same
across stacks, and immutable fields differ), started already serving the stack's chart CRDs
(``make_stack_control_plane``: the first control plane of a run that needs a set of CRDs applies them, the
others start from its etcd data). Server-side apply with ``fieldValidation=Strict`` runs the API server's
real schema validation, CEL rules of the CRDs, defaulting, Pod Security and admission policies; the
assertion message lists every refused object with the server's message. Objects go several at a time
within each rank of the install order (``manifests.apply_all``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.addons import admission
from tests.controlplane import manifests
from tests.controlplane.client import ApiError, KubeClient
from tests.controlplane.cluster import ControlPlane


class Applied:
    def __init__(self, stack: manifests.StackManifests, cp: ControlPlane) -> None:
        self.stack, self.cp = stack, cp
        self.objects = stack.direct
        self.crds = stack.crds
        self._charts: list[str] | None = None

    @property
    def kube(self) -> KubeClient:
        return self.cp.client

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def chart_failures(self) -> list[str]:
        """Apply every chart-rendered object once (webhooks and APIServices as a dry run: their pods never
        run here, and registered they would refuse every later matching request); the refusals."""
        if self._charts is None:
            objects = self.stack.chart_objects
            stored = [o for o in objects if o["kind"] not in manifests.LAST_KINDS]
            self._charts = manifests.apply_all(self.kube, stored)
            self._charts += [
                f
                for f in manifests.concurrently(
                    self._dry_run, [o for o in objects if o["kind"] in manifests.LAST_KINDS]
                )
                if f
            ]
        return self._charts

    def _dry_run(self, obj: dict[str, Any]) -> str:
        try:
            self.kube.apply(obj, dry_run=True)
        except ApiError as exc:
            return f"{exc.what}: {exc.message}"
        return ""


@pytest.fixture(scope="module", params=manifests.EXAMPLE_STACKS)
def applied(
    request: pytest.FixtureRequest, make_stack_control_plane: Callable[[str, list[dict[str, Any]]], ControlPlane]
) -> Iterator[Applied]:
    stack = manifests.load_stack(str(request.param))
    cp = make_stack_control_plane(f"stack-{stack.name}", stack.crds)  # fails naming every refused CRD
    failures = manifests.apply_all(cp.client, stack.direct)
    assert not failures, f"{stack.name}: objects refused by the API server:\n" + "\n".join(failures)
    yield Applied(stack, cp)
    cp.stop()


def test_every_object_is_stored_as_applied(applied: Applied) -> None:
    kube = applied.kube
    for obj in applied.objects:
        meta = obj["metadata"]
        stored = kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        for key, value in (meta.get("labels") or {}).items():
            assert stored["metadata"]["labels"].get(key) == value, f"{manifests.describe(obj)} label {key}"


def test_the_stack_installs_the_guardrails(applied: Applied) -> None:
    kube = applied.kube
    names = {o["metadata"]["name"] for o in applied.of_kind("ValidatingAdmissionPolicy")}
    assert names == {admission.ISOLATION_POLICY, admission.QUEUE_POLICY}
    for name in sorted(names):
        # kube-controller-manager type-checks the CEL expressions and reports problems in the status.
        def checked(name: str = name) -> dict[str, Any] | None:
            got = kube.get(admission.API_VERSION, "ValidatingAdmissionPolicy", name)
            status = got.get("status") or {}
            return got if status.get("observedGeneration") == got["metadata"]["generation"] else None

        policy = kube.wait_for(f"type checking of {name}", checked)
        assert "expressionWarnings" not in (policy["status"].get("typeChecking") or {}), policy["status"]
        assert policy["spec"]["failurePolicy"] == "Fail"
    for binding in applied.of_kind("ValidatingAdmissionPolicyBinding"):
        stored = kube.get(admission.API_VERSION, "ValidatingAdmissionPolicyBinding", binding["metadata"]["name"])
        assert stored["spec"]["validationActions"] == ["Deny"]


def test_tenant_namespaces_enforce_restricted_pod_security(applied: Applied) -> None:
    tenants = [o for o in applied.of_kind("Namespace") if "gpuplane.io/tenant" in o["metadata"].get("labels", {})]
    assert tenants
    for ns in tenants:
        name = ns["metadata"]["name"]
        applied.kube.wait_for(
            f"ServiceAccount {name}/default", lambda n=name: applied.kube.get("v1", "ServiceAccount", "default", n)
        )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "as-root", "namespace": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]},
        }
        with pytest.raises(ApiError) as refused:
            applied.kube.create(pod, dry_run=True)
        assert 'violates PodSecurity "restricted:latest"' in refused.value.message


def test_kueue_objects_are_defaulted_by_the_server(applied: Applied) -> None:
    for cq in applied.of_kind("ClusterQueue"):
        stored = applied.kube.get(cq["apiVersion"], "ClusterQueue", cq["metadata"]["name"])
        # stopPolicy is not set by gpuplane; the CRD's default fills it in.
        assert stored["spec"]["stopPolicy"] == "None"
        assert "stopPolicy" not in cq["spec"]


def test_a_local_queue_cannot_be_moved_to_another_cluster_queue(applied: Applied) -> None:
    queues = applied.of_kind("LocalQueue")
    cluster_queues = [c["metadata"]["name"] for c in applied.of_kind("ClusterQueue")]
    assert len(cluster_queues) >= 2
    moved = copy.deepcopy(queues[0])
    moved["spec"]["clusterQueue"] = next(c for c in cluster_queues if c != queues[0]["spec"]["clusterQueue"])

    with pytest.raises(ApiError) as refused:
        applied.kube.apply(moved, dry_run=True)

    assert "field is immutable" in refused.value.message
    assert refused.value.what == manifests.describe(moved)


def test_crd_cel_rules_are_enforced(applied: Applied) -> None:
    # Kueue's ClusterQueue CRD: a borrowingLimit needs a cohort (x-kubernetes-validations on the spec).
    cq = copy.deepcopy(applied.of_kind("ClusterQueue")[0])
    cq["spec"].pop("cohortName", None)
    for group in cq["spec"]["resourceGroups"]:
        for flavor in group["flavors"]:
            for res in flavor["resources"]:
                res["borrowingLimit"] = 1
    with pytest.raises(ApiError) as refused:
        applied.kube.apply(cq, dry_run=True)
    assert "must be nil when cohort is empty" in refused.value.message


def test_every_crd_of_the_stack_is_served(applied: Applied) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in applied.objects}
    for api_version, kind in sorted(kinds):
        applied.kube.resource(api_version, kind)  # raises when not served
    groups = {c["spec"]["group"] for c in applied.crds}
    assert {"kueue.x-k8s.io", "monitoring.coreos.com", "gateway.networking.k8s.io"} <= groups


def test_the_control_plane_holds_exactly_the_stacks_crds(applied: Applied) -> None:
    """The control plane started from a seed (see plugin.py): it must hold this stack's CRDs, byte for byte
    as the charts render them, and no other stack's (gcp-dev's seed is the base of the others')."""
    stored = applied.kube.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]

    assert sorted(c["metadata"]["name"] for c in stored) == sorted(c["metadata"]["name"] for c in applied.crds)
    by_name = {c["metadata"]["name"]: c for c in stored}
    for crd in applied.crds:
        got = by_name[crd["metadata"]["name"]]
        assert got["spec"]["group"] == crd["spec"]["group"]
        assert [v["name"] for v in got["spec"]["versions"]] == [v["name"] for v in crd["spec"]["versions"]]
        managers = {m["manager"] for m in got["metadata"].get("managedFields") or []}
        assert "gpuplane-tests" in managers  # applied by these tests, not written by anything else


def test_every_rendered_chart_object_is_accepted(applied: Applied) -> None:
    failures = applied.chart_failures()
    assert not failures, f"{applied.stack.name}: chart objects refused by the API server:\n" + "\n".join(failures)


def test_every_pod_the_platform_would_run_passes_admission(applied: Applied) -> None:
    """Each workload template (charts and direct objects) as a Pod, dry-run: Pod Security of its namespace,
    the GPU guardrails, ServiceAccount and PriorityClass admission all run on it."""
    assert not applied.chart_failures()
    refused: list[str] = []
    pods = manifests.pods_of(applied.stack.chart_objects + applied.stack.direct)
    assert pods
    for ns in sorted({p["metadata"]["namespace"] for _, p in pods}):
        applied.kube.wait_for(
            f"ServiceAccount {ns}/default", lambda ns=ns: applied.kube.get("v1", "ServiceAccount", "default", ns)
        )

    def admit(owned: tuple[str, dict[str, Any]]) -> str:
        owner, pod = owned
        try:
            applied.kube.create(pod, dry_run=True)
        except ApiError as exc:
            return f"{owner}: {exc.message}"
        return ""

    refused += [r for r in manifests.concurrently(admit, pods) if r]
    assert not refused, f"{applied.stack.name}: pods refused:\n" + "\n".join(refused)
