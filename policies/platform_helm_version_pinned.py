"""platform-helm-version-pinned: every Helm chart is installed at an exact version.

Covers ``helm.v3.Release``, ``helm.v4.Chart`` and ``helm.v3.Chart``. Local chart directories are
versioned with the repository and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Meta, Resource, helm_chart, is_exact_version, resource_policy

META = Meta(
    name="platform-helm-version-pinned",
    description="Every Helm chart must be pinned to an exact version (no ranges, no latest).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "helm", "supply-chain", "correctness"),
    remediation="Set version to an exact chart version (e.g. 0.19.2) from components/versions.py.",
    rationale="An unpinned chart changes under you on the next up; previews stop meaning anything.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is None or chart.local:
        return
    if not chart.version:
        yield f"{chart.via} {resource.name} installs chart {chart.name} without a version; pin an exact version"
    elif not is_exact_version(chart.version):
        yield (
            f"{chart.via} {resource.name} installs chart {chart.name} at {chart.version!r}, "
            "which is not an exact version; pin one such as 1.2.3"
        )


POLICY = resource_policy(META, check)
