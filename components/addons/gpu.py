"""GPU enablement per cloud: GPUs schedulable, shared as each pool says, and their DCGM metrics scraped.

What it builds (children of the component, named ``f"{name}-{role}"``, every one through the
cluster's Kubernetes provider and ``deleted_with`` the native cluster):

- EKS, LKE and existing clusters -- the NVIDIA GPU operator:
  ``{name}-namespace`` the ``gpu-operator`` namespace (Pod Security ``privileged``: the driver,
  toolkit, device plugin and DCGM exporter need the host; nothing but the GPU stack runs there);
  ``{name}-device-plugin-config`` a ConfigMap with one device plugin config per
  time-sliced pool, keyed by the value of the pool's ``nvidia.com/device-plugin.config`` node label
  (only when a pool is time-sliced); ``{name}-gpu-operator`` the chart as a ``helm.v3.Release``.
  Driver: installed by the operator only when the spec says the nodes come without one
  (``spec.driver_preinstalled()``): never on EKS's ``AL2023_x86_64_NVIDIA`` AMI or on LKE GPU
  nodes, yes on an existing cluster unless ``gpu.driver: preinstalled``. Container toolkit: off on
  EKS (the AMI ships and configures it), on elsewhere (see docs/decisions/gpu-enablement.md for LKE).
  Device plugin, GPU feature discovery, NFD and the DCGM exporter are on; the MIG manager only when
  a pool is MIG-partitioned (strategy ``single``: every MIG slice is still ``nvidia.com/gpu``).
- GKE -- Google installs the driver *and* the device plugin (and applies time-sharing/MIG from the
  node pool, see ``components/clusters/gke.py``), so no operator and no second driver (the operator's
  toolkit cannot register its runtime in GKE's containerd: NVIDIA/gpu-operator#1679, #1577):
  ``{name}-namespace`` the ``dcgm-exporter`` namespace (privileged: the exporter needs the GPUs
  without requesting them), ``{name}-critical-pods`` a ResourceQuota that admits
  ``system-node-critical`` pods there, ``{name}-dcgm-exporter`` the standalone DCGM exporter chart.

Scraping: with a :class:`MonitoringHook` the exporter's own ServiceMonitor (the operator's
``dcgmExporter.serviceMonitor`` or the standalone chart's ``serviceMonitor``) is enabled and carries
``monitoring.selector_labels``, so the monitor selects exactly the exporter service by construction,
and the release waits for the monitoring CRDs. Without one (observability disabled) no ServiceMonitor
is requested at all. ``honorLabels`` is set explicitly to the value the dashboards and alerts are
written for (``components.addons.alerts.series.DCGM_HONOR_LABELS``: false, so the pod holding a GPU
is ``exported_pod``/``exported_namespace``), never left to a chart default that could change.

Why this shape:

- One source of truth for taints: every GPU DaemonSet's tolerations (``daemonsets.tolerations``,
  the NFD worker's, the standalone exporter's) are the pools' ``GpuPoolScheduling.tolerations()``,
  deduplicated -- never retyped. A device plugin or exporter that does not tolerate the pool's taint
  is the most reported GPU failure ("GPUs invisible, pods Pending": nebari-dev/nebari#3074,
  eksctl-io/eksctl#8550, awslabs/data-on-eks#478, awslabs/ai-on-eks#237).
- Pods that do not ask for a GPU never land on GPU nodes because every GPU pool is tainted
  ``nvidia.com/gpu:NoSchedule`` by its cluster component (checked here: a managed pool without a
  ``NoSchedule``/``NoExecute`` taint is an error; an adopted cluster's untainted pools are reported
  in :attr:`GpuEnablement.untainted_pools` and logged). Only pods *requesting* ``nvidia.com/gpu``
  get the matching toleration: from GKE's ``ExtendedResourceToleration`` admission, from Kueue's
  ResourceFlavor tolerations, or from the workload itself. The controllers here (operator, NFD
  master/gc) carry no GPU toleration and are pinned to the system pool by ``nodeSelector``.
- Time-slicing follows the pool: the pool's node label ``nvidia.com/device-plugin.config=<pool>``
  selects the entry of the same name in the device plugin ConfigMap. An explicit default entry
  (:data:`EXCLUSIVE_CONFIG`, no sharing, a name no pool can have) is set as
  ``devicePlugin.config.default``: without it the device plugin's config manager falls back to the
  *only* entry of a one-entry ConfigMap (fallback strategy ``single``), silently time-slicing every
  unlabelled GPU node (NVIDIA/k8s-device-plugin ``cmd/config-manager``). A label naming a missing
  entry makes the plugin fail, hence the checks in :class:`GpuEnablementArgs`.
- MIG follows the pool: the pool's ``nvidia.com/mig.config=all-<profile>`` label names a layout of the
  operator's default mig-parted config; unlabelled nodes get ``all-disabled``.

Upstream gotchas:

- The GPU operator relies on Helm hooks (CRD upgrade/cleanup Jobs), which ``helm.v4.Chart`` skips
  (pulumi/pulumi-kubernetes#3284): both charts go through ``helm.v3.Release`` (``helm_release``).
- The ClusterPolicy custom resource is created by the chart (``clusterPolicy.deployCR``), so there is
  no nvidia.com custom resource here for a preview to trip over (pulumi/pulumi-kubernetes#3035,
  #3247).
- GKE: the driver lives in ``/home/kubernetes/bin/nvidia`` on the host, outside any container
  runtime; the exporter mounts it read-only at ``/usr/local/nvidia`` with ``LD_LIBRARY_PATH`` set,
  runs privileged (it needs every GPU device without requesting one; ``allowPrivilegeEscalation``
  must then be true or the API server rejects the pod) and maps GPUs to pods by device name
  (``DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE=device-name``: GKE's device plugin does not hand out
  UUIDs). GKE only admits ``system-node-critical`` pods outside ``kube-system`` under a ResourceQuota
  scoped to that priority class. GKE's managed DCGM metrics stay off (see gke.py: double scraping).
- The operator's Prometheus job is ``nvidia-dcgm-exporter`` (its ServiceMonitor's ``jobLabel: app``);
  the standalone chart's is its release name, ``dcgm-exporter`` (:attr:`GpuEnablement.dcgm_job`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.addons.alerts.series import DCGM_HONOR_LABELS
from components.addons.base import (
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    helm_release,
    namespace,
)
from components.clusters.contract import GpuPoolScheduling
from components.spec import DEVICE_PLUGIN_CONFIG_LABEL, GPU_RESOURCE, MIG_CONFIG_LABEL, GpuPool, PlatformSpec
from components.versions import DCGM_EXPORTER, GPU_OPERATOR

TYPE = "gpuplane:addons:GpuEnablement"

OPERATOR_NAMESPACE = "gpu-operator"
DCGM_NAMESPACE = "dcgm-exporter"
DEVICE_PLUGIN_CONFIG = "gpuplane-device-plugin-config"
EXCLUSIVE_CONFIG = "gpuplane.exclusive"
"""Device plugin config for nodes without a sharing label; the dot keeps it out of pool names' reach."""
MIG_STRATEGY = "single"
OPERATOR_DCGM_JOB = "nvidia-dcgm-exporter"
STANDALONE_DCGM_JOB = DCGM_EXPORTER.release

GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
GKE_DRIVER_DIR = "/home/kubernetes/bin/nvidia"
GKE_VULKAN_ICD_DIR = "/home/kubernetes/bin/nvidia/vulkan/icd.d"
EXPORTER_PRIORITY_CLASS = "system-node-critical"
"""The standalone chart's ``priorityClassName`` default; GKE needs a quota scoped to it."""
# The standalone chart mounts its counters file through this default list item; setting
# ``extraVolumeMounts`` replaces the list, so the item is carried over unchanged.
_DEFAULT_COUNTERS_MOUNT: Mapping[str, str] = {
    "name": "exporter-metrics-volume",
    "mountPath": "/etc/dcgm-exporter/default-counters.csv",
    "subPath": "default-counters.csv",
}
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True, kw_only=True)
class GpuEnablementArgs:
    """``monitoring`` is the observability add-on's hook, or ``None`` when observability is off."""

    scope: AddonScope
    monitoring: MonitoringHook | None

    def __post_init__(self) -> None:
        spec = self.scope.spec
        pools = self.scope.gpu_pools
        if not pools:
            raise ValueError("scope.gpu_pools: GPU enablement needs at least one GPU pool")
        declared = [p.name for p in spec.gpu_pools]
        if [p.name for p in pools] != declared:
            raise ValueError(
                f"scope.gpu_pools: pools {[p.name for p in pools]} do not match spec.gpuPools {declared}; "
                "build the scope from the cluster built for this spec"
            )
        by_name = {p.name: p for p in spec.gpu_pools}
        for sched in pools:
            if spec.cloud != "existing" and not _blocks_other_pods(sched):
                raise ValueError(
                    f"scope.gpu_pools[{sched.name}].taints: a managed GPU pool must carry a NoSchedule or NoExecute "
                    "taint so that pods without a GPU request stay off it"
                )
            _check_sharing_labels(sched, by_name[sched.name])


