"""AiGateway under the mock runtime (preview=False): the exact children per cloud, their wiring and
ordering, every object against the pinned upstream schemas, the Helm values against the pinned charts,
PromQL against the pinned metric lists, the alerts under promtool, the policy pack over gRPC, and the
gateway's route admission against OpenFGA's view of the same spec."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.addons import authz
from components.addons.gateway import (
    AI_GATEWAY_NAMESPACE,
    API_KEY_HEADER,
    EG_NAMESPACE,
    EXT_AUTHZ_AFTER,
    GATEWAY_NAMESPACE,
    GATEWAY_NAMESPACES,
    RATELIMIT_NAMESPACE,
    TENANT_HEADER,
    TOTAL_TOKEN_KEY,
    AiGateway,
    AiGatewayArgs,
    admitted_tenants,
    alert_group,
    dashboard,
    envoy_proxy_spec,
    gateway_auth_spec,
    limited_tenants,
    route_access_spec,
    route_summary,
)
from components.spec import RESERVED_NAMESPACES, PlatformSpec, SpecError, parse_spec
from components.versions import AI_GATEWAY, AI_GATEWAY_CRDS, ENVOY_GATEWAY, VALKEY
from gpuplane.analyzer import PolicyPackServer
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import REDACTED, kubernetes_objects, redact, write
from tests.support import addon_scope, build_platform, raw_spec, record, stand_in_monitoring
from tests.upstream import (
    _strict_schema,  # pyright: ignore[reportPrivateUsage]
    known_metrics,
    metric_names,
    strip_nulls,
    unknown_value_paths,
    validate_object,
)

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
K8S = "kubernetes:"
NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
EG = "kubernetes:gateway.envoyproxy.io/v1alpha1"
GW = "kubernetes:gateway.networking.k8s.io/v1"
AIGW = "kubernetes:aigateway.envoyproxy.io/v1beta1"
MON = "kubernetes:monitoring.coreos.com/v1"
RANDOM = "random:index/randomPassword:RandomPassword"
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
SYSTEM = {"gpuplane.io/pool": "system"}
CREDENTIALS = {
    "openai": "sk-TEST-openai-0123456789",
    "anthropic": "sk-ant-TEST-abcdef",
    "aws": "[default]\naws_access_key_id = AKIATEST\naws_secret_access_key = TESTSECRET\n",
    "vertex": '{"type": "service_account", "private_key": "TEST-PRIVATE-KEY"}',
}


def models_raw() -> list[dict[str, Any]]:
    return [
        {
            "name": "llama",
            "modelId": "meta-llama/Llama-3.1-8B-Instruct",
            "backend": {"provider": "in-cluster", "service": "vllm", "namespace": "team-a", "port": 8000},
            "tenants": ["team-a", "team-b"],
            "budgets": {"team-a": {"tokens": 50000, "per": "Minute"}},
        },
        {"name": "gpt", "backend": {"provider": "openai", "credential": "openai"}, "tenants": ["team-a"]},
        {"name": "claude", "backend": {"provider": "anthropic", "credential": "anthropic"}, "tenants": ["team-b"]},
        {
            "name": "nova",
            "modelId": "amazon.nova-lite-v1:0",
            "backend": {"provider": "bedrock", "region": "us-east-1", "credential": "aws"},
            "tenants": ["team-a", "team-b"],
            "budgets": {"team-b": {"tokens": 1000, "per": "Day"}},
        },
        {
            "name": "gemini",
            "modelId": "gemini-2.5-flash",
            "backend": {"provider": "vertex", "region": "us-central1", "project": "example", "credential": "vertex"},
            "tenants": ["team-b"],
        },
    ]


def gateway_spec(cloud: str = "aws", **overrides: Any) -> PlatformSpec:
    raw = raw_spec(cloud)
    raw["tenants"][0]["members"] = ["alice"]
    raw["tenants"][1]["members"] = ["bob"]
    raw["models"] = models_raw()
    raw.update(overrides)
    return parse_spec(raw)


@dataclass
class Built:
    rec: Recording
    spec: PlatformSpec
    addon: AiGateway

    @property
    def component(self) -> RecordedResource:
        return self.rec.named("gp-gateway")

    def spec_of(self, name: str) -> dict[str, Any]:
        return self.rec.named(name).inputs["spec"]

    def deps(self, name: str) -> set[str]:
        return {self.rec.by_urn(u).name for u in self.rec.named(name).dependencies}

    def objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object the add-on registers, as ``gpuplane render`` writes it (secrets redacted)."""
        return [redact(r.wire_inputs) for r in self.children() if r.type.startswith(K8S) and r.type != RELEASE]

    def children(self) -> list[RecordedResource]:
        return self.rec.children_of(self.component.urn)

    def values(self, release: str) -> dict[str, Any]:
        return self.rec.named(release).inputs["values"]


def build(spec: PlatformSpec, *, monitoring: bool = True, credentials: Mapping[str, str] | None = None) -> Built:
    made: dict[str, Any] = {}
    creds = CREDENTIALS if credentials is None else credentials

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        hook = stand_in_monitoring(scope, platform) if monitoring else None
        made["addon"] = AiGateway(
            "gp-gateway",
            AiGatewayArgs(
                scope=scope,
                monitoring=hook,
                credentials={k: pulumi.Output.secret(v) for k, v in creds.items()},
            ),
            pulumi.ResourceOptions(parent=platform),
        )

    rec = record(program, region=spec.region)
    return Built(rec=rec, spec=spec, addon=made["addon"])


@pytest.fixture(scope="module")
def aws() -> Built:
    return build(gateway_spec("aws"))


# --- the child contract -----------------------------------------------------------------------------


