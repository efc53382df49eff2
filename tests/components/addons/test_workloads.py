"""WorkloadControllers under the mock runtime (preview=False): the exact children for every switch
combination, wiring and ordering, the releases' values against the charts' real defaults, Pod Security,
and every Kubernetes object checked against the pinned upstream schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest

from components.addons.base import AddonScope, helm_release
from components.addons.workloads import (
    JOBSET_CONTROLLER_SPEC,
    LWS_CONTROLLER_SPEC,
    LWS_POD_LABELS,
    WorkloadControllers,
    WorkloadControllersArgs,
    controllers,
    jobset_values,
    lws_values,
)
from components.spec import RESERVED_NAMESPACES, PlatformSpec, SpecError
from components.versions import (
    CHARTS,
    COMPATIBILITY,
    JOBSET,
    JOBSET_CONTROLLER,
    KUBERNETES_VERSIONS,
    KUEUE,
    LWS,
    LWS_CONTROLLER,
)
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import kubernetes_objects
from tests.support import addon_scope, build_platform, record, spec_for, stand_in_monitoring
from tests.upstream import UPSTREAM_EXTRA, chart_dir, unknown_value_paths, validate_object

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
COMPONENT_TYPE = "gpuplane:addons:WorkloadControllers"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget"
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
MANAGED = {"app.kubernetes.io/managed-by": "gpuplane"}
SYSTEM_POOL = {"gpuplane.io/pool": "system"}
SWITCHES = [(True, True), (True, False), (False, True)]
SWITCH_IDS = ["both", "jobset-only", "lws-only"]


def workloads_spec(
    cloud: str = "aws", *, jobset: bool = True, lws: bool = True, production: bool = False
) -> PlatformSpec:
    spec = spec_for(cloud, workloads={"jobset": jobset, "leaderWorkerSet": lws})
    # Only `production` matters here; other sections' production rules are the spec's tests' business.
    return spec.model_copy(update={"production": True}) if production else spec


@dataclass
class Built:
    rec: Recording
    addon: WorkloadControllers

    @property
    def component(self) -> RecordedResource:
        return self.rec.named("gp-workloads")

    def child(self, name: str) -> RecordedResource:
        return self.rec.named(name)

    def inputs(self, name: str) -> dict[str, Any]:
        return self.child(name).inputs

    def deps(self, name: str) -> set[str]:
        return {self.rec.by_urn(u).name for u in self.child(name).dependencies}


def build(
    spec: PlatformSpec,
    *,
    monitoring: bool = False,
    after: Callable[[WorkloadControllers, AddonScope], object] | None = None,
) -> Built:
    made: dict[str, Any] = {}

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        hook = stand_in_monitoring(scope, platform) if monitoring else None
        addon = WorkloadControllers(
            "gp-workloads",
            WorkloadControllersArgs(scope=scope, monitoring=hook),
            pulumi.ResourceOptions(parent=platform),
        )
        made["addon"] = addon
        if after is not None:
            after(addon, scope)

    rec = record(program, region=spec.region)
    return Built(rec=rec, addon=made["addon"])


def metrics_children(key: str) -> list[tuple[str, str]]:
    prefix = f"gp-workloads-{key}"
    return [
        ("kubernetes:core/v1:ServiceAccount", f"{prefix}-metrics-reader"),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", f"{prefix}-metrics-reader-role"),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", f"{prefix}-metrics-reader-binding"),
        ("kubernetes:core/v1:Secret", f"{prefix}-metrics-reader-token"),
        (MONITOR_TYPE, f"{prefix}-service-monitor"),
    ]


def expected_children(*, jobset: bool, lws: bool, monitoring: bool, production: bool) -> list[tuple[str, str]]:
    children: list[tuple[str, str]] = []
    if jobset:
        children += [(NAMESPACE_TYPE, "gp-workloads-jobset-namespace"), (RELEASE_TYPE, "gp-workloads-jobset-release")]
        children += metrics_children("jobset") if monitoring else []
    if lws:
        children += [(NAMESPACE_TYPE, "gp-workloads-lws-namespace"), (RELEASE_TYPE, "gp-workloads-lws-release")]
        children += [(PDB_TYPE, "gp-workloads-lws-pdb")] if production else []
        children += metrics_children("lws") if monitoring else []
    return sorted(children)


# --- the child contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("production", [False, True], ids=["dev", "production"])
@pytest.mark.parametrize("monitoring", [False, True], ids=["no-monitoring", "monitoring"])
@pytest.mark.parametrize(("jobset", "lws"), SWITCHES, ids=SWITCH_IDS)
def test_children_are_exact_for_every_switch_combination(
    jobset: bool, lws: bool, monitoring: bool, production: bool
) -> None:
    b = build(workloads_spec(jobset=jobset, lws=lws, production=production), monitoring=monitoring)
    component = b.component
    assert component.type == COMPONENT_TYPE
    assert not component.custom
    assert component.parent == b.rec.named("gp").urn
    children = b.rec.children_of(component.urn)
    assert sorted((r.type, r.name) for r in children) == expected_children(
        jobset=jobset, lws=lws, monitoring=monitoring, production=production
    )
    # Nothing of ours outside the component, nothing nested deeper.
    assert [r for r in b.rec.resources if r.name.startswith("gp-workloads")] == [component, *children]
    addon = b.addon
    assert set(addon.namespaces) == {key for key, on in (("jobset", jobset), ("lws", lws)) if on}
    assert (addon.jobset_release is not None) == jobset
    assert (addon.lws_release is not None) == lws
    assert addon.releases == [r for r in (addon.jobset_release, addon.lws_release) if r is not None]
    assert (addon.lws_pdb is not None) == (lws and production)
    assert set(addon.service_monitors) == (set(addon.namespaces) if monitoring else set())


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_child_uses_the_cluster_provider_and_dies_with_the_cluster(cloud: str) -> None:
    b = build(workloads_spec(cloud, production=True), monitoring=True)
    children = b.rec.children_of(b.component.urn)
    assert len(children) == 2 * (2 + 5) + 1
    (provider,) = b.rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else b.rec.of_type(NATIVE_TYPES[cloud])[0].urn
    for child in children:
        assert child.custom, child.name
        assert child.parent == b.component.urn, child.name
        assert child.provider == f"{provider.urn}::{provider.id}", child.name
        assert child.deleted_with == native, child.name


@pytest.mark.parametrize("monitoring", [False, True], ids=["no-monitoring", "monitoring"])
def test_ordering_namespaces_then_releases_then_monitors(monitoring: bool) -> None:
    b = build(workloads_spec("existing", production=True), monitoring=monitoring)
    assert b.deps("gp-workloads-jobset-namespace") == set()
    assert b.deps("gp-workloads-lws-namespace") == set()
    assert b.deps("gp-workloads-jobset-release") == {"gp-workloads-jobset-namespace"}
    # With monitoring the LWS chart renders a ServiceMonitor: the monitoring CRDs must exist first.
    crds = {"gp-observability-release"} if monitoring else set()
    assert b.deps("gp-workloads-lws-release") == {"gp-workloads-lws-namespace", *crds}
    assert b.deps("gp-workloads-lws-pdb") == {"gp-workloads-lws-namespace"}
    if not monitoring:
        return
    for key in ("jobset", "lws"):
        prefix = f"gp-workloads-{key}"
        assert b.deps(f"{prefix}-metrics-reader") == {f"{prefix}-namespace"}
        assert b.deps(f"{prefix}-metrics-reader-role") == set()
        assert b.deps(f"{prefix}-metrics-reader-binding") == {
            f"{prefix}-metrics-reader-role",
            f"{prefix}-metrics-reader",
        }
        # The token controller deletes a token Secret whose ServiceAccount does not exist yet.
        assert b.deps(f"{prefix}-metrics-reader-token") == {f"{prefix}-metrics-reader"}
        assert b.deps(f"{prefix}-service-monitor") == {
            f"{prefix}-release",
            "gp-observability-release",
            f"{prefix}-metrics-reader-token",
            f"{prefix}-metrics-reader-binding",
        }


@pytest.mark.parametrize(("jobset", "lws"), SWITCHES, ids=SWITCH_IDS)
def test_releases_are_exposed_so_kueue_can_start_after_the_crds(jobset: bool, lws: bool) -> None:
    """What the platform does with ``releases``: the Kueue release depends on every one of them."""

    def kueue_after(addon: WorkloadControllers, scope: AddonScope) -> object:
        return helm_release(
            "gp-kueue-release",
            KUEUE,
            namespace="kueue-system",
            values={},
            scope=scope,
            parent=addon,
            depends_on=addon.releases,
        )

    b = build(workloads_spec(jobset=jobset, lws=lws), after=kueue_after)
    expected = {f"gp-workloads-{key}-release" for key, on in (("jobset", jobset), ("lws", lws)) if on}
    assert b.deps("gp-kueue-release") == expected
    assert len(b.addon.releases) == len(expected)


def test_both_switches_off_is_rejected() -> None:
    spec = workloads_spec(jobset=False, lws=False)
    seen: dict[str, str] = {}

    def program() -> None:
        scope = addon_scope(build_platform(spec))
        with pytest.raises(ValueError, match=r"^scope\.spec\.workloads: jobset and leaderWorkerSet are both off"):
            WorkloadControllersArgs(scope=scope, monitoring=None)
        seen["raised"] = "yes"

    rec = record(program, region=spec.region)
    assert seen == {"raised": "yes"}
    assert not [r for r in rec.resources if r.name.startswith("gp-workloads")]
    assert controllers(spec) == ()


# --- namespaces ----------------------------------------------------------------------------------------


def test_namespaces_are_pod_security_restricted_and_reserved() -> None:
    b = build(workloads_spec())
    for key, name in (("jobset", "jobset-system"), ("lws", "lws-system")):
        ns = b.inputs(f"gp-workloads-{key}-namespace")
        assert ns["metadata"] == {
            "name": name,
            "labels": {
                **MANAGED,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        }
        for version in KUBERNETES_VERSIONS:
            validate_object(ns, version)
        assert name in RESERVED_NAMESPACES
    with pytest.raises(SpecError, match=r"tenants\[0\]\.name: 'lws-system' is a system or platform namespace"):
        spec_for("gcp", tenants=[{"name": "lws-system"}])
    with pytest.raises(SpecError, match=r"tenants\[0\]\.name: 'jobset-system' is a system or platform namespace"):
        spec_for("gcp", tenants=[{"name": "jobset-system"}])


# --- Helm releases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("production", [False, True], ids=["dev", "production"])
def test_jobset_release_is_pinned_and_its_values_exist_in_the_chart(production: bool) -> None:
    spec = workloads_spec(production=production)
    b = build(spec)
    release = b.inputs("gp-workloads-jobset-release")
    assert release["name"] == "jobset" == JOBSET.release
    assert release["chart"] == "oci://registry.k8s.io/jobset/charts/jobset"
    assert release["version"] == JOBSET.version == "0.11.0"
    assert "repositoryOpts" not in release
    assert release["namespace"] == "jobset-system"
    assert release["createNamespace"] is False
    assert release["atomic"] is True
    assert release["cleanupOnFail"] is True
    values = release["values"]
    assert values == jobset_values(spec)
    assert values == {
        "image": {"repository": "registry.k8s.io/jobset/jobset", "tag": "v0.11.0", "pullPolicy": "IfNotPresent"},
        "controller": {
            "replicas": 2 if production else 1,
            "nodeSelector": SYSTEM_POOL,
            "podDisruptionBudget": {"enabled": production, "minAvailable": 1},
        },
        "certManager": {"enable": False},
        "prometheus": {"enable": False},
    }
    assert unknown_value_paths("jobset", JOBSET.version, values) == []


@pytest.mark.parametrize("production", [False, True], ids=["dev", "production"])
@pytest.mark.parametrize("monitoring", [False, True], ids=["no-monitoring", "monitoring"])
def test_lws_release_is_pinned_and_its_values_exist_in_the_chart(monitoring: bool, production: bool) -> None:
    spec = workloads_spec(production=production)
    b = build(spec, monitoring=monitoring)
    release = b.inputs("gp-workloads-lws-release")
    assert release["name"] == "lws" == LWS.release
    assert release["chart"] == "oci://registry.k8s.io/lws/charts/lws"
    assert release["version"] == LWS.version == "v0.8.0"
    assert "repositoryOpts" not in release
    assert release["namespace"] == "lws-system"
    assert release["createNamespace"] is False
    assert release["atomic"] is True
    values = release["values"]
    assert values == lws_values(spec, monitoring=monitoring)
    assert values == {
        "replicaCount": 2 if production else 1,
        "image": {"manager": {"repository": "registry.k8s.io/lws/lws", "tag": "v0.8.0", "pullPolicy": "IfNotPresent"}},
        "nodeSelector": SYSTEM_POOL,
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "enableCertManager": False,
        "enablePrometheus": monitoring,
    }
    # The one path the defaults do not list: the deployment template renders `podSecurityContext`
    # whole with toYaml (templates/manager/deployment.yaml, see the chart's SOURCE.md).
    assert unknown_value_paths("lws", LWS.version, values) == ["podSecurityContext.seccompProfile"]
    defaults = _defaults("lws", LWS.version)
    assert defaults["podSecurityContext"] == {"runAsNonRoot": True}


def test_webhook_certificates_come_from_the_charts_internal_cert_management() -> None:
    """cert-manager is not installed: both charts default to their internal cert management and the
    values keep it so; the switch keys exist in the fetched defaults."""
    b = build(workloads_spec())
    jobset = b.inputs("gp-workloads-jobset-release")["values"]
    lws = b.inputs("gp-workloads-lws-release")["values"]
    assert jobset["certManager"] == {"enable": False}
    assert lws["enableCertManager"] is False
    assert _defaults("jobset", JOBSET.version)["certManager"]["enable"] is False
    assert _defaults("lws", LWS.version)["enableCertManager"] is False


def _defaults(chart: str, version: str) -> dict[str, Any]:
    return json.loads((chart_dir(chart, version) / "values.json").read_text())


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged: dict[str, Any] = dict(base)  # pyright: ignore[reportUnknownArgumentType]
        for key, value in override.items():  # pyright: ignore[reportUnknownVariableType]
            merged[key] = _merge(merged.get(key), value)
        return merged
    return override


def _assert_restricted(pod: dict[str, Any], container: dict[str, Any], host_network: bool) -> None:
    """The Pod Security `restricted` rules a controller Deployment's pod can break through values."""
    assert pod["runAsNonRoot"] is True
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert "add" not in container["capabilities"]
    assert "privileged" not in container
    assert host_network is False


