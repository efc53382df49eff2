"""GpuEnablement under the mock runtime (preview=False): per-cloud children, driver matrix, taints,
sharing, monitoring, and every object/values key checked against upstream."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pulumi
import pytest
import yaml

from components.addons.alerts.series import DCGM_HONOR_LABELS
from components.addons.base import SYSTEM_NODE_SELECTOR, MonitoringHook, helm_release
from components.addons.gpu import (
    DCGM_NAMESPACE,
    DEVICE_PLUGIN_CONFIG,
    EXCLUSIVE_CONFIG,
    OPERATOR_NAMESPACE,
    GpuEnablement,
    GpuEnablementArgs,
)
from components.spec import DEVICE_PLUGIN_CONFIG_LABEL, GPU_TAINT, PlatformSpec, SpecError, Taint, parse_spec
from components.versions import DCGM_EXPORTER, GPU_OPERATOR, KUBE_PROMETHEUS_STACK
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import helm_releases, is_kubernetes_object, redact
from tests.support import addon_scope, build_platform, raw_spec, record
from tests.upstream import UPSTREAM, dcgm_enabled_counters, unknown_value_paths, validate_core, validate_object

CLOUDS = ("aws", "gcp", "linode", "existing")
OPERATOR_CLOUDS = ("aws", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
RELEASE = "kubernetes:helm.sh/v3:Release"
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


# --- building ------------------------------------------------------------------------------------


def spec_with(cloud: str, *, pools: dict[str, dict[str, Any]] | None = None, **top: Any) -> PlatformSpec:
    """The baseline spec for ``cloud`` with per-pool overrides (by pool name) and top-level overrides."""
    raw = raw_spec(cloud)
    for pool in raw["gpuPools"]:
        pool.update(copy.deepcopy((pools or {}).get(pool["name"], {})))
    raw.update(top)
    return parse_spec(raw)


def sharing_spec(cloud: str) -> PlatformSpec:
    """Inference time-sliced (4 replicas), training MIG-partitioned (MIG-capable big GPU on every cloud
    but Linode, whose GPUs have no MIG: there training stays exclusive)."""
    pools: dict[str, dict[str, Any]] = {"inference": {"sharing": {"mode": "time-slicing", "replicas": 4}}}
    if cloud != "linode":
        pools["training"] = {"sharing": {"mode": "mig", "migProfile": "1g.10gb"}}
    return spec_with(cloud, pools=pools)


@dataclasses.dataclass
class Built:
    rec: Recording
    gpu: GpuEnablement
    spec: PlatformSpec
    scope: Any

    @property
    def component(self) -> RecordedResource:
        return self.rec.named("gp-gpu")

    def children(self) -> list[RecordedResource]:
        return self.rec.children_of(self.component.urn)

    def release(self) -> RecordedResource:
        (release,) = [r for r in self.children() if r.type == RELEASE]
        return release

    def values(self) -> dict[str, Any]:
        return self.release().inputs["values"]


def build(spec: PlatformSpec, *, monitoring: bool = False, mutate_scope: Any = None) -> Built:
    made: list[GpuEnablement] = []
    scopes: list[Any] = []

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        if mutate_scope is not None:
            scope = mutate_scope(scope)
        scopes.append(scope)
        hook = None
        if monitoring:
            crds = helm_release(
                "gp-monitoring", KUBE_PROMETHEUS_STACK, namespace="monitoring", values={}, scope=scope, parent=platform
            )
            hook = MonitoringHook(
                namespace="monitoring",
                selector_labels=SELECTOR_LABELS,
                dashboard_label=("grafana_dashboard", "1"),
                crds=crds,
            )
        made.append(
            GpuEnablement(
                "gp-gpu", GpuEnablementArgs(scope=scope, monitoring=hook), pulumi.ResourceOptions(parent=platform)
            )
        )

    rec = record(program, region=spec.region)
    return Built(rec=rec, gpu=made[0], spec=spec, scope=scopes[0])


def build_args(spec: PlatformSpec, mutate_scope: Any) -> None:
    """Construct only the args (inside the mock runtime) so that their validation runs."""

    def program() -> None:
        scope = mutate_scope(addon_scope(build_platform(spec)))
        GpuEnablementArgs(scope=scope, monitoring=None)

    record(program, region=spec.region)


def expected_tolerations(spec: PlatformSpec) -> list[dict[str, str]]:
    """Derived independently from the spec's declared taints (not from the component's helper)."""
    result: list[dict[str, str]] = []
    for pool in spec.gpu_pools:
        for taint in pool.node_taints:
            toleration = {"key": taint.key, "operator": "Exists", "effect": taint.effect}
            if toleration not in result:
                result.append(toleration)
    return result


def helm_merge(base: Any, override: Any) -> Any:
    """Helm's value coalescing: maps merge key by key, everything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = helm_merge(base.get(key), value) if key in base else value
        return merged
    return override