def expected_children(spec: PlatformSpec, *, monitoring: bool) -> Counter[tuple[str, str]]:
    n = "gp-gateway"
    children = [
        (NS, f"{n}-eg-namespace"),
        (NS, f"{n}-aigw-namespace"),
        (NS, f"{n}-ratelimit-namespace"),
        (NS, f"{n}-routes-namespace"),
        ("kubernetes:apps/v1:Deployment", f"{n}-valkey"),
        ("kubernetes:core/v1:Service", f"{n}-valkey-service"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{n}-valkey-network-policy"),
        (RELEASE, f"{n}-ai-gateway-crds"),
        (RELEASE, f"{n}-envoy-gateway"),
        (RELEASE, f"{n}-ai-gateway"),
        (RANDOM, f"{n}-mcp-seed"),
        (SECRET, f"{n}-mcp-seed-secret"),
        (f"{EG}:EnvoyProxy", f"{n}-envoy-proxy"),
        (f"{GW}:GatewayClass", f"{n}-gateway-class"),
        (f"{GW}:Gateway", f"{n}-gateway"),
        ("kubernetes:core/v1:Service", f"{n}-load-balancer"),
        (f"{EG}:ClientTrafficPolicy", f"{n}-client-headers"),
        (f"{EG}:SecurityPolicy", f"{n}-gateway-auth"),
    ]
    if spec.gateway.tls.mode == "self-signed":
        children += [
            ("tls:index/privateKey:PrivateKey", f"{n}-tls-key"),
            ("tls:index/selfSignedCert:SelfSignedCert", f"{n}-tls-cert"),
            (SECRET, f"{n}-tls-secret"),
        ]
    if spec.gateway.auth.mode == "api-key":
        children += [(RANDOM, f"{n}-api-key-{t.name}") for t in spec.tenants] + [(SECRET, f"{n}-api-keys")]
    for model in spec.models:
        m = f"{n}-{model.name}"
        children += [
            (f"{EG}:Backend", f"{m}-backend"),
            (f"{AIGW}:AIServiceBackend", f"{m}-service-backend"),
            (f"{AIGW}:AIGatewayRoute", f"{m}-route"),
            (f"{EG}:SecurityPolicy", f"{m}-access"),
            (f"{EG}:BackendTrafficPolicy", f"{m}-token-limit"),
        ]
        if model.backend.external:
            children += [
                (f"{GW}:BackendTLSPolicy", f"{m}-backend-tls"),
                (SECRET, f"{m}-credential"),
                (f"{AIGW}:BackendSecurityPolicy", f"{m}-backend-security"),
            ]
    if monitoring:
        children += [
            (f"{MON}:PodMonitor", f"{n}-proxy-monitor"),
            (f"{MON}:PodMonitor", f"{n}-ratelimit-monitor"),
            (f"{MON}:ServiceMonitor", f"{n}-controller-monitor"),
            (f"{MON}:PrometheusRule", f"{n}-alerts"),
            ("kubernetes:core/v1:ConfigMap", f"{n}-dashboard"),
        ]
    return Counter(children)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_children_are_exact_and_wired_to_the_cluster(cloud: str) -> None:
    spec = gateway_spec(cloud)
    b = build(spec)
    assert b.component.type == "gpuplane:addons:AiGateway"
    assert b.component.parent == b.rec.named("gp").urn
    children = b.children()
    assert Counter((r.type, r.name) for r in children) == expected_children(spec, monitoring=True)
    assert len(children) == 18 + 3 + 3 + 5 * 5 + 4 * 3 + 5
    assert [r for r in b.rec.resources if r.name.startswith("gp-gateway")] == [b.component, *children]

    (provider,) = b.rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else b.rec.of_type(NATIVE_TYPES[cloud])[0].urn
    for child in children:
        if child.type.startswith(K8S):
            assert child.provider == f"{provider.urn}::{provider.id}", child.name
            # The LoadBalancer Service owns the cloud load balancer: destroy deletes it for real (test_destroy_order.py).
            assert child.deleted_with == ("" if child.name == "gp-gateway-load-balancer" else native), child.name
        else:  # random/tls values live in state only
            assert child.deleted_with == "", child.name
        assert child.custom


def test_without_monitoring_there_are_no_monitors_rules_or_dashboards() -> None:
    spec = gateway_spec("linode")
    b = build(spec, monitoring=False)
    assert Counter((r.type, r.name) for r in b.children()) == expected_children(spec, monitoring=False)
    assert not [r for r in b.children() if r.type.startswith(MON)]


def test_ordering_crds_first_then_controllers_then_custom_resources(aws: Built) -> None:
    d = aws.deps
    n = "gp-gateway"
    assert d(f"{n}-ai-gateway-crds") == {f"{n}-aigw-namespace"}
    assert d(f"{n}-envoy-gateway") == {f"{n}-eg-namespace", f"{n}-valkey", f"{n}-valkey-service"}
    assert d(f"{n}-ai-gateway") == {
        f"{n}-aigw-namespace",
        f"{n}-ai-gateway-crds",
        f"{n}-envoy-gateway",
        f"{n}-mcp-seed-secret",
    }
    assert {f"{n}-envoy-gateway", f"{n}-routes-namespace"} <= d(f"{n}-envoy-proxy")
    assert d(f"{n}-gateway-class") == {f"{n}-envoy-gateway"}
    assert {f"{n}-gateway-class", f"{n}-envoy-proxy", f"{n}-tls-secret", f"{n}-envoy-gateway"} <= d(f"{n}-gateway")
    assert {f"{n}-gateway", f"{n}-api-keys"} <= d(f"{n}-gateway-auth")
    aigw = {f"{n}-ai-gateway-crds", f"{n}-ai-gateway", f"{n}-envoy-gateway"}
    for model in ("llama", "gpt", "claude", "nova", "gemini"):
        m = f"{n}-{model}"
        assert f"{n}-envoy-gateway" in d(f"{m}-backend")
        assert aigw | {f"{m}-backend"} <= d(f"{m}-service-backend")
    for model in ("gpt", "claude", "nova", "gemini"):
        m = f"{n}-{model}"
        assert f"{m}-backend-tls" in d(f"{m}-service-backend")
        assert {f"{m}-credential", f"{m}-service-backend"} <= d(f"{m}-backend-security")
    for monitor in ("proxy-monitor", "ratelimit-monitor", "controller-monitor", "alerts", "dashboard"):
        assert "gp-observability-release" in d(f"{n}-{monitor}")


def _policy_edges(b: Built) -> None:
    """A route never goes live before the policies that authenticate, admit and limit it: the exact
    dependency sets of the Gateway-level policies, each model's policies and each model's route."""
    d = b.deps
    n = "gp-gateway"
    eg_crs = {f"{n}-envoy-gateway", f"{n}-routes-namespace"}
    keys = {f"{n}-api-keys"} if b.spec.gateway.auth.mode == "api-key" else set()
    assert d(f"{n}-client-headers") == eg_crs | {f"{n}-gateway"}
    assert d(f"{n}-gateway-auth") == eg_crs | {f"{n}-gateway"} | keys
    for model in b.spec.models:
        m = f"{n}-{model.name}"
        # The policies name the HTTPRoute, which does not exist yet: nothing of the route's.
        assert d(f"{m}-access") == eg_crs | {f"{n}-gateway"} | keys
        assert d(f"{m}-token-limit") == eg_crs
        backend_security = {f"{m}-backend-security"} if model.backend.external else set()
        assert d(f"{m}-route") == {
            f"{n}-ai-gateway-crds",
            f"{n}-ai-gateway",
            f"{n}-envoy-gateway",
            f"{n}-routes-namespace",
            f"{m}-service-backend",
            f"{n}-gateway",
            f"{n}-gateway-auth",
            f"{n}-client-headers",
            f"{m}-access",
            f"{m}-token-limit",
            *backend_security,
        }


def test_every_route_depends_on_its_access_and_token_limit_policies_and_the_gateways(aws: Built) -> None:
    _policy_edges(aws)


def test_jwt_routes_wait_for_their_policies_too() -> None:
    spec = gateway_spec(
        "gcp",
        gateway={
            "auth": {"mode": "jwt", "issuer": "https://idp.example.com/", "jwksUri": "https://idp.example.com/jwks"}
        },
    )
    _policy_edges(build(spec, monitoring=False))


# --- upstream validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_object_validates_against_the_pinned_schemas(cloud: str) -> None:
    b = build(gateway_spec(cloud))
    objects = b.objects()
    assert len(objects) == len([r for r in b.children() if r.type.startswith(K8S)]) - 3
    for obj in objects:
        validate_object(obj, b.spec.kubernetes_version)


def test_the_jwt_and_own_certificate_variants_validate_too() -> None:
    spec = gateway_spec(
        "gcp",
        gateway={
            "auth": {"mode": "jwt", "issuer": "https://idp.example.com/", "jwksUri": "https://idp.example.com/jwks"},
            "tls": {"mode": "secret", "secretName": "ai-example-com"},
            "hostname": "ai.example.com",
        },
    )
    for obj in build(spec).objects():
        validate_object(obj, spec.kubernetes_version)


def test_ai_gateway_charts_values_exist_in_the_pinned_defaults(aws: Built) -> None:
    assert unknown_value_paths(AI_GATEWAY.chart, AI_GATEWAY.version, aws.values("gp-gateway-ai-gateway")) == []
    assert aws.values("gp-gateway-ai-gateway-crds") == {}
    assert unknown_value_paths(AI_GATEWAY_CRDS.chart, AI_GATEWAY_CRDS.version, {}) == []


# ``config.envoyGateway`` is rendered verbatim into the EnvoyGateway config (charts/gateway-helm
# templates/envoy-gateway-config.yaml: ``toYaml .Values.config.envoyGateway``), so keys below it are
# EnvoyGateway API fields, not chart defaults. These are the fields we set, from envoyproxy/gateway
# api/v1alpha1/envoygateway_types.go (RateLimit, RateLimitDatabaseBackend, RateLimitRedisSettings,
# ExtensionManager, ExtensionHooks, ExtensionService, EnvoyGatewayKubernetesProvider) at v1.8.3 and the
# AI Gateway v1.1 install values (manifests/envoy-gateway-values.yaml).
ENVOY_GATEWAY_API_PATHS = {
    "provider.kubernetes.rateLimitDeployment",
    "extensionManager.hooks.xdsTranslator.translation.listener.includeAll",
    "extensionManager.hooks.xdsTranslator.translation.route.includeAll",
    "extensionManager.hooks.xdsTranslator.translation.cluster.includeAll",
    "extensionManager.hooks.xdsTranslator.translation.secret.includeAll",
    "extensionManager.hooks.xdsTranslator.post",
    "extensionManager.service.fqdn.hostname",
    "extensionManager.service.fqdn.port",
    "rateLimit.backend.type",
    "rateLimit.backend.redis.url",
    "rateLimit.failClosed",
    "rateLimit.timeout",
}


def _leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaf_paths(item, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def test_envoy_gateway_values_exist_in_the_chart_or_the_envoy_gateway_api(aws: Built) -> None:
    values = aws.values("gp-gateway-envoy-gateway")
    missing = unknown_value_paths(ENVOY_GATEWAY.chart, ENVOY_GATEWAY.version, values)
    assert sorted(missing) == [
        "config.envoyGateway.extensionManager",
        "config.envoyGateway.provider.kubernetes",
        "config.envoyGateway.rateLimit",
    ]
    config = values["config"]["envoyGateway"]
    set_paths = {path for top in ("extensionManager", "rateLimit") for path in _leaf_paths(config[top], f"{top}.")} | {
        "provider.kubernetes.rateLimitDeployment"
    }
    assert set_paths == ENVOY_GATEWAY_API_PATHS
    # rateLimitDeployment is a KubernetesDeploymentSpec, the type of EnvoyProxy's envoyDeployment: check
    # it against that strict CRD sub-schema.
    proxy = _strict_schema("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy")
    deployment_schema = proxy["properties"]["spec"]["properties"]["provider"]["properties"]["kubernetes"]["properties"][
        "envoyDeployment"
    ]
    import jsonschema

    jsonschema.Draft7Validator(deployment_schema).validate(
        strip_nulls(config["provider"]["kubernetes"]["rateLimitDeployment"])
    )


def test_envoy_gateway_values_follow_the_ai_gateway_install_and_configure_redis(aws: Built) -> None:
    config = aws.values("gp-gateway-envoy-gateway")["config"]["envoyGateway"]
    manager = config["extensionManager"]
    assert "backendResources" not in manager  # without the AI Gateway's hooks this crashes Envoy Gateway
    assert manager["hooks"]["xdsTranslator"]["post"] == ["Translation", "Cluster", "Route"]
    assert manager["service"]["fqdn"] == {
        "hostname": f"ai-gateway-controller.{AI_GATEWAY_NAMESPACE}.svc.cluster.local",
        "port": 1063,
    }
    assert config["extensionApis"] == {"enableEnvoyPatchPolicy": True, "enableBackend": True}
    assert config["rateLimit"] == {
        "backend": {
            "type": "Redis",
            "redis": {"url": f"ratelimit-valkey.{RATELIMIT_NAMESPACE}.svc.cluster.local:6379"},
        },
        "failClosed": True,
        # Envoy Gateway's default is 20 ms; failing closed, a slow Valkey round trip would refuse requests.
        "timeout": "200ms",
    }
    service = aws.rec.named("gp-gateway-valkey-service").inputs
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == ("ratelimit-valkey", RATELIMIT_NAMESPACE)
    assert service["spec"]["ports"][0]["port"] == 6379


def test_fail_open_is_a_choice() -> None:
    b = build(gateway_spec("aws", gateway={"rateLimitFailClosed": False}), monitoring=False)
    assert b.values("gp-gateway-envoy-gateway")["config"]["envoyGateway"]["rateLimit"]["failClosed"] is False


def test_releases_are_pinned_and_named(aws: Built) -> None:
    for name, pin, ns in (
        ("gp-gateway-ai-gateway-crds", AI_GATEWAY_CRDS, AI_GATEWAY_NAMESPACE),
        ("gp-gateway-envoy-gateway", ENVOY_GATEWAY, EG_NAMESPACE),
        ("gp-gateway-ai-gateway", AI_GATEWAY, AI_GATEWAY_NAMESPACE),
    ):
        inputs = aws.rec.named(name).inputs
        assert (inputs["name"], inputs["chart"], inputs["version"], inputs["namespace"]) == (
            pin.release,
            pin.chart_ref,
            pin.version,
            ns,
        )
        assert inputs["atomic"] is True
        assert inputs["waitForJobs"] is True


# --- security-relevant inputs ---------------------------------------------------------------------------


def test_namespaces_enforce_pod_security(aws: Built) -> None:
    levels = {
        aws.rec.named(f"gp-gateway-{role}").inputs["metadata"]["name"]: aws.rec.named(f"gp-gateway-{role}").inputs[
            "metadata"
        ]["labels"]["pod-security.kubernetes.io/enforce"]
        for role in ("eg-namespace", "aigw-namespace", "ratelimit-namespace", "routes-namespace")
    }
    assert levels == {
        EG_NAMESPACE: "baseline",
        AI_GATEWAY_NAMESPACE: "restricted",
        RATELIMIT_NAMESPACE: "restricted",
        GATEWAY_NAMESPACE: "restricted",
    }


def test_controllers_and_proxies_run_on_the_system_pool(aws: Built) -> None:
    eg = aws.values("gp-gateway-envoy-gateway")
    assert eg["deployment"]["pod"]["nodeSelector"] == SYSTEM
    assert eg["certgen"]["job"]["nodeSelector"] == SYSTEM
    assert (
        eg["config"]["envoyGateway"]["provider"]["kubernetes"]["rateLimitDeployment"]["pod"]["nodeSelector"] == SYSTEM
    )
    assert aws.values("gp-gateway-ai-gateway")["controller"]["nodeSelector"] == SYSTEM
    proxy = aws.spec_of("gp-gateway-envoy-proxy")["provider"]["kubernetes"]["envoyDeployment"]
    assert proxy == {"replicas": 2, "pod": {"nodeSelector": SYSTEM}}
    valkey = aws.spec_of("gp-gateway-valkey")["template"]["spec"]
    assert valkey["nodeSelector"] == SYSTEM
    assert "tolerations" not in valkey


def test_valkey_is_pinned_non_root_and_reachable_only_from_envoy_gateway(aws: Built) -> None:
    pod = aws.spec_of("gp-gateway-valkey")["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == VALKEY.ref
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    policy = aws.spec_of("gp-gateway-valkey-network-policy")
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": EG_NAMESPACE}}}],
            "ports": [{"protocol": "TCP", "port": 6379}],
        }
    ]


def test_the_gateway_terminates_tls_only(aws: Built) -> None:
    (listener,) = aws.spec_of("gp-gateway-gateway")["listeners"]
    assert listener["protocol"] == "HTTPS"
    assert listener["port"] == 443
    assert listener["tls"] == {
        "mode": "Terminate",
        "certificateRefs": [{"group": "", "kind": "Secret", "name": "gpuplane-gateway-tls"}],
    }
    assert listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert "hostname" not in listener
    tls_secret = aws.rec.named("gp-gateway-tls-secret")
    assert tls_secret.inputs["type"] == "kubernetes.io/tls"
    assert tls_secret.is_secret("stringData")
    assert sorted(tls_secret.inputs["stringData"]) == ["tls.crt", "tls.key"]
    cert = aws.rec.named("gp-gateway-tls-cert").inputs
    assert cert["dnsNames"] == ["ai-gateway.gpuplane.local"]
    assert "server_auth" in cert["allowedUses"]


def test_own_certificate_mode_references_the_secret_and_generates_none() -> None:
    spec = gateway_spec(
        "aws", gateway={"tls": {"mode": "secret", "secretName": "ai-example"}, "hostname": "ai.example.com"}
    )
    b = build(spec, monitoring=False)
    names = {r.name for r in b.children()}
    assert not names & {"gp-gateway-tls-key", "gp-gateway-tls-cert", "gp-gateway-tls-secret"}
    (listener,) = b.spec_of("gp-gateway-gateway")["listeners"]
    assert listener["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": "ai-example"}]
    assert listener["hostname"] == "ai.example.com"


