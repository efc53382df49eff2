"""CustomMetricsAutoscaling under the mock runtime (preview=False): the exact children, the release's values
against the vendored prometheus-adapter 5.3.0 chart's defaults, which APIServices those values make the chart
register, and the adapter rules against the pinned metric lists and the PromQL parser."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.addons.alerts.series import DCGM_HONOR_LABELS
from components.addons.alerts.series import NAMESPACE as DCGM_NAMESPACE_LABEL
from components.addons.alerts.series import POD as DCGM_POD_LABEL
from components.addons.autoscaling import (
    API_SERVICES,
    CUSTOM_METRICS_API,
    EXTERNAL_METRICS_API,
    METRICS,
    NAMESPACE,
    RESOURCE_METRICS_API,
    RULES,
    CustomMetricsAutoscaling,
    CustomMetricsAutoscalingArgs,
    PodMetricRule,
    ServingTls,
    chart_values,
    prometheus_service,
    registered_api_services,
    service_dns_names,
)
from components.addons.base import MonitoringHook, helm_release
from components.addons.observability import NAMESPACE as OBSERVABILITY_NAMESPACE
from components.addons.observability import SELECTOR_LABELS, stack_values
from components.spec import RESERVED_NAMESPACES, PlatformSpec, SpecError
from components.versions import (
    KUBE_PROMETHEUS_STACK,
    KUBERNETES_VERSIONS,
    PROMETHEUS_ADAPTER,
    PROMETHEUS_ADAPTER_IMAGE,
)
from gpuplane.analyzer import PolicyPackServer
from gpuplane.recording import SECRET_SIG, SIG_KEY, RecordedResource, Recording
from gpuplane.render import REDACTED, kubernetes_objects, write
from tests.support import addon_scope, build_platform, capture_registered_outputs, record, spec_for
from tests.upstream import (
    _deep_merge,  # pyright: ignore[reportPrivateUsage]
    chart_dir,
    dcgm_enabled_counters,
    known_metrics,
    metric_names,
    unknown_value_paths,
    validate_object,
    validate_values_schema,
)

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
KEY_TYPE = "tls:index/privateKey:PrivateKey"
CERT_TYPE = "tls:index/selfSignedCert:SelfSignedCert"
N = "gp-autoscaling"
SYSTEM = {"gpuplane.io/pool": "system"}
MOCK_CERT = f"MOCK CERTIFICATE {N}-serving-cert"
MOCK_KEY = f"MOCK PRIVATE KEY {N}-serving-key"


@dataclass
class Built:
    rec: Recording
    spec: PlatformSpec
    addon: CustomMetricsAutoscaling

    @property
    def component(self) -> RecordedResource:
        return self.rec.named(N)

    def children(self) -> list[RecordedResource]:
        return self.rec.children_of(self.component.urn)

    @property
    def release(self) -> RecordedResource:
        return self.rec.named(f"{N}-release")

    @property
    def values(self) -> dict[str, Any]:
        return self.release.inputs["values"]


def hook_for(platform: Any, scope: Any) -> MonitoringHook:
    """The observability add-on's hook, with a stand-in for its kube-prometheus-stack release."""
    crds = helm_release(
        "gp-observability-release",
        KUBE_PROMETHEUS_STACK,
        namespace=OBSERVABILITY_NAMESPACE,
        values={},
        scope=scope,
        parent=platform,
    )
    return MonitoringHook(
        namespace=OBSERVABILITY_NAMESPACE,
        selector_labels=dict(SELECTOR_LABELS),
        dashboard_label=("grafana_dashboard", "1"),
        crds=crds,
    )


def build(spec: PlatformSpec) -> Built:
    made: dict[str, Any] = {}

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        made["addon"] = CustomMetricsAutoscaling(
            N,
            CustomMetricsAutoscalingArgs(scope=scope, monitoring=hook_for(platform, scope)),
            pulumi.ResourceOptions(parent=platform),
        )

    rec = record(program, region=spec.region)
    return Built(rec=rec, spec=spec, addon=made["addon"])


def production(spec: PlatformSpec) -> PlatformSpec:
    """Only ``spec.production`` matters here (see test_kueue.as_production)."""
    return spec.model_copy(update={"production": True})


