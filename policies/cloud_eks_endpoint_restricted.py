"""cloud-eks-endpoint-restricted: the EKS API endpoint is private, or public only to listed CIDRs.

EKS defaults are open: without ``vpcConfig.endpointPublicAccess: false`` the endpoint is public, and
without ``publicAccessCidrs`` it admits ``0.0.0.0/0``. Both defaults are reported. A listed CIDR wider
than ``minIpv4PrefixLength`` (default ``/8``; IPv6 ``minIpv6PrefixLength``, default ``/16``) counts as
open too: ``0.0.0.0/1`` plus ``128.0.0.0/1`` is the whole internet without a single ``/0``.

Reads:
    aws:eks/cluster:Cluster: vpcConfig.endpointPublicAccess, vpcConfig.publicAccessCidrs
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    CIDR_CONFIG,
    EKS_CLUSTER,
    Meta,
    Resource,
    as_bool,
    as_map,
    open_cidr_config,
    open_cidr_findings,
    resource_policy,
    str_list,
)

META = Meta(
    name="cloud-eks-endpoint-restricted",
    description=(
        "The EKS API endpoint must be private or public only to listed CIDRs, never 0.0.0.0/0 or a range "
        "wider than /8 (IPv6: /16)."
    ),
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
        },
        **CIDR_CONFIG,
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
    min_ipv4, min_ipv6 = open_cidr_config(config)
    yield from open_cidr_findings(cidrs, "vpcConfig.publicAccessCidrs", min_ipv4, min_ipv6)


POLICY = resource_policy(META, check)
