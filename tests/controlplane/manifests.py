"""What the platform puts into a cluster, as manifests a real API server can be given, in dependency order.

- :func:`load_stack`: plans an example stack (``gpuplane plan``'s mock run, in process, through
  ``tests.support.example_plan``: once per test process for every package), takes every object
  the program creates directly — exactly what ``gpuplane render`` writes — and renders every Helm release
  with its real vendored chart and Helm 3 (:mod:`gpuplane.charts`, ``--include-crds``). Cached per process.
- :func:`install_order` and :func:`apply_all`: server-side apply (``fieldValidation=Strict``) in Helm's
  install order (namespaces, then RBAC, then workloads; custom resources after their CRDs are Established),
  collecting every refusal as ``Kind ns/name: <server message>``. Objects of one rank of that order go
  :data:`CONCURRENCY` at a time (nothing within a rank depends on another), ranks strictly one after the
  other (the API server has 2 cores and answers each request in 15-50 ms of mostly its own CPU; eight in
  flight keep both cores busy). CRDs are the exception: however they are sent, the API server's CRD
  controllers need 15-20 s (about as many CPU-seconds) to store and establish a stack's 57, which is why
  the fixtures seed control planes with them (``plugin.make_stack_control_plane``).
- :func:`crd_set_key` and :func:`wait_established`: which CRDs a control plane was seeded with, and the wait
  for them: API discovery polled until it serves every CRD, then one LIST to check the stored ``Established``
  conditions (a GET per CRD per look re-encoded ~130 kB each: 2 s per look at 57 CRDs).
- :func:`pods_of`: the pod every rendered workload template would create, for a dry-run create that runs
  Pod Security and the admission policies on it (no kubelet or controllers start real pods here).

Upstream gotchas: webhook configurations and APIServices of the charts point at Services whose pods never
run here; registered early they would make every later create of a matching object fail (``failurePolicy:
Fail``), so :data:`LAST_KINDS` go last. Rendered Secrets carry ``[secret]`` for values; ``stringData`` takes
it, ``data`` gets its base64 (:func:`unredact`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.controlplane.client import ApiError, KubeClient, describe

EXAMPLE_STACKS = ("gcp-dev", "aws-dev", "linode-dev", "existing-dev")
"""gcp-dev first: its CRDs are a subset of the others', so the others' control-plane seed is built on its
(``plugin._crd_seed``)."""
REDACTED = "[secret]"

# Helm's install order (pkg/release/util/kind_sorter.go), plus the admission kinds and custom resources.
KIND_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
    "DaemonSet", "Pod", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    # custom resources: Kueue's in reference order, then the rest
    "ResourceFlavor", "Cohort", "WorkloadPriorityClass", "ClusterQueue", "LocalQueue",
)  # fmt: skip
LAST_KINDS = ("APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
CONCURRENCY = 8
"""Requests in flight at once (each on its own connection through the control plane's socket)."""
CRD_API = "apiextensions.k8s.io/v1"

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class StackManifests:
    name: str
    kubernetes_version: str
    direct: list[dict[str, Any]]
    """What the program creates itself (= ``gpuplane render``'s object files), secrets redacted."""
    charts: dict[str, list[dict[str, Any]]]
    """Helm release name -> every object its chart renders (CRDs included)."""
    values: dict[str, dict[str, Any]]
    """Helm release name -> the values it gets (secrets redacted)."""

    @property
    def crds(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for obj in itertools.chain(*self.charts.values(), self.direct):
            if obj["kind"] == "CustomResourceDefinition":
                seen.setdefault(obj["metadata"]["name"], obj)
        return list(seen.values())

    @property
    def chart_objects(self) -> list[dict[str, Any]]:
        return [o for o in itertools.chain(*self.charts.values()) if o["kind"] != "CustomResourceDefinition"]


_STACKS: dict[str, StackManifests] = {}


def load_stack(name: str) -> StackManifests:
    if name not in _STACKS:
        from gpuplane import charts, render
        from tests.support import example_plan

        plan = example_plan(name)  # planned once per test process, shared with every other test package
        if plan.spec is None:
            raise AssertionError(f"{name}: the stack does not plan: {plan.errors}")
        direct = [unredact(copy.deepcopy(o)) for o in render.kubernetes_objects(plan.recording)]
        releases = charts.render_stack(plan.recording, plan.spec.kubernetes_version, direct)
        _STACKS[name] = StackManifests(
            name,
            plan.spec.kubernetes_version,
            direct,
            {r.release.name: [unredact(copy.deepcopy(o)) for o in r.objects] for r in releases},
            {r.release.name: dict(r.release.values) for r in releases},
        )
    return _STACKS[name]


def unredact(obj: dict[str, Any]) -> dict[str, Any]:
    """Make a rendered Secret appliable: ``data`` must be base64, so ``[secret]`` becomes its encoding."""
    if obj.get("kind") == "Secret" and isinstance(obj.get("data"), dict):
        obj["data"] = {
            k: base64.b64encode(REDACTED.encode()).decode() if v == REDACTED else v for k, v in obj["data"].items()
        }
    return obj


def pods_of(objects: Iterable[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(``Kind ns/name``, the Pod its template makes) for every workload object."""
    found: list[tuple[str, dict[str, Any]]] = []
    for obj in objects:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        template = (
            obj["spec"]["template"] if obj["kind"] != "CronJob" else obj["spec"]["jobTemplate"]["spec"]["template"]
        )
        meta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{obj['metadata']['name']}-",
                "namespace": obj["metadata"].get("namespace", "default"),
                "labels": meta.get("labels") or {},
                "annotations": meta.get("annotations") or {},
            },
            "spec": copy.deepcopy(template["spec"]),
        }
        if obj["kind"] == "StatefulSet":
            # The StatefulSet controller adds one PVC volume per claim template to each pod it creates.
            claims = [
                {"name": t["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{t['metadata']['name']}-x-0"}}
                for t in obj["spec"].get("volumeClaimTemplates") or []
            ]
            pod["spec"]["volumes"] = [*pod["spec"].get("volumes", []), *claims]
        found.append((describe(obj), pod))
    return found


# -- apply -------------------------------------------------------------------------------------------
_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
_LAST = {kind: len(KIND_ORDER) + 1 + i for i, kind in enumerate(LAST_KINDS)}


def install_rank(obj: Mapping[str, Any]) -> int:
    """The object's place in Helm's install order; custom resources not named in KIND_ORDER share one."""
    return _LAST.get(obj["kind"], _RANK.get(obj["kind"], len(KIND_ORDER)))


def install_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=lambda o: (install_rank(o), describe(o)))


def concurrently(fn: Callable[[_T], _R], items: Sequence[_T], concurrency: int = CONCURRENCY) -> list[_R]:
    """``[fn(item) for item in items]`` with up to ``concurrency`` calls in flight; results in input order."""
    if len(items) <= 1 or concurrency <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(concurrency, len(items))) as pool:
        return list(pool.map(fn, items))


def crd_digests(crds: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """CRD name -> sha256 of its content (canonical JSON)."""
    return {
        c["metadata"]["name"]: hashlib.sha256(json.dumps(c, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        for c in crds
    }


def crd_set_key(crds: Iterable[Mapping[str, Any]]) -> str:
    """A digest of exactly these CRDs (content, not just names): control planes seeded with the same key
    hold byte-identical CRDs."""
    listing = json.dumps(sorted(crd_digests(crds).items()))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []  # null right after creation
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def wait_established(client: KubeClient, crds: Sequence[Mapping[str, Any]], timeout: float = 60.0) -> None:
    """Wait until every CRD in ``crds`` is served (:func:`wait_served`) and stored with ``Established: True``;
    a timeout names the CRDs still missing. Discovery is what is polled: it lists a CRD only once the API
    server's informer has seen it Established (apiextensions-apiserver v0.36.3,
    ``pkg/apiserver/customresource_discovery_controller.go`` ``sync``), and its documents are small, while a
    LIST of 57 CRDs is ~15 MB the API server would re-encode on every look."""
    wait_served(client, crds, timeout)
    pending = {crd["metadata"]["name"] for crd in crds}
    deadline = time.monotonic() + timeout
    while True:
        # resourceVersion=0: from the watch cache (0.3 s for 57 CRDs instead of 0.9 s from etcd). It may lag;
        # a lagging answer shows fewer Established, never more (the condition does not go back), so look again.
        items = client.request(
            "GET", f"/apis/{CRD_API}/customresourcedefinitions", what="list CRDs", query={"resourceVersion": "0"}
        )["items"]
        pending -= {i["metadata"]["name"] for i in items if _established(i)}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout}s: {', '.join(sorted(pending))}")
        time.sleep(0.5)


def wait_served(client: KubeClient, crds: Iterable[Mapping[str, Any]], timeout: float = 60.0) -> None:
    """Wait until API discovery lists every served version of every CRD (what a client resolves kinds by)."""
    wanted: dict[str, set[str]] = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                wanted.setdefault(f"{spec['group']}/{version['name']}", set()).add(spec["names"]["plural"])

    def missing() -> list[str]:
        out: list[str] = []
        for group_version, plurals in sorted(wanted.items()):
            try:
                listed = {r["name"] for r in client.request("GET", f"/apis/{group_version}").get("resources", [])}
            except ApiError:
                listed = set()
            out.extend(f"{p}.{group_version}" for p in sorted(plurals - listed))
        return out

    deadline = time.monotonic() + timeout
    while left := missing():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not served after {timeout}s: {', '.join(left)}")
        time.sleep(0.1)
    client.forget_discovery()


def apply_all(client: KubeClient, objects: Iterable[dict[str, Any]], concurrency: int = CONCURRENCY) -> list[str]:
    """Apply every object in install order, each rank's objects concurrently; return the refusals
    (``Kind ns/name: message``, in install order), empty if none."""
    failures: list[str] = []
    for _, group in itertools.groupby(install_order(objects), key=install_rank):
        batch = list(group)
        for kind in {(o["apiVersion"], o["kind"]) for o in batch}:
            with contextlib.suppress(ApiError):  # apply raises it again, naming each object
                client.resource(*kind)  # discovery once per kind, before the threads share the cache
        failures.extend(f for f in concurrently(lambda o: _apply(client, o), batch, concurrency) if f)
    return failures


def _apply(client: KubeClient, obj: Mapping[str, Any]) -> str:
    try:
        client.apply(obj)
    except ApiError as exc:
        return f"{exc.what}: {exc.message}"
    return ""