def defaults() -> dict[str, Any]:
    return yaml.safe_load((chart_dir(PROMETHEUS_ADAPTER.chart, PROMETHEUS_ADAPTER.version) / "values.yaml").read_text())


def chart_identity() -> dict[str, Any]:
    return yaml.safe_load((chart_dir(PROMETHEUS_ADAPTER.chart, PROMETHEUS_ADAPTER.version) / "Chart.yaml").read_text())


def deps(rec: Recording, name: str) -> set[str]:
    return {rec.by_urn(u).name for u in rec.named(name).dependencies}


@pytest.fixture(scope="module")
def aws() -> Built:
    return build(spec_for("aws"))


# --- the child contract ------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_children_are_exact_and_wired_to_the_cluster(cloud: str) -> None:
    b = build(spec_for(cloud))
    component = b.component
    assert component.type == "gpuplane:addons:CustomMetricsAutoscaling"
    assert component.parent == b.rec.named("gp").urn
    children = b.children()
    assert sorted((r.type, r.name) for r in children) == sorted(
        [
            (NAMESPACE_TYPE, f"{N}-namespace"),
            (KEY_TYPE, f"{N}-serving-key"),
            (CERT_TYPE, f"{N}-serving-cert"),
            (RELEASE_TYPE, f"{N}-release"),
        ]
    )
    assert [r for r in b.rec.resources if r.name.startswith(N)] == [component, *children]

    (provider,) = b.rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else b.rec.of_type(NATIVE_TYPES[cloud])[0].urn
    for child in children:
        assert child.custom
        if child.type.startswith("kubernetes:"):
            assert child.provider == f"{provider.urn}::{provider.id}", child.name
            assert child.deleted_with == native, child.name
        else:  # the key and certificate live in Pulumi state only
            assert not child.provider.startswith(provider.urn), child.name
            assert child.deleted_with == "", child.name


def test_ordering_namespace_and_prometheus_before_the_adapter(aws: Built) -> None:
    rec = aws.rec
    assert deps(rec, f"{N}-namespace") == set()
    assert deps(rec, f"{N}-serving-key") == set()
    assert deps(rec, f"{N}-serving-cert") == {f"{N}-serving-key"}
    assert deps(rec, f"{N}-release") == {
        f"{N}-namespace",
        "gp-observability-release",
        f"{N}-serving-key",
        f"{N}-serving-cert",
    }


def test_exposes_the_release_the_apis_and_the_metric_names(aws: Built) -> None:
    addon = aws.addon
    assert addon.api_services == API_SERVICES == (CUSTOM_METRICS_API,)
    assert (
        addon.metrics
        == METRICS
        == ("gpu_utilization", "gpu_engine_active", "gpu_tensor_active", "gpu_memory_used_bytes")
    )
    assert addon.prometheus_url == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"


def test_registered_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = capture_registered_outputs(monkeypatch, CustomMetricsAutoscaling)
    build(spec_for("gcp"))
    assert seen.values == {
        "namespace": "custom-metrics",
        "release": "prometheus-adapter",
        "apiServices": ["v1beta1.custom.metrics.k8s.io"],
        "metrics": list(METRICS),
        "prometheusUrl": "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
    }
    assert not any(seen.secret.values())


# --- namespace ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_namespace_is_restricted_reserved_and_valid(cloud: str) -> None:
    b = build(spec_for(cloud))
    ns = b.rec.named(f"{N}-namespace").inputs
    assert ns["metadata"]["name"] == NAMESPACE == "custom-metrics"
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    assert NAMESPACE in RESERVED_NAMESPACES
    objects = [
        o for o in kubernetes_objects(b.rec) if o.get("kind") == "Namespace" and o["metadata"]["name"] == NAMESPACE
    ]
    assert len(objects) == 1
    for version in KUBERNETES_VERSIONS:
        validate_object(objects[0], version)


def test_a_tenant_cannot_take_the_adapter_namespace() -> None:
    with pytest.raises(SpecError, match="custom-metrics"):
        spec_for("aws", tenants=[{"name": "custom-metrics", "quotas": {}}])


