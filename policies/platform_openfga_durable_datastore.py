"""platform-openfga-durable-datastore: OpenFGA keeps its authorization data in a real database.

The OpenFGA chart's default ``datastore.engine`` is ``memory``: every restart loses every tuple and
model. Its bundled Bitnami Postgres subchart is deprecated, so bring a Postgres (or MySQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Meta, Resource, as_str, dig, helm_chart, resource_policy, str_list

META = Meta(
    name="platform-openfga-durable-datastore",
    description="OpenFGA must not run on the in-memory datastore.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "openfga", "authorization", "durability", "correctness"),
    remediation="Set values.datastore.engine to postgres (with datastore.uriSecret or existingSecret) on the OpenFGA release.",
    rationale="With the memory engine a pod restart silently deletes every permission the platform granted.",
    config={
        "allowedEngines": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["postgres", "mysql"],
            "description": "Durable datastore engines OpenFGA may use.",
        },
        "charts": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["openfga"],
            "description": "Chart names that install OpenFGA.",
        },
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is None or chart.name not in str_list(config["charts"]):
        return
    engine = as_str(dig(chart.values, "datastore", "engine")) or "memory"
    allowed = str_list(config["allowedEngines"])
    if engine not in allowed:
        yield (
            f"{chart.via} {resource.name} runs OpenFGA with datastore.engine {engine}; authorization data is lost "
            f"on every restart. Use one of: {', '.join(allowed)}"
        )


POLICY = resource_policy(META, check)