def _blocks_other_pods(pool: GpuPoolScheduling) -> bool:
    return any(t.effect in _BLOCKING_EFFECTS for t in pool.taints)


def _check_sharing_labels(sched: GpuPoolScheduling, pool: GpuPool) -> None:
    key = f"scope.gpu_pools[{sched.name}].labels"
    config = sched.labels.get(DEVICE_PLUGIN_CONFIG_LABEL)
    if (config is not None) != (pool.sharing.mode == "time-slicing"):
        raise ValueError(
            f"{key}: {DEVICE_PLUGIN_CONFIG_LABEL} must be set exactly on time-sliced pools "
            f"(pool sharing mode is {pool.sharing.mode!r}, label is {config!r})"
        )
    if config is not None and config != pool.name:
        raise ValueError(f"{key}: {DEVICE_PLUGIN_CONFIG_LABEL}={config!r} must name the pool ({pool.name!r})")
    if (MIG_CONFIG_LABEL in sched.labels) != (pool.sharing.mode == "mig"):
        raise ValueError(f"{key}: {MIG_CONFIG_LABEL} must be set exactly on MIG pools")


def gpu_tolerations(pools: Sequence[GpuPoolScheduling]) -> list[dict[str, str]]:
    """Every pool's tolerations, deduplicated, in pool order: what every GPU DaemonSet carries."""
    seen: list[dict[str, str]] = []
    for pool in pools:
        for toleration in pool.tolerations():
            if toleration not in seen:
                seen.append(toleration)
    return seen


def device_plugin_configs(spec: PlatformSpec, pools: Sequence[GpuPoolScheduling]) -> dict[str, str]:
    """The device plugin ConfigMap's data: the exclusive default plus one entry per time-sliced pool,
    keyed by the pool's ``nvidia.com/device-plugin.config`` label value. Empty without time-slicing."""
    by_name = {p.name: p for p in spec.gpu_pools}
    data: dict[str, str] = {}
    for sched in pools:
        key = sched.labels.get(DEVICE_PLUGIN_CONFIG_LABEL)
        if key is None:
            continue
        replicas = by_name[sched.name].sharing.replicas
        assert replicas is not None, "the spec requires replicas for time-slicing"
        config = {
            "version": "v1",
            # failRequestsGreaterThanOne: a pod asking for 2+ time-sliced units would otherwise get two
            # slices of possibly the same GPU while Kueue counts 2 units of quota; refuse it instead.
            "sharing": {
                "timeSlicing": {
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": GPU_RESOURCE, "replicas": replicas}],
                }
            },
        }
        data[key] = yaml.safe_dump(config, sort_keys=False)
    if not data:
        return {}
    return {EXCLUSIVE_CONFIG: yaml.safe_dump({"version": "v1"}, sort_keys=False), **data}


