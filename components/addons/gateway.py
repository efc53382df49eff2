"""The AI gateway: Envoy Gateway + Envoy AI Gateway, one HTTPS Gateway, a route per model, tenant
authentication and per-tenant token budgets.

What it builds (children named ``f"{name}-{role}"``, every Kubernetes child through the cluster's
provider and ``deleted_with`` the native cluster):

- Namespaces (Pod Security): ``{name}-eg-namespace`` ``envoy-gateway-system`` (*baseline*: Envoy
  Gateway runs the proxies and the rate-limit service there, and the AI Gateway injects its ext_proc
  sidecar into the proxy pods, whose security context we do not control), ``{name}-aigw-namespace``
  ``envoy-ai-gateway-system``, ``{name}-ratelimit-namespace`` ``gpuplane-ratelimit`` and
  ``{name}-routes-namespace`` ``gpuplane-gateway`` (the Gateway, routes, backends, policies and
  their Secrets; no pods), all *restricted* but the first.
- ``{name}-valkey`` / ``{name}-valkey-service`` / ``{name}-valkey-network-policy``: the
  Redis-protocol store of Envoy Gateway's global rate limit (pinned Valkey, non-root, read-only root
  filesystem, no persistence: counters are short-lived), reachable only from
  ``envoy-gateway-system``.
- Helm releases (``helm.v3.Release``, so hooks run): ``{name}-ai-gateway-crds`` (the AI Gateway
  CRDs chart, first), ``{name}-envoy-gateway`` (gateway-helm v1.8.3, whose ``certgen`` pre-install
  hook Job makes the control plane's certificates; values: the AI Gateway's extension manager exactly
  as its v1.1 install docs give it, and the rate limit's Redis backend, set at install), and
  ``{name}-ai-gateway`` (the controller, after both).
- ``{name}-envoy-proxy`` (EnvoyProxy: proxies on the system pool), ``{name}-gateway-class``,
  ``{name}-gateway`` (one HTTPS listener, TLS terminated with ``{name}-tls-secret``: a self-signed
  certificate from ``{name}-tls-key``/``{name}-tls-cert`` or your Secret when ``gateway.tls.mode``
  is ``secret``), ``{name}-client-headers`` (ClientTrafficPolicy stripping a client-sent tenant
  header before any filter runs) and ``{name}-gateway-auth`` (SecurityPolicy on the Gateway:
  authentication plus deny-by-default authorization for anything no route policy admits).
- API keys (``gateway.auth.mode: api-key``): ``{name}-api-key-<tenant>`` (``random.RandomPassword``)
  per tenant and ``{name}-api-keys``, the Secret the SecurityPolicies' ``apiKeyAuth`` reads (client id
  = tenant name); exposed as the secret output :attr:`AiGateway.api_keys`.
- Per model ``<m>``: ``{name}-<m>-backend`` (Backend), ``{name}-<m>-backend-tls`` (BackendTLSPolicy,
  external providers), ``{name}-<m>-credential`` (Secret holding the provider credential as a Pulumi
  secret) and ``{name}-<m>-backend-security`` (BackendSecurityPolicy) for external providers,
  ``{name}-<m>-service-backend`` (AIServiceBackend), ``{name}-<m>-route`` (AIGatewayRoute with
  ``llmRequestCosts``), ``{name}-<m>-access`` (SecurityPolicy on the route's HTTPRoute: authentication,
  an allow-list of exactly the model's tenants and, with OpenFGA on, ``extAuth`` to the
  authorization service) and ``{name}-<m>-token-limit``
  (BackendTrafficPolicy: a global rate-limit rule per admitted tenant whose cost is the response's
  total tokens).
- With a :class:`MonitoringHook`: ``{name}-proxy-monitor`` (Envoy stats and the AI Gateway's
  ``gen_ai_*`` metrics from the proxy pods), ``{name}-controller-monitor`` (Envoy Gateway),
  ``{name}-ratelimit-monitor`` (rate-limit service), ``{name}-alerts`` (error rate, rate-limit
  saturation, rate-limit backend errors) and ``{name}-dashboard`` (requests, tokens and latency per
  model and tenant).

Why this shape: the tenant identity is established once, by Envoy Gateway's authentication filter
(``apiKeyAuth`` forwards the key's client id, ``jwt`` copies the tenant claim) into the header
``x-gpuplane-tenant``; authorization (RBAC), the token rate limit and the AI Gateway's metrics all
key on that header. Envoy Gateway orders the filters api_key_auth/jwt_authn → ext_proc → rbac →
ratelimit (``internal/xds/translator`` filter order), so the header is set before it is read.
The admitted tenants come from the same spec field (``models[].tenants``) that generates the OpenFGA
``invoker`` tuples (``components/addons/authz``); a test checks both views agree. With OpenFGA on,
every route's SecurityPolicy also carries ``extAuth`` to the authorization service
(``components/addons/authz/service.py``), which asks OpenFGA per request (``failOpen: false``); the
static allow-list stays as a second line (defence in depth): a request passes only if both admit it.
See :data:`EXT_AUTHZ_AFTER` for the filter order and docs/decisions/gateway-and-authz.md.

Upstream gotchas:
- Token limits silently do nothing unless the rate-limit service has its Redis backend configured in
  Envoy Gateway's values *at install* and the metadata key a rule charges is declared in the route's
  ``llmRequestCosts`` (envoyproxy/ai-gateway#1754, #1866).
- Setting ``extensionManager.backendResources`` without the AI Gateway's hooks crashes Envoy Gateway
  ("registered extension has no hooks specified"); the values here are the AI Gateway v1.1 install
  values (hooks, ``includeAll`` translation, service FQDN) and nothing more.
- AI Gateway v1.1.0 is built and tested against Envoy Gateway v1.8 and Gateway API v1.5; v1.9 is not
  in its compatibility list (``components/versions.py``).
- Policies attach to the HTTPRoute the AI Gateway generates with the AIGatewayRoute's name; a
  route-level SecurityPolicy replaces the Gateway-level one for that route, so each carries the
  authentication too.
- A route must never be live without its policies: the policies' ``targetRefs`` are plain
  group/kind/name references (no UID), valid before their target exists, so each model's
  ``{name}-<m>-access`` and ``{name}-<m>-token-limit`` are created *before* ``{name}-<m>-route``,
  and every route also depends on ``{name}-gateway-auth`` and ``{name}-client-headers``. In any other
  order a route could take traffic before the Gateway-level authentication or the header stripping
  exists, or without its token budget, until the policies land.
- ``helm.v4.Chart`` would skip the ``certgen`` hook (pulumi/pulumi-kubernetes#3284).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.addons.alerts import AlertRule, RuleGroup
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
from components.addons.dashboards import Dashboard, Panel, Query
from components.spec import ModelBackend, PlatformSpec, ServedModel, TokenBudget
from components.versions import AI_GATEWAY, AI_GATEWAY_CRDS, ENVOY_GATEWAY, VALKEY

EG_NAMESPACE = "envoy-gateway-system"
AI_GATEWAY_NAMESPACE = "envoy-ai-gateway-system"
RATELIMIT_NAMESPACE = "gpuplane-ratelimit"
GATEWAY_NAMESPACE = "gpuplane-gateway"
GATEWAY_NAMESPACES = frozenset({EG_NAMESPACE, AI_GATEWAY_NAMESPACE, RATELIMIT_NAMESPACE, GATEWAY_NAMESPACE})
OPENFGA_NAMESPACE = "openfga"
"""Where the authorization service runs (``components.addons.openfga.NAMESPACE``)."""

GATEWAY_NAME = "gpuplane-ai"
LOAD_BALANCER_NAME = "gpuplane-ai-lb"
"""The Pulumi-owned LoadBalancer Service in front of the Envoy proxies (see :func:`load_balancer_spec`)."""
HTTPS_PORT = 443
PROXY_HTTPS_PORT = HTTPS_PORT + 10000
"""The proxy container port of the 443 listener: Envoy Gateway shifts listener ports below 1024 by 10000
unless ``useListenerPortAsContainerPort`` (internal/gatewayapi/listener.go ``servicePortToContainerPort``,
``wellKnownPortShift`` in translator.go, envoyproxy/gateway v1.8.3, commit 94850d43)."""
PROXY_POD_LABELS: Mapping[str, str] = {
    # proxy/resource.go EnvoyAppLabel + gatewayapi/translator.go owning-gateway labels (v1.8.3)
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
    "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": GATEWAY_NAMESPACE,
}
GATEWAY_CLASS = "gpuplane-ai"
ENVOY_PROXY_NAME = "gpuplane-ai"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
TENANT_HEADER = "x-gpuplane-tenant"
API_KEY_HEADER = "x-api-key"
MODEL_HEADER = "x-ai-eg-model"
JWT_PROVIDER = "gpuplane"
API_KEYS_SECRET = "gpuplane-api-keys"
TLS_SECRET = "gpuplane-gateway-tls"
SELF_SIGNED_HOST = "ai-gateway.gpuplane.local"

AI_GATEWAY_CONTROLLER = "ai-gateway-controller"
"""The AI Gateway controller Service (the chart's ``controller.fullnameOverride`` default)."""
EXTENSION_SERVER_PORT = 1063
VALKEY_NAME = "ratelimit-valkey"
VALKEY_PORT = 6379

TOKEN_METADATA_NAMESPACE = "io.envoy.ai_gateway"
"""Where the AI Gateway puts token counts for the rate-limit filter (fixed upstream)."""
INPUT_TOKEN_KEY = "llm_input_token"
OUTPUT_TOKEN_KEY = "llm_output_token"
TOTAL_TOKEN_KEY = "llm_total_token"
TENANT_METRIC_ATTRIBUTE = "gpuplane.tenant"
TENANT_METRIC_LABEL = "gpuplane_tenant"
"""``controller.metricsRequestHeaderAttributes`` maps the tenant header to this label on ``gen_ai_*``."""

GATEWAY_API = "gateway.networking.k8s.io/v1"
EG_API = "gateway.envoyproxy.io/v1alpha1"
AIGW_API = "aigateway.envoyproxy.io/v1beta1"
GATEWAY_GROUP = "gateway.networking.k8s.io"

EXT_AUTHZ_AFTER = "envoy.filters.http.rbac"
"""With OpenFGA on, the EnvoyProxy moves ext_authz after the RBAC filter (``filterOrder``). Envoy
Gateway v1.8.3 orders ext_authz (5) *before* api_key_auth (6) and jwt_authn (9)
(internal/xds/translator/httpfilters.go), so by default it would run before the tenant header
exists; and the AI Gateway inserts its ext_proc (which reads the model from the body and sets
``x-ai-eg-model``) just before the first rbac/ratelimit filter *after* Envoy Gateway sorted the
chain (post-translate hook). After rbac, ext_authz sees both: authn -> ext_proc -> rbac (static
allow-list) -> ext_authz (OpenFGA) -> ratelimit -> router."""
AUTHZ_HEADERS = (TENANT_HEADER, MODEL_HEADER)
"""What the authorization service is sent (``headersToExtAuth``): who, and which model."""


@dataclass(frozen=True)
class BackendTarget:
    """Where a model's traffic goes and how the gateway authenticates to it."""

    hostname: str
    port: int
    schema: str
    tls: bool
    security_type: str | None = None
    """BackendSecurityPolicy ``type`` for external providers."""
    secret_key: str | None = None
    """The key of the credential in its Secret, as that policy type reads it."""

    @property
    def address(self) -> str:
        return f"{self.hostname}:{self.port}"


def backend_target(backend: ModelBackend) -> BackendTarget:
    """The endpoint, API schema and credential shape of a model backend (validated by the spec)."""
    provider = backend.provider
    if provider == "in-cluster":
        assert backend.service is not None, "checked in the spec"
        assert backend.namespace is not None, "checked in the spec"
        assert backend.port is not None, "checked in the spec"
        return BackendTarget(
            hostname=f"{backend.service}.{backend.namespace}.svc.cluster.local",
            port=backend.port,
            schema="OpenAI",
            tls=False,
        )
    if provider == "openai":
        return BackendTarget("api.openai.com", 443, "OpenAI", True, "APIKey", "apiKey")
    if provider == "openai-compatible":
        assert backend.hostname, "checked in the spec"
        return BackendTarget(backend.hostname, 443, "OpenAI", True, "APIKey", "apiKey")
    if provider == "anthropic":
        return BackendTarget("api.anthropic.com", 443, "Anthropic", True, "AnthropicAPIKey", "apiKey")
    if provider == "bedrock":
        return BackendTarget(
            f"bedrock-runtime.{backend.region}.amazonaws.com", 443, "AWSBedrock", True, "AWSCredentials", "credentials"
        )
    return BackendTarget(
        f"{backend.region}-aiplatform.googleapis.com",
        443,
        "GCPVertexAI",
        True,
        "GCPCredentials",
        "service_account.json",
    )


# --- the plan report's view -----------------------------------------------------------------------


@dataclass(frozen=True)
class TenantLimit:
    tenant: str
    tokens: int
    per: str
    default: bool
    """Whether the limit is ``gateway.defaultBudget`` (no explicit budget for this tenant)."""


@dataclass(frozen=True)
class RouteSummary:
    """One model's route as ``gpuplane plan`` reports it."""

    model: str
    model_id: str
    provider: str
    backend: str
    tenants: tuple[str, ...]
    limits: tuple[TenantLimit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "modelId": self.model_id,
            "provider": self.provider,
            "backend": self.backend,
            "tenants": list(self.tenants),
            "limits": [
                {"tenant": limit.tenant, "tokens": limit.tokens, "per": limit.per, "default": limit.default}
                for limit in self.limits
            ],
        }


def budget_for(spec: PlatformSpec, model: ServedModel, tenant: str) -> tuple[TokenBudget, bool]:
    """A tenant's token budget on a model and whether it is the gateway default."""
    explicit = model.budgets.get(tenant)
    return (explicit, False) if explicit is not None else (spec.gateway.default_budget, True)


def route_summary(spec: PlatformSpec) -> list[RouteSummary]:
    """Routes, which tenants reach which model, and their token limits (pure; for plan/--json)."""
    if not spec.gateway.enabled:
        return []
    summaries: list[RouteSummary] = []
    for model in spec.models:
        limits: list[TenantLimit] = []
        for tenant in model.tenants:
            budget, default = budget_for(spec, model, tenant)
            limits.append(TenantLimit(tenant, budget.tokens, budget.per, default))
        summaries.append(
            RouteSummary(
                model=model.name,
                model_id=model.served_name,
                provider=model.backend.provider,
                backend=backend_target(model.backend).address,
                tenants=tuple(model.tenants),
                limits=tuple(limits),
            )
        )
    return summaries


# --- object specs (pure) ------------------------------------------------------------------------------


def envoy_gateway_values(spec: PlatformSpec) -> dict[str, Any]:
    """gateway-helm values: the AI Gateway v1.1 extension manager, the rate limit's Redis backend."""
    return {
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": CONTROLLER_NAME},
                "provider": {
                    "type": "Kubernetes",
                    "kubernetes": {"rateLimitDeployment": {"pod": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}}},
                },
                "logging": {"level": {"default": "info"}},
                "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
                "extensionManager": {
                    "hooks": {
                        "xdsTranslator": {
                            "translation": {
                                "listener": {"includeAll": True},
                                "route": {"includeAll": True},
                                "cluster": {"includeAll": True},
                                "secret": {"includeAll": True},
                            },
                            "post": ["Translation", "Cluster", "Route"],
                        }
                    },
                    "service": {
                        "fqdn": {
                            "hostname": f"{AI_GATEWAY_CONTROLLER}.{AI_GATEWAY_NAMESPACE}.svc.cluster.local",
                            "port": EXTENSION_SERVER_PORT,
                        }
                    },
                },
                "rateLimit": {
                    "backend": {
                        "type": "Redis",
                        "redis": {"url": f"{VALKEY_NAME}.{RATELIMIT_NAMESPACE}.svc.cluster.local:{VALKEY_PORT}"},
                    },
                    "failClosed": spec.gateway.rate_limit_fail_closed,
                    "timeout": RATE_LIMIT_CALL_TIMEOUT,
                },
            }
        },
        "deployment": {"pod": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}},
        "certgen": {"job": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)}},
    }