def test_client_sent_tenant_headers_are_stripped_before_authentication(aws: Built) -> None:
    policy = aws.spec_of("gp-gateway-client-headers")
    assert policy["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gpuplane-ai"}]
    assert policy["headers"] == {"earlyRequestHeaders": {"remove": [TENANT_HEADER]}}


def test_api_keys_authenticate_every_route_and_name_the_tenant(aws: Built) -> None:
    api_key = {
        "credentialRefs": [{"group": "", "kind": "Secret", "name": "gpuplane-api-keys"}],
        "extractFrom": [{"headers": [API_KEY_HEADER]}],
        "forwardClientIDHeader": TENANT_HEADER,
        "sanitize": True,
    }
    gateway_policy = aws.spec_of("gp-gateway-gateway-auth")
    assert gateway_policy["apiKeyAuth"] == api_key
    assert gateway_policy["authorization"] == {"defaultAction": "Deny"}
    assert gateway_policy["extAuth"] == aws.spec_of(f"gp-gateway-{aws.spec.models[0].name}-access")["extAuth"]
    for model in aws.spec.models:
        access = aws.spec_of(f"gp-gateway-{model.name}-access")
        assert access["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": model.name}]
        assert access["apiKeyAuth"] == api_key
        assert access["authorization"]["defaultAction"] == "Deny"
        assert access["authorization"]["rules"] == [
            {
                "name": "tenants-with-access",
                "action": "Allow",
                "principal": {"headers": [{"name": TENANT_HEADER, "values": list(model.tenants)}]},
            }
        ]
    keys = aws.rec.named("gp-gateway-api-keys")
    assert sorted(keys.inputs["stringData"]) == ["team-a", "team-b"]  # client id = tenant name
    assert keys.is_secret("stringData")
    for tenant in ("team-a", "team-b"):
        assert aws.rec.named(f"gp-gateway-api-key-{tenant}").inputs["length"] == 48


