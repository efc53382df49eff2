"""The observability add-on under the mock runtime: its exact children on every cloud, the values it
gives kube-prometheus-stack, the selectors that make monitors and rules really picked up, the
Grafana admin secret, dashboards and rules, all checked against upstream's schemas, chart defaults
and metric lists."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import promql_parser
import pulumi
import pytest

from components.addons.alerts import AlertRule, RuleGroup
from components.addons.alerts.gpu import HARDWARE_XIDS, XID_STEP, XID_WINDOW_MINUTES
from components.addons.alerts.kueue import kueue_rules
from components.addons.alerts.series import GPU_ID
from components.addons.base import SYSTEM_NODE_SELECTOR, AddonScope
from components.addons.dashboards import DATASOURCE_UID, GRID_COLUMNS, Dashboard, Panel, Query
from components.addons.dashboards.gpu import gpu_dashboard
from components.addons.observability import (
    NAMESPACE,
    NODE_EXPORTER_NAMESPACE,
    SELECTED_KINDS,
    SELECTOR_LABELS,
    Observability,
    ObservabilityArgs,
    dashboard_config_map,
    pod_monitor,
    prometheus_rule,
    service_monitor,
    stack_values,
)
from components.versions import (
    COMPATIBILITY,
    KUBE_PROMETHEUS_CRD_UPGRADE_BUSYBOX,
    KUBE_PROMETHEUS_CRD_UPGRADE_KUBECTL,
    KUBE_PROMETHEUS_STACK,
)
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import is_kubernetes_object, kubernetes_objects
from tests.support import addon_scope, build_platform, record, spec_for
from tests.upstream import (
    UPSTREAM_EXTRA,
    dcgm_enabled_counters,
    known_metrics,
    metric_names,
    unknown_value_paths,
    validate_core,
    validate_object,
    validate_values_schema,
)

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
    "existing": None,
}
OBS = "gpuplane:addons:Observability"
NAMESPACE_T = "kubernetes:core/v1:Namespace"
SECRET_T = "kubernetes:core/v1:Secret"
CONFIGMAP_T = "kubernetes:core/v1:ConfigMap"
RELEASE_T = "kubernetes:helm.sh/v3:Release"
RULE_T = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
PASSWORD_T = "random:index/randomPassword:RandomPassword"
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
EXPECTED_CHILDREN = {
    (NAMESPACE_T, "gp-obs-namespace"),
    (NAMESPACE_T, "gp-obs-node-exporter-namespace"),
    (PASSWORD_T, "gp-obs-grafana-password"),
    (SECRET_T, "gp-obs-grafana-admin"),
    (RELEASE_T, "gp-obs-stack"),
    (CONFIGMAP_T, "gp-obs-dashboard-gpu"),
    (CONFIGMAP_T, "gp-obs-dashboard-kueue"),
    (RULE_T, "gp-obs-rules-gpu"),
    (RULE_T, "gp-obs-rules-kueue"),
}
GRAFANA_STAND_IN = UPSTREAM_EXTRA / "charts" / "grafana" / "13.1.0" / "values-excerpt.json"


def _record_with(spec: Any, extra: Callable[[Observability, Any], None] | None = None) -> Recording:
    def build() -> None:
        platform = build_platform(spec)
        obs = Observability(
            "gp-obs", ObservabilityArgs(scope=addon_scope(platform)), pulumi.ResourceOptions(parent=platform)
        )
        if extra is not None:
            extra(obs, addon_scope(platform))

    return record(build)


class _Recordings(dict[str, Recording]):
    """One recording per cloud, made on first use and shared by the module's tests (they only read)."""

    def __missing__(self, cloud: str) -> Recording:
        self[cloud] = _record_with(spec_for(cloud))
        return self[cloud]


@pytest.fixture(scope="module")
def recordings() -> dict[str, Recording]:
    return _Recordings()


def _obs(rec: Recording) -> RecordedResource:
    [obs] = rec.of_type(OBS)
    return obs


def _children(rec: Recording) -> list[RecordedResource]:
    return rec.children_of(_obs(rec).urn)


def _values(rec: Recording) -> dict[str, Any]:
    return cast(dict[str, Any], rec.named("gp-obs-stack").inputs["values"])