RATE_LIMIT_CALL_TIMEOUT = "200ms"
"""How long Envoy waits for the rate-limit service per request (``config.envoyGateway.rateLimit.timeout``,
Envoy Gateway v1.8.3 api/v1alpha1/envoygateway_types.go ``RateLimit.Timeout``; unset it is 20 ms). With
``failClosed`` a missed deadline is a refused request, and one Valkey round trip under load can exceed
20 ms; 200 ms is small next to a model's response time and still bounds a hung rate-limit service."""
MCP_SEED_SECRET = "ai-gateway-mcp-session-seed"
"""Secret (in the AI Gateway namespace) holding the MCP session-encryption seed under key ``seed``."""
MCP_SEED_ENV = "GPUPLANE_MCP_SESSION_SEED"


def ai_gateway_values() -> dict[str, Any]:
    """ai-gateway-helm values: controller on the system pool, tenant label on metrics, MCP seed.

    The v1.1.0 chart renders ``--mcpSessionEncryptionSeed={{ .Values.controller.mcp.sessionEncryption.seed }}``
    into the controller's container args (templates/deployment.yaml), readable by anyone who can read
    Deployments there, and the controller reads the seed only from that flag (cmd/controller/main.go).
    So the value is the Kubernetes reference ``$(GPUPLANE_MCP_SESSION_SEED)``, which the kubelet expands
    from the container's environment, and ``controller.extraEnvVars`` fills that variable from the
    Secret :data:`MCP_SEED_SECRET`: the Deployment holds no seed. (The chart's default seed is the
    public string "default-insecure-seed".) Left as is upstream: with MCP routes the controller passes
    the seed on to the ext_proc sidecars' args (internal/controller/extproc_builder.go); gpuplane
    defines no MCP routes.
    """
    return {
        "controller": {
            "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
            "metricsRequestHeaderAttributes": f"{TENANT_HEADER}:{TENANT_METRIC_ATTRIBUTE}",
            "mcp": {"sessionEncryption": {"seed": f"$({MCP_SEED_ENV})"}},
            "extraEnvVars": [
                {"name": MCP_SEED_ENV, "valueFrom": {"secretKeyRef": {"name": MCP_SEED_SECRET, "key": "seed"}}}
            ],
        }
    }