def test_jwt_mode_copies_the_tenant_claim_and_admits_by_claim() -> None:
    spec = gateway_spec(
        "existing",
        gateway={
            "auth": {
                "mode": "jwt",
                "issuer": "https://idp.example.com/",
                "jwksUri": "https://idp.example.com/jwks.json",
                "tenantClaim": "team",
                "audiences": ["gpuplane"],
            }
        },
    )
    b = build(spec, monitoring=False)
    assert not [r for r in b.children() if r.type == RANDOM and "api-key" in r.name]
    assert "gp-gateway-api-keys" not in {r.name for r in b.children()}
    provider = {
        "name": "gpuplane",
        "issuer": "https://idp.example.com/",
        "remoteJWKS": {"uri": "https://idp.example.com/jwks.json"},
        "claimToHeaders": [{"claim": "team", "header": TENANT_HEADER}],
        "audiences": ["gpuplane"],
    }
    assert b.spec_of("gp-gateway-gateway-auth")["jwt"] == {"providers": [provider]}
    access = b.spec_of("gp-gateway-llama-access")
    assert "apiKeyAuth" not in access
    assert access["authorization"]["rules"][0]["principal"] == {
        "jwt": {"provider": "gpuplane", "claims": [{"name": "team", "values": ["team-a", "team-b"]}]}
    }
    assert admitted_tenants(access) == {"team-a", "team-b"}