@pytest.mark.parametrize("production", [False, True], ids=["dev", "production"])
def test_controllers_run_non_root_on_the_system_pool_under_restricted_pod_security(production: bool) -> None:
    b = build(workloads_spec(production=production), monitoring=True)
    jobset = _merge(_defaults("jobset", JOBSET.version), b.inputs("gp-workloads-jobset-release")["values"])
    controller = jobset["controller"]
    assert controller["nodeSelector"] == SYSTEM_POOL
    assert controller["tolerations"] == []
    _assert_restricted(controller["podSecurityContext"], controller["securityContext"], controller["hostNetwork"])
    lws = _merge(_defaults("lws", LWS.version), b.inputs("gp-workloads-lws-release")["values"])
    assert lws["nodeSelector"] == SYSTEM_POOL
    assert lws["tolerations"] == []
    _assert_restricted(lws["podSecurityContext"], lws["securityContext"], False)
    # Without our addition the LWS chart's pods would be rejected by the namespace.
    assert "seccompProfile" not in _defaults("lws", LWS.version)["podSecurityContext"]


@pytest.mark.parametrize("production", [False, True], ids=["dev", "production"])
def test_lws_gets_a_pdb_over_its_controller_pods_only_in_production(production: bool) -> None:
    b = build(workloads_spec(production=production))
    replicas = b.inputs("gp-workloads-lws-release")["values"]["replicaCount"]
    assert replicas == (2 if production else 1)
    if not production:
        assert b.rec.of_type(PDB_TYPE) == []
        return
    pdb = b.inputs("gp-workloads-lws-pdb")
    assert pdb == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "lws-controller-manager", "namespace": "lws-system", "labels": MANAGED},
        "spec": {
            "minAvailable": 1,
            "selector": {
                "matchLabels": {
                    "control-plane": "controller-manager",
                    "app.kubernetes.io/name": "lws",
                    "app.kubernetes.io/instance": "lws",
                }
            },
        },
    }
    assert pdb["spec"]["selector"]["matchLabels"] == dict(LWS_POD_LABELS)
    assert pdb["spec"]["minAvailable"] < replicas
    for version in KUBERNETES_VERSIONS:
        validate_object(pdb, version)


