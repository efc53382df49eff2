"""Readers for Envoy AI Gateway routes and the *effective* Envoy Gateway policy on each of them.

An ``AIGatewayRoute`` becomes an ``HTTPRoute`` of the same name and namespace, attached to the
Gateways in its ``parentRefs`` (``sectionName``: one listener; none: every listener). What protects
it is not "some policy exists" but the one policy Envoy Gateway v1.8 applies, per route and listener.
The rules, read at envoyproxy/gateway v1.8.3 (internal/gatewayapi/securitypolicy.go
``ProcessSecurityPolicies``/``processSecurityPolicyForRoute``/``translateSecurityPolicyForGateway``,
backendtrafficpolicy.go ``translateBackendTrafficPolicyForRouteWithMerge`` and the HTTP branch that
skips routes whose ``Traffic`` is already set; api/v1alpha1/policy_helpers.go ``GetTargetRefs``;
the CEL rules on securitypolicy_types.go / backendtrafficpolicy_types.go):

- Precedence, most specific first: a policy on a route *rule* (HTTPRoute ref with ``sectionName``),
  on the route (HTTPRoute ref, or a ``targetSelectors`` label match), on the Gateway *listener*
  (Gateway ref with ``sectionName``), on the Gateway. The most specific one that exists **replaces**
  the others for that route: a route-level SecurityPolicy with only ``cors`` removes the Gateway's
  authentication from the route; a route-level BackendTrafficPolicy without ``rateLimit`` removes
  the Gateway's rate limit.
- Unless it sets ``mergeType`` (``StrategicMerge``/``JSONMerge``; ``Replace`` is refused by CEL):
  then a route/rule policy is merged onto the listener policy, else the Gateway policy (its own
  fields win); a BackendTrafficPolicy without ``rateLimit`` keeps the parent's rate limit.
- ``targetRef`` (deprecated, singular) wins over ``targetRefs`` when both are set
  (``GetTargetRefs``). A ref whose ``group`` is not ``gateway.networking.k8s.io`` or whose kind is not
  Gateway/HTTPRoute/GRPCRoute/TCPRoute... is refused by the CRD's CEL rules: the policy never exists.
- A listener ``sectionName`` only covers routes on that listener; selectors match same-namespace
  objects by labels only.
- Two policies at the same level for the same target conflict and the older one wins; creation order
  is unknown before deployment, so every candidate at the winning level must pass (fail closed).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ._support import Resource, as_bool, as_list, as_map, as_str, dig, k8s_kind, namespace_of, str_list, str_map

AI_GATEWAY_METADATA_NAMESPACE = "io.envoy.ai_gateway"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
SECURITY_POLICY = "SecurityPolicy"
BACKEND_TRAFFIC_POLICY = "BackendTrafficPolicy"
_ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "UDPRoute", "TLSRoute")
_MERGE_TYPES = ("StrategicMerge", "JSONMerge")


def is_kind(resource: Resource, group: str, kind: str) -> bool:
    group_version, found = k8s_kind(resource.type)
    return group_version.startswith(group + "/") and found == kind


def _name(resource: Resource) -> str:
    return as_str(dig(resource.props, "metadata", "name")) or resource.name


@dataclass(frozen=True, eq=False)
class Route:
    resource: Resource
    name: str
    namespace: str
    labels: Mapping[str, str]
    parents: tuple[tuple[str, str, str], ...]
    """(namespace, name, sectionName or '') of every Gateway the route attaches to."""
    cost_keys: frozenset[str]

    @property
    def title(self) -> str:
        return f"AIGatewayRoute {self.namespace}/{self.name}"

    @property
    def gateways(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys((ns, name) for ns, name, _ in self.parents))


def routes(resources: Sequence[Resource]) -> list[Route]:
    found: list[Route] = []
    for resource in resources:
        if not is_kind(resource, "aigateway.envoyproxy.io", "AIGatewayRoute"):
            continue
        namespace = namespace_of(resource)
        spec = as_map(resource.props.get("spec"))
        refs = [as_map(r) for r in [*as_list(spec.get("parentRefs")), *as_list(spec.get("targetRefs"))]]
        parents = tuple(
            (
                as_str(ref.get("namespace")) or namespace,
                as_str(ref.get("name")) or "",
                as_str(ref.get("sectionName")) or "",
            )
            for ref in refs
            if (as_str(ref.get("kind")) or "Gateway") == "Gateway"
        )
        keys = frozenset(as_str(as_map(cost).get("metadataKey")) or "" for cost in as_list(spec.get("llmRequestCosts")))
        found.append(
            Route(
                resource=resource,
                name=_name(resource),
                namespace=namespace,
                labels=str_map(dig(resource.props, "metadata", "labels")),
                parents=tuple(dict.fromkeys(parents)),
                cost_keys=keys - {""},
            )
        )
    return found


@dataclass(frozen=True, eq=False)
class Target:
    """One target a policy attaches to, after the CRD's validation and ``GetTargetRefs``."""

    kind: str
    name: str
    section: str
    labels: Mapping[str, str] | None = None
    """Set for a ``targetSelectors`` entry (matched by labels instead of ``name``)."""