def chart_defaults(*parts: str) -> dict[str, Any]:
    return json.loads(UPSTREAM.joinpath("charts", *parts, "values.json").read_text())


# --- children, wiring, teardown ------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_exact_children_wiring_and_teardown(cloud: str) -> None:
    built = build(spec_with(cloud))
    rec = built.rec
    assert built.component.type == "gpuplane:addons:GpuEnablement"
    assert built.component.parent == rec.named("gp").urn

    if cloud == "gcp":
        expected = [
            ("kubernetes:core/v1:Namespace", "gp-gpu-namespace"),
            ("kubernetes:core/v1:ResourceQuota", "gp-gpu-critical-pods"),
            (RELEASE, "gp-gpu-dcgm-exporter"),
        ]
    else:
        expected = [("kubernetes:core/v1:Namespace", "gp-gpu-namespace"), (RELEASE, "gp-gpu-gpu-operator")]
    assert [(r.type, r.name) for r in built.children()] == expected
    # Nothing else anywhere in the program belongs to the add-on.
    assert sorted(r.name for r in rec.resources if r.name.startswith("gp-gpu")) == sorted(
        ["gp-gpu", *(name for _, name in expected)]
    )

    (provider,) = rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else rec.of_type(NATIVE_TYPES[cloud])[0].urn
    by_name = {r.name: r for r in built.children()}
    for child in built.children():
        assert child.provider.startswith(provider.urn + "::"), child.name
        assert child.deleted_with == native, child.name
    assert by_name["gp-gpu-namespace"].dependencies == []
    if cloud == "gcp":
        quota = by_name["gp-gpu-critical-pods"]
        assert quota.dependencies == [by_name["gp-gpu-namespace"].urn]
        assert sorted(built.release().dependencies) == sorted([by_name["gp-gpu-namespace"].urn, quota.urn])
    else:
        assert built.release().dependencies == [by_name["gp-gpu-namespace"].urn]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_one_privileged_namespace_and_pinned_release(cloud: str) -> None:
    built = build(spec_with(cloud))
    namespaces = built.rec.of_type("kubernetes:core/v1:Namespace")
    assert len(namespaces) == 1
    labels = namespaces[0].inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    pin = DCGM_EXPORTER if cloud == "gcp" else GPU_OPERATOR
    ns = DCGM_NAMESPACE if cloud == "gcp" else OPERATOR_NAMESPACE
    assert namespaces[0].inputs["metadata"]["name"] == ns == built.gpu.namespace
    inputs = built.release().inputs
    assert (inputs["name"], inputs["chart"], inputs["version"], inputs["namespace"]) == (
        pin.release,
        pin.chart,
        pin.version,
        ns,
    )
    assert inputs["repositoryOpts"] == {"repo": pin.repository}
    assert inputs["createNamespace"] is False
    assert inputs["atomic"] is True
    assert inputs["waitForJobs"] is True
    ours = [r.name for r in helm_releases(built.rec) if r.parent == built.component.urn]
    assert ours == [built.release().name]
    assert len(built.gpu.releases) == 1


