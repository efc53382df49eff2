"""cloud-eks-control-plane-logging: the EKS control plane ships its audit trail to CloudWatch.

Reads:
    aws:eks/cluster:Cluster: enabledClusterLogTypes
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import EKS_CLUSTER, Meta, Resource, resource_policy, str_list

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

META = Meta(
    name="cloud-eks-control-plane-logging",
    description="EKS clusters must enable control-plane logging for the configured log types.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "logging", "security"),
    remediation="Set enabledClusterLogTypes on aws.eks.Cluster to include every required log type.",
    rationale="Without the audit and authenticator logs nobody can tell who did what to the cluster.",
    config={
        "requiredLogTypes": {
            "type": "array",
            "items": {"type": "string", "enum": LOG_TYPES},
            "default": ["api", "audit", "authenticator"],
            "description": "Control-plane log types that must be enabled.",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type != EKS_CLUSTER:
        return
    enabled = set(str_list(resource.props.get("enabledClusterLogTypes")))
    missing = [t for t in str_list(config["requiredLogTypes"]) if t not in enabled]
    if missing:
        yield f"enabledClusterLogTypes is missing {', '.join(missing)}"


POLICY = resource_policy(META, check)