@dataclass(frozen=True, eq=False)
class Policy:
    resource: Resource
    namespace: str
    name: str
    spec: Mapping[str, Any]
    targets: tuple[Target, ...]
    problem: str = ""
    """Why the API server refuses the policy (wrong group/kind), so it never takes effect."""

    @property
    def title(self) -> str:
        return f"{self.resource.type.rsplit(':', 1)[-1]} {self.namespace}/{self.name}"

    @property
    def merges(self) -> bool:
        return as_str(self.spec.get("mergeType")) in _MERGE_TYPES


def policies(resources: Sequence[Resource], kind: str) -> list[Policy]:
    found: list[Policy] = []
    for resource in resources:
        if not is_kind(resource, "gateway.envoyproxy.io", kind):
            continue
        spec = as_map(resource.props.get("spec"))
        single = as_map(spec.get("targetRef"))
        refs = [single] if single else [as_map(r) for r in as_list(spec.get("targetRefs"))]
        problem = ""
        if single and "targetRefs" in spec and not as_list(spec.get("targetSelectors")):
            problem = "it sets both targetRef and targetRefs (the CRD refuses it)"
        targets: list[Target] = []
        for ref in refs:
            group = as_str(ref.get("group"))
            ref_kind = as_str(ref.get("kind")) or ""
            if group != GATEWAY_API_GROUP:
                problem = f"its targetRef group {group!r} is not {GATEWAY_API_GROUP} (the CRD refuses it)"
            elif ref_kind != "Gateway" and ref_kind not in _ROUTE_KINDS:
                problem = f"its targetRef kind {ref_kind!r} is not a Gateway or route (the CRD refuses it)"
            targets.append(Target(ref_kind, as_str(ref.get("name")) or "", as_str(ref.get("sectionName")) or ""))
        for selector in (as_map(s) for s in as_list(spec.get("targetSelectors"))):
            group = as_str(selector.get("group")) or GATEWAY_API_GROUP
            wanted = str_map(selector.get("matchLabels")) or str_map(dig(selector, "selector", "matchLabels"))
            if group == GATEWAY_API_GROUP and wanted:
                targets.append(Target(as_str(selector.get("kind")) or "", "", "", wanted))
        found.append(
            Policy(
                resource=resource,
                namespace=namespace_of(resource),
                name=_name(resource),
                spec=spec,
                targets=() if problem else tuple(targets),
                problem=problem,
            )
        )
    return found


def _gateways(resources: Sequence[Resource]) -> dict[tuple[str, str], tuple[Mapping[str, str], tuple[str, ...]]]:
    """(namespace, name) -> (labels, listener names) of every Gateway in the stack."""
    return {
        (namespace_of(r), _name(r)): (
            str_map(dig(r.props, "metadata", "labels")),
            tuple(
                as_str(as_map(listener).get("name")) or "" for listener in as_list(dig(r.props, "spec", "listeners"))
            ),
        )
        for r in resources
        if is_kind(r, GATEWAY_API_GROUP, "Gateway")
    }