# --- driver / toolkit / operator matrix ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "driver", "driver_enabled", "toolkit_enabled"),
    [
        ("aws", "auto", False, False),  # AL2023_x86_64_NVIDIA ships driver + toolkit
        ("linode", "auto", False, True),  # LKE GPU nodes: driver pre-installed
        ("existing", "auto", True, True),  # an adopted cluster: the operator installs it
        ("existing", "preinstalled", False, True),
        ("existing", "operator", True, True),
        ("linode", "operator", True, True),
    ],
)
def test_operator_driver_and_toolkit_matrix(
    cloud: str, driver: str, driver_enabled: bool, toolkit_enabled: bool
) -> None:
    built = build(spec_with(cloud, gpu={"driver": driver}))
    values = built.values()
    assert values["driver"] == {"enabled": driver_enabled}
    assert values["toolkit"] == {"enabled": toolkit_enabled}
    assert values["devicePlugin"]["enabled"] is True
    assert values["dcgmExporter"]["enabled"] is True
    assert values["gfd"] == {"enabled": True}
    assert values["nfd"] == {"enabled": True}
    assert built.gpu.installs_operator is True
    assert built.gpu.installs_driver is driver_enabled


@pytest.mark.parametrize("driver", ["auto", "preinstalled"])
def test_gke_installs_no_operator_and_no_second_driver(driver: str) -> None:
    built = build(spec_with("gcp", gpu={"driver": driver}))
    charts = [r.inputs["chart"] for r in built.rec.of_type(RELEASE)]
    assert charts == [DCGM_EXPORTER.chart]
    assert not [r for r in built.rec.resources if "gpu-operator" in json.dumps(r.wire_inputs)]
    assert built.gpu.installs_operator is False
    assert built.gpu.installs_driver is False
    # The standalone exporter chart has no driver/toolkit/device-plugin switches at all.
    values = built.values()
    assert not {"driver", "toolkit", "devicePlugin", "operator"} & set(values)


def test_gke_rejects_an_operator_managed_driver() -> None:
    with pytest.raises(SpecError, match=r"gpu\.driver: GKE installs the NVIDIA driver"):
        spec_with("gcp", gpu={"driver": "operator"})


# --- taints and tolerations ----------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_pool_is_tainted_and_every_gpu_daemonset_tolerates_exactly_the_pool_taints(cloud: str) -> None:
    built = build(spec_with(cloud))
    # Pods without a GPU request stay off GPU nodes: every pool the add-on sees is tainted.
    assert [p.name for p in built.scope.gpu_pools] == ["inference", "training"]
    for pool in built.scope.gpu_pools:
        assert list(pool.taints) == [GPU_TAINT], pool.name
    assert built.gpu.untainted_pools == ()
    expected = expected_tolerations(built.spec)
    assert expected == [GPU_TOLERATION]  # two pools, one taint: deduplicated
    values = built.values()
    if cloud == "gcp":
        assert values["tolerations"] == expected
    else:
        assert values["daemonsets"]["tolerations"] == expected
        assert values["node-feature-discovery"]["worker"]["tolerations"] == expected
    assert built.gpu.tolerations == expected


def test_tolerations_follow_a_changed_pool_taint_on_an_existing_cluster() -> None:
    dedicated = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
    spec = spec_with("existing", pools={"inference": {"taints": [dedicated]}})
    built = build(spec)
    expected = [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        GPU_TOLERATION,
    ]
    assert expected_tolerations(spec) == expected
    values = built.values()
    assert values["daemonsets"]["tolerations"] == expected
    assert values["node-feature-discovery"]["worker"]["tolerations"] == expected
    assert built.gpu.untainted_pools == ()


