"""Readers for Envoy AI Gateway routes and the Envoy Gateway policies attached to them.

An ``AIGatewayRoute`` becomes an ``HTTPRoute`` of the same name and namespace, attached to the
Gateways in its ``parentRefs``. Envoy Gateway policies are namespaced and attach through
``targetRefs``/``targetRef`` (by name) or ``targetSelectors`` (by labels) to a Gateway or an
``HTTPRoute`` in their own namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._support import Resource, as_list, as_map, as_str, dig, k8s_kind, namespace_of, str_map

AI_GATEWAY_METADATA_NAMESPACE = "io.envoy.ai_gateway"


def is_kind(resource: Resource, group: str, kind: str) -> bool:
    group_version, found = k8s_kind(resource.type)
    return group_version.startswith(group + "/") and found == kind


@dataclass(frozen=True)
class Route:
    resource: Resource
    name: str
    namespace: str
    labels: Mapping[str, str]
    gateways: tuple[tuple[str, str], ...]
    cost_keys: frozenset[str]

    @property
    def title(self) -> str:
        return f"AIGatewayRoute {self.namespace}/{self.name}"


def routes(resources: Sequence[Resource]) -> list[Route]:
    found: list[Route] = []
    for resource in resources:
        if not is_kind(resource, "aigateway.envoyproxy.io", "AIGatewayRoute"):
            continue
        namespace = namespace_of(resource)
        spec = as_map(resource.props.get("spec"))
        refs = [as_map(r) for r in [*as_list(spec.get("parentRefs")), *as_list(spec.get("targetRefs"))]]
        gateways = tuple(
            (as_str(ref.get("namespace")) or namespace, as_str(ref.get("name")) or "")
            for ref in refs
            if (as_str(ref.get("kind")) or "Gateway") == "Gateway"
        )
        keys = frozenset(as_str(as_map(cost).get("metadataKey")) or "" for cost in as_list(spec.get("llmRequestCosts")))
        found.append(
            Route(
                resource=resource,
                name=as_str(dig(resource.props, "metadata", "name")) or resource.name,
                namespace=namespace,
                labels=str_map(dig(resource.props, "metadata", "labels")),
                gateways=gateways,
                cost_keys=keys - {""},
            )
        )
    return found


def _gateway_labels(resources: Sequence[Resource]) -> dict[tuple[str, str], Mapping[str, str]]:
    return {
        (namespace_of(r), as_str(dig(r.props, "metadata", "name")) or r.name): str_map(
            dig(r.props, "metadata", "labels")
        )
        for r in resources
        if is_kind(r, "gateway.networking.k8s.io", "Gateway")
    }


def covers(policy: Resource, route: Route, resources: Sequence[Resource]) -> bool:
    """Whether the Envoy Gateway ``policy`` attaches to ``route`` or to one of its Gateways."""
    namespace = namespace_of(policy)
    spec = as_map(policy.props.get("spec"))
    gateway_labels = _gateway_labels(resources)
    for ref in (as_map(r) for r in [*as_list(spec.get("targetRefs")), spec.get("targetRef")]):
        kind, name = as_str(ref.get("kind")) or "", as_str(ref.get("name")) or ""
        if kind == "HTTPRoute" and (namespace, name) == (route.namespace, route.name):
            return True
        if kind == "Gateway" and (namespace, name) in route.gateways:
            return True
    for selector in (as_map(s) for s in as_list(spec.get("targetSelectors"))):
        kind = as_str(selector.get("kind")) or ""
        wanted = str_map(selector.get("matchLabels"))
        if not wanted:
            continue
        if (
            kind == "HTTPRoute"
            and namespace == route.namespace
            and all(route.labels.get(k) == v for k, v in wanted.items())
        ):
            return True
        if kind == "Gateway":
            for gateway in route.gateways:
                labels = gateway_labels.get(gateway, {})
                if gateway[0] == namespace and all(labels.get(k) == v for k, v in wanted.items()):
                    return True
    return False


def token_cost_keys(policy: Resource) -> set[str]:
    """AI Gateway token metadata keys a BackendTrafficPolicy charges its global rate limits with."""
    keys: set[str] = set()
    rules = as_list(dig(policy.props, "spec", "rateLimit", "global", "rules"))
    for rule in rules:
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


AUTH_FIELDS = ("jwt", "apiKeyAuth", "oidc", "basicAuth", "extAuth")


def authenticates(policy: Resource) -> bool:
    spec = as_map(policy.props.get("spec"))
    return any(as_map(spec.get(field)) for field in AUTH_FIELDS)
