"""cloud-eks-endpoint-restricted: the EKS API endpoint is private, or public only to listed CIDRs.

EKS defaults are open: without ``vpcConfig.endpointPublicAccess: false`` the endpoint is public, and
without ``publicAccessCidrs`` it admits ``0.0.0.0/0``. Both defaults are reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import EKS_CLUSTER, Meta, Resource, as_bool, as_map, is_open_cidr, resource_policy, str_list

META = Meta(
    name="cloud-eks-endpoint-restricted",
    description="The EKS API endpoint must be private or public only to listed CIDRs, never 0.0.0.0/0.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "network", "security"),
    remediation=(
        "Set apiAccess.mode: private, or apiAccess.mode: public with allowedCidrs listing your office/VPN "
        "ranges (vpcConfig.endpointPublicAccess / vpcConfig.publicAccessCidrs on aws.eks.Cluster)."
    ),
    rationale="A Kubernetes API reachable from the whole internet is one credential leak away from takeover.",
    config={
        "allowPublicEndpoint": {
            "type": "boolean",
            "default": True,
            "description": "Allow a public endpoint restricted to CIDRs; false requires a private-only endpoint.",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type != EKS_CLUSTER:
        return
    vpc = as_map(resource.props.get("vpcConfig"))
    if as_bool(vpc.get("endpointPublicAccess")) is False:
        return
    if not config["allowPublicEndpoint"]:
        yield "the EKS API endpoint is public; set vpcConfig.endpointPublicAccess to false"
        return
    cidrs = str_list(vpc.get("publicAccessCidrs"))
    if not cidrs:
        yield (
            "the EKS API endpoint is public with no vpcConfig.publicAccessCidrs, so EKS admits 0.0.0.0/0; "
            "list the CIDRs that may reach it"
        )
        return
    for cidr in cidrs:
        if is_open_cidr(cidr):
            yield f"vpcConfig.publicAccessCidrs contains {cidr}, which admits the whole internet"


POLICY = resource_policy(META, check)