# --- metrics scraping (both branches) ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["jobset", "lws"])
def test_service_monitor_carries_the_hook_labels_and_presents_a_metrics_only_token(key: str) -> None:
    ctl = {"jobset": JOBSET_CONTROLLER_SPEC, "lws": LWS_CONTROLLER_SPEC}[key]
    namespace = {"jobset": "jobset-system", "lws": "lws-system"}[key]
    b = build(workloads_spec("linode"), monitoring=True)
    prefix = f"gp-workloads-{key}"
    monitor = b.inputs(f"{prefix}-service-monitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["metadata"] == {
        "name": {"jobset": "jobset-controller-metrics", "lws": "lws-controller-manager-metrics"}[key],
        "namespace": namespace,
        "labels": {**MANAGED, **SELECTOR_LABELS},
    }
    service_labels = {
        "jobset": {
            "app.kubernetes.io/name": "jobset",
            "app.kubernetes.io/instance": "jobset",
            "app.kubernetes.io/component": "controller",
        },
        "lws": {"app.kubernetes.io/name": "lws", "app.kubernetes.io/instance": "controller-manager-metrics-service"},
    }[key]
    assert dict(ctl.metrics_service_labels) == service_labels
    assert monitor["spec"] == {
        "selector": {"matchLabels": service_labels},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [
            {
                "port": "https",
                "scheme": "https",
                "path": "/metrics",
                "interval": "30s",
                "authorization": {
                    "type": "Bearer",
                    "credentials": {"name": "gpuplane-metrics-reader-token", "key": "token"},
                },
                "tlsConfig": {"insecureSkipVerify": True},
            }
        ],
    }
    account = b.inputs(f"{prefix}-metrics-reader")
    assert account == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "gpuplane-metrics-reader", "namespace": namespace, "labels": MANAGED},
        "automountServiceAccountToken": False,
    }
    role_name = f"gpuplane-{key}-metrics-reader"
    role = b.inputs(f"{prefix}-metrics-reader-role")
    assert role == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": role_name, "labels": MANAGED},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }
    binding = b.inputs(f"{prefix}-metrics-reader-binding")
    assert binding == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": role_name, "labels": MANAGED},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "gpuplane-metrics-reader", "namespace": namespace}],
    }
    token = b.inputs(f"{prefix}-metrics-reader-token")
    assert token == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "gpuplane-metrics-reader-token",
            "namespace": namespace,
            "labels": MANAGED,
            "annotations": {"kubernetes.io/service-account.name": "gpuplane-metrics-reader"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"]["credentials"]["name"] == token["metadata"]["name"]
    assert "bearerTokenFile" not in endpoint  # deprecated in prometheus-operator
    for obj in (monitor, account, role, binding, token):
        for version in KUBERNETES_VERSIONS:
            validate_object(obj, version)


def test_two_controllers_do_not_share_cluster_scoped_names() -> None:
    b = build(workloads_spec(), monitoring=True)
    roles = {b.inputs(f"gp-workloads-{k}-metrics-reader-role")["metadata"]["name"] for k in ("jobset", "lws")}
    bindings = {b.inputs(f"gp-workloads-{k}-metrics-reader-binding")["metadata"]["name"] for k in ("jobset", "lws")}
    assert roles == bindings == {"gpuplane-jobset-metrics-reader", "gpuplane-lws-metrics-reader"}
    # The charts own `<release>-metrics-reader`; ours must not collide with them.
    assert not roles & {"jobset-metrics-reader", "lws-metrics-reader"}


def test_without_monitoring_no_monitors_and_the_lws_chart_renders_none() -> None:
    b = build(workloads_spec(), monitoring=False)
    assert b.rec.of_type(MONITOR_TYPE) == []
    assert b.addon.service_monitors == {}
    # With enablePrometheus the LWS chart would install a ServiceMonitor, whose CRD may not exist.
    assert b.inputs("gp-workloads-lws-release")["values"]["enablePrometheus"] is False
    assert b.inputs("gp-workloads-jobset-release")["values"]["prometheus"] == {"enable": False}


# --- upstream validation of every object ---------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_object_validates_against_upstream_schemas(cloud: str) -> None:
    spec = workloads_spec(cloud, production=True)
    b = build(spec, monitoring=True)
    mine = [c.inputs for c in b.rec.children_of(b.component.urn) if c.type != RELEASE_TYPE]
    kinds = sorted(o["kind"] for o in mine)
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "ServiceMonitor"] * 2
        + ["PodDisruptionBudget"]
    )
    rendered = [o for o in kubernetes_objects(b.rec) if o in mine]
    assert len(rendered) == len(mine)
    for obj in rendered:
        validate_object(obj, spec.kubernetes_version)