@pytest.mark.parametrize("cloud", ["aws", "gcp", "linode"])
def test_tolerations_come_from_the_cluster_contract_not_from_a_constant(cloud: str) -> None:
    """A cluster that reports an extra taint on a pool gets it tolerated by every GPU DaemonSet."""
    extra = Taint(key="gpuplane.io/dedicated", value="training", effect="NoSchedule")

    def add_taint(scope: Any) -> Any:
        *head, training = scope.gpu_pools
        tainted = dataclasses.replace(training, taints=(*training.taints, extra))
        return dataclasses.replace(scope, gpu_pools=(*head, tainted))

    built = build(spec_with(cloud), mutate_scope=add_taint)
    expected = [GPU_TOLERATION, {"key": "gpuplane.io/dedicated", "operator": "Exists", "effect": "NoSchedule"}]
    values = built.values()
    if cloud == "gcp":
        assert values["tolerations"] == expected
    else:
        assert values["daemonsets"]["tolerations"] == expected
        assert values["node-feature-discovery"]["worker"]["tolerations"] == expected


def test_untainted_pools_of_an_adopted_cluster_are_reported_not_tolerated() -> None:
    spec = spec_with("existing", pools={"inference": {"taints": []}})
    built = build(spec)
    assert built.gpu.untainted_pools == ("inference",)
    assert built.values()["daemonsets"]["tolerations"] == [GPU_TOLERATION]  # training's only


@pytest.mark.parametrize("cloud", ["aws", "gcp", "linode"])
def test_a_managed_pool_without_a_blocking_taint_is_rejected(cloud: str) -> None:
    def untaint(scope: Any) -> Any:
        first, *rest = scope.gpu_pools
        soft = dataclasses.replace(first, taints=(Taint(key="nvidia.com/gpu", effect="PreferNoSchedule"),))
        return dataclasses.replace(scope, gpu_pools=(soft, *rest))

    with pytest.raises(ValueError, match=r"scope\.gpu_pools\[inference\]\.taints: a managed GPU pool must carry"):
        build_args(spec_with(cloud), untaint)


# --- controllers on the system pool --------------------------------------------------------------


@pytest.mark.parametrize("cloud", OPERATOR_CLOUDS)
def test_controllers_run_on_the_system_pool_without_gpu_tolerations(cloud: str) -> None:
    values = build(spec_with(cloud)).values()
    assert values["operator"] == {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}
    nfd = values["node-feature-discovery"]
    assert nfd["master"] == {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}
    assert nfd["gc"] == {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}
    # The controllers keep the chart's tolerations (control plane only), never a GPU one.
    defaults = chart_defaults("gpu-operator", GPU_OPERATOR.version)
    assert GPU_TOLERATION not in defaults["operator"]["tolerations"]
    nfd_defaults = chart_defaults("gpu-operator", GPU_OPERATOR.version, "charts", "node-feature-discovery")
    assert GPU_TOLERATION not in nfd_defaults["master"]["tolerations"]
    assert nfd_defaults["gc"]["tolerations"] == []


def test_gke_exporter_runs_only_on_gpu_nodes() -> None:
    values = build(spec_with("gcp")).values()
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "cloud.google.com/gke-accelerator", "operator": "Exists"}]}]


# --- sharing: time-slicing and MIG ---------------------------------------------------------------


