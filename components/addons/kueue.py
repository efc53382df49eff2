"""Kueue, generated from the GPU pools and tenants: one quota system for inference and training.

What it builds (children of the component, named ``f"{name}-{role}"``, all through the cluster's
Kubernetes provider and ``deleted_with`` the native cluster):

- ``{name}-namespace``: ``kueue-system``, Pod Security ``restricted``.
- ``{name}-release``: the Kueue chart as a ``helm.v3.Release`` named ``kueue`` (pin:
  ``versions.KUEUE``), controller image pinned (``versions.KUEUE_CONTROLLER``), controller on the
  system pool, two replicas and a PodDisruptionBudget when ``spec.production``. The Kueue
  configuration (``managerConfig.controllerManagerConfigYaml``) is upstream's default for 0.19.2 plus:
  ``waitForPodsReady`` (all-or-nothing admission: a workload whose pods are not all ready within
  ``spec.kueue.pods_ready_timeout_minutes`` is evicted and requeued with backoff), ``fairSharing``
  (preemption-based fair sharing between the tenants' ClusterQueues, weighted by ``tenant.weight``),
  ``metrics.enableClusterQueueResources`` (quota, usage, borrowing per tenant and flavor),
  ``resources.excludeResourcePrefixes`` (only GPUs are under quota; see below) and
  ``managedJobsNamespaceSelector`` (pod-based integrations act only in tenant namespaces).
  Integrations: upstream's default list, which holds every kind the platform's workloads use
  (``batch/job``, ``jobset.x-k8s.io/jobset``, ``leaderworkerset.x-k8s.io/leaderworkerset``,
  ``pod``, ``deployment``, ``statefulset``).
- ``{name}-flavor-{pool}``: one ``ResourceFlavor`` per GPU pool, named after the pool, with exactly
  the pool's node labels (``spec.nodeLabels``) and the tolerations of the pool's taints
  (``spec.tolerations``), both taken from the cluster's :class:`GpuPoolScheduling`.
- ``{name}-cohort``: the ``Cohort`` ``spec.kueue.cohort``. With borrowing on it holds the GPU units
  no tenant has nominal quota for, so idle capacity is borrowable instead of unreachable.
- per tenant: ``{name}-tenant-{tenant}`` (a Namespace named after the tenant, Pod Security
  ``restricted``, labelled ``gpuplane.io/tenant``), ``{name}-cluster-queue-{tenant}`` (ClusterQueue
  ``<tenant>`` in the cohort, selecting only that namespace) and ``{name}-local-queue-{tenant}``
  (LocalQueue ``default`` in the namespace; Kueue puts jobs without a queue label into the
  LocalQueue named ``default``).
- ``{name}-priority-inference`` / ``{name}-priority-batch``: WorkloadPriorityClasses ``inference``
  (1000) and ``batch`` (100). Workloads naming neither get priority 0.
- Only with a :class:`MonitoringHook`: ``{name}-service-monitor`` scrapes the controller's HTTPS
  metrics endpoint and carries the hook's selector labels; it authenticates as
  ``{name}-metrics-reader`` (ServiceAccount ``gpuplane-metrics-reader`` in ``kueue-system``, no
  automounted token), allowed nothing but ``get /metrics`` by ``{name}-metrics-reader-role`` /
  ``{name}-metrics-reader-binding`` (ClusterRole/Binding ``gpuplane-kueue-metrics-reader``), with
  the token from ``{name}-metrics-reader-token`` (a ``kubernetes.io/service-account-token`` Secret).

Quota rules (docs/decisions/kueue-queues.md):

- A tenant's quota for a GPU model is split across the pools of that model in proportion to each
  pool's maximum ``nvidia.com/gpu`` units (largest remainder; ties go to the pool declared first),
  never above what a pool still has after the tenants listed before it. The spec already rejects
  quotas above the pools' capacity (``components.spec._quota_problems``).
- Borrowing on: every ClusterQueue lists every GPU pool (0 nominal where the tenant has no quota),
  may borrow up to the whole pool (``borrowingLimit = pool units - nominal``) and lends all of its
  idle quota (``lendingLimit = nominal``); lenders reclaim with preemption (``reclaimWithinCohort:
  Any``). Borrowing off: only pools with quota are listed and both limits are 0.

Upstream gotchas:

- The release must be named ``kueue`` or the internal certificates break (kubernetes-sigs/kueue#6866).
  The chart has no Helm hooks; it is a ``helm.v3.Release`` like every other add-on (one install path).
- Config API ``config.kueue.x-k8s.io/v1beta2`` has no ``enable`` fields: ``fairSharing`` and
  ``waitForPodsReady`` are on when present (kubernetes-sigs/kueue#5032, #7584).
- ``preemption.borrowWithinCohort`` is a no-op with fair sharing and may become invalid
  (kubernetes-sigs/kueue#3779, #4165, #4298): it is always ``Never`` here.
- Resources a workload requests that its ClusterQueue does not cover make it inadmissible
  ("resource cpu unavailable in ClusterQueue", kubernetes-sigs/kueue#4848). Tenants have GPU quotas
  only, so cpu, memory, ephemeral storage and hugepages are excluded from quota accounting.
- Flavor ``nodeTaints`` would make every workload carry its own toleration (Kueue adds tolerations
  only from ``spec.tolerations``); a flavor whose labels/tolerations drift from the pool leaves
  workloads Pending (redhat-appstudio/infra-deployments#14074).
- The chart's own ServiceMonitor (``enablePrometheus``) cannot carry extra labels and binds RBAC to a
  ``prometheus-k8s`` service account kube-prometheus-stack does not have, so it stays off and this
  component writes the ServiceMonitor. Kueue serves metrics over HTTPS with a self-signed certificate
  (internal cert management), hence ``insecureSkipVerify``, behind controller-runtime's
  ``WithAuthenticationAndAuthorization`` filter: a bearer token (TokenReview) whose identity may
  ``get`` the non-resource URL ``/metrics`` (SubjectAccessReview).
- Scrape credentials: ``bearerTokenFile`` (Prometheus' own projected token) is deprecated in
  prometheus-operator (0.73+ logs "'bearerTokenFile' is deprecated, use 'authorization' instead";
  kube-prometheus-stack 88.5.3 ships 0.93.1) and is refused where ``arbitraryFSAccessThroughSMs``
  denies file access. The pinned ServiceMonitor CRD's ``authorization`` takes only ``type`` and
  ``credentials`` (a key of a Secret in the ServiceMonitor's namespace; no ``credentialsFile``), so the
  token must be in a Secret in ``kueue-system``. A token Secret must sit in its ServiceAccount's
  namespace, so it belongs to a dedicated account there rather than to Prometheus' (which lives in
  ``monitoring`` and is named after the observability release). Trade-off: the token does not expire
  (a legacy-style token, not a bound projected one), but it can only read Kueue's metrics, and with
  ``insecureSkipVerify`` a broad Prometheus token is exactly what should not be sent. It no longer
  depends on the Prometheus ClusterRole either (formerly broken by ``prometheus.rbac.namespaced``).
- Custom resources depend on the release (CRDs and webhooks first); on an existing cluster, preview
  can fail for custom resources whose CRDs the same ``up`` installs (pulumi/pulumi-kubernetes#3035).

``spec.kueue.enabled = false`` is handled by ``GpuPlatform`` not constructing this component.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.addons.base import (
    MANAGED_BY,
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    custom_resource,
    helm_release,
    namespace,
)
from components.clusters.contract import GpuPoolScheduling
from components.spec import GPU_RESOURCE, GpuPool, PlatformSpec
from components.versions import KUEUE, KUEUE_CONTROLLER

API_VERSION = "kueue.x-k8s.io/v1beta2"
CONFIG_API_VERSION = "config.kueue.x-k8s.io/v1beta2"
NAMESPACE = "kueue-system"
LOCAL_QUEUE = "default"
"""Kueue assigns jobs without a ``kueue.x-k8s.io/queue-name`` label to the LocalQueue named ``default``."""
TENANT_LABEL = "gpuplane.io/tenant"
METRICS_SERVICE_SELECTOR = {
    "app.kubernetes.io/name": "kueue",
    "app.kubernetes.io/instance": "kueue",
    "app.kubernetes.io/component": "metrics-service",
}
"""The labels the kueue 0.19.2 chart renders on its metrics Service (templates/_helpers.tpl
``kueue.metricsService.labels``: the chart's common labels plus ``component: metrics-service``). The
chart's values.yaml documents ``metricsService.labels`` ("metricsService's labels") but no template
reads it: labels set there are silently dropped, which is how an earlier selector
(``gpuplane.io/metrics: kueue``) matched no Service (tests/charts renders the real templates)."""
REQUEUE_LIMIT = 3
"""Evictions for missing the PodsReady deadline after which Kueue deactivates a workload (no evict loop)."""
METRICS_READER = "gpuplane-metrics-reader"
"""ServiceAccount (in :data:`NAMESPACE`) whose token Prometheus presents to Kueue's metrics endpoint."""
METRICS_READER_TOKEN = f"{METRICS_READER}-token"
"""Its ``kubernetes.io/service-account-token`` Secret (same namespace as the ServiceMonitor)."""
METRICS_READER_ROLE = "gpuplane-kueue-metrics-reader"
"""ClusterRole/ClusterRoleBinding name (the chart already owns ``kueue-metrics-reader``)."""
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PRIORITIES: Mapping[str, tuple[int, str]] = {
    "inference": (1000, "Serving: admitted first, preempts batch work of the same tenant."),
    "batch": (100, "Training and batch jobs: preemptible by inference of the same tenant."),
}
FAIR_SHARING_STRATEGIES = ("LessThanOrEqualToFinalShare", "LessThanInitialShare")
EXCLUDED_RESOURCE_PREFIXES = ("cpu", "memory", "ephemeral-storage", "hugepages-")
REQUIRED_FRAMEWORKS = (
    "batch/job",
    "jobset.x-k8s.io/jobset",
    "leaderworkerset.x-k8s.io/leaderworkerset",
    "pod",
    "deployment",
    "statefulset",
)
"""The integrations the platform's workloads use (training jobs, gangs, multi-host and plain inference)."""
# Upstream's default integrations for the pinned chart (charts/kueue/values.yaml at v0.19.2).
DEFAULT_FRAMEWORKS = (
    "batch/job",
    "kubeflow.org/mpijob",
    "ray.io/rayjob",
    "ray.io/rayservice",
    "ray.io/raycluster",
    "jobset.x-k8s.io/jobset",
    "workload.codeflare.dev/appwrapper",
    "trainer.kubeflow.org/trainjob",
    "pod",
    "deployment",
    "statefulset",
    "leaderworkerset.x-k8s.io/leaderworkerset",
)


@dataclass(frozen=True, kw_only=True)
class KueueArgs:
    """``scope``: the cluster; ``monitoring``: where to plug the ServiceMonitor (``None``: no scraping);
    ``after``: releases whose CRDs Kueue's integrations need at start-up (JobSet, LeaderWorkerSet):
    Kueue enables an integration only if its CRD exists when the controller starts."""

    scope: AddonScope
    monitoring: MonitoringHook | None = None
    after: Sequence[pulumi.Resource] = ()

    def __post_init__(self) -> None:
        spec = self.scope.spec
        if not spec.kueue.enabled:
            raise ValueError("scope.spec.kueue.enabled: Kueue is disabled; GpuPlatform must not build KueueAddon")
        declared = [p.name for p in spec.gpu_pools]
        scheduled = [p.name for p in self.scope.gpu_pools]
        if declared != scheduled:
            raise ValueError(f"scope.gpu_pools: cluster pools {scheduled} differ from the spec's {declared}")
        # Tenant names that clash with platform namespaces, more than 8 taints per pool (a flavor's
        # toleration limit) and more than 64 pools (flavors per quota) are rejected by the spec.


class KubernetesObject(pulumi.CustomResource):
    """A custom resource with fields outside ``spec`` (WorkloadPriorityClass has top-level ``value``).

    ``k8s.apiextensions.CustomResource`` in the Python SDK takes only ``spec``
    (pulumi/pulumi-kubernetes#2363); this registers the whole object under the same type token
    (``kubernetes:<apiVersion>:<kind>``) the SDK uses, so the provider sees exactly the manifest.
    """

    def __init__(self, resource_name: str, obj: Mapping[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(f"kubernetes:{obj['apiVersion']}:{obj['kind']}", resource_name, dict(obj), opts)


class KueueAddon(pulumi.ComponentResource):
    """Kueue with flavors per GPU pool and a ClusterQueue, namespace and LocalQueue per tenant."""

    namespace: k8s.core.v1.Namespace
    """``kueue-system``."""
    release: k8s.helm.v3.Release
    """The Helm release ``kueue`` (installs the CRDs and webhooks every custom resource here needs)."""
    flavors: dict[str, k8s.apiextensions.CustomResource]
    """GPU pool name -> its ResourceFlavor (same name)."""
    cohort: k8s.apiextensions.CustomResource
    """The tenants' shared Cohort."""
    cluster_queues: dict[str, k8s.apiextensions.CustomResource]
    """Tenant name -> its ClusterQueue (same name)."""
    tenant_namespaces: dict[str, k8s.core.v1.Namespace]
    """Tenant name -> its Namespace (same name)."""
    local_queues: dict[str, str]
    """Tenant name -> the LocalQueue name its workloads use (in the tenant's namespace)."""
    local_queue_resources: dict[str, k8s.apiextensions.CustomResource]
    """Tenant name -> its LocalQueue resource."""
    priority_classes: dict[str, KubernetesObject]
    """``inference`` / ``batch`` -> WorkloadPriorityClass."""
    service_monitor: k8s.apiextensions.CustomResource | None
    """The ServiceMonitor scraping Kueue's metrics (only with a MonitoringHook)."""

    def __init__(self, name: str, args: KueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:KueueAddon", name, None, opts)
        scope = args.scope
        spec = scope.spec
        self.namespace = namespace(f"{name}-namespace", NamespaceSpec(name=NAMESPACE), scope, self)
        self.release = helm_release(
            f"{name}-release",
            KUEUE,
            namespace=NAMESPACE,
            values=chart_values(spec),
            scope=scope,
            parent=self,
            depends_on=[self.namespace, *args.after],
        )
        crds = [self.release]
        self.flavors = {
            pool.name: custom_resource(
                f"{name}-flavor-{pool.name}",
                api_version=API_VERSION,
                kind="ResourceFlavor",
                metadata={"name": pool.name, "labels": dict(MANAGED_BY)},
                spec=flavor_spec(pool),
                opts=scope.opts(self, crds),
            )
            for pool in scope.gpu_pools
        }
        allocation = split_quotas(spec)
        self.cohort = custom_resource(
            f"{name}-cohort",
            api_version=API_VERSION,
            kind="Cohort",
            metadata={"name": spec.kueue.cohort, "labels": dict(MANAGED_BY)},
            spec=cohort_spec(spec, allocation),
            opts=scope.opts(self, [*crds, *self.flavors.values()]),
        )
        self.priority_classes = {
            priority: KubernetesObject(
                f"{name}-priority-{priority}",
                {
                    "apiVersion": API_VERSION,
                    "kind": "WorkloadPriorityClass",
                    "metadata": {"name": priority, "labels": dict(MANAGED_BY)},
                    "value": value,
                    "description": description,
                },
                scope.opts(self, crds),
            )
            for priority, (value, description) in PRIORITIES.items()
        }
        self.tenant_namespaces = {}
        self.cluster_queues = {}
        self.local_queues = {}
        self.local_queue_resources = {}
        for tenant in spec.tenants:
            ns = namespace(
                f"{name}-tenant-{tenant.name}",
                NamespaceSpec(name=tenant.name, labels={TENANT_LABEL: tenant.name}),
                scope,
                self,
            )
            queue = custom_resource(
                f"{name}-cluster-queue-{tenant.name}",
                api_version=API_VERSION,
                kind="ClusterQueue",
                metadata={"name": tenant.name, "labels": {**MANAGED_BY, TENANT_LABEL: tenant.name}},
                spec=cluster_queue_spec(spec, tenant.name, allocation),
                opts=scope.opts(self, [*crds, *self.flavors.values(), self.cohort]),
            )
            self.tenant_namespaces[tenant.name] = ns
            self.cluster_queues[tenant.name] = queue
            self.local_queues[tenant.name] = LOCAL_QUEUE
            self.local_queue_resources[tenant.name] = custom_resource(
                f"{name}-local-queue-{tenant.name}",
                api_version=API_VERSION,
                kind="LocalQueue",
                metadata={
                    "name": LOCAL_QUEUE,
                    "namespace": tenant.name,
                    "labels": {**MANAGED_BY, TENANT_LABEL: tenant.name},
                },
                spec={"clusterQueue": tenant.name},
                opts=scope.opts(self, [*crds, ns, queue]),
            )
        self.service_monitor = None
        if args.monitoring is not None:
            self.service_monitor = self._service_monitor(name, scope, args.monitoring)
        self.register_outputs(
            {
                "namespace": NAMESPACE,
                "release": self.release.name,
                "flavors": list(self.flavors),
                "cohort": spec.kueue.cohort,
                "clusterQueues": list(self.cluster_queues),
                "localQueues": dict(self.local_queues),
                "priorityClasses": list(self.priority_classes),
            }
        )

    def _service_monitor(self, name: str, scope: AddonScope, hook: MonitoringHook) -> k8s.apiextensions.CustomResource:
        """A metrics-only identity, its token, and the ServiceMonitor that presents it to Kueue."""
        meta = k8s.meta.v1.ObjectMetaArgs(name=METRICS_READER, namespace=NAMESPACE, labels=dict(MANAGED_BY))
        reader = k8s.core.v1.ServiceAccount(
            f"{name}-metrics-reader",
            metadata=meta,
            automount_service_account_token=False,
            opts=scope.opts(self, [self.namespace]),
        )
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-metrics-reader-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_READER_ROLE, labels=dict(MANAGED_BY)),
            rules=[k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"])],
            opts=scope.opts(self),
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-metrics-reader-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_READER_ROLE, labels=dict(MANAGED_BY)),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=METRICS_READER_ROLE
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=METRICS_READER, namespace=NAMESPACE)],
            opts=scope.opts(self, [role, reader]),
        )
        # The token controller fills in ``data.token``; it deletes the Secret if the account is missing.
        token = k8s.core.v1.Secret(
            f"{name}-metrics-reader-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=METRICS_READER_TOKEN,
                namespace=NAMESPACE,
                labels=dict(MANAGED_BY),
                annotations={"kubernetes.io/service-account.name": METRICS_READER},
            ),
            type="kubernetes.io/service-account-token",
            opts=scope.opts(self, [reader]),
        )
        return custom_resource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={
                "name": "kueue-controller-manager-metrics",
                "namespace": NAMESPACE,
                "labels": {**MANAGED_BY, **hook.selector_labels},
            },
            spec=service_monitor_spec(),
            opts=scope.opts(self, [self.release, hook.crds, token, binding]),
        )