# --- pins ------------------------------------------------------------------------------------------------


def test_pins_images_and_recorded_compatibility() -> None:
    assert CHARTS["jobset"] is JOBSET
    assert CHARTS["lws"] is LWS
    assert not JOBSET.uses_hooks
    assert not LWS.uses_hooks
    assert JOBSET.is_oci
    assert LWS.is_oci
    # JobSet's release script packages chart `X.Y.Z` from tag `vX.Y.Z` and sets that tag as image.tag;
    # LWS packages the tag itself (leading `v`) as chart version and image tag.
    assert JOBSET_CONTROLLER.tag == f"v{JOBSET.version}"
    assert LWS_CONTROLLER.tag == LWS.version
    assert COMPATIBILITY["kueue"] == {KUEUE.version: (f"jobset:{JOBSET.version}", f"lws:{LWS.version}")}


@pytest.mark.parametrize(
    ("chart", "version", "commit", "chart_field"),
    [
        ("jobset", JOBSET.version, "e8ce10be302e95bc04f74c7db9d35822f112185c", "version: 0.11.0"),
        ("lws", LWS.version, "64b20ff7ea7beea6f64bb2cefcced40a9f706013", 'appVersion: "v0.8.0"'),
    ],
)
def test_chart_defaults_are_the_real_pinned_files_with_their_source(
    chart: str, version: str, commit: str, chart_field: str
) -> None:
    folder = UPSTREAM_EXTRA / "charts" / chart / version
    assert chart_dir(chart, version) == folder
    source = (folder / "SOURCE.md").read_text()
    assert f"kubernetes-sigs/{chart}" in source
    assert f"`charts/{chart}/values.yaml`" in source
    assert f"`{commit}`" in source
    assert chart_field in source
    assert "Apache-2.0" in source
    defaults = _defaults(chart, version)
    assert defaults  # the real file, not an excerpt
    image = defaults["image"] if chart == "jobset" else defaults["image"]["manager"]
    assert image["tag"] == "main"  # as committed; the release script and gpuplane set the real tag