@pytest.mark.parametrize("cloud", OPERATOR_CLOUDS)
def test_time_slicing_config_follows_the_pool_label(cloud: str) -> None:
    spec = sharing_spec(cloud)
    built = build(spec)
    children = {r.name: r for r in built.children()}
    assert [(r.type, r.name) for r in built.children()] == [
        ("kubernetes:core/v1:Namespace", "gp-gpu-namespace"),
        ("kubernetes:core/v1:ConfigMap", "gp-gpu-device-plugin-config"),
        (RELEASE, "gp-gpu-gpu-operator"),
    ]
    config_map = children["gp-gpu-device-plugin-config"]
    assert config_map.inputs["metadata"] == {"name": DEVICE_PLUGIN_CONFIG, "namespace": OPERATOR_NAMESPACE}
    assert config_map.dependencies == [children["gp-gpu-namespace"].urn]
    assert sorted(built.release().dependencies) == sorted([children["gp-gpu-namespace"].urn, config_map.urn])

    data = {key: yaml.safe_load(text) for key, text in config_map.inputs["data"].items()}
    # The key the node label selects is exactly the label value the pool's nodes carry.
    inference = next(p for p in spec.gpu_pools if p.name == "inference")
    assert inference.node_labels[DEVICE_PLUGIN_CONFIG_LABEL] in data
    assert data == {
        EXCLUSIVE_CONFIG: {"version": "v1"},
        "inference": {
            "version": "v1",
            "sharing": {
                "timeSlicing": {
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
                }
            },
        },
    }
    # Unlabelled nodes get the exclusive entry explicitly (the config manager would otherwise fall back
    # to the only other entry and time-slice them).
    assert built.values()["devicePlugin"] == {
        "enabled": True,
        "config": {"name": DEVICE_PLUGIN_CONFIG, "default": EXCLUSIVE_CONFIG},
    }
    assert built.gpu.device_plugin_config is not None


@pytest.mark.parametrize("cloud", OPERATOR_CLOUDS)
def test_without_time_slicing_no_config_map_and_no_plugin_config(cloud: str) -> None:
    built = build(spec_with(cloud))
    assert built.rec.of_type("kubernetes:core/v1:ConfigMap") == []
    assert built.values()["devicePlugin"] == {"enabled": True}
    assert built.gpu.device_plugin_config is None


@pytest.mark.parametrize("cloud", ["aws", "existing"])
def test_mig_manager_only_with_a_mig_pool(cloud: str) -> None:
    with_mig = build(sharing_spec(cloud)).values()
    assert with_mig["mig"] == {"strategy": "single"}
    assert with_mig["migManager"] == {"enabled": True}
    without = build(spec_with(cloud)).values()
    assert without["mig"] == {"strategy": "single"}
    assert without["migManager"] == {"enabled": False}


def test_gke_sharing_is_left_to_the_node_pools() -> None:
    built = build(sharing_spec("gcp"))
    assert [r.name for r in built.children()] == ["gp-gpu-namespace", "gp-gpu-critical-pods", "gp-gpu-dcgm-exporter"]
    assert built.rec.of_type("kubernetes:core/v1:ConfigMap") == []


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"nvidia.com/device-plugin.config": "training"}, "must be set exactly on time-sliced pools"),
        ({"nvidia.com/mig.config": "all-1g.10gb"}, "must be set exactly on MIG pools"),
    ],
)
def test_sharing_labels_that_name_no_config_are_rejected(labels: dict[str, str], message: str) -> None:
    def relabel(scope: Any) -> Any:
        *head, training = scope.gpu_pools
        return dataclasses.replace(
            scope, gpu_pools=(*head, dataclasses.replace(training, labels={**training.labels, **labels}))
        )

    with pytest.raises(ValueError, match=rf"scope\.gpu_pools\[training\]\.labels: .*{message}"):
        build_args(spec_with("aws"), relabel)


def test_a_time_slicing_label_naming_another_pool_is_rejected() -> None:
    def relabel(scope: Any) -> Any:
        inference, *rest = scope.gpu_pools
        labels = {**inference.labels, DEVICE_PLUGIN_CONFIG_LABEL: "other"}
        return dataclasses.replace(scope, gpu_pools=(dataclasses.replace(inference, labels=labels), *rest))

    spec = spec_with("aws", pools={"inference": {"sharing": {"mode": "time-slicing", "replicas": 2}}})
    with pytest.raises(ValueError, match=r"nvidia\.com/device-plugin\.config='other' must name the pool"):
        build_args(spec, relabel)