# --- the Helm release ----------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_release_is_pinned_and_every_values_key_exists_in_the_chart(cloud: str) -> None:
    b = build(spec_for(cloud))
    release = b.release.inputs
    assert release["name"] == PROMETHEUS_ADAPTER.release == "prometheus-adapter"
    assert release["chart"] == "prometheus-adapter"
    assert release["version"] == PROMETHEUS_ADAPTER.version == "5.3.0"
    assert release["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert release["namespace"] == NAMESPACE
    assert release["createNamespace"] is False
    assert release["atomic"] is True
    assert PROMETHEUS_ADAPTER.uses_hooks is False
    assert unknown_value_paths(PROMETHEUS_ADAPTER.chart, PROMETHEUS_ADAPTER.version, b.values) == []
    validate_values_schema(PROMETHEUS_ADAPTER.chart, PROMETHEUS_ADAPTER.version, b.values)


def test_the_fetched_defaults_are_the_pinned_chart() -> None:
    identity = chart_identity()
    assert identity["name"] == PROMETHEUS_ADAPTER.chart
    assert identity["version"] == PROMETHEUS_ADAPTER.version
    source = (chart_dir(PROMETHEUS_ADAPTER.chart, PROMETHEUS_ADAPTER.version) / "SOURCE.md").read_text()
    assert "prometheus-community/helm-charts" in source
    assert "`prometheus-adapter-5.3.0`" in source
    assert f"# prometheus-adapter {PROMETHEUS_ADAPTER.version}" in source


def test_image_is_the_charts_app_version(aws: Built) -> None:
    image = aws.values["image"]
    assert image == {
        "repository": PROMETHEUS_ADAPTER_IMAGE.repository,
        "tag": PROMETHEUS_ADAPTER_IMAGE.tag,
        "pullPolicy": "IfNotPresent",
    }
    assert PROMETHEUS_ADAPTER_IMAGE.tag == chart_identity()["appVersion"] == "v0.12.0"
    assert PROMETHEUS_ADAPTER_IMAGE.repository == defaults()["image"]["repository"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_adapter_runs_non_root_on_the_system_pool(cloud: str) -> None:
    values = build(spec_for(cloud)).values
    assert values["nodeSelector"] == SYSTEM
    assert values["tolerations"] == []
    assert values["hostNetwork"] == {"enabled": False}
    # No PodSecurityPolicy (the API is gone since 1.25): 5.x has no such key.
    assert "psp" not in values
    assert "psp" not in defaults()
    assert values["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert values["podSecurityContext"] == {"fsGroup": 10001}
    assert values["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def test_the_pod_passes_pod_security_restricted(aws: Built) -> None:
    """The chart's container gets ``securityContext`` verbatim and the pod ``podSecurityContext``; the
    pod they make is valid and meets every ``restricted`` rule that these fields decide."""
    values = _deep_merge(defaults(), aws.values)
    container = {
        "name": "prometheus-adapter",
        "image": f"{values['image']['repository']}:{values['image']['tag']}",
        "securityContext": values["securityContext"],
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/adapter/", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "volume-serving-cert", "mountPath": "/var/run/serving-cert", "readOnly": True},
        ],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "prometheus-adapter", "namespace": NAMESPACE},
        "spec": {
            "containers": [container],
            "securityContext": values["podSecurityContext"],
            "nodeSelector": values["nodeSelector"],
            "tolerations": values["tolerations"],
            "topologySpreadConstraints": values["topologySpreadConstraints"],
            "volumes": [
                {"name": "config", "configMap": {"name": "prometheus-adapter"}},
                {"name": "tmp", "emptyDir": {}},
                {"name": "volume-serving-cert", "secret": {"secretName": "prometheus-adapter"}},
            ],
        },
    }
    for version in KUBERNETES_VERSIONS:
        validate_object(pod, version)
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] != 0
    assert sc["seccompProfile"]["type"] in {"RuntimeDefault", "Localhost"}
    assert not values["hostNetwork"]["enabled"]
    assert {next(iter(set(v) - {"name"})) for v in pod["spec"]["volumes"]} <= {"configMap", "emptyDir", "secret"}


@pytest.mark.parametrize("is_production", [False, True])
def test_production_runs_two_spread_replicas_behind_a_disruption_budget(is_production: bool) -> None:
    spec = spec_for("linode")
    values = build(production(spec) if is_production else spec).values
    assert values["replicas"] == (2 if is_production else 1)
    # Only maxUnavailable: the chart renders both fields when both are set, which the API rejects.
    assert values["podDisruptionBudget"] == {"enabled": is_production, "maxUnavailable": 1}
    assert defaults()["podDisruptionBudget"]["minAvailable"] is None
    if is_production:
        assert values["topologySpreadConstraints"] == [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "prometheus-adapter",
                        "app.kubernetes.io/instance": "prometheus-adapter",
                    }
                },
            }
        ]
    else:
        assert values["topologySpreadConstraints"] == []


