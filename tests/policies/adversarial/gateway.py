"""Gateway authentication and token limits: the effective Envoy Gateway v1.8 policy per route and
listener, not "some policy exists" (route-level replacement, second Gateways, optional JWT, empty
key lists, refused targetRefs, listener sectionNames, fail-open extAuth, merge types)."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from tests.policies.adversarial.corpus import compliant, insecure

AUTH = "platform-aigateway-route-authenticated"
RATE = "platform-aigateway-route-rate-limited"
NS = "ai-gateway"
GROUP = "gateway.networking.k8s.io"
KEY = "llm_total_token"
API_KEYS: dict[str, Any] = {"credentialRefs": [{"name": "api-keys"}], "extractFrom": [{"headers": ["x-api-key"]}]}
TOKEN_LIMIT: dict[str, Any] = {
    "type": "Global",
    "global": {
        "rules": [
            {
                "clientSelectors": [{"headers": [{"name": "x-user-id", "type": "Distinct"}]}],
                "limit": {"requests": 100000, "unit": "Hour"},
                "cost": {
                    "request": {"from": "Number", "number": 0},
                    "response": {"from": "Metadata", "metadata": {"namespace": "io.envoy.ai_gateway", "key": KEY}},
                },
            }
        ]
    },
}


def ref(kind: str, name: str, section: str = "", group: str | None = GROUP) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "name": name}
    if group is not None:
        out["group"] = group
    if section:
        out["sectionName"] = section
    return out


def gateway(name: str = "ai", listeners: tuple[str, ...] = ("http",), labels: dict[str, str] | None = None) -> None:
    metadata: dict[str, Any] = {"name": name, "namespace": NS}
    if labels:
        metadata["labels"] = labels
    k8s.apiextensions.CustomResource(
        f"gateway-{name}",
        api_version="gateway.networking.k8s.io/v1",
        kind="Gateway",
        metadata=metadata,
        spec={
            "gatewayClassName": "envoy-ai-gateway",
            "listeners": [{"name": n, "protocol": "HTTP", "port": 80 + i} for i, n in enumerate(listeners)],
        },
    )


def route(
    name: str = "llama",
    parents: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    namespace: str = NS,
) -> None:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    k8s.apiextensions.CustomResource(
        f"route-{name}",
        api_version="aigateway.envoyproxy.io/v1beta1",
        kind="AIGatewayRoute",
        metadata=metadata,
        spec={
            "parentRefs": parents if parents is not None else [ref("Gateway", "ai")],
            "rules": [{"backendRefs": [{"name": name}]}],
            "llmRequestCosts": [{"metadataKey": KEY, "type": "TotalToken"}],
        },
    )


def policy(kind: str, name: str, spec: dict[str, Any], namespace: str = NS) -> None:
    k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}",
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind=kind,
        metadata={"name": name, "namespace": namespace},
        spec=spec,
    )


def sp(name: str, targets: list[dict[str, Any]], namespace: str = NS, **fields: Any) -> None:
    policy("SecurityPolicy", name, {"targetRefs": targets, **fields}, namespace)


def btp(name: str, targets: list[dict[str, Any]], namespace: str = NS, **fields: Any) -> None:
    policy("BackendTrafficPolicy", name, {"targetRefs": targets, **fields}, namespace)


def protected_gateway(**route_args: Any) -> None:
    """A Gateway with API-key auth and a token limit, and a route on it: compliant as it stands."""
    gateway()
    route(**route_args)
    sp("gateway-auth", [ref("Gateway", "ai")], apiKeyAuth=API_KEYS)
    btp("gateway-limit", [ref("Gateway", "ai")], rateLimit=TOKEN_LIMIT)


# -- authentication: the effective SecurityPolicy ----------------------------------------------------


@compliant(AUTH)
def auth_gateway_level_api_keys() -> None:
    protected_gateway()


@insecure(AUTH, "which does not authenticate: it sets only cors")
def auth_route_cors_replaces_gateway_auth() -> None:
    protected_gateway()
    sp("route-cors", [ref("HTTPRoute", "llama")], cors={"allowOrigins": ["https://app.example.com"]})


@compliant(AUTH)
def auth_route_cors_merged_keeps_gateway_auth() -> None:
    protected_gateway()
    sp(
        "route-cors",
        [ref("HTTPRoute", "llama")],
        mergeType="StrategicMerge",
        cors={"allowOrigins": ["https://app.example.com"]},
    )


@compliant(AUTH)
def auth_route_json_merge_keeps_gateway_auth() -> None:
    protected_gateway()
    sp("route-cors", [ref("HTTPRoute", "llama")], mergeType="JSONMerge", cors={"allowOrigins": ["*"]})


@insecure(AUTH, "which does not authenticate: it sets only cors")
def auth_route_selector_cors_replaces_gateway_auth() -> None:
    protected_gateway(labels={"team": "search"})
    policy(
        "SecurityPolicy",
        "by-label",
        {
            "targetSelectors": [{"kind": "HTTPRoute", "matchLabels": {"team": "search"}}],
            "cors": {"allowOrigins": ["*"]},
        },
    )


@insecure(AUTH, "rule rule-0 is governed by SecurityPolicy ai-gateway/rule-cors")
def auth_route_rule_cors_replaces_gateway_auth() -> None:
    protected_gateway()
    sp("rule-cors", [ref("HTTPRoute", "llama", section="rule-0")], cors={"allowOrigins": ["*"]})


@insecure(AUTH, "which does not authenticate: it sets only authorization")
def auth_route_authorization_only() -> None:
    protected_gateway()
    sp("route-authz", [ref("HTTPRoute", "llama")], authorization={"defaultAction": "Allow"})


@insecure(AUTH, "which does not authenticate: it sets only headers")
def auth_route_level_timeout_only_policy() -> None:
    protected_gateway()
    sp("route-headers", [ref("HTTPRoute", "llama")], headers={"x": "y"})


@insecure(AUTH, "on Gateway ai-gateway/public listener http has no SecurityPolicy")
def auth_second_gateway_unprotected() -> None:
    protected_gateway(parents=[ref("Gateway", "ai"), ref("Gateway", "public")])
    gateway("public")


@compliant(AUTH)
def auth_second_gateway_protected_too() -> None:
    protected_gateway(parents=[ref("Gateway", "ai"), ref("Gateway", "public")])
    gateway("public")
    sp(
        "public-auth",
        [ref("Gateway", "public")],
        jwt={"providers": [{"name": "idp", "remoteJWKS": {"uri": "https://idp/jwks"}}]},
    )


@insecure(AUTH, "on Gateway ai-gateway/public has no SecurityPolicy")
def auth_second_gateway_not_in_stack() -> None:
    protected_gateway(parents=[ref("Gateway", "ai"), ref("Gateway", "public")])


@insecure(AUTH, "jwt.optional is true")
def auth_jwt_optional() -> None:
    gateway()
    route()
    sp(
        "jwt",
        [ref("Gateway", "ai")],
        jwt={"optional": True, "providers": [{"name": "idp", "remoteJWKS": {"uri": "https://idp/jwks"}}]},
    )


@insecure(AUTH, "jwt.optional is true")
def auth_jwt_optional_string() -> None:
    gateway()
    route()
    sp("jwt", [ref("Gateway", "ai")], jwt={"optional": "true", "providers": [{"name": "idp"}]})


@compliant(AUTH)
def auth_jwt_required() -> None:
    gateway()
    route()
    sp("jwt", [ref("Gateway", "ai")], jwt={"optional": False, "providers": [{"name": "idp"}]})


@insecure(AUTH, "jwt lists no providers")
def auth_jwt_no_providers() -> None:
    gateway()
    route()
    sp("jwt", [ref("Gateway", "ai")], jwt={"providers": []})


@insecure(AUTH, "apiKeyAuth.credentialRefs is empty")
def auth_api_keys_empty() -> None:
    gateway()
    route()
    sp("keys", [ref("Gateway", "ai")], apiKeyAuth={"credentialRefs": [], "extractFrom": [{"headers": ["x-api-key"]}]})


@insecure(AUTH, "apiKeyAuth.credentialRefs is empty")
def auth_merged_route_empties_key_list() -> None:
    protected_gateway()
    sp("route-keys", [ref("HTTPRoute", "llama")], mergeType="StrategicMerge", apiKeyAuth={"credentialRefs": []})


@insecure(AUTH, "is refused: its targetRef group 'gateway.envoyproxy.io'")
def auth_wrong_target_group() -> None:
    gateway()
    route()
    sp("keys", [ref("Gateway", "ai", group="gateway.envoyproxy.io")], apiKeyAuth=API_KEYS)


@insecure(AUTH, "is refused: its targetRef group None")
def auth_target_without_group() -> None:
    gateway()
    route()
    sp("keys", [ref("Gateway", "ai", group=None)], apiKeyAuth=API_KEYS)


@insecure(AUTH, "is refused: its targetRef kind 'Service'")
def auth_target_wrong_kind() -> None:
    gateway()
    route()
    sp("keys", [ref("Gateway", "ai"), ref("Service", "llama")], apiKeyAuth=API_KEYS)


@insecure(AUTH, "is refused: it sets both targetRef and targetRefs")
def auth_both_target_ref_forms() -> None:
    gateway()
    route()
    policy(
        "SecurityPolicy",
        "keys",
        {"targetRef": ref("Gateway", "ai"), "targetRefs": [ref("Gateway", "ai")], "apiKeyAuth": API_KEYS},
    )


@compliant(AUTH)
def auth_deprecated_single_target_ref() -> None:
    gateway()
    route()
    policy("SecurityPolicy", "keys", {"targetRef": ref("Gateway", "ai"), "apiKeyAuth": API_KEYS})


@insecure(AUTH, "has no SecurityPolicy with jwt, apiKeyAuth")
def auth_listener_policy_on_other_listener() -> None:
    gateway(listeners=("admin", "https"))
    route(parents=[ref("Gateway", "ai", section="https")])
    sp("admin-only", [ref("Gateway", "ai", section="admin")], apiKeyAuth=API_KEYS)


@insecure(AUTH, "listener https has no SecurityPolicy")
def auth_route_on_all_listeners_policy_on_one() -> None:
    gateway(listeners=("admin", "https"))
    route()
    sp("admin-only", [ref("Gateway", "ai", section="admin")], apiKeyAuth=API_KEYS)


@compliant(AUTH)
def auth_listener_policy_on_route_listener() -> None:
    gateway(listeners=("admin", "https"))
    route(parents=[ref("Gateway", "ai", section="https")])
    sp("https", [ref("Gateway", "ai", section="https")], apiKeyAuth=API_KEYS)


@insecure(AUTH, "(on the listener), which does not authenticate")
def auth_listener_cors_shadows_gateway_auth() -> None:
    protected_gateway(parents=[ref("Gateway", "ai", section="http")])
    sp("listener-cors", [ref("Gateway", "ai", section="http")], cors={"allowOrigins": ["*"]})


@insecure(AUTH, "extAuth.failOpen is true")
def auth_ext_auth_fail_open() -> None:
    gateway()
    route()
    sp(
        "ext",
        [ref("Gateway", "ai")],
        extAuth={"failOpen": True, "grpc": {"backendRefs": [{"name": "authz", "port": 9000}]}},
    )


@compliant(AUTH)
def auth_ext_auth_fail_closed() -> None:
    gateway()
    route()
    sp(
        "ext",
        [ref("Gateway", "ai")],
        extAuth={"failOpen": False, "grpc": {"backendRefs": [{"name": "authz", "port": 9000}]}},
    )


@insecure(AUTH, "extAuth has no grpc or http service")
def auth_ext_auth_without_service() -> None:
    gateway()
    route()
    sp("ext", [ref("Gateway", "ai")], extAuth={"headersToExtAuth": ["x-user"]})


@insecure(AUTH, "oidc has no provider.issuer or clientID")
def auth_oidc_without_issuer() -> None:
    gateway()
    route()
    sp("oidc", [ref("Gateway", "ai")], oidc={"provider": {}, "clientID": "gpuplane"})


@insecure(AUTH, "basicAuth.users names no Secret")
def auth_basic_without_users() -> None:
    gateway()
    route()
    sp("basic", [ref("Gateway", "ai")], basicAuth={"users": {}})


@insecure(AUTH, "has no SecurityPolicy with jwt")
def auth_policy_in_other_namespace() -> None:
    gateway()
    route()
    sp("keys", [ref("Gateway", "ai")], namespace="default", apiKeyAuth=API_KEYS)


@insecure(AUTH, "has no SecurityPolicy with jwt")
def auth_gateway_selector_labels_do_not_match() -> None:
    gateway(labels={"tier": "internal"})
    route()
    policy(
        "SecurityPolicy",
        "by-label",
        {"targetSelectors": [{"kind": "Gateway", "matchLabels": {"tier": "public"}}], "apiKeyAuth": API_KEYS},
    )


@compliant(AUTH)
def auth_gateway_selector_labels_match() -> None:
    gateway(labels={"tier": "public"})
    route()
    policy(
        "SecurityPolicy",
        "by-label",
        {"targetSelectors": [{"kind": "Gateway", "matchLabels": {"tier": "public"}}], "apiKeyAuth": API_KEYS},
    )


@insecure(AUTH, "SecurityPolicy ai-gateway/route-cors (a route-level policy")
def auth_two_route_policies_conflict() -> None:
    protected_gateway()
    sp("route-keys", [ref("HTTPRoute", "llama")], apiKeyAuth=API_KEYS)
    sp("route-cors", [ref("HTTPRoute", "llama")], cors={"allowOrigins": ["*"]})


@compliant(AUTH)
def auth_route_level_own_authentication() -> None:
    protected_gateway()
    sp("route-jwt", [ref("HTTPRoute", "llama")], jwt={"providers": [{"name": "idp"}]})


@insecure(AUTH, "names no Gateway in parentRefs")
def auth_route_without_parents() -> None:
    protected_gateway(parents=[])


@insecure(AUTH, "which does not authenticate: it sets only cors")
def auth_route_in_other_namespace_with_local_cors() -> None:
    protected_gateway(parents=[{"group": GROUP, "kind": "Gateway", "name": "ai", "namespace": NS}], namespace="team-a")
    sp("team-cors", [ref("HTTPRoute", "llama")], namespace="team-a", cors={"allowOrigins": ["*"]})


# -- token limits: the effective BackendTrafficPolicy ------------------------------------------------


@compliant(RATE)
def rate_gateway_level_token_limit() -> None:
    protected_gateway()


@insecure(RATE, "which has no token-cost rate limit")
def rate_route_timeout_replaces_gateway_limit() -> None:
    protected_gateway()
    btp("route-timeout", [ref("HTTPRoute", "llama")], timeout={"http": {"requestTimeout": "300s"}})


@compliant(RATE)
def rate_route_timeout_merged_keeps_gateway_limit() -> None:
    protected_gateway()
    btp(
        "route-timeout",
        [ref("HTTPRoute", "llama")],
        mergeType="StrategicMerge",
        timeout={"http": {"requestTimeout": "300s"}},
    )


@insecure(RATE, "which has no token-cost rate limit")
def rate_route_local_limit_replaces_token_limit() -> None:
    protected_gateway()
    btp(
        "route-local",
        [ref("HTTPRoute", "llama")],
        rateLimit={"type": "Local", "local": {"rules": [{"limit": {"requests": 10, "unit": "Second"}}]}},
    )


@insecure(RATE, "rule rule-0 is governed by BackendTrafficPolicy ai-gateway/rule-retry")
def rate_rule_retry_replaces_gateway_limit() -> None:
    protected_gateway()
    btp("rule-retry", [ref("HTTPRoute", "llama", section="rule-0")], retry={"numRetries": 3})


@insecure(RATE, "on Gateway ai-gateway/public listener http has no BackendTrafficPolicy")
def rate_second_gateway_unlimited() -> None:
    protected_gateway(parents=[ref("Gateway", "ai"), ref("Gateway", "public")])
    gateway("public")


@insecure(RATE, "has no BackendTrafficPolicy with a token-cost rate limit")
def rate_listener_limit_on_other_listener() -> None:
    gateway(listeners=("admin", "https"))
    route(parents=[ref("Gateway", "ai", section="https")])
    btp("admin", [ref("Gateway", "ai", section="admin")], rateLimit=TOKEN_LIMIT)


@insecure(RATE, "has no BackendTrafficPolicy with a token-cost rate limit")
def rate_wrong_target_group() -> None:
    gateway()
    route()
    btp("limit", [ref("Gateway", "ai", group="gateway.envoyproxy.io")], rateLimit=TOKEN_LIMIT)


@insecure(RATE, "(on the Gateway), which has no token-cost rate limit")
def rate_cost_from_number() -> None:
    gateway()
    route()
    limit: dict[str, Any] = {
        "type": "Global",
        "global": {
            "rules": [
                {"limit": {"requests": 100, "unit": "Hour"}, "cost": {"request": {"from": "Number", "number": 1}}}
            ]
        },
    }
    btp("limit", [ref("Gateway", "ai")], rateLimit=limit)


@insecure(RATE, "(on the Gateway), which has no token-cost rate limit")
def rate_wrong_metadata_namespace() -> None:
    gateway()
    route()
    limit: dict[str, Any] = {
        "type": "Global",
        "global": {
            "rules": [
                {
                    "limit": {"requests": 100, "unit": "Hour"},
                    "cost": {
                        "response": {"from": "Metadata", "metadata": {"namespace": "envoy.ai_gateway", "key": KEY}}
                    },
                }
            ]
        },
    }
    btp("limit", [ref("Gateway", "ai")], rateLimit=limit)


@insecure(RATE, "spec.llmRequestCosts declares none of them")
def rate_route_limit_on_undeclared_key() -> None:
    protected_gateway()
    other: dict[str, Any] = {
        "type": "Global",
        "global": {
            "rules": [
                {
                    "limit": {"requests": 100, "unit": "Hour"},
                    "cost": {
                        "response": {
                            "from": "Metadata",
                            "metadata": {"namespace": "io.envoy.ai_gateway", "key": "other"},
                        }
                    },
                }
            ]
        },
    }
    btp("route-limit", [ref("HTTPRoute", "llama")], rateLimit=other)


@compliant(RATE)
def rate_route_level_own_token_limit() -> None:
    protected_gateway()
    btp("route-limit", [ref("HTTPRoute", "llama")], rateLimit=TOKEN_LIMIT)


@insecure(RATE, "BackendTrafficPolicy ai-gateway/route-timeout (a route-level policy")
def rate_route_selector_timeout_replaces_limit() -> None:
    protected_gateway(labels={"team": "search"})
    policy(
        "BackendTrafficPolicy",
        "route-timeout",
        {"targetSelectors": [{"kind": "HTTPRoute", "matchLabels": {"team": "search"}}], "retry": {"numRetries": 2}},
    )