def toolkit_preinstalled(spec: PlatformSpec) -> bool:
    """Only EKS's NVIDIA AMI is known to ship (and configure containerd for) the container toolkit."""
    return spec.cloud == "aws"


def _service_monitor(monitoring: MonitoringHook | None) -> dict[str, Any]:
    if monitoring is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "honorLabels": DCGM_HONOR_LABELS,
        "additionalLabels": dict(monitoring.selector_labels),
    }


def operator_values(
    spec: PlatformSpec, pools: Sequence[GpuPoolScheduling], monitoring: MonitoringHook | None
) -> dict[str, Any]:
    """Values of the GPU operator chart (EKS, LKE, existing)."""
    tolerations = gpu_tolerations(pools)
    any_mig = any(MIG_CONFIG_LABEL in p.labels for p in pools)
    device_plugin: dict[str, Any] = {"enabled": True}
    if device_plugin_configs(spec, pools):
        device_plugin["config"] = {"name": DEVICE_PLUGIN_CONFIG, "default": EXCLUSIVE_CONFIG}
    return {
        "operator": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)},
        "daemonsets": {"tolerations": tolerations},
        "driver": {"enabled": not spec.driver_preinstalled()},
        "toolkit": {"enabled": not toolkit_preinstalled(spec)},
        "devicePlugin": device_plugin,
        "gfd": {"enabled": True},
        "mig": {"strategy": MIG_STRATEGY},
        "migManager": {"enabled": any_mig},
        "dcgmExporter": {"enabled": True, "serviceMonitor": _service_monitor(monitoring)},
        "nfd": {"enabled": True},
        "node-feature-discovery": {
            "master": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)},
            "gc": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)},
            "worker": {"tolerations": tolerations},
        },
    }


def gke_exporter_values(pools: Sequence[GpuPoolScheduling], monitoring: MonitoringHook | None) -> dict[str, Any]:
    """Values of the standalone DCGM exporter chart on GKE (driver and device plugin by Google)."""
    on_gpu_nodes = {"key": GKE_ACCELERATOR_LABEL, "operator": "Exists"}
    return {
        "tolerations": gpu_tolerations(pools),
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [on_gpu_nodes]}]
                }
            }
        },
        "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
        "extraHostVolumes": [
            {"name": "nvidia-install-dir-host", "hostPath": GKE_DRIVER_DIR},
            {"name": "vulkan-icd-mount", "hostPath": GKE_VULKAN_ICD_DIR},
        ],
        "extraVolumeMounts": [
            dict(_DEFAULT_COUNTERS_MOUNT),
            {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True},
            {"name": "vulkan-icd-mount", "mountPath": "/etc/vulkan/icd.d", "readOnly": True},
        ],
        "extraEnv": [
            {"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"},
            {"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"},
        ],
        "serviceMonitor": _service_monitor(monitoring),
    }


