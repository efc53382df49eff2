"""KueueAddon under the mock runtime (preview=False): the exact children, generated from pools and tenants,
every object checked against the pinned upstream schemas, values and metric lists."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.addons.base import AddonScope, MonitoringHook, helm_release
from components.addons.kueue import (
    DEFAULT_FRAMEWORKS,
    LOCAL_QUEUE,
    METRICS_SERVICE_SELECTOR,
    REQUEUE_LIMIT,
    REQUIRED_FRAMEWORKS,
    KueueAddon,
    KueueArgs,
    flavor_order,
    manager_config,
    split_quotas,
)
from components.clusters.contract import GpuPoolScheduling
from components.spec import GPU_RESOURCE, PlatformSpec, SpecError
from components.versions import KUBE_PROMETHEUS_STACK, KUBERNETES_VERSIONS, KUEUE, KUEUE_CONTROLLER
from gpuplane import charts
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import kubernetes_objects, write
from tests.support import addon_scope, build_platform, raw_spec, record, spec_for
from tests.upstream import UPSTREAM, chart_dir, unknown_value_paths, validate_object, validate_values_schema

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
KUEUE_TYPE = "kubernetes:kueue.x-k8s.io/v1beta2"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
MONITORING_NAMESPACE = "monitoring"


@dataclass
class Built:
    rec: Recording
    spec: PlatformSpec
    addon: KueueAddon
    pools: tuple[GpuPoolScheduling, ...]

    @property
    def component(self) -> RecordedResource:
        return self.rec.named("gp-kueue")

    def child(self, name: str) -> RecordedResource:
        return self.rec.named(name)

    def spec_of(self, name: str) -> dict[str, Any]:
        return self.child(name).inputs["spec"]


def build(
    spec: PlatformSpec,
    *,
    monitoring: bool = False,
    scope: Callable[[AddonScope], AddonScope] = lambda s: s,
) -> Built:
    made: dict[str, Any] = {}

    def program() -> None:
        platform = build_platform(spec)
        base = addon_scope(platform)
        hook = None
        if monitoring:
            crds = helm_release(
                "gp-observability-release",
                KUBE_PROMETHEUS_STACK,
                namespace=MONITORING_NAMESPACE,
                values={},
                scope=base,
                parent=platform,
            )
            hook = MonitoringHook(
                namespace=MONITORING_NAMESPACE,
                selector_labels=SELECTOR_LABELS,
                dashboard_label=("grafana_dashboard", "1"),
                crds=crds,
            )
        made["pools"] = tuple(base.gpu_pools)
        made["addon"] = KueueAddon(
            "gp-kueue", KueueArgs(scope=scope(base), monitoring=hook), pulumi.ResourceOptions(parent=platform)
        )

    rec = record(program, region=spec.region)
    return Built(rec=rec, spec=spec, addon=made["addon"], pools=made["pools"])


def expected_children(spec: PlatformSpec, *, monitoring: bool) -> list[tuple[str, str]]:
    children = [(NAMESPACE_TYPE, "gp-kueue-namespace"), (RELEASE_TYPE, "gp-kueue-release")]
    children += [(f"{KUEUE_TYPE}:ResourceFlavor", f"gp-kueue-flavor-{p.name}") for p in spec.gpu_pools]
    children += [(f"{KUEUE_TYPE}:Cohort", "gp-kueue-cohort")]
    children += [(f"{KUEUE_TYPE}:WorkloadPriorityClass", f"gp-kueue-priority-{p}") for p in ("inference", "batch")]
    for tenant in spec.tenants:
        children += [
            (NAMESPACE_TYPE, f"gp-kueue-tenant-{tenant.name}"),
            (f"{KUEUE_TYPE}:ClusterQueue", f"gp-kueue-cluster-queue-{tenant.name}"),
            (f"{KUEUE_TYPE}:LocalQueue", f"gp-kueue-local-queue-{tenant.name}"),
        ]
    if monitoring:
        children += [
            ("kubernetes:core/v1:ServiceAccount", "gp-kueue-metrics-reader"),
            ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "gp-kueue-metrics-reader-role"),
            ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "gp-kueue-metrics-reader-binding"),
            ("kubernetes:core/v1:Secret", "gp-kueue-metrics-reader-token"),
            (MONITOR_TYPE, "gp-kueue-service-monitor"),
        ]
    return sorted(children)


def as_production(spec: PlatformSpec) -> PlatformSpec:
    """The same spec with ``production`` on. Only ``spec.production`` matters to Kueue; other sections'
    production rules (e.g. the gateway's certificate) are the spec's tests' business, so this skips
    re-validation instead of tracking them here."""
    return spec.model_copy(update={"production": True})


def names_of(rec: Recording, urns: list[str]) -> set[str]:
    return {rec.by_urn(u).name for u in urns}


# --- the child contract ------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("monitoring", [False, True])
def test_children_are_exact_and_wired_to_the_cluster(cloud: str, monitoring: bool) -> None:
    spec = spec_for(cloud)
    b = build(spec, monitoring=monitoring)
    component = b.component
    assert component.type == "gpuplane:addons:KueueAddon"
    assert component.parent == b.rec.named("gp").urn
    children = b.rec.children_of(component.urn)
    assert sorted((r.type, r.name) for r in children) == expected_children(spec, monitoring=monitoring)
    assert len(children) == 2 + 2 + 1 + 2 + 3 * 2 + (5 if monitoring else 0)
    assert [r for r in b.rec.resources if r.name.startswith("gp-kueue")] == [component, *children]

    (provider,) = b.rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else b.rec.of_type(NATIVE_TYPES[cloud])[0].urn
    for child in children:
        assert child.provider == f"{provider.urn}::{provider.id}", child.name
        assert child.deleted_with == native, child.name
        assert child.custom


@pytest.mark.parametrize("cloud", ["aws", "existing"])
def test_ordering_crds_before_custom_resources(cloud: str) -> None:
    b = build(spec_for(cloud), monitoring=True)
    rec = b.rec

    def deps(name: str) -> set[str]:
        return names_of(rec, rec.named(name).dependencies)

    flavors = {"gp-kueue-flavor-inference", "gp-kueue-flavor-training"}
    assert deps("gp-kueue-namespace") == set()
    assert deps("gp-kueue-release") == {"gp-kueue-namespace"}
    for flavor in flavors:
        assert deps(flavor) == {"gp-kueue-release"}
    assert deps("gp-kueue-priority-inference") == {"gp-kueue-release"}
    assert deps("gp-kueue-priority-batch") == {"gp-kueue-release"}
    assert deps("gp-kueue-cohort") == {"gp-kueue-release", *flavors}
    for tenant in ("team-a", "team-b"):
        assert deps(f"gp-kueue-tenant-{tenant}") == set()
        assert deps(f"gp-kueue-cluster-queue-{tenant}") == {"gp-kueue-release", "gp-kueue-cohort", *flavors}
        assert deps(f"gp-kueue-local-queue-{tenant}") == {
            "gp-kueue-release",
            f"gp-kueue-tenant-{tenant}",
            f"gp-kueue-cluster-queue-{tenant}",
        }
    assert deps("gp-kueue-metrics-reader") == {"gp-kueue-namespace"}
    assert deps("gp-kueue-metrics-reader-role") == set()
    assert deps("gp-kueue-metrics-reader-binding") == {"gp-kueue-metrics-reader-role", "gp-kueue-metrics-reader"}
    # The token controller deletes a token Secret whose ServiceAccount does not exist yet.
    assert deps("gp-kueue-metrics-reader-token") == {"gp-kueue-metrics-reader"}
    assert deps("gp-kueue-service-monitor") == {
        "gp-kueue-release",
        "gp-observability-release",
        "gp-kueue-metrics-reader-token",
        "gp-kueue-metrics-reader-binding",
    }


def test_exposes_flavors_queues_and_namespaces_for_later_addons() -> None:
    b = build(spec_for("gcp", tenants=[*raw_spec("gcp")["tenants"], {"name": "team-c", "quotas": {}}]))
    addon = b.addon
    assert set(addon.flavors) == {"inference", "training"}
    assert set(addon.cluster_queues) == {"team-a", "team-b", "team-c"}
    assert addon.local_queues == {"team-a": LOCAL_QUEUE, "team-b": LOCAL_QUEUE, "team-c": LOCAL_QUEUE}
    assert LOCAL_QUEUE == "default"
    assert set(addon.tenant_namespaces) == set(addon.local_queue_resources) == {"team-a", "team-b", "team-c"}
    assert set(addon.priority_classes) == {"inference", "batch"}
    assert addon.service_monitor is None


# --- upstream validation -------------------------------------------------------------------------


def _example_specs() -> list[PlatformSpec]:
    """The four clouds' baselines, plus shapes that change the objects: sharing, extra labels,
    custom taints on an existing cluster, fractional weights, borrowing off, production."""
    specs = [spec_for(cloud) for cloud in CLOUDS]
    raw = raw_spec("existing")
    raw["gpuPools"][0].update(
        labels={"team": "ml"},
        sharing={"mode": "time-slicing", "replicas": 4},
        taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}, {"key": "nvidia.com/gpu"}],
    )
    raw["gpuPools"][1].update(sharing={"mode": "mig", "migProfile": "1g.10gb"}, taints=[])
    raw["tenants"][1]["weight"] = 0.5
    raw["kueue"] = {"borrowing": False, "podsReadyTimeoutMinutes": 30}
    specs.append(as_production(spec_for("existing", **{k: v for k, v in raw.items() if k != "cloud"})))
    return specs


@pytest.mark.parametrize("spec", _example_specs(), ids=[*CLOUDS, "existing-shared-custom"])
def test_every_object_validates_against_upstream_schemas(spec: PlatformSpec) -> None:
    b = build(spec, monitoring=True)
    objects = kubernetes_objects(b.rec)
    mine = [b.child(name).inputs for name in (r.name for r in b.rec.children_of(b.component.urn))]
    kinds = sorted(o["kind"] for o in mine if "kind" in o)
    assert kinds == sorted(
        ["Namespace"] * (1 + len(spec.tenants))
        + ["ResourceFlavor"] * len(spec.gpu_pools)
        + ["Cohort", "WorkloadPriorityClass", "WorkloadPriorityClass", "ServiceMonitor"]
        + ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret"]
        + ["ClusterQueue", "LocalQueue"] * len(spec.tenants)
    )
    checked = 0
    for obj in objects:
        if obj not in mine:
            continue
        validate_object(obj, spec.kubernetes_version)
        if obj["kind"] == "Namespace":
            for version in KUBERNETES_VERSIONS:
                validate_object(obj, version)
        check_cel_rules(obj)
        checked += 1
    assert checked == len(kinds)


def test_render_writes_every_kueue_object_to_its_own_file(tmp_path: Path) -> None:
    b = build(spec_for("aws"), monitoring=True)
    written = {str(p.relative_to(tmp_path)) for p in write(b.rec, tmp_path)}
    assert {
        "namespace-kueue-system.yaml",
        "namespace-team-a.yaml",
        "namespace-team-b.yaml",
        "resourceflavor-inference.yaml",
        "resourceflavor-training.yaml",
        "cohort-gpuplane.yaml",
        "workloadpriorityclass-inference.yaml",
        "workloadpriorityclass-batch.yaml",
        "clusterqueue-team-a.yaml",
        "clusterqueue-team-b.yaml",
        "localqueue-team-a-default.yaml",
        "localqueue-team-b-default.yaml",
        "servicemonitor-kueue-system-kueue-controller-manager-metrics.yaml",
        "values/kueue.yaml",
    } <= written
    chart = yaml.safe_load((tmp_path / "values" / "kueue.yaml").read_text())
    assert yaml.safe_load(chart["managerConfig"]["controllerManagerConfigYaml"])["kind"] == "Configuration"


# The CRDs' x-kubernetes-validations (CEL) rules are not evaluated by jsonschema: each create-time rule
# of the kinds we write is mirrored here; transition rules (oldSelf) only constrain updates.
def _cq_cohort_borrowing(o: dict[str, Any]) -> bool:
    spec = o["spec"]
    if "cohortName" in spec or "resourceGroups" not in spec:
        return True
    return all("borrowingLimit" not in r for g in spec["resourceGroups"] for f in g["flavors"] for r in f["resources"])


def _groups_consistent(o: dict[str, Any]) -> bool:
    groups = o.get("spec", {}).get("resourceGroups", [])
    return all(len(f["resources"]) == len(g["coveredResources"]) for g in groups for f in g["flavors"])


def _fungibility(o: dict[str, Any]) -> bool:
    f = o["spec"].get("flavorFungibility", {})
    return "preference" not in f or (f.get("whenCanBorrow") == f.get("whenCanPreempt") == "TryNextFlavor")


def _preemption(o: dict[str, Any]) -> bool:
    p = o["spec"].get("preemption", {})
    borrow = p.get("borrowWithinCohort", {}).get("policy", "Never")
    return not (p.get("reclaimWithinCohort", "Never") == "Never" and borrow != "Never")


def _tolerations(o: dict[str, Any]) -> bool:
    effects = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
    return all(
        ("key" in t or t.get("operator") == "Exists")
        and ("tolerationSeconds" not in t or t.get("effect") == "NoExecute")
        and t.get("operator", "Equal") in {"Equal", "Exists"}
        and not (t.get("operator") == "Exists" and "value" in t)
        and t.get("effect", "NoSchedule") in effects
        for t in o["spec"].get("tolerations", [])
    )


def _taints(o: dict[str, Any]) -> bool:
    return all(t["effect"] in {"NoSchedule", "PreferNoSchedule", "NoExecute"} for t in o["spec"].get("nodeTaints", []))


def _topology(o: dict[str, Any]) -> bool:
    return "topologyName" not in o["spec"] or len(o["spec"].get("nodeLabels", {})) >= 1


CEL_CHECKS: dict[tuple[str, str], Callable[[dict[str, Any]], bool]] = {
    ("ResourceFlavor", "!has(self.topologyName) || self.nodeLabels.size() >= 1"): _topology,
    ("ResourceFlavor", "self.all(x, x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])"): _taints,
    ("ResourceFlavor", "self.all(x, !has(x.key) ? x.operator == 'Exists' : true)"): _tolerations,
    ("ResourceFlavor", "self.all(x, has(x.tolerationSeconds) ? x.effect == 'NoExecute' : true)"): _tolerations,
    ("ResourceFlavor", "self.all(x, !has(x.operator) || x.operator in ['Equal', 'Exists'])"): _tolerations,
    ("ResourceFlavor", "self.all(x, has(x.operator) && x.operator == 'Exists' ? !has(x.value) : true)"): _tolerations,
    (
        "ResourceFlavor",
        "self.all(x, !has(x.effect) || x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])",
    ): _tolerations,
    (
        "ClusterQueue",
        "!has(self.cohortName) && has(self.resourceGroups) ? self.resourceGroups.all(rg, rg.flavors.all(f, "
        "f.resources.all(r, !has(r.borrowingLimit)))) : true",
    ): _cq_cohort_borrowing,
    (
        "ClusterQueue",
        "!has(self.preference) || (self.whenCanBorrow == 'TryNextFlavor' && self.whenCanPreempt == 'TryNextFlavor')",
    ): _fungibility,
    (
        "ClusterQueue",
        "!(self.reclaimWithinCohort == 'Never' && has(self.borrowWithinCohort) &&  self.borrowWithinCohort.policy != 'Never')",
    ): _preemption,
    ("ClusterQueue", "self.flavors.all(x, size(x.resources) == size(self.coveredResources))"): _groups_consistent,
    ("Cohort", "self.flavors.all(x, size(x.resources) == size(self.coveredResources))"): _groups_consistent,
}


def check_cel_rules(obj: dict[str, Any]) -> None:
    for (kind, rule), check in CEL_CHECKS.items():
        if obj["kind"] == kind:
            assert check(obj), f"{kind} {obj['metadata']['name']} breaks CEL rule {rule}"
    if obj["kind"] == "ClusterQueue":  # Kueue's ClusterQueue webhook: lendingLimit <= nominalQuota
        for group in obj["spec"]["resourceGroups"]:
            for flavor in group["flavors"]:
                for r in flavor["resources"]:
                    assert r.get("lendingLimit", r["nominalQuota"]) <= r["nominalQuota"]
                    assert r["nominalQuota"] >= 0
                    assert r.get("borrowingLimit", 0) >= 0


def _cel_rules(kind: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if ".status" not in path:
                found.update(r["rule"] for r in node.get("x-kubernetes-validations", []))
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(json.loads((UPSTREAM / f"schemas-strict/kueue.x-k8s.io/v1beta2/{kind}.json").read_text()), "")
    return found


@pytest.mark.parametrize("kind", ["ResourceFlavor", "ClusterQueue", "Cohort", "LocalQueue", "WorkloadPriorityClass"])
def test_every_create_time_cel_rule_is_mirrored(kind: str) -> None:
    mirrored = {rule for k, rule in CEL_CHECKS if k == kind}
    transition_only = {rule for rule in _cel_rules(kind) if "oldSelf" in rule}
    assert _cel_rules(kind) == mirrored | transition_only


def test_cel_mirrors_reject_what_the_apiserver_rejects() -> None:
    flavor = {"kind": "ResourceFlavor", "spec": {"tolerations": [{"operator": "Exists", "value": "x"}]}}
    assert not _tolerations(flavor)
    cq = {"kind": "ClusterQueue", "spec": {"resourceGroups": [{"coveredResources": ["a"], "flavors": []}]}}
    cq["spec"]["resourceGroups"][0]["flavors"] = [{"name": "f", "resources": [{"name": "a", "borrowingLimit": 1}]}]
    assert not _cq_cohort_borrowing(cq)
    assert not _preemption({"spec": {"preemption": {"borrowWithinCohort": {"policy": "LowerPriority"}}}})
    cq["spec"]["resourceGroups"][0]["coveredResources"] = ["a", "b"]
    assert not _groups_consistent(cq)


# --- Helm release and Kueue configuration -----------------------------------------------------------


@pytest.mark.parametrize("production", [False, True])
def test_release_is_pinned_named_kueue_and_runs_on_the_system_pool(production: bool) -> None:
    spec = spec_for("aws")
    b = build(as_production(spec) if production else spec)
    release = b.child("gp-kueue-release").inputs
    assert release["name"] == "kueue" == KUEUE.release  # kubernetes-sigs/kueue#6866
    assert release["chart"] == "oci://registry.k8s.io/kueue/charts/kueue"
    assert release["version"] == KUEUE.version == "0.19.2"
    assert "repositoryOpts" not in release
    assert release["namespace"] == "kueue-system"
    assert release["createNamespace"] is False
    assert release["atomic"] is True
    values = release["values"]
    manager = values["controllerManager"]
    assert manager["nodeSelector"] == {"gpuplane.io/pool": "system"}
    assert manager["tolerations"] == []
    assert manager["replicas"] == (2 if production else 1)
    assert manager["podDisruptionBudget"] == {"enabled": production, "minAvailable": 1}
    image = manager["manager"]["image"]
    assert image == {"repository": "registry.k8s.io/kueue/kueue", "tag": "v0.19.2", "pullPolicy": "IfNotPresent"}
    assert values["enableKueueViz"] is False
    assert unknown_value_paths("kueue", KUEUE.version, values) == []
    validate_values_schema("kueue", KUEUE.version, values)


def test_controller_image_is_the_one_the_pinned_chart_publishes() -> None:
    published = json.loads((chart_dir("kueue", KUEUE.version) / "chart.json").read_text())["published"]
    at_release = published["valuesSetAtRelease"]
    assert KUEUE_CONTROLLER.repository == at_release["controllerManager.manager.image.repository"]
    assert KUEUE_CONTROLLER.tag == at_release["controllerManager.manager.image.tag"] == f"v{KUEUE.version}"
    assert published["ociRef"] == f"{KUEUE.chart_ref}:{KUEUE.version}"


def _upstream_config() -> dict[str, Any]:
    values = json.loads((chart_dir("kueue", KUEUE.version) / "values.json").read_text())
    return yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])


def test_manager_config_is_upstream_default_plus_gpuplane_settings() -> None:
    spec = spec_for("gcp")
    b = build(spec)
    rendered = yaml.safe_load(
        b.child("gp-kueue-release").inputs["values"]["managerConfig"]["controllerManagerConfigYaml"]
    )
    assert rendered == manager_config(spec)
    upstream = _upstream_config()
    assert upstream["apiVersion"] == rendered["apiVersion"] == "config.kueue.x-k8s.io/v1beta2"
    for key, value in upstream.items():
        if key == "metrics":
            assert rendered[key] == {**value, "enableClusterQueueResources": True}
        else:
            assert rendered[key] == value, key
    assert set(rendered) - set(upstream) == {
        "waitForPodsReady",
        "fairSharing",
        "resources",
        "managedJobsNamespaceSelector",
    }
    assert tuple(upstream["integrations"]["frameworks"]) == DEFAULT_FRAMEWORKS
    assert set(REQUIRED_FRAMEWORKS) <= set(rendered["integrations"]["frameworks"])


def test_gpuplane_settings_are_the_documented_v1beta2_shapes() -> None:
    config = manager_config(spec_for("aws", kueue={"podsReadyTimeoutMinutes": 25}))
    # v1beta2 has no `enable` fields: present means on (kubernetes-sigs/kueue#5032, #7584).
    assert config["waitForPodsReady"] == {
        "timeout": "25m",
        "recoveryTimeout": "25m",
        "blockAdmission": False,
        "requeuingStrategy": {
            "timestamp": "Eviction",
            "backoffBaseSeconds": 60,
            "backoffMaxSeconds": 3600,
            "backoffLimitCount": 3,
        },
    }
    assert config["fairSharing"] == {"preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]}
    assert config["metrics"]["enableClusterQueueResources"] is True
    assert config["resources"] == {"excludeResourcePrefixes": ["cpu", "memory", "ephemeral-storage", "hugepages-"]}
    assert GPU_RESOURCE not in config["resources"]["excludeResourcePrefixes"]
    assert not any(GPU_RESOURCE.startswith(p) for p in config["resources"]["excludeResourcePrefixes"])
    assert config["managedJobsNamespaceSelector"] == {
        "matchExpressions": [{"key": "gpuplane.io/tenant", "operator": "Exists"}]
    }
    # The upstream config file documents every key we add (commented out) for this chart version.
    raw = json.loads((chart_dir("kueue", KUEUE.version) / "values.json").read_text())["managerConfig"][
        "controllerManagerConfigYaml"
    ]
    for documented in (
        "#waitForPodsReady:",
        "#  timeout:",
        "#  recoveryTimeout:",
        "#  blockAdmission:",
        "#  requeuingStrategy:",
        "#    timestamp: Eviction",
        "#    backoffBaseSeconds:",
        "#    backoffMaxSeconds:",
        "#fairSharing:",
        "#  preemptionStrategies: [LessThanOrEqualToFinalShare, LessThanInitialShare]",
        "#resources:",
        "#  excludeResourcePrefixes:",
        "#managedJobsNamespaceSelector:",
        "# enableClusterQueueResources: true",
    ):
        assert documented in raw, documented


def test_every_config_gated_kueue_metric_is_enabled() -> None:
    """Metrics the pinned release only exports under a config switch (quota per tenant and flavor,
    pods-ready timings) are all switched on, so dashboards and alerts can rely on them."""
    config = manager_config(spec_for("aws"))
    path = UPSTREAM / "metrics" / "kueue" / f"v{KUEUE.version}"
    gated: dict[str, set[str]] = {}
    for file in path.glob("*.csv"):
        with file.open(newline="") as handle:
            for row in csv.DictReader(handle):
                for condition in row["condition"].split():
                    if condition.startswith("config="):
                        gated.setdefault(condition.removeprefix("config="), set()).add(row["name"])
    assert set(gated) == {"metrics.enableClusterQueueResources", "waitForPodsReady"}
    assert "kueue_cluster_queue_resource_usage" in gated["metrics.enableClusterQueueResources"]
    assert "kueue_cluster_queue_nominal_quota" in gated["metrics.enableClusterQueueResources"]
    assert config["metrics"]["enableClusterQueueResources"] is True
    assert "waitForPodsReady" in config


# --- metrics scraping (both branches) ----------------------------------------------------------------


def test_service_monitor_scrapes_the_metrics_service_with_the_hook_labels() -> None:
    b = build(spec_for("linode"), monitoring=True)
    monitor = b.child("gp-kueue-service-monitor").inputs
    assert monitor["metadata"]["namespace"] == "kueue-system"
    assert monitor["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "gpuplane", **SELECTOR_LABELS}
    values = b.child("gp-kueue-release").inputs["values"]
    assert values["enablePrometheus"] is False  # the chart's monitor cannot carry the selector labels
    assert "metricsService" not in values  # the chart ignores metricsService.labels
    # The selector matches the metrics Service the real 0.19.2 templates render with these values.
    release = charts.Release("kueue", "kueue-system", "kueue", KUEUE.version, values)
    rendered = charts.render_release(release, "1.34")
    services = [o for o in rendered if o["kind"] == "Service" and o["metadata"]["name"].endswith("metrics-service")]
    assert len(services) == 1
    labels = services[0]["metadata"]["labels"]
    assert monitor["spec"]["selector"] == {"matchLabels": METRICS_SERVICE_SELECTOR}
    assert all(labels.get(k) == v for k, v in METRICS_SERVICE_SELECTOR.items()), labels
    chart_ports = services[0]["spec"]["ports"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kueue-system"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in chart_ports}
    assert endpoint["scheme"] == "https"
    assert endpoint["path"] == "/metrics"
    assert endpoint == {
        "port": "https",
        "scheme": "https",
        "path": "/metrics",
        "interval": "30s",
        "authorization": {"type": "Bearer", "credentials": {"name": "gpuplane-metrics-reader-token", "key": "token"}},
        "tlsConfig": {"insecureSkipVerify": True},
    }
    assert "bearerTokenFile" not in endpoint  # deprecated in prometheus-operator
    assert b.addon.service_monitor is not None


def test_service_monitor_presents_a_metrics_only_service_account_token() -> None:
    b = build(spec_for("linode"), monitoring=True)
    managed = {"app.kubernetes.io/managed-by": "gpuplane"}
    account = b.child("gp-kueue-metrics-reader").inputs
    assert account == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "gpuplane-metrics-reader", "namespace": "kueue-system", "labels": managed},
        "automountServiceAccountToken": False,
    }
    assert b.child("gp-kueue-metrics-reader-role").inputs == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "gpuplane-kueue-metrics-reader", "labels": managed},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }
    assert b.child("gp-kueue-metrics-reader-binding").inputs == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "gpuplane-kueue-metrics-reader", "labels": managed},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "gpuplane-kueue-metrics-reader",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "gpuplane-metrics-reader", "namespace": "kueue-system"}],
    }
    token = b.child("gp-kueue-metrics-reader-token").inputs
    assert token == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "gpuplane-metrics-reader-token",
            "namespace": "kueue-system",
            "labels": managed,
            "annotations": {"kubernetes.io/service-account.name": "gpuplane-metrics-reader"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    # The ServiceMonitor names a Secret in its own namespace, and the pinned CRD accepts the endpoint.
    monitor = b.child("gp-kueue-service-monitor").inputs
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"]["credentials"]["name"] == token["metadata"]["name"]
    assert monitor["metadata"]["namespace"] == token["metadata"]["namespace"]
    rbac = [b.child(f"gp-kueue-metrics-reader-{r}").inputs for r in ("role", "binding")]
    for obj in (monitor, account, token, *rbac):
        validate_object(obj, "1.34")


def test_without_monitoring_no_service_monitor_but_metrics_stay_on() -> None:
    b = build(spec_for("linode"), monitoring=False)
    assert b.rec.of_type(MONITOR_TYPE) == []
    assert b.addon.service_monitor is None
    config = yaml.safe_load(
        b.child("gp-kueue-release").inputs["values"]["managerConfig"]["controllerManagerConfigYaml"]
    )
    assert config["metrics"] == {"bindAddress": ":8443", "enableClusterQueueResources": True}


# --- flavors follow the pools ------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_one_flavor_per_pool_with_exactly_its_labels_and_tolerations(cloud: str) -> None:
    b = build(spec_for(cloud))
    assert [p.name for p in b.pools] == ["inference", "training"]
    for pool in b.pools:
        flavor = b.child(f"gp-kueue-flavor-{pool.name}").inputs
        assert flavor["metadata"]["name"] == pool.name
        assert flavor["spec"] == {"nodeLabels": dict(pool.labels), "tolerations": pool.tolerations()}
        assert flavor["spec"]["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
        assert flavor["spec"]["nodeLabels"]["gpuplane.io/pool"] == pool.name
        assert flavor["spec"]["nodeLabels"]["gpuplane.io/gpu"] == pool.gpu


def test_changing_a_pools_labels_and_sharing_moves_the_flavor_with_it() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0].update(labels={"team": "ml", "tier": "gold"}, sharing={"mode": "time-slicing", "replicas": 4})
    b = build(spec_for("aws", gpuPools=raw["gpuPools"]))
    flavor = b.spec_of("gp-kueue-flavor-inference")
    assert flavor["nodeLabels"] == {
        "gpuplane.io/pool": "inference",
        "gpuplane.io/gpu": "nvidia-l4",
        "nvidia.com/device-plugin.config": "inference",
        "team": "ml",
        "tier": "gold",
    }
    assert flavor["nodeLabels"] == dict(b.pools[0].labels)
    untouched = b.spec_of("gp-kueue-flavor-training")
    assert untouched["nodeLabels"] == {"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-h100-80gb"}


def test_existing_cluster_taints_become_the_flavor_tolerations() -> None:
    raw = raw_spec("existing")
    raw["gpuPools"][0]["taints"] = [
        {"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
        {"key": "nvidia.com/gpu", "value": "present"},
    ]
    raw["gpuPools"][1]["taints"] = []
    b = build(spec_for("existing", gpuPools=raw["gpuPools"]))
    assert b.spec_of("gp-kueue-flavor-inference")["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert b.spec_of("gp-kueue-flavor-inference")["tolerations"] == b.pools[0].tolerations()
    untainted = b.spec_of("gp-kueue-flavor-training")
    assert "tolerations" not in untainted
    assert "nodeTaints" not in untainted


# --- tenants: namespace, ClusterQueue, LocalQueue -------------------------------------------------------


def test_tenant_namespaces_are_restricted_and_labelled() -> None:
    b = build(spec_for("gcp"))
    for tenant in ("team-a", "team-b"):
        ns = b.child(f"gp-kueue-tenant-{tenant}").inputs["metadata"]
        assert ns["name"] == tenant
        assert ns["labels"]["gpuplane.io/tenant"] == tenant
        assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    system = b.child("gp-kueue-namespace").inputs["metadata"]
    assert system["name"] == "kueue-system"
    assert system["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "gpuplane.io/tenant" not in system["labels"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cluster_queue_per_tenant_with_quota_limits_preemption_and_weight(cloud: str) -> None:
    spec = spec_for(cloud)
    small, big = (p.gpu for p in spec.gpu_pools)
    b = build(spec)
    team_a = b.child("gp-kueue-cluster-queue-team-a").inputs
    assert team_a["metadata"]["name"] == "team-a"
    queue = team_a["spec"]
    assert queue["cohortName"] == "gpuplane"
    assert queue["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}
    assert queue["queueingStrategy"] == "BestEffortFIFO"
    assert queue["preemption"] == {
        "reclaimWithinCohort": "Any",
        "withinClusterQueue": "LowerPriority",
        "borrowWithinCohort": {"policy": "Never"},  # no-op with fair sharing (kubernetes-sigs/kueue#4165)
    }
    assert queue["fairSharing"] == {"weight": 2}
    assert queue["flavorFungibility"] == {"whenCanBorrow": "TryNextFlavor", "whenCanPreempt": "TryNextFlavor"}
    # baseline: inference pool 4 x small, training pool 2 x big; team-a: 2 small + 1 big (borrowing on).
    assert queue["resourceGroups"] == [
        {
            "coveredResources": ["nvidia.com/gpu"],
            "flavors": [
                {
                    "name": "inference",
                    "resources": [{"name": GPU_RESOURCE, "nominalQuota": 2, "borrowingLimit": 2, "lendingLimit": 2}],
                },
                {
                    "name": "training",
                    "resources": [{"name": GPU_RESOURCE, "nominalQuota": 1, "borrowingLimit": 1, "lendingLimit": 1}],
                },
            ],
        }
    ]
    team_b = b.spec_of("gp-kueue-cluster-queue-team-b")
    assert team_b["fairSharing"] == {"weight": 1}
    # team-b has no quota for the big model, but may borrow it (0 nominal, lends nothing).
    assert team_b["resourceGroups"][0]["flavors"][1] == {
        "name": "training",
        "resources": [{"name": GPU_RESOURCE, "nominalQuota": 0, "borrowingLimit": 2, "lendingLimit": 0}],
    }
    assert (small, big) == (spec.gpu_pools[0].gpu, spec.gpu_pools[1].gpu)


def test_local_queue_default_in_the_tenant_namespace_points_at_its_cluster_queue() -> None:
    b = build(spec_for("linode"))
    for tenant in ("team-a", "team-b"):
        lq = b.child(f"gp-kueue-local-queue-{tenant}").inputs
        assert lq["metadata"]["name"] == "default"
        assert lq["metadata"]["namespace"] == tenant
        assert lq["spec"] == {"clusterQueue": tenant}


def test_adding_a_tenant_adds_its_namespace_local_queue_and_quota() -> None:
    before = build(spec_for("aws"))
    tenants = [*raw_spec("aws")["tenants"], {"name": "team-c", "quotas": {"nvidia-h100-80gb": 1}, "weight": 3}]
    after = build(spec_for("aws", tenants=tenants))
    new = {r.name for r in after.rec.resources} - {r.name for r in before.rec.resources}
    assert new == {"gp-kueue-tenant-team-c", "gp-kueue-cluster-queue-team-c", "gp-kueue-local-queue-team-c"}
    assert after.child("gp-kueue-tenant-team-c").inputs["metadata"]["name"] == "team-c"
    assert after.child("gp-kueue-local-queue-team-c").inputs["spec"] == {"clusterQueue": "team-c"}
    queue = after.spec_of("gp-kueue-cluster-queue-team-c")
    assert queue["fairSharing"] == {"weight": 3}
    training = queue["resourceGroups"][0]["flavors"][1]
    assert training == {
        "name": "training",
        "resources": [{"name": GPU_RESOURCE, "nominalQuota": 1, "borrowingLimit": 1, "lendingLimit": 1}],
    }
    # The H100 the cohort held spare is now team-c's nominal quota.
    assert before.spec_of("gp-kueue-cohort")["resourceGroups"][0]["flavors"][1]["resources"][0]["nominalQuota"] == 1
    assert after.spec_of("gp-kueue-cohort")["resourceGroups"][0]["flavors"][1]["resources"][0]["nominalQuota"] == 0


def test_borrowing_off_lists_only_quota_pools_with_zero_limits_and_an_empty_cohort() -> None:
    b = build(spec_for("gcp", kueue={"borrowing": False}))
    team_b = b.spec_of("gp-kueue-cluster-queue-team-b")
    assert team_b["resourceGroups"] == [
        {
            "coveredResources": [GPU_RESOURCE],
            "flavors": [
                {
                    "name": "inference",
                    "resources": [{"name": GPU_RESOURCE, "nominalQuota": 2, "borrowingLimit": 0, "lendingLimit": 0}],
                }
            ],
        }
    ]
    assert b.spec_of("gp-kueue-cohort") == {}
    assert b.child("gp-kueue-cohort").inputs["metadata"]["name"] == "gpuplane"


def test_borrowing_on_cohort_holds_every_pools_unassigned_units() -> None:
    b = build(spec_for("gcp", kueue={"cohort": "research"}))
    cohort = b.child("gp-kueue-cohort").inputs
    assert cohort["metadata"]["name"] == "research"
    assert cohort["spec"] == {
        "resourceGroups": [
            {
                "coveredResources": [GPU_RESOURCE],
                "flavors": [
                    {"name": "inference", "resources": [{"name": GPU_RESOURCE, "nominalQuota": 0}]},
                    {"name": "training", "resources": [{"name": GPU_RESOURCE, "nominalQuota": 1}]},
                ],
            }
        ]
    }
    assert b.spec_of("gp-kueue-cluster-queue-team-a")["cohortName"] == "research"


def test_a_tenant_without_quota_gets_an_empty_queue_when_borrowing_is_off() -> None:
    tenants = [*raw_spec("aws")["tenants"], {"name": "guests"}]
    b = build(spec_for("aws", tenants=tenants, kueue={"borrowing": False}))
    assert b.spec_of("gp-kueue-cluster-queue-guests")["resourceGroups"] == []
    on = build(spec_for("aws", tenants=tenants))
    flavors = on.spec_of("gp-kueue-cluster-queue-guests")["resourceGroups"][0]["flavors"]
    assert [f["resources"][0]["nominalQuota"] for f in flavors] == [0, 0]


def test_fractional_weights_are_quantity_strings() -> None:
    tenants = raw_spec("aws")["tenants"]
    tenants[0]["weight"] = 1.5
    tenants[1]["weight"] = 0.25
    b = build(spec_for("aws", tenants=tenants))
    assert b.spec_of("gp-kueue-cluster-queue-team-a")["fairSharing"] == {"weight": "1.5"}
    assert b.spec_of("gp-kueue-cluster-queue-team-b")["fairSharing"] == {"weight": "0.25"}


def test_priority_classes_inference_above_batch() -> None:
    b = build(spec_for("existing"))
    inference = b.child("gp-kueue-priority-inference").inputs
    batch = b.child("gp-kueue-priority-batch").inputs
    assert inference["metadata"]["name"] == "inference"
    assert batch["metadata"]["name"] == "batch"
    assert inference["value"] == 1000
    assert batch["value"] == 100
    assert "spec" not in inference
    assert "spec" not in batch
    assert inference["description"]
    assert batch["description"]


# --- quota arithmetic ------------------------------------------------------------------------------


def _spec_with_pools(pools: list[tuple[str, int]], quotas: list[int]) -> PlatformSpec:
    return spec_for(
        "aws",
        gpuPools=[{"name": name, "gpu": "nvidia-l4", "maxNodes": nodes} for name, nodes in pools],
        tenants=[{"name": f"t{i}", "quotas": {"nvidia-l4": q}} for i, q in enumerate(quotas)],
    )


@pytest.mark.parametrize(
    ("pools", "quotas", "expected"),
    [
        # proportional to the pools' units: 3 over (4, 2) -> (2, 1)
        ([("a", 4), ("b", 2)], [3], [{"a": 2, "b": 1}]),
        # ties go to the pool declared first; later tenants fill what is left
        ([("a", 1), ("b", 1)], [1, 1], [{"a": 1, "b": 0}, {"a": 0, "b": 1}]),
        # a floor never lands on a pool the earlier tenants already filled
        ([("a", 2), ("b", 2)], [1, 1, 2], [{"a": 1, "b": 0}, {"a": 1, "b": 0}, {"a": 0, "b": 2}]),
        ([("a", 3), ("b", 5), ("c", 2)], [7, 3], [{"a": 2, "b": 4, "c": 1}, {"a": 1, "b": 1, "c": 1}]),
    ],
)
def test_quota_split_across_pools_of_one_model(
    pools: list[tuple[str, int]], quotas: list[int], expected: list[dict[str, int]]
) -> None:
    spec = _spec_with_pools(pools, quotas)
    result = split_quotas(spec)
    assert [result[f"t{i}"] for i in range(len(quotas))] == expected


@pytest.mark.parametrize(
    ("pools", "quotas"),
    [
        ([("a", 1), ("b", 1), ("c", 1)], [1, 1, 1]),
        ([("a", 7), ("b", 3)], [3, 3, 3, 1]),
        ([("a", 5), ("b", 5), ("c", 5)], [4, 4, 4, 3]),
        ([("a", 2), ("b", 9)], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ],
)
def test_quota_split_keeps_every_quota_and_never_exceeds_a_pool(
    pools: list[tuple[str, int]], quotas: list[int]
) -> None:
    spec = _spec_with_pools(pools, quotas)
    result = split_quotas(spec)
    for i, quota in enumerate(quotas):
        assert sum(result[f"t{i}"].values()) == quota
    for name, nodes in pools:
        assert sum(shares[name] for shares in result.values()) <= nodes


def test_mig_and_time_sliced_pools_count_in_units() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["sharing"] = {"mode": "time-slicing", "replicas": 4}  # 4 nodes x 4 = 16 units
    raw["tenants"] = [{"name": "team-a", "quotas": {"nvidia-l4": 12}}, {"name": "team-b", "quotas": {"nvidia-l4": 4}}]
    b = build(spec_for("aws", gpuPools=raw["gpuPools"], tenants=raw["tenants"]))
    flavors = b.spec_of("gp-kueue-cluster-queue-team-a")["resourceGroups"][0]["flavors"]
    (team_a,) = [f["resources"][0] for f in flavors if f["name"] == raw["gpuPools"][0]["name"]]
    assert team_a == {"name": GPU_RESOURCE, "nominalQuota": 12, "borrowingLimit": 4, "lendingLimit": 12}


def test_a_gpu_workload_naming_no_pool_gets_a_whole_gpu_first() -> None:
    """Kueue gives a workload that fits every flavor the first one with quota: whole-GPU pools come
    first, then MIG, then time-sliced, whatever order the stack declares them in."""
    raw = raw_spec("aws")
    shared, whole = raw["gpuPools"][0], raw["gpuPools"][1]
    shared["sharing"] = {"mode": "time-slicing", "replicas": 4}
    spec = spec_for("aws", gpuPools=[shared, whole])
    assert [p.name for p in flavor_order(spec)] == [whole["name"], shared["name"]]
    b = build(spec)
    for tenant in ("team-a", "team-b"):
        flavors = b.spec_of(f"gp-kueue-cluster-queue-{tenant}")["resourceGroups"][0]["flavors"]
        assert next(f["name"] for f in flavors) == whole["name"], tenant
    cohort = b.spec_of("gp-kueue-cohort")["resourceGroups"][0]["flavors"]
    assert [f["name"] for f in cohort] == [whole["name"], shared["name"]]


def test_waiting_for_pods_ready_ends_in_deactivation_not_an_evict_loop() -> None:
    config = manager_config(spec_for("aws"))
    assert config["waitForPodsReady"]["requeuingStrategy"]["backoffLimitCount"] == REQUEUE_LIMIT == 3


def test_quotas_above_capacity_are_rejected_at_config_time() -> None:
    small = raw_spec("aws")["gpuPools"][0]["gpu"]
    with pytest.raises(SpecError) as raised:
        spec_for(
            "aws",
            tenants=[{"name": "team-a", "quotas": {small: 3}}, {"name": "team-b", "quotas": {small: 3}}],
        )
    assert str(raised.value) == (
        f"tenants: quotas for {small} add up to 6, above the 4 the pools reach at maxNodes; "
        "lower quotas or raise maxNodes"
    )
    with pytest.raises(SpecError, match=r"tenants\[0\]\.quotas\.nvidia-l4: quota 5 is above the 4"):
        spec_for("aws", tenants=[{"name": "team-a", "quotas": {small: 5}}])


# --- invalid arguments --------------------------------------------------------------------------------


def _args_error(spec: PlatformSpec, **kwargs: Any) -> str:
    errors: list[str] = []

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        changed = AddonScope(
            spec=scope.spec,
            provider=scope.provider,
            native=scope.native,
            gpu_pools=kwargs.get("gpu_pools", scope.gpu_pools),
        )
        monitoring = None
        if "monitoring_namespace" in kwargs:
            monitoring = MonitoringHook(
                namespace=kwargs["monitoring_namespace"],
                selector_labels={},
                dashboard_label=("grafana_dashboard", "1"),
                crds=platform,
            )
        try:
            KueueArgs(scope=changed, monitoring=monitoring)
        except ValueError as exc:
            errors.append(str(exc))

    record(program, region=spec.region)
    assert len(errors) == 1
    return errors[0]


def test_disabled_kueue_must_not_be_built() -> None:
    message = _args_error(spec_for("aws", kueue={"enabled": False}))
    assert message.startswith("scope.spec.kueue.enabled:")


@pytest.mark.parametrize("tenant", ["default", "kube-system", "kube-anything", "kueue-system"])
def test_tenants_named_like_system_namespaces_are_rejected(tenant: str) -> None:
    with pytest.raises(SpecError, match=r"tenants\[0\]\.name: .* is a system or platform namespace"):
        spec_for("gcp", tenants=[{"name": tenant, "quotas": {}}])


def test_tenant_named_like_the_monitoring_namespace_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"tenants\[0\]\.name: 'monitoring' is a system or platform namespace"):
        spec_for("gcp", tenants=[{"name": "monitoring"}])


def test_cluster_pools_must_be_the_specs_pools() -> None:
    message = _args_error(spec_for("linode"), gpu_pools=())
    assert message.startswith("scope.gpu_pools:")


def test_more_taints_than_a_flavor_can_tolerate_are_rejected() -> None:
    raw = raw_spec("existing")
    raw["gpuPools"][0]["taints"] = [{"key": f"k{i}"} for i in range(9)]
    with pytest.raises(SpecError, match=r"gpuPools\[0\]\.taints: Tuple should have at most 8 items"):
        spec_for("existing", gpuPools=raw["gpuPools"])