def _deps(rec: Recording, name: str) -> set[str]:
    return {rec.by_urn(urn).name for urn in rec.named(name).dependencies}


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) below ``node``."""
    if isinstance(node, dict):
        for key, value in cast(dict[str, Any], node).items():
            yield key, value
            for sub, deeper in _walk(value):
                yield f"{key}.{sub}", deeper


def _sent_objects(rec: Recording) -> list[dict[str, Any]]:
    """The Kubernetes objects as the API server receives them (secret values in clear, unlike
    ``gpuplane render``, which writes a secret map as the string ``[secret]``)."""
    return [r.inputs for r in rec.resources if is_kubernetes_object(r)]


def _path_exists(tree: Any, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = cast(dict[str, Any], tree)[key]
    return True


# --- children, wiring, ordering -----------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_children_are_exactly_the_stack_secret_dashboards_and_rules(
    recordings: dict[str, Recording], cloud: str
) -> None:
    rec = recordings[cloud]
    obs = _obs(rec)
    assert rec.by_urn(obs.parent).type == "gpuplane:index:GpuPlatform"
    children = _children(rec)
    assert {(c.type, c.name) for c in children} == EXPECTED_CHILDREN
    assert len(children) == len(EXPECTED_CHILDREN)
    assert rec.children_of(_obs(rec).urn) == children  # nothing else is parented here
    # nothing the add-on builds lives outside the component
    assert not [r for r in rec.resources if r.name.startswith("gp-obs") and r.parent != obs.urn and r is not obs]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_kubernetes_children_use_the_cluster_provider_and_die_with_the_cluster(
    recordings: dict[str, Recording], cloud: str
) -> None:
    rec = recordings[cloud]
    [provider] = rec.of_type("pulumi:providers:kubernetes")
    for child in _children(rec):
        if child.type == PASSWORD_T:
            assert not child.provider.startswith(provider.urn)  # a random provider, never the cluster's
            continue
        assert child.provider == f"{provider.urn}::{provider.id}", child.name
        if NATIVE_TYPES[cloud] is None or child.name == "gp-obs-stack":
            # The release owns Prometheus' PersistentVolume: destroy deletes it for real (test_destroy_order.py).
            assert child.deleted_with == "", child.name
        else:
            assert rec.by_urn(child.deleted_with).type == NATIVE_TYPES[cloud], child.name


def test_ordering_namespaces_then_secret_then_release_then_crs(recordings: dict[str, Recording]) -> None:
    rec = recordings["aws"]
    assert _deps(rec, "gp-obs-grafana-admin") >= {"gp-obs-namespace"}
    assert _deps(rec, "gp-obs-stack") == {"gp-obs-namespace", "gp-obs-node-exporter-namespace", "gp-obs-grafana-admin"}
    for name in ("gp-obs-rules-gpu", "gp-obs-rules-kueue", "gp-obs-dashboard-gpu", "gp-obs-dashboard-kueue"):
        assert "gp-obs-stack" in _deps(rec, name), name  # CRDs and the namespace come with the release


def test_kueue_dashboard_and_rules_only_when_kueue_is_enabled() -> None:
    rec = _record_with(spec_for("aws", kueue={"enabled": False}))
    names = {c.name for c in _children(rec)}
    assert names == {name for _, name in EXPECTED_CHILDREN} - {"gp-obs-dashboard-kueue", "gp-obs-rules-kueue"}
    rule_names = {o["metadata"]["name"] for o in kubernetes_objects(rec) if o["kind"] == "PrometheusRule"}
    assert rule_names == {"gpuplane-gpu"}


# --- args ---------------------------------------------------------------------------------------


def _scope_for(spec: Any) -> AddonScope:
    return AddonScope(spec=spec, provider=cast(Any, object()), native=None, gpu_pools=())


def test_args_refuse_a_spec_with_observability_disabled() -> None:
    with pytest.raises(ValueError, match=r"scope: spec.observability.enabled is false"):
        ObservabilityArgs(
            scope=_scope_for(spec_for("aws", observability={"enabled": False}, autoscaling={"customMetrics": False}))
        )


def test_args_refuse_something_that_is_not_a_scope() -> None:
    with pytest.raises(TypeError, match="scope: expected an AddonScope"):
        ObservabilityArgs(scope=cast(Any, spec_for("aws")))


def test_args_accept_the_default_spec() -> None:
    assert ObservabilityArgs(scope=_scope_for(spec_for("gcp"))).scope.spec.cloud == "gcp"


# --- the chart and its values -------------------------------------------------------------------


def test_chart_is_the_pinned_release_so_hooks_run(recordings: dict[str, Recording]) -> None:
    rec = recordings["aws"]
    assert not rec.of_type("kubernetes:helm.sh/v4:Chart")
    release = rec.named("gp-obs-stack").inputs
    assert release["name"] == KUBE_PROMETHEUS_STACK.release
    assert release["chart"] == KUBE_PROMETHEUS_STACK.chart
    assert release["version"] == KUBE_PROMETHEUS_STACK.version
    assert release["repositoryOpts"] == {"repo": KUBE_PROMETHEUS_STACK.repository}
    assert release["namespace"] == NAMESPACE
    assert release["atomic"] is True
    assert release["waitForJobs"] is True
    assert release.get("skipCrds") in (None, False)
    upgrade = _values(rec)["crds"]["upgradeJob"]
    assert upgrade["enabled"] is True
    assert upgrade["image"]["kubectl"] == {"registry": "registry.k8s.io", "repository": "kubectl", "tag": "v1.34.1"}
    assert upgrade["image"]["busybox"] == {"registry": "docker.io", "repository": "busybox", "tag": "1.37.0"}
    assert KUBE_PROMETHEUS_CRD_UPGRADE_KUBECTL.ref == "registry.k8s.io/kubectl:v1.34.1"
    assert KUBE_PROMETHEUS_CRD_UPGRADE_BUSYBOX.ref == "docker.io/busybox:1.37.0"


@pytest.mark.parametrize(
    ("settings", "retention", "size", "storage"),
    [
        ({}, "15d", "42GB", "50Gi"),
        ({"retentionDays": 7, "storageGb": 200, "pendingAlertMinutes": 45}, "7d", "170GB", "200Gi"),
    ],
)
def test_prometheus_retention_and_storage_follow_the_spec(
    settings: dict[str, Any], retention: str, size: str, storage: str
) -> None:
    spec = spec_for("linode", observability=settings)
    prometheus = stack_values(spec)["prometheus"]["prometheusSpec"]
    assert prometheus["retention"] == retention
    assert prometheus["retentionSize"] == size
    claim = prometheus["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    # the claim template is a real PersistentVolumeClaim spec
    validate_core(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "prometheus-db"}, "spec": claim},
        spec.kubernetes_version,
    )


def test_the_recorded_values_are_the_spec_values(recordings: dict[str, Recording]) -> None:
    assert _values(recordings["gcp"]) == json.loads(json.dumps(stack_values(spec_for("gcp"))))


def test_controllers_run_on_the_system_pool_only(recordings: dict[str, Recording]) -> None:
    values = _values(recordings["aws"])
    placed = {
        "prometheusOperator": values["prometheusOperator"],
        "admission webhook jobs": values["prometheusOperator"]["admissionWebhooks"]["patch"],
        "crd upgrade job": values["crds"]["upgradeJob"],
        "prometheus": values["prometheus"]["prometheusSpec"],
        "alertmanager": values["alertmanager"]["alertmanagerSpec"],
        "grafana": values["grafana"],
    }
    for what, subtree in placed.items():
        assert subtree["nodeSelector"] == dict(SYSTEM_NODE_SELECTOR), what
        assert "tolerations" not in subtree, what  # nothing here may land on a tainted GPU node
    assert values["alertmanager"]["enabled"] is True
    assert values["grafana"]["enabled"] is True


def test_namespaces_and_pod_security(recordings: dict[str, Recording]) -> None:
    rec = recordings["aws"]
    monitoring = rec.named("gp-obs-namespace").inputs["metadata"]
    exporter = rec.named("gp-obs-node-exporter-namespace").inputs["metadata"]
    assert monitoring["name"] == NAMESPACE
    assert monitoring["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert monitoring["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert monitoring["labels"]["pod-security.kubernetes.io/audit"] == "restricted"
    assert exporter["name"] == NODE_EXPORTER_NAMESPACE
    assert exporter["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    # the privileged namespace holds the node exporter and nothing else of the stack
    values = _values(rec)
    assert values["prometheus-node-exporter"] == {"namespaceOverride": NODE_EXPORTER_NAMESPACE}
    assert rec.named("gp-obs-stack").inputs["namespace"] == NAMESPACE
    namespaces = [o["metadata"].get("namespace") for o in kubernetes_objects(rec) if o["kind"] != "Namespace"]
    assert NODE_EXPORTER_NAMESPACE not in namespaces


def test_grafana_admin_password_is_generated_and_kept_secret(recordings: dict[str, Recording]) -> None:
    rec = recordings["existing"]
    password = rec.named("gp-obs-grafana-password")
    assert password.inputs["length"] == 32
    secret = rec.named("gp-obs-grafana-admin")
    assert secret.is_secret("stringData")
    data = secret.inputs["stringData"]
    generated = password.outputs["result"]
    assert data["admin-password"] == generated
    assert data["admin-user"] == "admin"
    grafana = _values(rec)["grafana"]
    assert grafana["admin"] == {
        "existingSecret": secret.inputs["metadata"]["name"],
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert secret.inputs["metadata"]["namespace"] == rec.named("gp-obs-stack").inputs["namespace"]
    assert "adminPassword" not in grafana
    # the password is nowhere but in the secret: not in values, not in any rendered object
    assert generated not in json.dumps(rec.named("gp-obs-stack").wire_inputs)
    assert generated not in json.dumps(kubernetes_objects(rec))


def test_values_key_paths_exist_in_the_pinned_chart(recordings: dict[str, Recording]) -> None:
    values = _values(recordings["aws"])
    validate_values_schema(KUBE_PROMETHEUS_STACK.chart, KUBE_PROMETHEUS_STACK.version, values)
    missing = unknown_value_paths(KUBE_PROMETHEUS_STACK.chart, KUBE_PROMETHEUS_STACK.version, values)
    # grafana 12.11.1's own defaults are not reachable offline; the grafana.* paths only they could
    # confirm are checked against the stand-in next to 12.11.1 (see its SOURCE.md).
    stand_in = json.loads(GRAFANA_STAND_IN.read_text())
    unconfirmed = [
        p for p in missing if not (p.startswith("grafana.") and _path_exists(stand_in, p[len("grafana.") :]))
    ]
    assert unconfirmed == []
    # and the check is live: a typo is reported
    typo = {**values, "prometheus": {"prometheusSpec": {"retentionn": "1d"}}}
    reported = unknown_value_paths(KUBE_PROMETHEUS_STACK.chart, KUBE_PROMETHEUS_STACK.version, typo)
    assert set(reported) - set(missing) == {"prometheus.prometheusSpec.retentionn"}
    assert not _path_exists(stand_in, "sidecar.dashboards.folderAnnotations")


# --- selectors: what Prometheus and Grafana pick up ----------------------------------------------


def _with_other_addon(obs: Observability, scope: Any) -> None:
    """What the GPU/Kueue/gateway add-ons do with the hook."""
    other = pulumi.ComponentResource("gpuplane:test:OtherAddon", "gp-other", None, pulumi.ResourceOptions(parent=obs))
    service_monitor(
        "gp-other-service-monitor",
        name="demo",
        namespace="demo",
        spec={
            "selector": {"matchLabels": {"app": "demo"}},
            "endpoints": [{"port": "metrics", "interval": "30s"}],
            "namespaceSelector": {"matchNames": ["demo"]},
        },
        hook=obs.hook,
        scope=scope,
        parent=other,
    )
    pod_monitor(
        "gp-other-pod-monitor",
        name="demo",
        namespace="demo",
        spec={"selector": {"matchLabels": {"app": "demo"}}, "podMetricsEndpoints": [{"port": "metrics"}]},
        hook=obs.hook,
        scope=scope,
        parent=other,
    )
    prometheus_rule(
        "gp-other-rules",
        name="demo",
        namespace="demo",
        groups=[
            RuleGroup(
                name="demo",
                rules=(
                    AlertRule(
                        alert="DemoDown",
                        expr='up{job="demo"} == 0',
                        for_="5m",
                        severity="warning",
                        summary="demo is down",
                        description="demo is down",
                    ),
                ),
            )
        ],
        hook=obs.hook,
        scope=scope,
        parent=other,
    )
    dashboard_config_map(
        "gp-other-dashboard",
        Dashboard(
            uid="demo", title="demo", panels=(Panel(title="up", queries=(Query(expr='up{job="demo"}', legend="up"),)),)
        ),
        hook=obs.hook,
        scope=scope,
        parent=other,
    )


@pytest.fixture(scope="module")
def with_other_addon() -> Recording:
    return _record_with(spec_for("aws"), _with_other_addon)


def test_every_monitor_and_rule_carries_the_labels_prometheus_selects(with_other_addon: Recording) -> None:
    rec = with_other_addon
    values = _values(rec)
    prometheus = values["prometheus"]["prometheusSpec"]
    for kind in SELECTED_KINDS:
        assert prometheus[f"{kind}SelectorNilUsesHelmValues"] is False, kind
        assert prometheus[f"{kind}Selector"] == {"matchLabels": dict(SELECTOR_LABELS)}, kind
    # the chart labels its own monitors release=<release name>: the selector keeps them
    assert dict(SELECTOR_LABELS) == {"release": rec.named("gp-obs-stack").inputs["name"]}
    monitors = [o for o in kubernetes_objects(rec) if o["kind"] in MONITOR_KINDS]
    assert sorted(o["kind"] for o in monitors) == [
        "PodMonitor",
        "PrometheusRule",
        "PrometheusRule",
        "PrometheusRule",
        "ServiceMonitor",
    ]
    for obj in monitors:
        labels = obj["metadata"]["labels"]
        assert dict(labels, **SELECTOR_LABELS) == labels, obj["metadata"]["name"]


def test_helpers_wire_other_addons_children_to_the_crds(with_other_addon: Recording) -> None:
    rec = with_other_addon
    other = rec.named("gp-other")
    children = {c.name: c for c in rec.children_of(other.urn)}
    assert set(children) == {"gp-other-service-monitor", "gp-other-pod-monitor", "gp-other-rules", "gp-other-dashboard"}
    [provider] = rec.of_type("pulumi:providers:kubernetes")
    for child in children.values():
        assert "gp-obs-stack" in {rec.by_urn(u).name for u in child.dependencies}, child.name
        assert child.provider == f"{provider.urn}::{provider.id}"
        assert rec.by_urn(child.deleted_with).type == NATIVE_TYPES["aws"]
    dashboard = children["gp-other-dashboard"].inputs["metadata"]
    assert dashboard["namespace"] == NAMESPACE
    assert dashboard["labels"]["grafana_dashboard"] == "1"
    for obj in _sent_objects(rec):
        validate_object(obj, "1.34")


def test_prometheus_rule_needs_a_group() -> None:
    with pytest.raises(ValueError, match="groups: PrometheusRule 'x' has no rule group"):
        prometheus_rule("x", name="x", groups=[], hook=cast(Any, None), scope=cast(Any, None), parent=cast(Any, None))


def test_grafana_sidecar_loads_the_dashboards_configmaps(recordings: dict[str, Recording]) -> None:
    rec = recordings["linode"]
    sidecar = _values(rec)["grafana"]["sidecar"]
    dashboards = sidecar["dashboards"]
    assert dashboards["enabled"] is True
    assert dashboards["searchNamespace"] == "ALL"
    assert dashboards["provider"]["foldersFromFilesStructure"] is True
    assert sidecar["datasources"]["uid"] == DATASOURCE_UID
    for name in ("gp-obs-dashboard-gpu", "gp-obs-dashboard-kueue"):
        metadata = rec.named(name).inputs["metadata"]
        assert metadata["labels"][dashboards["label"]] == dashboards["labelValue"], name
        assert metadata["annotations"] == {dashboards["folderAnnotation"]: "gpuplane"}, name
        assert metadata["namespace"] == NAMESPACE


# --- every object against upstream ---------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_rendered_object_validates_upstream(recordings: dict[str, Recording], cloud: str) -> None:
    # The cluster's own objects (EKS: the default StorageClass) are tested with the cluster.
    objects = [o for o in _sent_objects(recordings[cloud]) if o["kind"] != "StorageClass"]
    assert sorted(o["kind"] for o in objects) == [
        "ConfigMap",
        "ConfigMap",
        "Namespace",
        "Namespace",
        "PrometheusRule",
        "PrometheusRule",
        "Secret",
    ]
    for version in COMPATIBILITY["kubernetes"]["all"]:
        for obj in objects:
            validate_object(obj, version)


# --- dashboards ---------------------------------------------------------------------------------


def _dashboards(rec: Recording) -> dict[str, dict[str, Any]]:
    boards: dict[str, dict[str, Any]] = {}
    for obj in kubernetes_objects(rec):
        if obj["kind"] == "ConfigMap":
            [(key, text)] = obj["data"].items()
            board = json.loads(text)
            assert key == f"{board['uid']}.json"
            boards[board["uid"]] = board
    return boards


def _rule_exprs(rec: Recording) -> list[str]:
    return [
        rule["expr"]
        for obj in kubernetes_objects(rec)
        if obj["kind"] == "PrometheusRule"
        for group in obj["spec"]["groups"]
        for rule in group["rules"]
    ]


def _panel_exprs(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def test_dashboard_layout_and_data_source(recordings: dict[str, Recording]) -> None:
    boards = _dashboards(recordings["aws"])
    assert set(boards) == {"gpuplane-gpus", "gpuplane-kueue"}
    for board in boards.values():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= GRID_COLUMNS
            area = {
                (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & area, panel["title"]  # no two panels overlap
            cells |= area
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
            assert panel["targets"], panel["title"]
            assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in panel["targets"])


def _groupings(expr: str) -> set[tuple[str, tuple[str, ...]]]:
    """(metric, sorted by-labels) for every aggregation directly over a selector of a metric."""
    found: set[tuple[str, tuple[str, ...]]] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            for metric in metric_names(str(node.expr)):
                found.add((metric, tuple(sorted(node.modifier.labels))))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_gpu_dashboard_shows_utilisation_and_memory_per_node_and_per_pod(recordings: dict[str, Recording]) -> None:
    board = _dashboards(recordings["aws"])["gpuplane-gpus"]
    groupings = {g for expr in _panel_exprs(board) for g in _groupings(expr)}
    per_node = ("Hostname",)
    per_pod = ("exported_namespace", "exported_pod")
    for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"):
        assert (metric, per_node) in groupings, metric
        assert (metric, per_pod) in groupings, metric


def test_kueue_dashboard_shows_queues_and_quota_per_tenant(recordings: dict[str, Recording]) -> None:
    board = _dashboards(recordings["aws"])["gpuplane-kueue"]
    groupings = {g for expr in _panel_exprs(board) for g in _groupings(expr)}
    for metric in (
        "kueue_pending_workloads",
        "kueue_admitted_active_workloads",
        "kueue_cluster_queue_resource_usage",
        "kueue_cluster_queue_nominal_quota",
    ):
        assert (metric, ("cluster_queue",)) in groupings, metric
    tenants = {t.name for t in spec_for("aws").tenants}
    assert tenants == {"team-a", "team-b"}  # one ClusterQueue per tenant, named after it (Kueue add-on)


def test_every_query_parses_and_selects_metrics_the_pinned_releases_export(recordings: dict[str, Recording]) -> None:
    rec = recordings["aws"]
    exprs = _rule_exprs(rec) + [e for board in _dashboards(rec).values() for e in _panel_exprs(board)]
    assert len(exprs) >= 20
    known = known_metrics()
    dcgm = dcgm_enabled_counters()
    used: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        assert names <= known, (expr, names - known)
        assert {n for n in names if n.startswith("DCGM_")} <= dcgm, expr
        used |= names
    assert {n for n in used if n.startswith("DCGM_")} == {
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_XID_ERRORS",
    }
    # the check is not vacuous: a misspelt counter is not among the known metrics
    assert not metric_names("DCGM_FI_DEV_GPU_UTILISATION") <= known


# --- alerts -------------------------------------------------------------------------------------


def _alerts(rec: Recording) -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for obj in kubernetes_objects(rec)
        if obj["kind"] == "PrometheusRule"
        for group in obj["spec"]["groups"]
        for rule in group["rules"]
    }


def test_alerts_cover_idle_gpus_xid_temperature_and_pending_workloads(recordings: dict[str, Recording]) -> None:
    alerts = _alerts(recordings["aws"])
    assert set(alerts) == {
        "GpuAllocatedButIdle",
        "GpuXidHardwareError",
        "GpuXidApplicationError",
        "GpuTemperatureHigh",
        "KueueWorkloadsPendingTooLong",
    }
    assert alerts["GpuAllocatedButIdle"]["for"] == "30m"
    assert 'exported_pod!=""' in alerts["GpuAllocatedButIdle"]["expr"]
    assert "for" not in alerts["GpuXidHardwareError"]
    assert alerts["GpuXidHardwareError"]["labels"] == {"severity": "critical"}
    assert "for" not in alerts["GpuXidApplicationError"]
    assert alerts["GpuXidApplicationError"]["labels"] == {"severity": "warning"}
    assert alerts["KueueWorkloadsPendingTooLong"]["for"] == "30m"
    for alert in alerts.values():
        assert set(alert["annotations"]) == {"summary", "description"}


def test_xid_alerts_split_by_value_and_compare_per_gpu(recordings: dict[str, Recording]) -> None:
    """Hardware XIDs (critical) and all others (warning) are told apart by the gauge's value, and the gauge is
    aggregated per GPU, dropping the exporter's value-derived err_code/err_msg labels, before it is compared
    over time (behaviour: promtool/gpu_xid.yaml)."""
    alerts = _alerts(recordings["aws"])
    hardware, other = alerts["GpuXidHardwareError"]["expr"], alerts["GpuXidApplicationError"]["expr"]
    assert HARDWARE_XIDS == (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)
    for xid in HARDWARE_XIDS:
        assert re.search(rf"DCGM_FI_DEV_XID_ERRORS == {xid}\b", hardware), xid
        assert re.search(rf" != {xid}\b", other), xid
    assert "DCGM_FI_DEV_XID_ERRORS > 0" in other
    per_gpu = ("DCGM_FI_DEV_XID_ERRORS", tuple(sorted(GPU_ID)))
    for expr in (hardware, other):
        assert _groupings(expr) == {per_gpu}, expr
        assert "err_code" not in expr
        assert f"[{XID_WINDOW_MINUTES}m:{XID_STEP}]" in expr
        assert f"offset {XID_STEP}" in expr


def test_pending_alert_follows_the_spec() -> None:
    rec = _record_with(spec_for("gcp", observability={"pendingAlertMinutes": 45}))
    assert _alerts(rec)["KueueWorkloadsPendingTooLong"]["for"] == "45m"
    assert "45 minutes" in _alerts(rec)["KueueWorkloadsPendingTooLong"]["annotations"]["description"]


# --- the builders refuse nonsense ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Dashboard(uid="Not A Uid", title="x", panels=gpu_dashboard().panels), "uid: 'Not A Uid'"),
        (lambda: Dashboard(uid="x", title="x", panels=()), "panels: dashboard 'x' has no panel"),
        (lambda: Panel(title="x", queries=()), "queries: panel 'x' has no query"),
        (lambda: Query(expr=" ", legend="x"), "expr: a query needs"),
        (
            lambda: AlertRule(alert="lower", expr="up", for_="1m", severity="info", summary="s", description="d"),
            "alert: 'lower'",
        ),
        (
            lambda: AlertRule(alert="Up", expr="up", for_="soon", severity="info", summary="s", description="d"),
            "for_: 'soon'",
        ),
        (lambda: kueue_rules(0), "pending_minutes: 0"),
        (
            lambda: RuleGroup(
                name="g",
                rules=(
                    AlertRule(alert="A", expr="up", for_="1m", severity="info", summary="s", description="d"),
                    AlertRule(alert="A", expr="up", for_="1m", severity="info", summary="s", description="d"),
                ),
            ),
            "duplicate alert names",
        ),
    ],
)
def test_builders_reject_invalid_input(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_stand_in_defaults_are_recorded_with_their_source() -> None:
    source = (GRAFANA_STAND_IN.parent / "SOURCE.md").read_text()
    assert "039681200c2e104c80d96549cce1cf94813a2f04" in source
    assert "12.11.1" in source
    assert Path(GRAFANA_STAND_IN).exists()