class GpuEnablement(pulumi.ComponentResource):
    """NVIDIA GPUs schedulable on every GPU pool, shared per pool, with DCGM metrics exported."""

    namespace: str
    """The add-on's (privileged) namespace: ``gpu-operator``, or ``dcgm-exporter`` on GKE."""
    releases: list[k8s.helm.v3.Release]
    """The Helm releases installed (one: the GPU operator, or the standalone DCGM exporter on GKE)."""
    device_plugin_config: k8s.core.v1.ConfigMap | None
    """The time-slicing ConfigMap, when a pool is time-sliced (operator clouds only)."""
    installs_operator: bool
    installs_driver: bool
    """Whether the platform installs the NVIDIA driver (never on EKS, GKE, LKE by default)."""
    dcgm_job: str
    """The Prometheus ``job`` label of the DCGM exporter's series."""
    tolerations: list[dict[str, str]]
    """What every GPU DaemonSet tolerates: the pools' taints, deduplicated."""
    untainted_pools: tuple[str, ...]
    """Pools of an adopted cluster declared without a blocking taint (any pod may land there)."""

    def __init__(self, name: str, args: GpuEnablementArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        scope = args.scope
        spec = scope.spec
        pools = scope.gpu_pools
        monitoring_crds = [] if args.monitoring is None else [args.monitoring.crds]

        self.tolerations = gpu_tolerations(pools)
        self.untainted_pools = tuple(p.name for p in pools if not _blocks_other_pods(p))
        if self.untainted_pools:
            pulumi.log.warn(
                f"GPU pools {', '.join(self.untainted_pools)} are declared without a NoSchedule/NoExecute taint: "
                "pods that request no GPU can be scheduled onto those GPU nodes",
                resource=self,
            )
        self.installs_operator = spec.cloud != "gcp"
        self.installs_driver = self.installs_operator and not spec.driver_preinstalled()
        self.device_plugin_config = None

        if self.installs_operator:
            self.namespace = OPERATOR_NAMESPACE
            self.dcgm_job = OPERATOR_DCGM_JOB
            ns = namespace(
                f"{name}-namespace", NamespaceSpec(name=self.namespace, pod_security="privileged"), scope, self
            )
            before: list[pulumi.Resource] = [ns]
            configs = device_plugin_configs(spec, pools)
            if configs:
                self.device_plugin_config = k8s.core.v1.ConfigMap(
                    f"{name}-device-plugin-config",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=DEVICE_PLUGIN_CONFIG, namespace=self.namespace),
                    data=configs,
                    opts=scope.opts(self, [ns]),
                )
                before.append(self.device_plugin_config)
            release = helm_release(
                f"{name}-gpu-operator",
                GPU_OPERATOR,
                namespace=self.namespace,
                values=operator_values(spec, pools, args.monitoring),
                scope=scope,
                parent=self,
                depends_on=[*before, *monitoring_crds],
            )
        else:
            self.namespace = DCGM_NAMESPACE
            self.dcgm_job = STANDALONE_DCGM_JOB
            ns = namespace(
                f"{name}-namespace", NamespaceSpec(name=self.namespace, pod_security="privileged"), scope, self
            )
            quota = k8s.core.v1.ResourceQuota(
                f"{name}-critical-pods",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="critical-pods", namespace=self.namespace),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={"pods": str(_exporter_pod_ceiling(spec))},
                    scope_selector=k8s.core.v1.ScopeSelectorArgs(
                        match_expressions=[
                            k8s.core.v1.ScopedResourceSelectorRequirementArgs(
                                operator="In", scope_name="PriorityClass", values=[EXPORTER_PRIORITY_CLASS]
                            )
                        ]
                    ),
                ),
                opts=scope.opts(self, [ns]),
            )
            release = helm_release(
                f"{name}-dcgm-exporter",
                DCGM_EXPORTER,
                namespace=self.namespace,
                values=gke_exporter_values(pools, args.monitoring),
                scope=scope,
                parent=self,
                depends_on=[ns, quota, *monitoring_crds],
            )
        self.releases = [release]

        self.register_outputs(
            {
                "namespace": self.namespace,
                "releases": [r.name for r in self.releases],
                "installsOperator": self.installs_operator,
                "installsDriver": self.installs_driver,
                "dcgmJob": self.dcgm_job,
            }
        )


def _exporter_pod_ceiling(spec: PlatformSpec) -> int:
    """One exporter per GPU node at maximum scale, doubled for surge upgrades (old and new node both run one)."""
    return 2 * sum(p.max_nodes for p in spec.gpu_pools)
