"""What the platform puts into a cluster, as manifests a real API server can be given, in dependency order.

- :func:`load_stack`: plans an example stack (``gpuplane plan``'s mock run, in process), takes every object
  the program creates directly — exactly what ``gpuplane render`` writes — and renders every Helm release
  with its real vendored chart and Helm 3 (:mod:`gpuplane.charts`, ``--include-crds``). Cached per process.
- :func:`install_order` and :func:`apply_all`: server-side apply (``fieldValidation=Strict``) in Helm's
  install order (namespaces, then RBAC, then workloads; custom resources after their CRDs are Established),
  collecting every refusal as ``Kind ns/name: <server message>``.
- :func:`pods_of`: the pod every rendered workload template would create, for a dry-run create that runs
  Pod Security and the admission policies on it (no kubelet or controllers start real pods here).

Upstream gotchas: webhook configurations and APIServices of the charts point at Services whose pods never
run here; registered early they would make every later create of a matching object fail (``failurePolicy:
Fail``), so :data:`LAST_KINDS` go last. Rendered Secrets carry ``[secret]`` for values; ``stringData`` takes
it, ``data`` gets its base64 (:func:`unredact`).
"""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.controlplane.client import ApiError, KubeClient, describe

EXAMPLE_STACKS = ("aws-dev", "gcp-dev", "linode-dev", "existing-dev")
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
        from gpuplane import charts, render, stackfiles
        from gpuplane.plan import plan_stack

        plan = plan_stack(stackfiles.load(stackfiles.resolve(name)))
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
def install_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    last = {kind: len(KIND_ORDER) + 1 + i for i, kind in enumerate(LAST_KINDS)}
    return sorted(objects, key=lambda o: (last.get(o["kind"], rank.get(o["kind"], len(KIND_ORDER))), describe(o)))


def wait_established(client: KubeClient, crds: Iterable[Mapping[str, Any]], timeout: float = 60.0) -> None:
    for crd in crds:
        name = crd["metadata"]["name"]

        def established(name: str = name) -> bool:
            got = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            conditions = (got.get("status") or {}).get("conditions") or []  # null right after creation
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        client.wait_for(f"CRD {name} Established", established, timeout)
    client.forget_discovery()


def apply_all(client: KubeClient, objects: Iterable[dict[str, Any]]) -> list[str]:
    """Apply every object in install order; return the refusals (``Kind ns/name: message``), empty if none."""
    failures: list[str] = []
    for obj in install_order(objects):
        try:
            client.apply(obj)
        except ApiError as exc:
            failures.append(f"{exc.what}: {exc.message}")
    return failures