def valkey_deployment_spec() -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": VALKEY_NAME}
    return {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 999,
                    "runAsGroup": 1000,
                    "fsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "valkey",
                        "image": VALKEY.ref,
                        "args": [
                            "valkey-server",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--protected-mode",
                            "no",
                            "--maxmemory",
                            "256mb",
                            "--maxmemory-policy",
                            "volatile-ttl",
                        ],
                        "ports": [{"name": "redis", "containerPort": VALKEY_PORT}],
                        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 5},
                        "livenessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10},
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"memory": "320Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "64Mi"}}],
            },
        },
    }


def valkey_network_policy_spec() -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": VALKEY_NAME}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": EG_NAMESPACE}}},
                ],
                "ports": [{"protocol": "TCP", "port": VALKEY_PORT}],
            }
        ],
    }


def envoy_proxy_spec(spec: PlatformSpec) -> dict[str, Any]:
    order: dict[str, Any] = {}
    if spec.openfga.enabled:
        order["filterOrder"] = [{"name": "envoy.filters.http.ext_authz", "after": EXT_AUTHZ_AFTER}]
    return {
        **order,
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {
                    "replicas": spec.gateway.replicas,
                    "pod": {"nodeSelector": dict(SYSTEM_NODE_SELECTOR)},
                },
                # No cloud load balancer from the controller: the stack owns it (load_balancer_spec).
                "envoyService": {"type": "ClusterIP"},
            },
        },
    }


