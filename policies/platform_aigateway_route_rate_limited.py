"""platform-aigateway-route-rate-limited: every AIGatewayRoute is covered by a token rate limit.

A token limit is a ``BackendTrafficPolicy`` global rate-limit rule whose cost is taken from the AI
Gateway's metadata (namespace ``io.envoy.ai_gateway``) and that targets the route or its Gateway. The
metadata key must also be declared in the route's ``spec.llmRequestCosts``, or no tokens are counted
and the limit silently never triggers (envoyproxy/ai-gateway#1754, #1866).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._gateway import covers, is_kind, routes, token_cost_keys
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
    policies = [r for r in resources if is_kind(r, "gateway.envoyproxy.io", "BackendTrafficPolicy")]
    for route in routes(resources):
        limits = [(p, token_cost_keys(p)) for p in policies if covers(p, route, resources)]
        limits = [(p, keys) for p, keys in limits if keys]
        if not limits:
            yield Finding(
                f"{route.title} has no BackendTrafficPolicy with a token-cost rate limit (cost from metadata "
                "io.envoy.ai_gateway) targeting it or its Gateway",
                route.resource.urn,
            )
            continue
        if not any(keys & route.cost_keys for _, keys in limits):
            charged = ", ".join(sorted({k for _, keys in limits for k in keys}))
            yield Finding(
                f"{route.title} is rate-limited on token metadata key(s) {charged}, but spec.llmRequestCosts "
                "declares none of them, so no tokens are counted (envoyproxy/ai-gateway#1754)",
                route.resource.urn,
            )


POLICY = stack_policy(META, check)