# --- monitoring ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_monitoring_hook_enables_the_exporter_service_monitor_with_the_selector_labels(cloud: str) -> None:
    built = build(spec_with(cloud), monitoring=True)
    values = built.values()
    monitor = values["serviceMonitor"] if cloud == "gcp" else values["dcgmExporter"]["serviceMonitor"]
    # honorLabels is what the dashboards/alerts are written for (exported_pod/exported_namespace).
    assert monitor == {"enabled": True, "honorLabels": DCGM_HONOR_LABELS, "additionalLabels": SELECTOR_LABELS}
    assert DCGM_HONOR_LABELS is False
    crds = built.rec.named("gp-monitoring")
    assert crds.urn in built.release().dependencies
    # The chart's own ServiceMonitor selects its service by construction: none is registered here.
    assert not [r for r in built.rec.resources if "ServiceMonitor" in r.type]
    assert built.gpu.dcgm_job == ("dcgm-exporter" if cloud == "gcp" else "nvidia-dcgm-exporter")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_without_monitoring_no_service_monitor_is_requested(cloud: str) -> None:
    built = build(spec_with(cloud), monitoring=False)
    values = built.values()
    monitor = values["serviceMonitor"] if cloud == "gcp" else values["dcgmExporter"]["serviceMonitor"]
    assert monitor == {"enabled": False}
    assert not [d for d in built.release().dependencies if "gp-monitoring" in d]


def test_default_counters_cover_accelerator_metrics() -> None:
    """Neither path overrides the exporter's counters: per-GPU utilisation and memory are collected."""
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"} <= dcgm_enabled_counters()
    for cloud in CLOUDS:
        values = build(spec_with(cloud)).values()
        assert "arguments" not in values
        assert "arguments" not in values.get("dcgmExporter", {})


# --- GKE specifics -------------------------------------------------------------------------------


def test_gke_exporter_mounts_googles_driver_and_maps_gpus_by_device_name() -> None:
    built = build(spec_with("gcp"))
    values = built.values()
    assert values["securityContext"] == {"privileged": True, "allowPrivilegeEscalation": True}
    assert values["extraHostVolumes"] == [
        {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"},
        {"name": "vulkan-icd-mount", "hostPath": "/home/kubernetes/bin/nvidia/vulkan/icd.d"},
    ]
    defaults = chart_defaults("dcgm-exporter", DCGM_EXPORTER.version)
    assert values["extraVolumeMounts"] == [
        *defaults["extraVolumeMounts"],  # the chart's counters file stays mounted
        {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True},
        {"name": "vulkan-icd-mount", "mountPath": "/etc/vulkan/icd.d", "readOnly": True},
    ]
    assert values["extraEnv"] == [
        {"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"},
        {"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"},
    ]


def test_gke_quota_admits_the_exporters_critical_priority() -> None:
    spec = spec_with("gcp")
    quota = build(spec).rec.named("gp-gpu-critical-pods").inputs
    assert quota["metadata"] == {"name": "critical-pods", "namespace": DCGM_NAMESPACE}
    # One exporter per GPU node at max scale (4 + 2), doubled for surge upgrades.
    assert quota["spec"] == {
        "hard": {"pods": "12"},
        "scopeSelector": {
            "matchExpressions": [{"operator": "In", "scopeName": "PriorityClass", "values": ["system-node-critical"]}]
        },
    }
    assert chart_defaults("dcgm-exporter", DCGM_EXPORTER.version)["priorityClassName"] == "system-node-critical"


# --- invalid args --------------------------------------------------------------------------------


def test_no_gpu_pools_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"scope\.gpu_pools: GPU enablement needs at least one GPU pool"):
        build_args(spec_with("aws"), lambda scope: dataclasses.replace(scope, gpu_pools=()))


def test_pools_not_matching_the_spec_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"scope\.gpu_pools: pools \['training'\] do not match"):
        build_args(spec_with("aws"), lambda scope: dataclasses.replace(scope, gpu_pools=scope.gpu_pools[1:]))