def load_balancer_spec() -> dict[str, Any]:
    """A LoadBalancer Service selecting the Envoy proxy pods Envoy Gateway runs for :data:`GATEWAY_NAME`
    (in its controller namespace), 443 to the shifted container port."""
    return {
        "type": "LoadBalancer",
        "selector": dict(PROXY_POD_LABELS),
        "ports": [{"name": "https", "protocol": "TCP", "port": HTTPS_PORT, "targetPort": PROXY_HTTPS_PORT}],
        "externalTrafficPolicy": "Local",
    }


def gateway_spec(spec: PlatformSpec, tls_secret: str) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "name": "https",
        "protocol": "HTTPS",
        "port": HTTPS_PORT,
        "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret}]},
        "allowedRoutes": {"namespaces": {"from": "Same"}},
    }
    if spec.gateway.hostname:
        listener["hostname"] = spec.gateway.hostname
    return {
        "gatewayClassName": GATEWAY_CLASS,
        "infrastructure": {
            "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": ENVOY_PROXY_NAME}
        },
        "listeners": [listener],
    }


def _gateway_ref() -> dict[str, str]:
    return {"group": GATEWAY_GROUP, "kind": "Gateway", "name": GATEWAY_NAME}


def _route_ref(model: ServedModel) -> dict[str, str]:
    """The HTTPRoute the AI Gateway generates for an AIGatewayRoute (same name and namespace)."""
    return {"group": GATEWAY_GROUP, "kind": "HTTPRoute", "name": model.name}


def authentication(spec: PlatformSpec) -> dict[str, Any]:
    """The SecurityPolicy fields that authenticate a caller and put its tenant in ``x-gpuplane-tenant``."""
    auth = spec.gateway.auth
    if auth.mode == "api-key":
        return {
            "apiKeyAuth": {
                "credentialRefs": [{"group": "", "kind": "Secret", "name": API_KEYS_SECRET}],
                "extractFrom": [{"headers": [API_KEY_HEADER]}],
                "forwardClientIDHeader": TENANT_HEADER,
                "sanitize": True,
            }
        }
    provider: dict[str, Any] = {
        "name": JWT_PROVIDER,
        "issuer": auth.issuer,
        "remoteJWKS": {"uri": auth.jwks_uri},
        "claimToHeaders": [{"claim": auth.tenant_claim, "header": TENANT_HEADER}],
    }
    if auth.audiences:
        provider["audiences"] = list(auth.audiences)
    return {"jwt": {"providers": [provider]}}


def gateway_auth_spec(spec: PlatformSpec) -> dict[str, Any]:
    """The Gateway-wide policy: authenticate, then deny whatever no route policy admits; with OpenFGA
    on, ``extAuth`` too: Envoy picks the ext_authz instance from the route the *initial* headers match
    (tests/authz/test_envoy_filter_chain.py), so a route without one must not skip authorization when
    the AI Gateway later re-routes the request to a model route."""
    checks: dict[str, Any] = {}
    if spec.openfga.enabled:
        from components.addons.authz.service import ext_auth

        checks["extAuth"] = ext_auth(OPENFGA_NAMESPACE, AUTHZ_HEADERS)
    return {
        "targetRefs": [_gateway_ref()],
        **authentication(spec),
        **checks,
        "authorization": {"defaultAction": "Deny"},
    }


def admission_principal(spec: PlatformSpec, tenants: Sequence[str]) -> dict[str, Any]:
    auth = spec.gateway.auth
    if auth.mode == "api-key":
        return {"headers": [{"name": TENANT_HEADER, "values": list(tenants)}]}
    return {"jwt": {"provider": JWT_PROVIDER, "claims": [{"name": auth.tenant_claim, "values": list(tenants)}]}}


def route_access_spec(spec: PlatformSpec, model: ServedModel) -> dict[str, Any]:
    """Authentication, an allow-list of exactly the model's tenants and, with OpenFGA on, ``extAuth``
    to the authorization service (identical on every route: the model comes from ``x-ai-eg-model``)."""
    checks: dict[str, Any] = {}
    if spec.openfga.enabled:
        from components.addons.authz.service import ext_auth

        checks["extAuth"] = ext_auth(OPENFGA_NAMESPACE, AUTHZ_HEADERS)
    return {
        "targetRefs": [_route_ref(model)],
        **authentication(spec),
        **checks,
        "authorization": {
            "defaultAction": "Deny",
            "rules": [
                {
                    "name": "tenants-with-access",
                    "action": "Allow",
                    "principal": admission_principal(spec, model.tenants),
                }
            ],
        },
    }


def admitted_tenants(access_spec: Mapping[str, Any]) -> set[str]:
    """The tenants a rendered route SecurityPolicy spec allows (inverse of :func:`route_access_spec`)."""
    admitted: set[str] = set()
    for rule in access_spec.get("authorization", {}).get("rules", []):
        if rule.get("action") != "Allow":
            continue
        principal = rule.get("principal", {})
        for header in principal.get("headers", []):
            if header.get("name") == TENANT_HEADER:
                admitted.update(header.get("values", []))
        for claim in principal.get("jwt", {}).get("claims", []):
            admitted.update(claim.get("values", []))
    return admitted


def token_limit_spec(spec: PlatformSpec, model: ServedModel) -> dict[str, Any]:
    """One global rate-limit rule per admitted tenant, charged the response's total tokens."""
    rules: list[dict[str, Any]] = []
    for tenant in model.tenants:
        budget, _ = budget_for(spec, model, tenant)
        rules.append(
            {
                "clientSelectors": [{"headers": [{"name": TENANT_HEADER, "type": "Exact", "value": tenant}]}],
                "limit": {"requests": budget.tokens, "unit": budget.per},
                "cost": {
                    # Check the budget on the request without spending it; spend the tokens on the response.
                    "request": {"from": "Number", "number": 0},
                    "response": {
                        "from": "Metadata",
                        "metadata": {"namespace": TOKEN_METADATA_NAMESPACE, "key": TOTAL_TOKEN_KEY},
                    },
                },
            }
        )
    return {"targetRefs": [_route_ref(model)], "rateLimit": {"type": "Global", "global": {"rules": rules}}}


