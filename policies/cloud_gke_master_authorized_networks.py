"""cloud-gke-master-authorized-networks: the GKE control plane admits only listed networks.

A listed ``cidrBlock`` wider than ``minIpv4PrefixLength`` (default ``/8``; IPv6 ``minIpv6PrefixLength``,
default ``/16``) counts as open, like ``0.0.0.0/0``.

Reads:
    gcp:container/cluster:Cluster: privateClusterConfig.enablePrivateEndpoint, masterAuthorizedNetworksConfig.cidrBlocks[].cidrBlock, masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    CIDR_CONFIG,
    GKE_CLUSTER,
    Meta,
    Resource,
    as_bool,
    as_list,
    as_map,
    as_str,
    dig,
    open_cidr_config,
    open_cidr_findings,
    resource_policy,
)

META = Meta(
    name="cloud-gke-master-authorized-networks",
    description=(
        "GKE control planes must be private or restricted by master authorized networks, never 0.0.0.0/0 "
        "or a range wider than /8 (IPv6: /16)."
    ),
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "gcp", "gke", "network", "security"),
    remediation=(
        "Set masterAuthorizedNetworksConfig.cidrBlocks to your office/VPN ranges (apiAccess.allowedCidrs), "
        "leave gcpPublicCidrsAccessEnabled off, or use privateClusterConfig.enablePrivateEndpoint."
    ),
    rationale="A public GKE endpoint without authorized networks admits every address on the internet.",
    config={
        "allowPublicEndpoint": {
            "type": "boolean",
            "default": True,
            "description": "Allow a public endpoint restricted by authorized networks; false requires a private endpoint.",
        },
        **CIDR_CONFIG,
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type != GKE_CLUSTER:
        return
    if as_bool(dig(resource.props, "privateClusterConfig", "enablePrivateEndpoint")) is True:
        return
    if not config["allowPublicEndpoint"]:
        yield "the GKE control plane has a public endpoint; set privateClusterConfig.enablePrivateEndpoint to true"
        return
    networks = as_map(resource.props.get("masterAuthorizedNetworksConfig"))
    blocks = [as_str(as_map(b).get("cidrBlock")) or "" for b in as_list(networks.get("cidrBlocks"))]
    if not networks or not blocks:
        yield (
            "the GKE control plane is public and masterAuthorizedNetworksConfig lists no cidrBlocks; "
            "list the CIDRs that may reach it"
        )
        return
    min_ipv4, min_ipv6 = open_cidr_config(config)
    yield from open_cidr_findings(blocks, "masterAuthorizedNetworksConfig.cidrBlocks", min_ipv4, min_ipv6)
    if as_bool(networks.get("gcpPublicCidrsAccessEnabled")) is True:
        yield "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled admits every Google Cloud IP address"


POLICY = resource_policy(META, check)
