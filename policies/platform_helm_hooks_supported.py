"""platform-helm-hooks-supported: charts that rely on Helm hooks are installed with ``helm.v3.Release``.

``helm.v4.Chart`` (and the older client-side ``helm.v3.Chart``) render templates in Pulumi and skip
Helm hooks (pulumi/pulumi-kubernetes#3284): Envoy Gateway's certgen Job, OpenFGA's migrations,
kube-prometheus-stack's admission-webhook patch Jobs and the GPU operator's CRD upgrade Job never run.

Reads:
    kubernetes:helm.sh/v4:Chart: chart
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import HELM_RELEASE, Meta, Resource, helm_chart, resource_policy, str_list

HOOK_CHARTS = ["gateway-helm", "gpu-operator", "kube-prometheus-stack", "openfga"]

META = Meta(
    name="platform-helm-hooks-supported",
    description="Charts that rely on Helm hooks must be installed with helm.v3.Release, not helm.v4.Chart.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "helm", "correctness"),
    remediation="Install the chart with kubernetes.helm.v3.Release (see docs/decisions for Release vs Chart).",
    rationale="Skipped hooks leave certificates, migrations and CRD upgrades undone: the install looks green but fails.",
    config={
        "hookCharts": {
            "type": "array",
            "items": {"type": "string"},
            "default": HOOK_CHARTS,
            "description": "Chart names whose install or upgrade depends on Helm hooks.",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is None or resource.type == HELM_RELEASE:
        return
    if chart.name in str_list(config["hookCharts"]):
        yield (
            f"{chart.via} {resource.name} installs {chart.name}, which relies on Helm hooks that {chart.via} "
            "skips (pulumi/pulumi-kubernetes#3284); install it with helm.v3.Release"
        )


POLICY = resource_policy(META, check)