def test_token_limits_per_tenant_charge_the_routes_declared_total_tokens(aws: Built) -> None:
    for model in aws.spec.models:
        route = aws.spec_of(f"gp-gateway-{model.name}-route")
        assert {c["metadataKey"]: c["type"] for c in route["llmRequestCosts"]} == {
            "llm_input_token": "InputToken",
            "llm_output_token": "OutputToken",
            TOTAL_TOKEN_KEY: "TotalToken",
        }
        assert route["rules"][0]["matches"] == [
            {"headers": [{"type": "Exact", "name": "x-ai-eg-model", "value": model.served_name}]}
        ]
        assert route["rules"][0]["backendRefs"] == [{"name": model.name}]
        limit = aws.spec_of(f"gp-gateway-{model.name}-token-limit")
        assert limit["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": model.name}]
        assert limit["rateLimit"]["type"] == "Global"
        rules = limit["rateLimit"]["global"]["rules"]
        assert len(rules) == len(model.tenants)
        for rule in rules:
            assert rule["cost"] == {
                "request": {"from": "Number", "number": 0},
                "response": {
                    "from": "Metadata",
                    "metadata": {"namespace": "io.envoy.ai_gateway", "key": TOTAL_TOKEN_KEY},
                },
            }
        assert limited_tenants(limit) == set(model.tenants)
    llama = aws.spec_of("gp-gateway-llama-token-limit")["rateLimit"]["global"]["rules"]
    assert [(r["clientSelectors"][0]["headers"][0]["value"], r["limit"]) for r in llama] == [
        ("team-a", {"requests": 50000, "unit": "Minute"}),
        ("team-b", {"requests": 100000, "unit": "Hour"}),  # gateway.defaultBudget
    ]