# --- Prometheus --------------------------------------------------------------------------------


def test_the_adapter_queries_the_observability_prometheus(aws: Built) -> None:
    assert aws.values["prometheus"] == {
        "url": "http://kube-prometheus-stack-prometheus.monitoring.svc",
        "port": 9090,
        "path": "",
    }
    # kube-prometheus-stack 88.5.3 names its Service <fullname>-prometheus on prometheus.service.port,
    # serves at routePrefix "/", and the observability add-on changes none of that.
    upstream = json.loads(
        (chart_dir(KUBE_PROMETHEUS_STACK.chart, KUBE_PROMETHEUS_STACK.version) / "values.json").read_text()
    )
    assert upstream["fullnameOverride"] == ""
    assert upstream["nameOverride"] == ""
    assert upstream["prometheus"]["service"]["port"] == 9090
    assert upstream["prometheus"]["prometheusSpec"]["routePrefix"] == "/"
    observability = stack_values(spec_for("aws"))
    assert "fullnameOverride" not in observability
    assert "nameOverride" not in observability
    assert "service" not in observability["prometheus"]
    assert "routePrefix" not in observability["prometheus"]["prometheusSpec"]
    assert observability["prometheus"]["enabled"] is True


def test_prometheus_service_follows_the_charts_fullname_helper() -> None:
    assert prometheus_service() == "kube-prometheus-stack-prometheus"
    assert prometheus_service("obs") == "obs-kube-prometheus-stack-prometheus"
    assert prometheus_service("my-kube-prometheus-stack-release") == "my-kube-prometheus-stack-r-prometheus"
    assert prometheus_service("a" * 25 + "-b") == "a" * 25 + "-prometheus"  # cut at 26, trailing '-' dropped


# --- APIServices -------------------------------------------------------------------------------


def test_registers_the_custom_metrics_api_only(aws: Built) -> None:
    merged = _deep_merge(defaults(), aws.values)
    assert registered_api_services(merged) == API_SERVICES == (CUSTOM_METRICS_API,)
    rules = aws.values["rules"]
    # Resource metrics (metrics.k8s.io, kubectl top) stay with metrics-server: the chart registers them
    # only for rules.resource, which the pinned chart does not default and these values never set.
    assert "resource" not in rules
    assert "resource" not in defaults()["rules"]
    assert not merged["rules"].get("resource")
    # External metrics are left to KEDA or the cloud's adapter: explicitly empty.
    assert rules["external"] == []
    assert defaults()["rules"]["external"] == []
    # The chart's catch-all default rules are on by default and explicitly off here.
    assert defaults()["rules"]["default"] is True
    assert rules["default"] is False
    assert rules["custom"]
    assert rules["custom"] == [r.to_values() for r in RULES]


def test_api_service_conditions_mirror_the_chart_templates() -> None:
    base = defaults()
    assert registered_api_services(base) == (CUSTOM_METRICS_API,)  # the chart's own default rules
    off = _deep_merge(base, {"rules": {"default": False}})
    assert registered_api_services(off) == ()
    assert registered_api_services(_deep_merge(off, {"rules": {"custom": [{"seriesQuery": "x"}]}})) == (
        CUSTOM_METRICS_API,
    )
    assert registered_api_services(_deep_merge(off, {"rules": {"external": [{"seriesQuery": "x"}]}})) == (
        EXTERNAL_METRICS_API,
    )
    assert registered_api_services(_deep_merge(off, {"rules": {"resource": {"window": "3m"}}})) == (
        RESOURCE_METRICS_API,
    )
    assert registered_api_services(_deep_merge(off, {"rules": {"resource": {}}})) == ()  # empty map is false