# --- upstream validation -------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("sharing", [False, True])
def test_every_rendered_object_validates_strictly(cloud: str, sharing: bool) -> None:
    spec = sharing_spec(cloud) if sharing else spec_with(cloud)
    built = build(spec, monitoring=True)
    objects = [redact(r.wire_inputs) for r in built.children() if is_kubernetes_object(r)]
    kinds = sorted(o["kind"] for o in objects)
    if cloud == "gcp":
        assert kinds == ["Namespace", "ResourceQuota"]
    else:
        assert kinds == (["ConfigMap", "Namespace"] if sharing else ["Namespace"])
    for obj in objects:
        validate_object(obj, spec.kubernetes_version)


def test_operator_values_key_paths_exist_upstream() -> None:
    spec = sharing_spec("existing")
    values = build(spec, monitoring=True).values()
    unknown = unknown_value_paths(GPU_OPERATOR.chart, GPU_OPERATOR.version, values)
    assert unknown == []
    # (1) a label key inside the operator's nodeSelector map (default {kubernetes.io/os: linux}): Helm
    #     merges it into the Deployment's PodSpec.nodeSelector, which must validate as such.
    defaults = chart_defaults("gpu-operator", GPU_OPERATOR.version)
    node_selector = helm_merge(defaults["operator"]["nodeSelector"], values["operator"]["nodeSelector"])
    assert node_selector == {"kubernetes.io/os": "linux", "gpuplane.io/pool": "system"}
    validate_core(pod(nodeSelector=node_selector), spec.kubernetes_version)
    # (2) the packaged sub-chart has these keys (free-form maps).
    nfd = chart_defaults("gpu-operator", GPU_OPERATOR.version, "charts", "node-feature-discovery")
    assert nfd["master"]["nodeSelector"] == {}
    assert nfd["gc"]["nodeSelector"] == {}


def test_gke_exporter_values_key_paths_exist_upstream() -> None:
    spec = spec_with("gcp")
    values = build(spec, monitoring=True).values()
    unknown = unknown_value_paths(DCGM_EXPORTER.chart, DCGM_EXPORTER.version, values)
    # Container fields the chart passes through verbatim (`toYaml .Values.securityContext`,
    # `toYaml .Values.extraVolumeMounts` in templates/daemonset.yaml); proven valid below.
    assert sorted(unknown) == [
        "extraVolumeMounts[1].readOnly",
        "extraVolumeMounts[2].readOnly",
        "securityContext.privileged",
    ]
    defaults = chart_defaults("dcgm-exporter", DCGM_EXPORTER.version)
    effective = helm_merge(defaults, values)
    # Render the exporter's pod the way templates/daemonset.yaml does and validate it strictly.
    volumes = [
        {"name": "pod-gpu-resources", "hostPath": {"path": effective["kubeletPath"]}},
        *({"name": v["name"], "hostPath": {"path": v["hostPath"]}} for v in effective["extraHostVolumes"]),
        *effective["extraConfigMapVolumes"],
    ]
    mounts = [
        {"name": "pod-gpu-resources", "readOnly": True, "mountPath": "/var/lib/kubelet/pod-resources"},
        *effective["extraVolumeMounts"],
    ]
    assert {m["name"] for m in mounts} <= {v["name"] for v in volumes}
    container = {
        "name": "exporter",
        "image": f"{effective['image']['repository']}:{effective['image']['tag']}",
        "securityContext": effective["securityContext"],
        "env": [{"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"}, *effective["extraEnv"]],
        "volumeMounts": mounts,
    }
    assert container["securityContext"]["privileged"] is True
    # The API server rejects privileged containers that forbid privilege escalation.
    assert container["securityContext"]["allowPrivilegeEscalation"] is True
    validate_core(
        pod(
            containers=[container],
            volumes=volumes,
            tolerations=effective["tolerations"],
            affinity=effective["affinity"],
            priorityClassName=effective["priorityClassName"],
        ),
        spec.kubernetes_version,
    )


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "registry.k8s.io/pause:3.10"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": spec}
