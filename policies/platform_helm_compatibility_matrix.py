"""platform-helm-compatibility-matrix: Envoy Gateway, Envoy AI Gateway and Gateway API versions form a
combination that was tested together.

Envoy AI Gateway v1.1.0 is built and tested against Envoy Gateway v1.8.x and Gateway API v1.5.x;
Envoy Gateway v1.9.0 moved to Gateway API v1.6.1, which AI Gateway does not list yet. Each component's
CRD chart must match its controller chart. Gateway API counts only when the stack installs it itself
(otherwise Envoy Gateway's chart brings its own); it is read from the release URL of a
``kubernetes:yaml/v2`` ConfigFile/ConfigGroup.

Reads:
    kubernetes:helm.sh/v3:Release: chart, version
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Finding, Meta, Resource, as_map, helm_charts, stack_policy, str_list, version_matches

COMPONENTS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "envoyGateway": ("Envoy Gateway", ("gateway-helm", "gateway-crds-helm")),
    "aiGateway": ("Envoy AI Gateway", ("ai-gateway-helm", "ai-gateway-crds-helm")),
}
GATEWAY_API = re.compile(r"kubernetes-sigs/gateway-api/releases/download/(v?\d+\.\d+\.\d+)/")
DEFAULT_MATRIX = [{"aiGateway": "v1.1.0", "envoyGateway": "v1.8.3", "gatewayApi": "v1.5.1"}]
TITLES = {"envoyGateway": "Envoy Gateway", "aiGateway": "Envoy AI Gateway", "gatewayApi": "Gateway API"}

META = Meta(
    name="platform-helm-compatibility-matrix",
    description="Envoy Gateway, Envoy AI Gateway and Gateway API versions must be a tested combination.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "helm", "gateway", "correctness"),
    remediation="Move the pins in components/versions.py together to a combination listed in the matrix.",
    rationale="Mismatched gateway versions fail at runtime (unknown CRD fields, extension hooks missing), not at deploy.",
    config={
        "matrix": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "aiGateway": {"type": "string"},
                    "envoyGateway": {"type": "string"},
                    "gatewayApi": {"type": "string"},
                },
                "additionalProperties": False,
            },
            "default": DEFAULT_MATRIX,
            "description": "Tested combinations; a version may end in .x to accept any patch release.",
        }
    },
)


def _installed(resources: Sequence[Resource]) -> dict[str, list[tuple[str, str, str]]]:
    """component -> [(chart or source, version, urn)]"""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for chart in helm_charts(resources):
        for component, (_, names) in COMPONENTS.items():
            if chart.name in names and chart.version:
                found.setdefault(component, []).append((chart.name, chart.version, chart.resource.urn))
    for resource in resources:
        if not resource.type.startswith("kubernetes:yaml/"):
            continue
        sources = [*str_list(resource.props.get("files")), str(resource.props.get("file") or "")]
        sources += [str(v) for v in as_map(resource.props.get("files")).values()]
        for source in sources:
            match = GATEWAY_API.search(source)
            if match:
                found.setdefault("gatewayApi", []).append(("gateway-api", match.group(1), resource.urn))
    return found


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    installed = _installed(resources)
    if not installed:
        return
    chosen: dict[str, str] = {}
    disagreeing = False
    for component, entries in sorted(installed.items()):
        entries.sort()
        versions = {v.lstrip("v") for _, v, _ in entries}
        if len(versions) > 1:
            disagreeing = True
            listing = ", ".join(f"{name} {version}" for name, version, _ in entries)
            yield Finding(f"{TITLES[component]} charts disagree on the version: {listing}", entries[0][2])
        chosen[component] = entries[0][1]
    if disagreeing:
        return
    matrix = [as_map(row) for row in config["matrix"]]
    for row in matrix:
        if all(version_matches(v, str(row.get(c, ""))) for c, v in chosen.items() if c in row) and all(
            c in row for c in chosen
        ):
            return
    have = " + ".join(f"{TITLES[c]} {v}" for c, v in sorted(chosen.items()))
    tested = (
        "; ".join(" + ".join(f"{TITLES[c]} {row[c]}" for c in sorted(row) if c in TITLES) for row in matrix) or "none"
    )
    urn = next(iter(installed.get("aiGateway") or installed.get("envoyGateway") or installed["gatewayApi"]))[2]
    yield Finding(f"{have} is not a tested combination (tested: {tested})", urn)


POLICY = stack_policy(META, check)