# --- pure builders (plain values; tested directly and through the component) ---------------------


def manager_config(spec: PlatformSpec) -> dict[str, Any]:
    """The Kueue Configuration: upstream's 0.19.2 default with gpuplane's additions."""
    timeout = f"{spec.kueue.pods_ready_timeout_minutes}m"
    return {
        "apiVersion": CONFIG_API_VERSION,
        "kind": "Configuration",
        # -- upstream defaults (charts/kueue/values.yaml, managerConfig.controllerManagerConfigYaml) --
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "controller": {
            "groupKindConcurrency": {
                "Job.batch": 5,
                "Pod": 5,
                "Workload.kueue.x-k8s.io": 10,
                "LocalQueue.kueue.x-k8s.io": 5,
                "ClusterQueue.kueue.x-k8s.io": 5,
                "ResourceFlavor.kueue.x-k8s.io": 1,
            }
        },
        "clientConnection": {"qps": 300, "burst": 500},
        "integrations": {"frameworks": list(DEFAULT_FRAMEWORKS)},
        # -- gpuplane --
        "waitForPodsReady": {
            "timeout": timeout,
            "recoveryTimeout": timeout,
            "blockAdmission": False,
            # Kueue 0.19.2's waitForPodsReady is one setting for every workload kind (apis/config/v1beta2
            # WaitForPodsReady: timeout, blockAdmission, requeuingStrategy, recoveryTimeout; nothing per
            # kind). A serving Deployment/LeaderWorkerSet whose cold start (scale from zero, image pull,
            # weight load) outlasts the timeout would be evicted and requeued forever; after
            # REQUEUE_LIMIT timeouts Kueue deactivates the workload instead (workload_controller.go:
            # requeuingBackoffLimitCount), which the pending alert and `kubectl get workloads` show.
            "requeuingStrategy": {
                "timestamp": "Eviction",
                "backoffBaseSeconds": 60,
                "backoffMaxSeconds": 3600,
                "backoffLimitCount": REQUEUE_LIMIT,
            },
        },
        "managedJobsNamespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
        "fairSharing": {"preemptionStrategies": list(FAIR_SHARING_STRATEGIES)},
        "resources": {"excludeResourcePrefixes": list(EXCLUDED_RESOURCE_PREFIXES)},
    }