def test_backends_per_provider(aws: Built) -> None:
    endpoints = {m.name: aws.spec_of(f"gp-gateway-{m.name}-backend")["endpoints"][0]["fqdn"] for m in aws.spec.models}
    assert endpoints == {
        "llama": {"hostname": "vllm.team-a.svc.cluster.local", "port": 8000},
        "gpt": {"hostname": "api.openai.com", "port": 443},
        "claude": {"hostname": "api.anthropic.com", "port": 443},
        "nova": {"hostname": "bedrock-runtime.us-east-1.amazonaws.com", "port": 443},
        "gemini": {"hostname": "us-central1-aiplatform.googleapis.com", "port": 443},
    }
    schemas = {m.name: aws.spec_of(f"gp-gateway-{m.name}-service-backend")["schema"]["name"] for m in aws.spec.models}
    assert schemas == {
        "llama": "OpenAI",
        "gpt": "OpenAI",
        "claude": "Anthropic",
        "nova": "AWSBedrock",
        "gemini": "GCPVertexAI",
    }
    for name in ("gpt", "claude", "nova", "gemini"):
        assert aws.spec_of(f"gp-gateway-{name}-backend-tls")["validation"] == {
            "wellKnownCACertificates": "System",
            "hostname": endpoints[name]["hostname"],
        }
    security = {m: aws.spec_of(f"gp-gateway-{m}-backend-security") for m in ("gpt", "claude", "nova", "gemini")}
    ref = {"secretRef": {"name": "gpt-credential"}}
    assert (security["gpt"]["type"], security["gpt"]["apiKey"]) == ("APIKey", ref)
    assert security["claude"]["anthropicAPIKey"] == {"secretRef": {"name": "claude-credential"}}
    assert security["nova"]["awsCredentials"] == {
        "region": "us-east-1",
        "credentialsFile": {"secretRef": {"name": "nova-credential"}},
    }
    assert security["gemini"]["gcpCredentials"] == {
        "projectName": "example",
        "region": "us-central1",
        "credentialsFile": {"secretRef": {"name": "gemini-credential"}},
    }
    for name, sec in security.items():
        assert sec["targetRefs"] == [{"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": name}]
    keys = {m: list(aws.rec.named(f"gp-gateway-{m}-credential").inputs["stringData"]) for m in security}
    assert keys == {
        "gpt": ["apiKey"],
        "claude": ["apiKey"],
        "nova": ["credentials"],
        "gemini": ["service_account.json"],
    }


def test_credentials_never_appear_in_plain_text(aws: Built, tmp_path: Path) -> None:
    for name in ("gpt", "claude", "nova", "gemini"):
        assert aws.rec.named(f"gp-gateway-{name}-credential").is_secret("stringData")
    rendered = json.dumps(kubernetes_objects(aws.rec))
    written = "".join(p.read_text() for p in write(aws.rec, tmp_path / "render") if p.is_file())
    # Every input of every resource (releases, randoms, the component's children), secrets redacted:
    # the credential only ever travels inside a secret wrapper.
    everything = json.dumps([redact(r.wire_inputs) for r in aws.rec.resources])
    for secret in CREDENTIALS.values():
        for needle in (secret, secret.splitlines()[-1] if "\n" in secret else secret):
            assert needle not in rendered
            assert needle not in written
            assert needle not in everything
    for name in ("gpt", "claude", "nova", "gemini"):
        rendered_secret = yaml.safe_load(
            (tmp_path / "render" / f"secret-{GATEWAY_NAMESPACE}-{name}-credential.yaml").read_text()
        )
        data = rendered_secret["stringData"]
        assert data == REDACTED or set(data.values()) == {REDACTED}, data
    assert "mock-password-gp-gateway-api-key" not in written
    assert "mock-password-gp-gateway-mcp-seed" not in written
    # The seed reaches the controller only through the Secret: the values (and so the Deployment's args)
    # hold a $(VAR) reference the kubelet expands from an env var read from that Secret.
    controller = aws.rec.named("gp-gateway-ai-gateway").inputs["values"]["controller"]
    assert controller["mcp"]["sessionEncryption"]["seed"] == "$(GPUPLANE_MCP_SESSION_SEED)"
    assert controller["extraEnvVars"] == [
        {
            "name": "GPUPLANE_MCP_SESSION_SEED",
            "valueFrom": {"secretKeyRef": {"name": "ai-gateway-mcp-session-seed", "key": "seed"}},
        }
    ]
    seed_secret = aws.rec.named("gp-gateway-mcp-seed-secret")
    assert seed_secret.is_secret("stringData")
    assert seed_secret.inputs["stringData"] == {"seed": "mock-password-gp-gateway-mcp-seed"}
    assert seed_secret.inputs["metadata"] == {
        "name": "ai-gateway-mcp-session-seed",
        "namespace": "envoy-ai-gateway-system",
        "labels": {"app.kubernetes.io/managed-by": "gpuplane"},
    }


def test_a_missing_credential_or_a_disabled_gateway_is_refused() -> None:
    with pytest.raises(ValueError, match=r"credentials: models\[3\] \(nova\) needs credential 'aws'"):
        build(gateway_spec("aws"), credentials={k: v for k, v in CREDENTIALS.items() if k != "aws"})
    spec = parse_spec({**raw_spec("aws"), "gateway": {"enabled": False}})
    with pytest.raises(ValueError, match=r"scope.spec.gateway.enabled"):
        build(spec)


