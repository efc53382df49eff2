"""platform-aigateway-route-authenticated: every AIGatewayRoute, on every Gateway listener it attaches
to, is behind the SecurityPolicy Envoy Gateway v1.8 actually applies -- and that policy authenticates.

Property: no request reaches a model route without credentials. The effective policy is computed per
route, Gateway and listener with Envoy Gateway's precedence and merge rules (``_gateway.py``): a
route-level or route-rule policy without ``mergeType`` replaces the Gateway's (a ``cors``-only policy
on the route removes authentication), a listener policy covers only its listener, a route on a second
Gateway needs that Gateway's policy, a policy whose targetRef group or kind the CRD refuses protects
nothing. It authenticates with ``jwt`` (providers, not ``optional``), ``apiKeyAuth`` (non-empty
``credentialRefs``), ``oidc`` (issuer and client), ``basicAuth`` (a users Secret) or ``extAuth`` (a
service, not ``failOpen``).

Reads:
    kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute: metadata.name, metadata.namespace, metadata.labels, spec.parentRefs, spec.targetRefs
    kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy: metadata, spec.targetRef, spec.targetRefs, spec.targetSelectors, spec.mergeType, spec.jwt, spec.apiKeyAuth, spec.oidc, spec.basicAuth, spec.extAuth
    kubernetes:gateway.networking.k8s.io/v1:Gateway: metadata.name, metadata.namespace, metadata.labels, spec.listeners[].name
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._gateway import SECURITY_POLICY, authentication_gap, effective_policies, policies, refused, routes
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
    candidates = policies(resources, SECURITY_POLICY)
    notes = refused(candidates)
    for route in routes(resources):
        if not route.parents:
            yield Finding(
                f"{route.title} names no Gateway in parentRefs, so its protection cannot be checked", route.resource.urn
            )
            continue
        effective = list(effective_policies(route, candidates, resources))
        if all(e.spec is None for e in effective):
            suffix = f" ({'; '.join(notes)})" if notes else ""
            yield Finding(
                f"{route.title} has no SecurityPolicy with jwt, apiKeyAuth, oidc, basicAuth or extAuth "
                f"targeting it or its Gateway{suffix}",
                route.resource.urn,
            )
            continue
        for found in {(e.where, e.source): e for e in effective}.values():
            if found.spec is None:
                yield Finding(
                    f"{route.title} on {found.where} has no SecurityPolicy, so callers need no credentials",
                    route.resource.urn,
                )
                continue
            gap = authentication_gap(found.spec)
            if gap is not None:
                yield Finding(
                    f"{route.title} on {found.where} is governed by {found.source}, which does not authenticate: {gap}",
                    route.resource.urn,
                )


POLICY = stack_policy(META, check)