def chart_values(spec: PlatformSpec) -> dict[str, Any]:
    """Helm values for the pinned Kueue chart (every key path exists in its defaults; tested)."""
    replicas = 2 if spec.production else 1
    return {
        "enablePrometheus": False,
        "enableKueueViz": False,
        "controllerManager": {
            "replicas": replicas,
            "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
            "tolerations": [],
            "podDisruptionBudget": {"enabled": spec.production, "minAvailable": 1},
            "manager": {
                "image": {
                    "repository": KUEUE_CONTROLLER.repository,
                    "tag": KUEUE_CONTROLLER.tag,
                    "pullPolicy": "IfNotPresent",
                }
            },
        },
        "managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(manager_config(spec), sort_keys=False)},
    }


def flavor_spec(pool: GpuPoolScheduling) -> dict[str, Any]:
    """Exactly the pool's node labels, and the tolerations of exactly the pool's taints."""
    result: dict[str, Any] = {"nodeLabels": dict(pool.labels)}
    tolerations = pool.tolerations()
    if tolerations:
        result["tolerations"] = tolerations
    return result


def split_quotas(spec: PlatformSpec) -> dict[str, dict[str, int]]:
    """Tenant -> pool -> nominal ``nvidia.com/gpu`` units (only pools of models the tenant has quota for).

    Each tenant's quota for a model is split across that model's pools in proportion to the pools'
    maximum units (largest remainder, ties to the pool declared first), never above what a pool has
    left after the tenants listed before. The spec guarantees the quotas fit the pools' capacity.
    """
    capacity = {p.name: p.max_gpu_units for p in spec.gpu_pools}
    remaining = dict(capacity)
    result: dict[str, dict[str, int]] = {t.name: {} for t in spec.tenants}
    for tenant in spec.tenants:
        for model, quota in tenant.quotas.items():
            pools = [p.name for p in spec.gpu_pools if p.gpu == model]
            total = sum(capacity[p] for p in pools)
            ideal = {p: Fraction(quota * capacity[p], total) for p in pools}
            share = {p: min(int(ideal[p]), remaining[p]) for p in pools}
            left = quota - sum(share.values())
            by_remainder = sorted(pools, key=lambda p: (-(ideal[p] - int(ideal[p])), pools.index(p)))
            while left > 0:
                placed = False
                for pool in by_remainder:
                    if left > 0 and remaining[pool] - share[pool] > 0:
                        share[pool] += 1
                        left -= 1
                        placed = True
                if not placed:
                    raise ValueError(f"tenants[{tenant.name}].quotas.{model}: {quota} does not fit the pools")
            for pool in pools:
                remaining[pool] -= share[pool]
                result[tenant.name][pool] = result[tenant.name].get(pool, 0) + share[pool]
    return result