def test_the_api_server_verifies_the_adapter(aws: Built) -> None:
    release = aws.release
    tls = aws.values["tls"]
    assert tls == {"enable": True, "ca": MOCK_CERT, "certificate": MOCK_CERT, "key": MOCK_KEY}
    assert aws.values["certManager"] == {"enabled": False}
    # Only the key is a Pulumi secret (the certificate is the APIService's public caBundle).
    wire = release.wire_inputs["values"]
    assert wire["tls"]["key"] == {SIG_KEY: SECRET_SIG, "value": MOCK_KEY}
    assert wire["tls"]["certificate"] == MOCK_CERT
    cert = aws.rec.named(f"{N}-serving-cert").inputs
    assert cert["privateKeyPem"] == MOCK_KEY
    assert (
        cert["dnsNames"]
        == service_dns_names()
        == [
            "prometheus-adapter",
            "prometheus-adapter.custom-metrics",
            "prometheus-adapter.custom-metrics.svc",
            "prometheus-adapter.custom-metrics.svc.cluster.local",
        ]
    )
    assert "server_auth" in cert["allowedUses"]
    assert cert["subject"]["commonName"] == "prometheus-adapter.custom-metrics.svc"
    assert cert["validityPeriodHours"] == 5 * 365 * 24
    assert 0 < cert["earlyRenewalHours"] < cert["validityPeriodHours"]
    key = aws.rec.named(f"{N}-serving-key").inputs
    assert key == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}


def test_render_redacts_the_key_and_writes_the_values(tmp_path: Path, aws: Built) -> None:
    written = {str(p.relative_to(tmp_path)) for p in write(aws.rec, tmp_path)}
    assert {"namespace-custom-metrics.yaml", "values/prometheus-adapter.yaml"} <= written
    values = yaml.safe_load((tmp_path / "values" / "prometheus-adapter.yaml").read_text())
    assert values["tls"]["key"] == REDACTED
    assert values["tls"]["certificate"] == MOCK_CERT
    assert MOCK_KEY not in "\n".join(p.read_text() for p in tmp_path.rglob("*.yaml"))
    assert values["rules"]["custom"] == [r.to_values() for r in RULES]


# --- adapter rules -------------------------------------------------------------------------------


def test_every_rule_selects_only_pinned_dcgm_series_of_gpus_a_pod_holds() -> None:
    assert DCGM_HONOR_LABELS is False  # so the pod holding the GPU is exported_pod/exported_namespace
    enabled = dcgm_enabled_counters()
    for rule in RULES:
        selected = metric_names(rule.series_query)
        assert selected == {rule.series}, rule.metric
        assert selected <= known_metrics(), rule.metric
        assert selected <= enabled, f"{rule.series} is not collected with the default counters file"
        assert rule.series_query == f'{rule.series}{{exported_namespace!="",exported_pod!=""}}'
        values = rule.to_values()
        assert values["resources"] == {
            "overrides": {DCGM_NAMESPACE_LABEL: {"resource": "namespace"}, DCGM_POD_LABEL: {"resource": "pod"}}
        }
        assert (DCGM_NAMESPACE_LABEL, DCGM_POD_LABEL) == ("exported_namespace", "exported_pod")
        # The adapter renames the discovered series to `as`; `matches` must select exactly that series.
        assert re.fullmatch(values["name"]["matches"], rule.series)
        assert not re.fullmatch(values["name"]["matches"], rule.series + "_total")
        assert values["name"]["as"] == rule.metric
    assert len({r.metric for r in RULES}) == len(RULES)


# What the adapter fills in for a pods/<metric> request in namespace team-a and for namespaces/<metric>.
SAMPLE_REQUESTS = {
    "pods": ('exported_namespace="team-a",exported_pod=~"vllm-0|vllm-1"', "exported_pod"),
    "namespace": ('exported_namespace="team-a"', "exported_namespace"),
}


def render_query(rule: PodMetricRule, request: str) -> str:
    matchers, group_by = SAMPLE_REQUESTS[request]
    query = rule.query.replace("<<.Series>>", rule.series)
    query = query.replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by)
    assert "<<" not in query, query
    assert ">>" not in query, query
    return query


