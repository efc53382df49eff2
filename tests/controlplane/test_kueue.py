"""Tier 2: the real Kueue controller (v0.19.2, built from source) admits GPU work the way the spec says.

Set-up per stack: a private control plane already serving the stack's chart CRDs (``make_stack_control_plane``);
its namespaces; Kueue started with the
platform's own manager configuration (see kueue_controller.py for the three test-only changes) and its
webhooks at a loopback URL; then every other object ``gpuplane render`` writes, through those webhooks; fake
GPU Nodes per pool (``nvidia.com/gpu`` capacity, the pool's labels and taints). No kubelet or scheduler:
Kueue admits by quota, and what it changes on an admitted Job (unsuspend, node selector, tolerations) is
visible on the Job itself.

The behaviour tests use ``existing-dev``: pools ``lab-l4`` (2 nodes x 2 L4) and ``lab-a100`` (1 node x 4
A100), tenants ``search`` and ``research`` with 2 + 2 GPUs of each model, borrowing on (limit 2, lending 2).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import guardrails
from tests.controlplane import manifests
from tests.controlplane.client import KubeClient
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.kueue_controller import KUEUE_VERSION, Kueue, start_kueue

pytestmark = pytest.mark.tier2

KUEUE_API = "kueue.x-k8s.io/v1beta2"
LAB = "existing-dev"
_names = itertools.count()


class KueueCluster:
    def __init__(self, stack: str, cp: ControlPlane, kueue: Kueue, objects: list[dict[str, Any]]) -> None:
        self.stack, self.cp, self.kueue, self.objects = stack, cp, kueue, objects

    @property
    def kube(self) -> KubeClient:
        return self.cp.client

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def stop(self) -> None:
        self.kueue.stop()
        self.cp.stop()


MakeStackControlPlane = Callable[[str, list[dict[str, Any]]], ControlPlane]


@pytest.fixture(scope="module")
def kueue_clusters(make_stack_control_plane: MakeStackControlPlane) -> Iterator[Callable[[str], KueueCluster]]:
    started: dict[str, KueueCluster] = {}

    def get(stack: str) -> KueueCluster:
        if stack not in started:
            started[stack] = _start(stack, make_stack_control_plane)
        return started[stack]

    yield get
    for cluster in started.values():
        cluster.stop()


def _start(stack: str, make_stack_control_plane: MakeStackControlPlane) -> KueueCluster:
    manifest = manifests.load_stack(stack)
    objects = manifest.direct
    cp = make_stack_control_plane(f"kueue-{stack}", manifest.crds)  # fails naming every refused CRD
    kube = cp.client
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert not manifests.apply_all(kube, namespaces)
    kueue = start_kueue(cp, manifest.values["kueue"])
    failures = manifests.apply_all(kube, [o for o in objects if o["kind"] != "Namespace"])
    assert not failures, "\n".join(failures)
    _fake_gpu_nodes(kube, [o for o in objects if o["kind"] == "ResourceFlavor"], stack)
    return KueueCluster(stack, cp, kueue, objects)


def _fake_gpu_nodes(kube: KubeClient, flavors: list[dict[str, Any]], stack: str) -> None:
    """Node objects for every pool: the flavor's labels (= the pool's) and taints, nvidia.com/gpu capacity."""
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "stacks" / f"Pulumi.{stack}.yaml").read_text())[
        "config"
    ]
    pools = {p["name"]: p for p in config["gpuplane:gpuPools"]}
    for flavor in flavors:
        pool = pools[flavor["metadata"]["name"]]
        for i in range(int(pool["maxNodes"])):
            name = f"{pool['name']}-{i}"
            taints = [
                {"key": t["key"], "value": t.get("value", ""), "effect": t["effect"]}
                for t in (flavor["spec"].get("tolerations") or [])
            ]
            kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "labels": {**flavor["spec"]["nodeLabels"], "kubernetes.io/hostname": name},
                    },
                    "spec": {"taints": [{**t, "value": "present"} for t in taints]},
                }
            )
            capacity = {
                guardrails.GPU_RESOURCES[0]: str(pool.get("gpusPerNode", 1)),
                "cpu": "32",
                "memory": "256Gi",
                "pods": "110",
            }
            kube.request(
                "PATCH",
                f"/api/v1/nodes/{name}/status",
                {"status": {"capacity": capacity, "allocatable": capacity}},
                content_type="application/merge-patch+json",
            )


@pytest.fixture(scope="module")
def lab(kueue_clusters: Callable[[str], KueueCluster]) -> KueueCluster:
    return kueue_clusters(LAB)


def gpu_job(namespace: str, gpus: int, pool: str | None, *, queue: str | None = "default") -> dict[str, Any]:
    name = f"train-{next(_names)}"
    labels = {} if queue is None else {guardrails.QUEUE_LABEL: queue}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "trainer",
                "image": "nvcr.io/nvidia/pytorch:25.01-py3",
                "resources": {"limits": {"nvidia.com/gpu": gpus}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }
        ],
    }
    if pool:
        pod_spec["nodeSelector"] = {"gpuplane.io/pool": pool}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"suspend": True, "parallelism": 1, "completions": 1, "template": {"spec": pod_spec}},
    }


def workload_of(kube: KubeClient, job: dict[str, Any]) -> dict[str, Any] | None:
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    for wl in kube.list(KUEUE_API, "Workload", ns):
        if any(o.get("kind") == "Job" and o.get("name") == name for o in wl["metadata"].get("ownerReferences", [])):
            return wl
    return None


def condition(wl: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if wl is None:
        return None
    return next((c for c in (wl.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def admitted(kube: KubeClient, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        wl = workload_of(kube, job)
        c = condition(wl, "Admitted")
        return wl if c and c["status"] == "True" else None

    return kube.wait_for(f"Job {job['metadata']['name']} admitted", probe, timeout)


def flavor_of(wl: dict[str, Any]) -> str:
    return wl["status"]["admission"]["podSetAssignments"][0]["flavors"]["nvidia.com/gpu"]


@pytest.fixture
def jobs(lab: KueueCluster) -> Iterator[list[dict[str, Any]]]:
    """Jobs a test submits; deleted afterwards, and the quota they held released, before the next test."""
    created: list[dict[str, Any]] = []
    yield created
    kube = lab.kube
    for job in created:
        kube.request(
            "DELETE",
            f"/apis/batch/v1/namespaces/{job['metadata']['namespace']}/jobs/{job['metadata']['name']}",
            {"propagationPolicy": "Foreground"},
        )

    def released() -> bool:
        for cq in lab.of_kind("ClusterQueue"):
            status = kube.get(KUEUE_API, "ClusterQueue", cq["metadata"]["name"]).get("status") or {}
            if status.get("reservingWorkloads", 0) or status.get("pendingWorkloads", 0):
                return False
        return True

    kube.wait_for("every ClusterQueue empty again", released, timeout=60)


def submit(lab: KueueCluster, jobs: list[dict[str, Any]], job: dict[str, Any]) -> dict[str, Any]:
    jobs.append(job)
    return lab.kube.create(job)


# -- tests (the queue test first: it starts gcp-dev, whose CRDs seed the other stacks', see plugin.py) --
@pytest.mark.parametrize("stack", manifests.EXAMPLE_STACKS)
def test_every_queue_of_the_stack_becomes_active(stack: str, kueue_clusters: Callable[[str], KueueCluster]) -> None:
    cluster = kueue_clusters(stack)
    kube = cluster.kube
    queues = cluster.of_kind("ClusterQueue") + cluster.of_kind("LocalQueue")
    assert cluster.of_kind("ClusterQueue")
    assert cluster.of_kind("LocalQueue")
    for q in queues:
        meta = q["metadata"]

        def active(q: dict[str, Any] = q, meta: dict[str, Any] = meta) -> bool:
            got = kube.get(q["apiVersion"], q["kind"], meta["name"], meta.get("namespace"))
            c = condition(got, "Active")
            return bool(c and c["status"] == "True")

        kube.wait_for(f"{manifests.describe(q)} Active", active, timeout=60)
    if stack != LAB:
        cluster.stop()


def test_the_kueue_that_ran_is_the_pinned_release(lab: KueueCluster) -> None:
    log = (lab.cp.logs / "kueue.log").read_text()
    assert lab.kueue.version == KUEUE_VERSION == "v0.19.2"
    assert f'"gitVersion":"{KUEUE_VERSION}"' in log.replace(" ", "")


def test_a_job_is_admitted_to_the_flavor_of_the_pool_it_selects(lab: KueueCluster, jobs: list[dict[str, Any]]) -> None:
    kube = lab.kube
    a100 = submit(lab, jobs, gpu_job("search", 1, "lab-a100"))
    l4 = submit(lab, jobs, gpu_job("search", 1, "lab-l4"))

    assert flavor_of(admitted(kube, a100)) == "lab-a100"
    assert flavor_of(admitted(kube, l4)) == "lab-l4"

    for job, labels in ((a100, {"gpuplane.io/gpu": "nvidia-a100-80gb"}), (l4, {"node-role.example.com/gpu": "l4"})):
        started = kube.wait_for(
            "job unsuspended",
            lambda job=job: (
                (j := kube.get("batch/v1", "Job", job["metadata"]["name"], job["metadata"]["namespace"]))["spec"][
                    "suspend"
                ]
                is False
                and j
            ),
        )
        template = started["spec"]["template"]["spec"]
        for key, value in labels.items():
            assert template["nodeSelector"][key] == value
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in template["tolerations"]


def test_a_job_without_a_queue_label_lands_in_the_tenants_default_queue(
    lab: KueueCluster, jobs: list[dict[str, Any]]
) -> None:
    job = submit(lab, jobs, gpu_job("research", 1, "lab-a100", queue=None))

    wl = admitted(lab.kube, job)

    assert wl["spec"]["queueName"] == "default"
    assert wl["status"]["admission"]["clusterQueue"] == "research"


def test_over_quota_stays_pending(lab: KueueCluster, jobs: list[dict[str, Any]]) -> None:
    # 2 nominal + 2 borrowable L4s: five can never be admitted for `search`.
    job = submit(lab, jobs, gpu_job("search", 5, "lab-l4"))

    def pending() -> dict[str, Any] | None:
        c = condition(workload_of(lab.kube, job), "QuotaReserved")
        return c if c and c["status"] == "False" and c.get("message") else None

    reason = lab.kube.wait_for("the workload to be evaluated", pending)
    assert "insufficient quota" in reason["message"] or "couldn't assign flavors" in reason["message"], reason
    assert (
        condition(workload_of(lab.kube, job), "Admitted") is None
        or (condition(workload_of(lab.kube, job), "Admitted") or {}).get("status") != "True"
    )
    suspended = lab.kube.get("batch/v1", "Job", job["metadata"]["name"], "search")
    assert suspended["spec"]["suspend"] is True


def test_borrowing_within_the_cohort_then_reclaim_by_the_lender(lab: KueueCluster, jobs: list[dict[str, Any]]) -> None:
    kube = lab.kube
    borrower = submit(lab, jobs, gpu_job("search", 4, "lab-l4"))
    admitted(kube, borrower)

    def l4_usage() -> tuple[str, str] | None:
        # The ClusterQueue's status is updated asynchronously after admission.
        usage = (kube.get(KUEUE_API, "ClusterQueue", "search").get("status") or {}).get("flavorsUsage") or []
        l4 = next((f for f in usage if f["name"] == "lab-l4"), None)
        got = None if l4 is None else (str(l4["resources"][0]["total"]), str(l4["resources"][0].get("borrowed", "0")))
        return got if got == ("4", "2") else None

    assert kube.wait_for("search's L4 usage: 4 GPUs, 2 of them borrowed", l4_usage) == ("4", "2")

    # The lender wants its nominal quota back: the borrower is preempted (reclaimWithinCohort: Any).
    lender = submit(lab, jobs, gpu_job("research", 2, "lab-l4"))
    assert flavor_of(admitted(kube, lender, timeout=90)) == "lab-l4"

    def preempted() -> dict[str, Any] | None:
        c = condition(workload_of(kube, borrower), "Preempted")
        return c if c and c["status"] == "True" else None

    reason = kube.wait_for("the borrower to be preempted", preempted)
    assert reason["reason"] in {"InCohortReclamation", "InCohortFairSharing"}, reason