def limited_tenants(limit_spec: Mapping[str, Any]) -> set[str]:
    """Tenants a rendered BackendTrafficPolicy spec has a token rule for."""
    found: set[str] = set()
    for rule in limit_spec.get("rateLimit", {}).get("global", {}).get("rules", []):
        for selector in rule.get("clientSelectors", []):
            for header in selector.get("headers", []):
                if header.get("name") == TENANT_HEADER and header.get("type") == "Exact":
                    found.add(header["value"])
    return found


def route_spec(model: ServedModel) -> dict[str, Any]:
    return {
        "parentRefs": [_gateway_ref()],
        "rules": [
            {
                "matches": [{"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model.served_name}]}],
                "backendRefs": [{"name": model.name}],
            }
        ],
        "llmRequestCosts": [
            {"metadataKey": INPUT_TOKEN_KEY, "type": "InputToken"},
            {"metadataKey": OUTPUT_TOKEN_KEY, "type": "OutputToken"},
            {"metadataKey": TOTAL_TOKEN_KEY, "type": "TotalToken"},
        ],
    }


def backend_spec(target: BackendTarget) -> dict[str, Any]:
    return {"endpoints": [{"fqdn": {"hostname": target.hostname, "port": target.port}}]}


def backend_tls_spec(model: ServedModel, target: BackendTarget) -> dict[str, Any]:
    return {
        "targetRefs": [{"group": "gateway.envoyproxy.io", "kind": "Backend", "name": model.name}],
        "validation": {"wellKnownCACertificates": "System", "hostname": target.hostname},
    }


def service_backend_spec(model: ServedModel, target: BackendTarget) -> dict[str, Any]:
    return {
        "schema": {"name": target.schema},
        "backendRef": {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": model.name},
    }


def credential_secret_name(model: ServedModel) -> str:
    return f"{model.name}-credential"


def backend_security_spec(model: ServedModel, target: BackendTarget) -> dict[str, Any]:
    secret_ref = {"name": credential_secret_name(model)}
    backend = model.backend
    body: dict[str, Any] = {
        "targetRefs": [{"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": model.name}],
        "type": target.security_type,
    }
    if target.security_type == "APIKey":
        body["apiKey"] = {"secretRef": secret_ref}
    elif target.security_type == "AnthropicAPIKey":
        body["anthropicAPIKey"] = {"secretRef": secret_ref}
    elif target.security_type == "AWSCredentials":
        body["awsCredentials"] = {"region": backend.region, "credentialsFile": {"secretRef": secret_ref}}
    else:
        body["gcpCredentials"] = {
            "projectName": backend.project,
            "region": backend.region,
            "credentialsFile": {"secretRef": secret_ref},
        }
    return body


# --- monitoring ------------------------------------------------------------------------------------------

_REQUESTS = "gen_ai_server_request_duration_seconds_count"
_DURATION_BUCKETS = "gen_ai_server_request_duration_seconds_bucket"
_TTFT_BUCKETS = "gen_ai_server_time_to_first_token_seconds_bucket"
_TOKENS = "gen_ai_client_token_usage_sum"
ERROR_RATIO_THRESHOLD = 0.05
SATURATION_THRESHOLD = 0.25


def alert_group() -> RuleGroup:
    model = "gen_ai_request_model"
    return RuleGroup(
        name="gpuplane-ai-gateway",
        rules=(
            AlertRule(
                alert="GpuplaneGatewayErrorRateHigh",
                expr=(
                    f'sum by ({model}) (rate({_REQUESTS}{{error_type!=""}}[5m])) '
                    f"/ sum by ({model}) (rate({_REQUESTS}[5m])) > {ERROR_RATIO_THRESHOLD}"
                ),
                for_="10m",
                severity="warning",
                summary="Model {{ $labels.gen_ai_request_model }} fails more than 5% of gateway requests",
                description=(
                    "{{ $value | humanizePercentage }} of requests to {{ $labels.gen_ai_request_model }} through "
                    "the AI gateway ended in an error over the last 5 minutes. Check the backend (in-cluster "
                    "Service or provider) and the AIServiceBackend status."
                ),
            ),
            AlertRule(
                alert="GpuplaneGatewayRateLimitSaturated",
                expr=(
                    "sum by (envoy_cluster_name) (rate(envoy_cluster_ratelimit_over_limit[10m])) "
                    "/ (sum by (envoy_cluster_name) (rate(envoy_cluster_ratelimit_ok[10m])) "
                    "+ sum by (envoy_cluster_name) (rate(envoy_cluster_ratelimit_over_limit[10m]))) "
                    f"> {SATURATION_THRESHOLD}"
                ),
                for_="15m",
                severity="warning",
                summary="Token budgets reject over 25% of requests on {{ $labels.envoy_cluster_name }}",
                description=(
                    "{{ $value | humanizePercentage }} of rate-limit decisions for {{ $labels.envoy_cluster_name }} "
                    "were over the limit for 15 minutes: tenants have exhausted their token budgets. Raise "
                    "models[].budgets or gateway.defaultBudget if the demand is legitimate."
                ),
            ),
            AlertRule(
                alert="GpuplaneGatewayRateLimitBackendErrors",
                expr="sum by (envoy_cluster_name) (rate(envoy_cluster_ratelimit_error[5m])) > 0",
                for_="5m",
                severity="critical",
                summary="The gateway cannot reach its rate-limit service",
                description=(
                    "Rate-limit checks for {{ $labels.envoy_cluster_name }} are failing. With "
                    "gateway.rateLimitFailClosed (the default) requests are refused; otherwise token budgets "
                    "are not enforced. Check the envoy-ratelimit pods and the Valkey in gpuplane-ratelimit."
                ),
            ),
        ),
    )


def dashboard() -> Dashboard:
    model, tenant = "gen_ai_request_model", TENANT_METRIC_LABEL
    return Dashboard(
        uid="gpuplane-ai-gateway",
        title="gpuplane / AI gateway",
        description="Requests, tokens and latency per model and tenant through the Envoy AI Gateway.",
        panels=(
            Panel(
                title="Requests per model",
                unit="reqps",
                queries=(Query(expr=f"sum by ({model}) (rate({_REQUESTS}[5m]))", legend=f"{{{{{model}}}}}"),),
            ),
            Panel(
                title="Requests per tenant and model",
                unit="reqps",
                queries=(
                    Query(
                        expr=f"sum by ({tenant}, {model}) (rate({_REQUESTS}[5m]))",
                        legend=f"{{{{{tenant}}}}} / {{{{{model}}}}}",
                    ),
                ),
            ),
            Panel(
                title="Tokens per model and type",
                unit="short",
                queries=(
                    Query(
                        expr=f"sum by ({model}, gen_ai_token_type) (rate({_TOKENS}[5m]))",
                        legend=f"{{{{{model}}}}} {{{{gen_ai_token_type}}}}",
                    ),
                ),
            ),
            Panel(
                title="Tokens per tenant and model",
                unit="short",
                queries=(
                    Query(
                        expr=f"sum by ({tenant}, {model}) (rate({_TOKENS}[5m]))",
                        legend=f"{{{{{tenant}}}}} / {{{{{model}}}}}",
                    ),
                ),
            ),
            Panel(
                title="Request latency p95 per model",
                unit="s",
                queries=(
                    Query(
                        expr=f"histogram_quantile(0.95, sum by (le, {model}) (rate({_DURATION_BUCKETS}[5m])))",
                        legend=f"{{{{{model}}}}}",
                    ),
                ),
            ),
            Panel(
                title="Time to first token p95 per model",
                unit="s",
                queries=(
                    Query(
                        expr=f"histogram_quantile(0.95, sum by (le, {model}) (rate({_TTFT_BUCKETS}[5m])))",
                        legend=f"{{{{{model}}}}}",
                    ),
                ),
            ),
            Panel(
                title="Error ratio per model",
                unit="percentunit",
                queries=(
                    Query(
                        expr=(
                            f'sum by ({model}) (rate({_REQUESTS}{{error_type!=""}}[5m])) '
                            f"/ sum by ({model}) (rate({_REQUESTS}[5m]))"
                        ),
                        legend=f"{{{{{model}}}}}",
                    ),
                ),
            ),
            Panel(
                title="Requests over their token budget",
                unit="reqps",
                queries=(
                    Query(
                        expr="sum by (envoy_cluster_name) (rate(envoy_cluster_ratelimit_over_limit[5m]))",
                        legend="{{envoy_cluster_name}}",
                    ),
                ),
            ),
        ),
    )


PROXY_SELECTOR = {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy"}
RATELIMIT_SELECTOR = {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "ratelimit"}
CONTROLLER_SELECTOR = {"control-plane": "envoy-gateway"}
ENVOY_STATS_PORT = 19001
EXT_PROC_METRICS_PORT_NAME = "aigw-admin"
"""The ext_proc sidecar's admin port (1064: /metrics and /health), as AI Gateway v1.1.0 names it
(internal/controller/extproc_builder.go: ``{Name: "aigw-admin", ContainerPort: extProcAdminPort}``)."""


def proxy_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(PROXY_SELECTOR)},
        "namespaceSelector": {"matchNames": [EG_NAMESPACE]},
        "podMetricsEndpoints": [
            {"portNumber": ENVOY_STATS_PORT, "path": "/stats/prometheus", "interval": "30s"},
            {"port": EXT_PROC_METRICS_PORT_NAME, "path": "/metrics", "interval": "30s"},
        ],
    }


def ratelimit_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(RATELIMIT_SELECTOR)},
        "namespaceSelector": {"matchNames": [EG_NAMESPACE]},
        "podMetricsEndpoints": [{"portNumber": ENVOY_STATS_PORT, "path": "/metrics", "interval": "30s"}],
    }


