"""platform-aigateway-route-rate-limited: every AIGatewayRoute, on every Gateway listener it attaches to,
is governed by a BackendTrafficPolicy whose effective rate limit counts the route's tokens.

Property: no caller can spend tokens without a limit. The effective BackendTrafficPolicy is computed
per route, Gateway and listener with Envoy Gateway v1.8's precedence and merge rules
(``_gateway.py``): a route-level policy without ``rateLimit`` and without ``mergeType`` replaces the
Gateway's and with it the Gateway's rate limit; with ``mergeType`` the Gateway's ``rateLimit`` is kept.
A token limit is a global rule whose cost comes from AI Gateway metadata (namespace
``io.envoy.ai_gateway``); its key must be declared in the route's ``spec.llmRequestCosts``, or no
tokens are counted and the limit never triggers (envoyproxy/ai-gateway#1754, #1866).

Reads:
    kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute: metadata.name, metadata.namespace, metadata.labels, spec.parentRefs, spec.targetRefs, spec.llmRequestCosts[].metadataKey
    kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy: metadata, spec.targetRef, spec.targetRefs, spec.targetSelectors, spec.mergeType, spec.rateLimit.global.rules[].cost
    kubernetes:gateway.networking.k8s.io/v1:Gateway: metadata.name, metadata.namespace, metadata.labels, spec.listeners[].name
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._gateway import BACKEND_TRAFFIC_POLICY, effective_policies, policies, routes, token_cost_keys
from ._support import Finding, Meta, Resource, stack_policy

META = Meta(
    name="platform-aigateway-route-rate-limited",
    description="Every AIGatewayRoute must be covered by a token-based rate limit that counts its tokens.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "gateway", "ai", "cost", "security"),
    remediation=(
        "Attach a BackendTrafficPolicy (targetRefs: the route's Gateway or the HTTPRoute of the same name) "
        "with rateLimit.global.rules[].cost.response {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, "
        "key: <key>}} and declare <key> in the route's spec.llmRequestCosts."
    ),
    rationale="One client can burn a month of GPU time or API budget in an hour without a token limit.",
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    candidates = policies(resources, BACKEND_TRAFFIC_POLICY)
    for route in routes(resources):
        if not route.parents:
            yield Finding(
                f"{route.title} names no Gateway in parentRefs, so its rate limit cannot be checked", route.resource.urn
            )
            continue
        effective = list(effective_policies(route, candidates, resources))
        limited = [(e, token_cost_keys(e.spec)) for e in effective if e.spec is not None]
        if not limited:
            yield Finding(
                f"{route.title} has no BackendTrafficPolicy with a token-cost rate limit (cost from metadata "
                "io.envoy.ai_gateway) targeting it or its Gateway",
                route.resource.urn,
            )
            continue
        for found, keys in {(e.where, e.source): (e, k) for e, k in limited}.values():
            if not keys:
                yield Finding(
                    f"{route.title} on {found.where} is governed by {found.source}, which has no token-cost rate limit",
                    route.resource.urn,
                )
            elif not keys & route.cost_keys:
                yield Finding(
                    f"{route.title} is rate-limited on token metadata key(s) {', '.join(sorted(keys))}, but "
                    "spec.llmRequestCosts declares none of them, so no tokens are counted (envoyproxy/ai-gateway#1754)",
                    route.resource.urn,
                )
        for found in effective:
            if found.spec is None:
                yield Finding(
                    f"{route.title} on {found.where} has no BackendTrafficPolicy, so it has no token limit",
                    route.resource.urn,
                )


POLICY = stack_policy(META, check)