def spare_units(spec: PlatformSpec, allocation: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Pool -> units no tenant has nominal quota for."""
    return {
        p.name: p.max_gpu_units - sum(shares.get(p.name, 0) for shares in allocation.values()) for p in spec.gpu_pools
    }


SHARING_ORDER = {"none": 0, "mig": 1, "time-slicing": 2}


def flavor_order(spec: PlatformSpec) -> list[GpuPool]:
    """The order Kueue tries a ClusterQueue's flavors in: whole GPUs, then MIG instances, then
    time-sliced GPUs (declaration order within each).

    A GPU workload that names no pool (no ``gpuplane.io/pool`` node selector) fits every flavor, and
    Kueue gives it the first one with quota. In declaration order a training job could land on a
    quarter of a time-sliced L4 while whole GPUs sit idle; in this order it gets a whole GPU whenever
    its tenant has one free, and a shared slice only when nothing else is left (or when it asks for
    that pool by its selector, which then is the only flavor it fits).
    """
    return sorted(spec.gpu_pools, key=lambda p: SHARING_ORDER.get(p.sharing.mode, 0))


def _gpu_group(flavors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"coveredResources": [GPU_RESOURCE], "flavors": list(flavors)}] if flavors else []


def cohort_spec(spec: PlatformSpec, allocation: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """With borrowing on, the cohort itself holds the unassigned units of every pool (lendable to all)."""
    if not spec.kueue.borrowing:
        return {}
    spare = spare_units(spec, allocation)
    flavors = [
        {"name": pool.name, "resources": [{"name": GPU_RESOURCE, "nominalQuota": spare[pool.name]}]}
        for pool in flavor_order(spec)
    ]
    return {"resourceGroups": _gpu_group(flavors)}


def fair_sharing_weight(weight: float) -> int | str:
    """A Kubernetes quantity: integers stay integers, fractions become decimal strings."""
    return int(weight) if weight.is_integer() else format(weight, "g")


def cluster_queue_spec(spec: PlatformSpec, tenant: str, allocation: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The tenant's ClusterQueue: nominal quota per pool, limits, preemption, fair-sharing weight."""
    weight = next(t.weight for t in spec.tenants if t.name == tenant)
    shares = allocation[tenant]
    flavors: list[dict[str, Any]] = []
    for pool in flavor_order(spec):
        nominal = shares.get(pool.name, 0)
        if not spec.kueue.borrowing and nominal == 0:
            continue
        resource: dict[str, Any] = {"name": GPU_RESOURCE, "nominalQuota": nominal}
        if spec.kueue.borrowing:
            resource["borrowingLimit"] = pool.max_gpu_units - nominal
            resource["lendingLimit"] = nominal
        else:
            resource["borrowingLimit"] = 0
            resource["lendingLimit"] = 0
        flavors.append({"name": pool.name, "resources": [resource]})
    return {
        "cohortName": spec.kueue.cohort,
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: tenant}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": _gpu_group(flavors),
        # Use the tenant's own quota in the next flavor before borrowing or preempting in this one.
        "flavorFungibility": {"whenCanBorrow": "TryNextFlavor", "whenCanPreempt": "TryNextFlavor"},
        "preemption": {
            "reclaimWithinCohort": "Any",
            "withinClusterQueue": "LowerPriority",
            "borrowWithinCohort": {"policy": "Never"},
        },
        "fairSharing": {"weight": fair_sharing_weight(weight)},
    }


def service_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(METRICS_SERVICE_SELECTOR)},
        "namespaceSelector": {"matchNames": [NAMESPACE]},
        "endpoints": [
            {
                "port": "https",
                "scheme": "https",
                "path": "/metrics",
                "interval": "30s",
                "authorization": {"type": "Bearer", "credentials": {"name": METRICS_READER_TOKEN, "key": "token"}},
                "tlsConfig": {"insecureSkipVerify": True},
            }
        ],
    }