def controller_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(CONTROLLER_SELECTOR)},
        "namespaceSelector": {"matchNames": [EG_NAMESPACE]},
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
    }


# --- the component ---------------------------------------------------------------------------------------


def object_meta(object_name: str, namespace_name: str = GATEWAY_NAMESPACE) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace_name, labels=dict(MANAGED_BY))


@dataclass(frozen=True, kw_only=True)
class AiGatewayArgs:
    """``credentials`` maps each ``models[].backend.credential`` name to its value (a Pulumi secret,
    from ``stacks/settings.py``); ``monitoring`` plugs the monitors, alerts and dashboard in."""

    scope: AddonScope
    monitoring: MonitoringHook | None = None
    credentials: Mapping[str, pulumi.Input[str]] = field(default_factory=dict[str, pulumi.Input[str]])

    def __post_init__(self) -> None:
        spec = self.scope.spec
        if not spec.gateway.enabled:
            raise ValueError("scope.spec.gateway.enabled: the gateway is disabled; do not build AiGateway")
        for index, model in enumerate(spec.models):
            name = model.backend.credential
            if name is not None and name not in self.credentials:
                raise ValueError(
                    f"credentials: models[{index}] ({model.name}) needs credential {name!r}; "
                    f"have: {', '.join(sorted(self.credentials)) or '(none)'}"
                )
        # Tenants named like a gateway namespace are rejected by the spec (its RESERVED_NAMESPACES holds GATEWAY_NAMESPACES).