@pytest.mark.parametrize("namespace", sorted(GATEWAY_NAMESPACES))
def test_tenants_named_like_gateway_namespaces_are_refused(namespace: str) -> None:
    raw = raw_spec("aws")
    assert namespace in RESERVED_NAMESPACES
    raw["tenants"][1]["name"] = namespace
    with pytest.raises(SpecError, match=rf"tenants\[1\]\.name: '{namespace}' is a system or platform namespace"):
        parse_spec(raw)


# --- the gateway and OpenFGA agree; tenants come and go together --------------------------------------


def test_route_admission_equals_the_openfga_invokers(aws: Built) -> None:
    found = authz.tuples(aws.spec, {})
    for model in aws.spec.models:
        admitted = admitted_tenants(aws.spec_of(f"gp-gateway-{model.name}-access"))
        assert admitted == authz.invokers(found, model.name) == set(model.tenants)
        assert limited_tenants(aws.spec_of(f"gp-gateway-{model.name}-token-limit")) == admitted


def _with_tenants(model: str, tenants: list[str]) -> PlatformSpec:
    raw = raw_spec("aws")
    raw["models"] = models_raw()
    for entry in raw["models"]:
        if entry["name"] == model:
            entry["tenants"] = tenants
            entry["budgets"] = {t: b for t, b in entry.get("budgets", {}).items() if t in tenants}
    return parse_spec(raw)


def test_adding_and_removing_a_tenant_moves_admission_limit_and_tuple_together() -> None:
    tuple_b = authz.RelationshipTuple("tenant:team-b#member", "invoker", "model:gpt")
    before = build(_with_tenants("gpt", ["team-a"]), monitoring=False)
    after = build(_with_tenants("gpt", ["team-a", "team-b"]), monitoring=False)
    for built, present in ((before, False), (after, True)):
        assert ("team-b" in admitted_tenants(built.spec_of("gp-gateway-gpt-access"))) is present
        assert ("team-b" in limited_tenants(built.spec_of("gp-gateway-gpt-token-limit"))) is present
        assert (tuple_b in authz.tuples(built.spec, {})) is present
    # Nothing else changed: the other routes are identical.
    for name in ("llama", "claude", "nova", "gemini"):
        for role in ("access", "token-limit", "route"):
            assert before.spec_of(f"gp-gateway-{name}-{role}") == after.spec_of(f"gp-gateway-{name}-{role}")


def test_route_summary_reports_routes_tenants_and_limits() -> None:
    summary = {s.model: s.to_json() for s in route_summary(gateway_spec("aws"))}
    assert summary["llama"] == {
        "model": "llama",
        "modelId": "meta-llama/Llama-3.1-8B-Instruct",
        "provider": "in-cluster",
        "backend": "vllm.team-a.svc.cluster.local:8000",
        "tenants": ["team-a", "team-b"],
        "limits": [
            {"tenant": "team-a", "tokens": 50000, "per": "Minute", "default": False},
            {"tenant": "team-b", "tokens": 100000, "per": "Hour", "default": True},
        ],
    }
    assert summary["nova"]["backend"] == "bedrock-runtime.us-east-1.amazonaws.com:443"
    assert list(summary) == ["llama", "gpt", "claude", "nova", "gemini"]
    assert route_summary(parse_spec({**raw_spec("aws"), "gateway": {"enabled": False}})) == []


def test_every_route_asks_the_authorization_service_and_fails_closed(aws: Built) -> None:
    proxy = aws.spec_of("gp-gateway-envoy-proxy")
    assert proxy["filterOrder"] == [{"name": "envoy.filters.http.ext_authz", "after": EXT_AUTHZ_AFTER}]
    for model in aws.spec.models:
        access = aws.spec_of(f"gp-gateway-{model.name}-access")
        ext = access["extAuth"]
        assert ext["failOpen"] is False
        assert ext["timeout"] == "1s"
        assert ext["headersToExtAuth"] == ["x-gpuplane-tenant", "x-ai-eg-model"]
        assert ext["http"]["backendRefs"] == [
            {"group": "", "kind": "Service", "name": "gpuplane-authz", "namespace": "openfga", "port": 9000}
        ]
        # The route policy replaces the Gateway's, so it authenticates too (apiKeyAuth before ext_authz).
        assert "apiKeyAuth" in access
        assert access["authorization"]["defaultAction"] == "Deny"


def test_without_openfga_routes_keep_only_the_static_allow_list() -> None:
    raw = raw_spec("aws")
    raw["models"] = models_raw()
    raw["openfga"] = {"enabled": False}
    spec = parse_spec(raw)
    assert "filterOrder" not in envoy_proxy_spec(spec)
    assert "extAuth" not in gateway_auth_spec(spec)
    for model in spec.models:
        assert "extAuth" not in route_access_spec(spec, model)


# --- monitoring ------------------------------------------------------------------------------------------


def test_monitors_carry_the_hook_labels_and_scrape_proxies_ratelimit_and_controller(aws: Built) -> None:
    for name in ("proxy-monitor", "ratelimit-monitor", "controller-monitor", "alerts"):
        labels = aws.rec.named(f"gp-gateway-{name}").inputs["metadata"]["labels"]
        assert labels.items() >= SELECTOR_LABELS.items(), name
    proxy = aws.spec_of("gp-gateway-proxy-monitor")
    assert proxy["selector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "envoy-gateway",
        "app.kubernetes.io/component": "proxy",
    }
    assert proxy["podMetricsEndpoints"] == [
        {"portNumber": 19001, "path": "/stats/prometheus", "interval": "30s"},
        {"port": "aigw-admin", "path": "/metrics", "interval": "30s"},
    ]
    assert aws.values("gp-gateway-ai-gateway")["controller"]["metricsRequestHeaderAttributes"] == (
        f"{TENANT_HEADER}:gpuplane.tenant"
    )
    dashboard_map = aws.rec.named("gp-gateway-dashboard").inputs
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dashboard_map["data"]["gpuplane-ai-gateway.json"])
    assert [p["title"] for p in board["panels"]][:4] == [
        "Requests per model",
        "Requests per tenant and model",
        "Tokens per model and type",
        "Tokens per tenant and model",
    ]


