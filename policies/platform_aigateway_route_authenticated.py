"""platform-aigateway-route-authenticated: every AIGatewayRoute requires authenticated callers.

Authentication is an Envoy Gateway ``SecurityPolicy`` with ``jwt``, ``apiKeyAuth``, ``oidc``,
``basicAuth`` or ``extAuth`` that targets the route (its HTTPRoute) or one of its Gateways.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._gateway import authenticates, covers, is_kind, routes
from ._support import Finding, Meta, Resource, stack_policy

META = Meta(
    name="platform-aigateway-route-authenticated",
    description="Every AIGatewayRoute must be covered by a SecurityPolicy that authenticates callers.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "gateway", "ai", "authentication", "security"),
    remediation=(
        "Attach a SecurityPolicy with jwt, apiKeyAuth, oidc, basicAuth or extAuth to the route's Gateway "
        "or to the HTTPRoute of the same name."
    ),
    rationale="An unauthenticated model endpoint is free GPU time for anyone who finds it.",
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    policies = [r for r in resources if is_kind(r, "gateway.envoyproxy.io", "SecurityPolicy")]
    for route in routes(resources):
        if not any(authenticates(p) and covers(p, route, resources) for p in policies):
            yield Finding(
                f"{route.title} has no SecurityPolicy with jwt, apiKeyAuth, oidc, basicAuth or extAuth "
                "targeting it or its Gateway",
                route.resource.urn,
            )


POLICY = stack_policy(META, check)