@dataclass(frozen=True, eq=False)
class Effective:
    """The policy Envoy Gateway applies to (part of) a route on one Gateway listener."""

    where: str
    """``Gateway ns/name listener l`` (and ``rule s`` for a route-rule policy)."""
    spec: Mapping[str, Any] | None
    """The (merged) spec, or ``None`` when no policy applies."""
    source: str
    """How it came about, for messages."""


def _labels_match(wanted: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(wanted) and all(labels.get(k) == v for k, v in (wanted or {}).items())


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = copy.deepcopy(dict(parent))
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(cast(Mapping[str, Any], merged[key]), cast(Mapping[str, Any], value))
        else:
            merged[key] = value
    return merged


def _gateway_level(policy: Policy, gateway: str, labels: Mapping[str, str], listener: str | None) -> bool:
    """Whether ``policy`` targets Gateway ``gateway`` as a whole (``listener`` None) or that listener."""
    for target in policy.targets:
        if target.kind != "Gateway":
            continue
        if target.labels is not None:
            if listener is None and _labels_match(target.labels, labels):
                return True
        elif target.name == gateway and (target.section or None) == listener:
            return True
    return False


def _route_level(route: Route, candidates: Sequence[Policy]) -> tuple[list[tuple[Policy, str]], list[Policy]]:
    """The route-rule policies (with their rule) and route-level policies that target ``route``."""
    rules: list[tuple[Policy, str]] = []
    whole: list[Policy] = []
    for policy in (p for p in candidates if p.namespace == route.namespace):
        for target in (t for t in policy.targets if t.kind == "HTTPRoute"):
            if target.labels is not None:
                if _labels_match(target.labels, route.labels):
                    whole.append(policy)
            elif target.name == route.name:
                if target.section:
                    rules.append((policy, target.section))
                else:
                    whole.append(policy)
    return rules, list(dict.fromkeys(whole))


def effective_policies(
    route: Route, candidates: Sequence[Policy], resources: Sequence[Resource]
) -> Iterator[Effective]:
    """Every effective policy on ``route``: per Gateway listener it attaches to, one per route-rule
    policy and one for the rest of the route (the most specific level wins; every candidate of that
    level is yielded, since creation order decides between them)."""
    gateways = _gateways(resources)
    rules, whole = _route_level(route, candidates)
    for gw_namespace, gw_name, section in route.parents:
        labels, listeners = gateways.get((gw_namespace, gw_name), ({}, ()))
        on_gateway = [p for p in candidates if p.namespace == gw_namespace]
        if section:
            names: tuple[str, ...] = (section,)
        else:
            named = {t.section for p in on_gateway for t in p.targets if t.kind == "Gateway" and t.name == gw_name}
            names = tuple(dict.fromkeys([*listeners, *sorted(named - {""})])) or ("",)
        for listener in names:
            where = f"Gateway {gw_namespace}/{gw_name}" + (f" listener {listener}" if listener else "")
            on_listener = [p for p in on_gateway if listener and _gateway_level(p, gw_name, labels, listener)]
            on_whole = [p for p in on_gateway if _gateway_level(p, gw_name, labels, None)]
            parents = on_listener or on_whole
            for policy, rule in rules:
                yield from _resolved(policy, parents, f"{where}, rule {rule}", "a route-rule policy")
            for policy in whole:
                yield from _resolved(policy, parents, where, "a route-level policy")
            if not whole:
                level = "listener" if on_listener else "Gateway"
                for policy in parents:
                    yield Effective(where, policy.spec, f"{policy.title} (on the {level})")
                if not parents:
                    yield Effective(where, None, "no policy")


def _resolved(policy: Policy, parents: Sequence[Policy], where: str, level: str) -> Iterator[Effective]:
    if not policy.merges or not parents:
        replaced = (
            f", which replaces {', '.join(p.title for p in parents)} for this route (no mergeType)"
            if parents and not policy.merges
            else ""
        )
        yield Effective(where, policy.spec, f"{policy.title} ({level}{replaced})")
        return
    for parent in parents:
        yield Effective(where, _merge(parent.spec, policy.spec), f"{policy.title} merged onto {parent.title}")


# ---------------------------------------------------------------------------------------------------
# What a SecurityPolicy spec does


def _jwt_gap(jwt: Mapping[str, Any]) -> str | None:
    if not as_list(jwt.get("providers")):
        return "jwt lists no providers"
    if as_bool(jwt.get("optional")) is True:
        return "jwt.optional is true, so requests without a token pass"
    return None


def _api_key_gap(api_key: Mapping[str, Any]) -> str | None:
    if not as_list(api_key.get("credentialRefs")):
        return "apiKeyAuth.credentialRefs is empty, so no key is accepted or required"
    return None


def _oidc_gap(oidc: Mapping[str, Any]) -> str | None:
    if not as_str(dig(oidc, "provider", "issuer")) or not (oidc.get("clientID") or oidc.get("clientIDRef")):
        return "oidc has no provider.issuer or clientID"
    return None


def _basic_gap(basic: Mapping[str, Any]) -> str | None:
    return None if as_str(dig(basic, "users", "name")) else "basicAuth.users names no Secret"


def _ext_gap(ext: Mapping[str, Any]) -> str | None:
    if as_bool(ext.get("failOpen")) is True:
        return "extAuth.failOpen is true, so requests pass when the authorization service fails"
    if not (ext.get("grpc") or ext.get("http") or ext.get("backendRefs")):
        return "extAuth has no grpc or http service"
    return None


_AUTH_CHECKS = {
    "jwt": _jwt_gap,
    "apiKeyAuth": _api_key_gap,
    "oidc": _oidc_gap,
    "basicAuth": _basic_gap,
    "extAuth": _ext_gap,
}
AUTH_FIELDS = tuple(_AUTH_CHECKS)


def authentication_gap(spec: Mapping[str, Any]) -> str | None:
    """``None`` when ``spec`` makes callers authenticate; otherwise why it does not."""
    reasons: list[str] = []
    for field_name, gap_of in _AUTH_CHECKS.items():
        section = as_map(spec.get(field_name))
        if not section:
            continue
        gap = gap_of(section)
        if gap is None:
            return None
        reasons.append(gap)
    if not reasons:
        present = sorted(k for k in spec if k not in ("targetRef", "targetRefs", "targetSelectors", "mergeType"))
        reasons.append(
            f"it sets only {', '.join(present)}"
            if present
            else "it sets no jwt, apiKeyAuth, oidc, basicAuth or extAuth"
        )
    return "; ".join(reasons)


def token_cost_keys(spec: Mapping[str, Any]) -> set[str]:
    """AI Gateway token metadata keys a BackendTrafficPolicy spec charges its global rate limits with."""
    keys: set[str] = set()
    for rule in as_list(dig(spec, "rateLimit", "global", "rules")):
        for side in ("response", "request"):
            cost = as_map(dig(rule, "cost", side))
            metadata = as_map(cost.get("metadata"))
            if (
                as_str(cost.get("from")) == "Metadata"
                and as_str(metadata.get("namespace")) == AI_GATEWAY_METADATA_NAMESPACE
                and as_str(metadata.get("key"))
            ):
                keys.add(str(metadata.get("key")))
    return keys


def refused(candidates: Sequence[Policy]) -> list[str]:
    """Notes on policies the API server refuses (they protect nothing)."""
    return [f"{p.title} is refused: {p.problem}" for p in candidates if p.problem]


__all__ = [
    "BACKEND_TRAFFIC_POLICY",
    "SECURITY_POLICY",
    "Effective",
    "Policy",
    "Route",
    "authentication_gap",
    "effective_policies",
    "is_kind",
    "policies",
    "refused",
    "routes",
    "str_list",
    "token_cost_keys",
]