def test_every_query_parses_and_uses_only_metrics_of_the_pinned_releases() -> None:
    expressions = [*dashboard().queries(), *alert_group().expressions()]
    assert len(expressions) == 8 + 3
    known = known_metrics()
    for expr in expressions:
        names = metric_names(expr)
        assert names, expr
        assert names <= known, (expr, names - known)
    tenant_queries = [e for e in dashboard().queries() if "gpuplane_tenant" in e]
    assert len(tenant_queries) == 2


PROMTOOL_TESTS = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gen_ai_server_request_duration_seconds_count{gen_ai_request_model="llama"}'
        values: '0+54x40'
      - series: 'gen_ai_server_request_duration_seconds_count{gen_ai_request_model="llama",error_type="500"}'
        values: '0+6x40'
      - series: 'gen_ai_server_request_duration_seconds_count{gen_ai_request_model="gpt"}'
        values: '0+60x40'
      - series: 'envoy_cluster_ratelimit_ok{envoy_cluster_name="httproute/gpuplane-gateway/llama/rule/0"}'
        values: '0+60x40'
      - series: 'envoy_cluster_ratelimit_over_limit{envoy_cluster_name="httproute/gpuplane-gateway/llama/rule/0"}'
        values: '0+30x40'
      - series: 'envoy_cluster_ratelimit_ok{envoy_cluster_name="httproute/gpuplane-gateway/gpt/rule/0"}'
        values: '0+60x40'
      - series: 'envoy_cluster_ratelimit_over_limit{envoy_cluster_name="httproute/gpuplane-gateway/gpt/rule/0"}'
        values: '0+1x40'
      - series: 'envoy_cluster_ratelimit_error{envoy_cluster_name="httproute/gpuplane-gateway/llama/rule/0"}'
        values: '0+2x40'
      - series: 'envoy_cluster_ratelimit_error{envoy_cluster_name="httproute/gpuplane-gateway/gpt/rule/0"}'
        values: '0x40'
    alert_rule_test:
      - eval_time: 5m
        alertname: GpuplaneGatewayErrorRateHigh
        exp_alerts: []
      - eval_time: 30m
        alertname: GpuplaneGatewayErrorRateHigh
        exp_alerts:
          - exp_labels: {severity: warning, gen_ai_request_model: llama}
            exp_annotations:
              summary: Model llama fails more than 5% of gateway requests
              description: 10% of requests to llama through the AI gateway ended in an error over the last 5 minutes. Check the backend (in-cluster Service or provider) and the AIServiceBackend status.
      - eval_time: 12m
        alertname: GpuplaneGatewayRateLimitSaturated
        exp_alerts: []
      - eval_time: 35m
        alertname: GpuplaneGatewayRateLimitSaturated
        exp_alerts:
          - exp_labels: {severity: warning, envoy_cluster_name: httproute/gpuplane-gateway/llama/rule/0}
            exp_annotations:
              summary: Token budgets reject over 25% of requests on httproute/gpuplane-gateway/llama/rule/0
              description: "33.33% of rate-limit decisions for httproute/gpuplane-gateway/llama/rule/0 were over the limit for 15 minutes: tenants have exhausted their token budgets. Raise models[].budgets or gateway.defaultBudget if the demand is legitimate."
      - eval_time: 3m
        alertname: GpuplaneGatewayRateLimitBackendErrors
        exp_alerts: []
      - eval_time: 12m
        alertname: GpuplaneGatewayRateLimitBackendErrors
        exp_alerts:
          - exp_labels: {severity: critical, envoy_cluster_name: httproute/gpuplane-gateway/llama/rule/0}
            exp_annotations:
              summary: The gateway cannot reach its rate-limit service
              description: Rate-limit checks for httproute/gpuplane-gateway/llama/rule/0 are failing. With gateway.rateLimitFailClosed (the default) requests are refused; otherwise token budgets are not enforced. Check the envoy-ratelimit pods and the Valkey in gpuplane-ratelimit.
"""


def test_alerts_pass_promtool_check_and_unit_tests(aws: Built, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    (rule,) = [o for o in kubernetes_objects(aws.rec) if o["kind"] == "PrometheusRule"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(PROMTOOL_TESTS)
    checked = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


# --- the policy pack -------------------------------------------------------------------------------------


def test_the_policy_pack_finds_nothing_wrong_with_the_gateway(aws: Built, pack: PolicyPackServer) -> None:
    violations = pack.analyze(aws.rec, project="gpuplane", stack="test")
    ours = [v for v in violations if "gp-gateway" in v.urn]
    assert ours == [], ours


def test_the_policy_pack_catches_a_route_without_its_token_limit(aws: Built, pack: PolicyPackServer) -> None:
    broken = Recording(
        resources=[r for r in aws.rec.resources if r.name != "gp-gateway-claude-token-limit"],
        invokes=aws.rec.invokes,
    )
    violations = pack.analyze(broken, project="gpuplane", stack="test")
    assert [(v.policy, v.urn) for v in violations if "gp-gateway" in v.urn] == [
        ("platform-aigateway-route-rate-limited", aws.rec.named("gp-gateway-claude-route").urn)
    ]