@pytest.mark.parametrize("request_kind", list(SAMPLE_REQUESTS))
@pytest.mark.parametrize("rule", RULES, ids=[r.metric for r in RULES])
def test_every_metrics_query_renders_to_valid_promql(rule: PodMetricRule, request_kind: str) -> None:
    query = render_query(rule, request_kind)
    assert metric_names(query) == {rule.series}
    _, group_by = SAMPLE_REQUESTS[request_kind]
    assert query.startswith(("avg by (" + group_by + ")", "sum by (" + group_by + ")")), query


def test_framebuffer_is_served_in_bytes() -> None:
    (rule,) = [r for r in RULES if r.metric == "gpu_memory_used_bytes"]
    assert rule.series == "DCGM_FI_DEV_FB_USED"
    assert render_query(rule, "pods").endswith(") * 1048576")


def test_rules_survive_helms_tpl(aws: Built) -> None:
    """The chart renders rules.custom through `tpl`: a `{{` in a rule would be run as a Helm template."""
    dumped = yaml.safe_dump(aws.values["rules"])
    assert "{{" not in dumped


def test_rules_are_documented_in_the_module_docstring() -> None:
    import components.addons.autoscaling as module

    doc = module.__doc__ or ""
    for rule in RULES:
        assert f"``{rule.metric}`` (``{rule.series}``" in doc


# --- arguments ---------------------------------------------------------------------------------


def test_pure_values_builder_matches_the_component(aws: Built) -> None:
    hook = MonitoringHook(
        namespace=OBSERVABILITY_NAMESPACE,
        selector_labels=dict(SELECTOR_LABELS),
        dashboard_label=("grafana_dashboard", "1"),
        crds=None,  # pyright: ignore[reportArgumentType]  (unused by the builder)
    )
    assert chart_values(aws.spec, hook, ServingTls(certificate=MOCK_CERT, key=MOCK_KEY)) == aws.values


def _args_error(spec: PlatformSpec, monitoring: Any = "hook") -> Exception:
    caught: list[Exception] = []

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        hook = hook_for(platform, scope) if monitoring == "hook" else monitoring
        try:
            CustomMetricsAutoscalingArgs(scope=scope, monitoring=hook)
        except (TypeError, ValueError) as error:
            caught.append(error)

    record(program, region=spec.region)
    assert len(caught) == 1
    return caught[0]


def test_custom_metrics_off_is_rejected() -> None:
    error = _args_error(spec_for("aws", autoscaling={"customMetrics": False}))
    assert isinstance(error, ValueError)
    assert "scope.spec.autoscaling.custom_metrics" in str(error)


def test_monitoring_is_required() -> None:
    error = _args_error(spec_for("aws"), monitoring=None)
    assert isinstance(error, TypeError)
    assert "monitoring" in str(error)


def test_observability_off_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"autoscaling\.customMetrics"):
        spec_for("aws", observability={"enabled": False})
    spec = spec_for("aws").model_copy(
        update={"observability": spec_for("aws").observability.model_copy(update={"enabled": False})}
    )
    error = _args_error(spec)
    assert isinstance(error, ValueError)
    assert "scope.spec.observability.enabled" in str(error)


# --- policy pack ---------------------------------------------------------------------------------


def test_the_policy_pack_finds_nothing_to_report_on_the_adapter(aws: Built, pack: PolicyPackServer) -> None:
    """Run through the real analyzer (gRPC): pinned version, no hook-skipping Chart, no plaintext key."""
    assert [(v.policy, v.urn) for v in pack.analyze(aws.rec, project="gpuplane", stack="test") if N in v.urn] == []
    # ... and it does look at this release: a floating version is reported on it.
    release = aws.release
    floating = copy.deepcopy(release)
    floating.wire_inputs["version"] = "4.x"
    if "version" in floating.outputs:  # the pin is also judged on what the engine reports back (stack policy)
        floating.outputs["version"] = "4.x"
    broken = Recording(resources=[floating if r is release else r for r in aws.rec.resources], invokes=aws.rec.invokes)
    found = {(v.policy, v.urn) for v in pack.analyze(broken, project="gpuplane", stack="test") if N in v.urn}
    assert found == {("platform-helm-version-pinned", release.urn)}