class AiGateway(pulumi.ComponentResource):
    """Envoy Gateway + Envoy AI Gateway with one authenticated, token-limited route per model."""

    gateway: k8s.apiextensions.CustomResource
    """The Gateway (namespace :data:`GATEWAY_NAMESPACE`, name :data:`GATEWAY_NAME`)."""
    load_balancer: k8s.core.v1.Service
    """The cloud load balancer's Service (``gpuplane-ai-lb`` in ``envoy-gateway-system``): its address is the
    platform's endpoint (``kubectl -n envoy-gateway-system get svc gpuplane-ai-lb``)."""
    releases: dict[str, k8s.helm.v3.Release]
    """``ai-gateway-crds``, ``envoy-gateway``, ``ai-gateway``."""
    routes: dict[str, k8s.apiextensions.CustomResource]
    """Model name -> its AIGatewayRoute."""
    api_keys: pulumi.Output[dict[str, str]] | None
    """Tenant -> API key (a Pulumi secret), in ``api-key`` mode; hand each tenant its own."""
    summary: list[RouteSummary]

    def __init__(self, name: str, args: AiGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:AiGateway", name, None, opts)
        scope, spec, hook = args.scope, args.scope.spec, args.monitoring

        eg_ns = namespace(
            f"{name}-eg-namespace", NamespaceSpec(name=EG_NAMESPACE, pod_security="baseline"), scope, self
        )
        aigw_ns = namespace(f"{name}-aigw-namespace", NamespaceSpec(name=AI_GATEWAY_NAMESPACE), scope, self)
        ratelimit_ns = namespace(f"{name}-ratelimit-namespace", NamespaceSpec(name=RATELIMIT_NAMESPACE), scope, self)
        routes_ns = namespace(f"{name}-routes-namespace", NamespaceSpec(name=GATEWAY_NAMESPACE), scope, self)

        valkey_meta = object_meta(VALKEY_NAME, RATELIMIT_NAMESPACE)
        valkey = k8s.apps.v1.Deployment(
            f"{name}-valkey",
            metadata=valkey_meta,
            spec=valkey_deployment_spec(),  # pyright: ignore[reportArgumentType]
            opts=scope.opts(self, [ratelimit_ns]),
        )
        valkey_service = k8s.core.v1.Service(
            f"{name}-valkey-service",
            metadata=valkey_meta,
            spec={
                "selector": {"app.kubernetes.io/name": VALKEY_NAME},
                "ports": [{"name": "redis", "port": VALKEY_PORT, "targetPort": "redis"}],
            },  # pyright: ignore[reportArgumentType]
            opts=scope.opts(self, [ratelimit_ns]),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-valkey-network-policy",
            metadata=valkey_meta,
            spec=valkey_network_policy_spec(),  # pyright: ignore[reportArgumentType]
            opts=scope.opts(self, [ratelimit_ns]),
        )

        crds = helm_release(
            f"{name}-ai-gateway-crds",
            AI_GATEWAY_CRDS,
            namespace=AI_GATEWAY_NAMESPACE,
            values={},
            scope=scope,
            parent=self,
            depends_on=[aigw_ns],
        )
        envoy_gateway = helm_release(
            f"{name}-envoy-gateway",
            ENVOY_GATEWAY,
            namespace=EG_NAMESPACE,
            values=envoy_gateway_values(spec),
            scope=scope,
            parent=self,
            depends_on=[eg_ns, valkey, valkey_service],
        )
        seed = random.RandomPassword(
            f"{name}-mcp-seed", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        seed_secret = k8s.core.v1.Secret(
            f"{name}-mcp-seed-secret",
            metadata=object_meta(MCP_SEED_SECRET, AI_GATEWAY_NAMESPACE),
            string_data={"seed": pulumi.Output.secret(seed.result)},
            opts=scope.opts(self, [aigw_ns]),
        )
        ai_gateway = helm_release(
            f"{name}-ai-gateway",
            AI_GATEWAY,
            namespace=AI_GATEWAY_NAMESPACE,
            values=ai_gateway_values(),
            scope=scope,
            parent=self,
            depends_on=[aigw_ns, crds, envoy_gateway, seed_secret],
        )
        self.releases = {"ai-gateway-crds": crds, "envoy-gateway": envoy_gateway, "ai-gateway": ai_gateway}
        eg_crs = [envoy_gateway, routes_ns]
        ai_crs = [crds, ai_gateway, envoy_gateway, routes_ns]

        def meta(object_name: str, namespace_name: str = GATEWAY_NAMESPACE) -> dict[str, Any]:
            return {"name": object_name, "namespace": namespace_name, "labels": dict(MANAGED_BY)}

        envoy_proxy = custom_resource(
            f"{name}-envoy-proxy",
            api_version=EG_API,
            kind="EnvoyProxy",
            metadata=meta(ENVOY_PROXY_NAME),
            spec=envoy_proxy_spec(spec),
            opts=scope.opts(self, eg_crs),
        )
        gateway_class = custom_resource(
            f"{name}-gateway-class",
            api_version=GATEWAY_API,
            kind="GatewayClass",
            metadata={"name": GATEWAY_CLASS, "labels": dict(MANAGED_BY)},
            spec={"controllerName": CONTROLLER_NAME},
            opts=scope.opts(self, [envoy_gateway]),
        )

        tls_secret_name, tls_deps = self._tls(name, scope, spec, routes_ns)
        self.gateway = custom_resource(
            f"{name}-gateway",
            api_version=GATEWAY_API,
            kind="Gateway",
            metadata=meta(GATEWAY_NAME),
            spec=gateway_spec(spec, tls_secret_name),
            opts=scope.opts(self, [*eg_crs, gateway_class, envoy_proxy, *tls_deps]),
        )
        # The cloud load balancer (an ELB, a forwarding rule, a NodeBalancer) belongs to this Service, not to
        # Envoy Gateway: its delete is real (not deleted_with the cluster) and Pulumi waits until the object
        # is gone, which the service controller's load-balancer-cleanup finalizer holds until the cloud load
        # balancer is deleted. Envoy Gateway's own Service (ClusterIP) deletes nothing in the cloud.
        self.load_balancer = k8s.core.v1.Service(
            f"{name}-load-balancer",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=LOAD_BALANCER_NAME, namespace=EG_NAMESPACE, labels=dict(MANAGED_BY)
            ),
            spec=load_balancer_spec(),  # pyright: ignore[reportArgumentType]
            opts=scope.owner_opts(self, [*eg_crs, self.gateway]),
        )
        client_headers = custom_resource(
            f"{name}-client-headers",
            api_version=EG_API,
            kind="ClientTrafficPolicy",
            metadata=meta("strip-tenant-header"),
            spec={"targetRefs": [_gateway_ref()], "headers": {"earlyRequestHeaders": {"remove": [TENANT_HEADER]}}},
            opts=scope.opts(self, [*eg_crs, self.gateway]),
        )

        auth_deps: list[pulumi.Resource] = [*eg_crs, self.gateway]
        self.api_keys = None
        if spec.gateway.auth.mode == "api-key":
            keys = {
                tenant.name: pulumi.Output.secret(
                    random.RandomPassword(
                        f"{name}-api-key-{tenant.name}",
                        length=48,
                        special=False,
                        opts=pulumi.ResourceOptions(parent=self),
                    ).result
                )
                for tenant in spec.tenants
            }
            self.api_keys = pulumi.Output.secret(pulumi.Output.all(**keys))
            # Each value a secret (the keys stay readable in a rendered diff, the values never do).
            keys_secret = k8s.core.v1.Secret(
                f"{name}-api-keys",
                metadata=object_meta(API_KEYS_SECRET),
                type="Opaque",
                string_data=keys,
                opts=scope.opts(self, [routes_ns]),
            )
            auth_deps.append(keys_secret)
        gateway_auth = custom_resource(
            f"{name}-gateway-auth",
            api_version=EG_API,
            kind="SecurityPolicy",
            metadata=meta("gateway-auth"),
            spec=gateway_auth_spec(spec),
            opts=scope.opts(self, auth_deps),
        )

        self.routes = {}
        for model in spec.models:
            self.routes[model.name] = self._model(
                name,
                model,
                args,
                meta,
                eg_crs=eg_crs,
                ai_crs=ai_crs,
                auth_deps=auth_deps,
                gateway_policies=[gateway_auth, client_headers],
            )

        if hook is not None:
            self._monitoring(name, scope, hook, [envoy_gateway, ai_gateway])

        self.summary = route_summary(spec)
        self.register_outputs(
            {
                "gatewayNamespace": GATEWAY_NAMESPACE,
                "gatewayName": GATEWAY_NAME,
                "routes": [s.to_json() for s in self.summary],
                "apiKeys": self.api_keys,
            }
        )

    def _tls(
        self, name: str, scope: AddonScope, spec: PlatformSpec, routes_ns: pulumi.Resource
    ) -> tuple[str, list[pulumi.Resource]]:
        if spec.gateway.tls.mode == "secret":
            assert spec.gateway.tls.secret_name, "checked in the spec"
            return spec.gateway.tls.secret_name, []
        host = spec.gateway.hostname or SELF_SIGNED_HOST
        key = tls.PrivateKey(
            f"{name}-tls-key", algorithm="ECDSA", ecdsa_curve="P256", opts=pulumi.ResourceOptions(parent=self)
        )
        cert = tls.SelfSignedCert(
            f"{name}-tls-cert",
            private_key_pem=key.private_key_pem,
            validity_period_hours=24 * 365,
            early_renewal_hours=24 * 30,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            dns_names=[host],
            subject=tls.SelfSignedCertSubjectArgs(common_name=host, organization="gpuplane"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret = k8s.core.v1.Secret(
            f"{name}-tls-secret",
            metadata=object_meta(TLS_SECRET),
            type="kubernetes.io/tls",
            # The certificate is public, but every Secret value is a Pulumi secret (platform-credentials-secret).
            string_data={
                "tls.crt": pulumi.Output.secret(cert.cert_pem),
                "tls.key": pulumi.Output.secret(key.private_key_pem),
            },
            opts=scope.opts(self, [routes_ns]),
        )
        return TLS_SECRET, [secret]

    def _model(
        self,
        name: str,
        model: ServedModel,
        args: AiGatewayArgs,
        meta: Any,
        *,
        eg_crs: Sequence[pulumi.Resource],
        ai_crs: Sequence[pulumi.Resource],
        auth_deps: Sequence[pulumi.Resource],
        gateway_policies: Sequence[pulumi.Resource],
    ) -> k8s.apiextensions.CustomResource:
        scope, spec = args.scope, args.scope.spec
        target = backend_target(model.backend)
        prefix = f"{name}-{model.name}"
        backend = custom_resource(
            f"{prefix}-backend",
            api_version=EG_API,
            kind="Backend",
            metadata=meta(model.name),
            spec=backend_spec(target),
            opts=scope.opts(self, eg_crs),
        )
        service_deps: list[pulumi.Resource] = [*ai_crs, backend]
        if target.tls:
            service_deps.append(
                custom_resource(
                    f"{prefix}-backend-tls",
                    api_version=GATEWAY_API,
                    kind="BackendTLSPolicy",
                    metadata=meta(model.name),
                    spec=backend_tls_spec(model, target),
                    opts=scope.opts(self, [*eg_crs, backend]),
                )
            )
        service_backend = custom_resource(
            f"{prefix}-service-backend",
            api_version=AIGW_API,
            kind="AIServiceBackend",
            metadata=meta(model.name),
            spec=service_backend_spec(model, target),
            opts=scope.opts(self, service_deps),
        )
        route_deps: list[pulumi.Resource] = [*ai_crs, service_backend, self.gateway]
        credential_name = model.backend.credential
        if credential_name is not None:
            assert target.secret_key is not None
            key = target.secret_key
            credential = pulumi.Output.from_input(args.credentials[credential_name])
            secret = k8s.core.v1.Secret(
                f"{prefix}-credential",
                metadata=object_meta(credential_secret_name(model)),
                type="Opaque",
                string_data={key: pulumi.Output.secret(credential)},
                opts=scope.opts(self, ai_crs),
            )
            route_deps.append(
                custom_resource(
                    f"{prefix}-backend-security",
                    api_version=AIGW_API,
                    kind="BackendSecurityPolicy",
                    metadata=meta(model.name),
                    spec=backend_security_spec(model, target),
                    opts=scope.opts(self, [*ai_crs, service_backend, secret]),
                )
            )
        # The policies first, the route last: Envoy Gateway policies name their target (group, kind,
        # name), so they may exist before the HTTPRoute the AI Gateway generates; the first
        # translation that sees the route already has its authentication, admission and budget.
        access = custom_resource(
            f"{prefix}-access",
            api_version=EG_API,
            kind="SecurityPolicy",
            metadata=meta(f"{model.name}-access"),
            spec=route_access_spec(spec, model),
            opts=scope.opts(self, auth_deps),
        )
        token_limit = custom_resource(
            f"{prefix}-token-limit",
            api_version=EG_API,
            kind="BackendTrafficPolicy",
            metadata=meta(f"{model.name}-token-limit"),
            spec=token_limit_spec(spec, model),
            opts=scope.opts(self, eg_crs),
        )
        route = custom_resource(
            f"{prefix}-route",
            api_version=AIGW_API,
            kind="AIGatewayRoute",
            metadata=meta(model.name),
            spec=route_spec(model),
            opts=scope.opts(self, [*route_deps, *gateway_policies, access, token_limit]),
        )
        return route

    def _monitoring(
        self, name: str, scope: AddonScope, hook: MonitoringHook, releases: Sequence[pulumi.Resource]
    ) -> None:
        from components.addons.observability import dashboard_config_map, pod_monitor, prometheus_rule, service_monitor

        pod_monitor(
            f"{name}-proxy-monitor",
            name="envoy-proxy",
            namespace=EG_NAMESPACE,
            spec=proxy_monitor_spec(),
            hook=hook,
            scope=scope,
            parent=self,
            depends_on=releases,
        )
        pod_monitor(
            f"{name}-ratelimit-monitor",
            name="envoy-ratelimit",
            namespace=EG_NAMESPACE,
            spec=ratelimit_monitor_spec(),
            hook=hook,
            scope=scope,
            parent=self,
            depends_on=releases,
        )
        service_monitor(
            f"{name}-controller-monitor",
            name="envoy-gateway",
            namespace=EG_NAMESPACE,
            spec=controller_monitor_spec(),
            hook=hook,
            scope=scope,
            parent=self,
            depends_on=releases,
        )
        prometheus_rule(
            f"{name}-alerts",
            name="gpuplane-ai-gateway",
            groups=[alert_group()],
            hook=hook,
            scope=scope,
            parent=self,
        )
        dashboard_config_map(f"{name}-dashboard", dashboard(), hook=hook, scope=scope, parent=self)
