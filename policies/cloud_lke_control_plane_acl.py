"""cloud-lke-control-plane-acl: the LKE control plane ACL is on and lists who may reach the API.

LKE has no private API endpoint: the ACL is the only network control. ``acl.enabled: false`` means
default ALLOW, the same as no ACL at all. An address range wider than ``minIpv4PrefixLength`` (default
``/8``; IPv6 ``minIpv6PrefixLength``, default ``/16``) counts as open, like ``0.0.0.0/0``.

Reads:
    linode:index/lkeCluster:LkeCluster: controlPlane.acl.enabled, controlPlane.acl.addresses[].ipv4s, controlPlane.acl.addresses[].ipv6s
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    CIDR_CONFIG,
    LKE_CLUSTER,
    Meta,
    Resource,
    as_bool,
    as_list,
    as_map,
    dig,
    open_cidr_config,
    open_cidr_findings,
    resource_policy,
    str_list,
)

META = Meta(
    name="cloud-lke-control-plane-acl",
    description=(
        "LKE clusters must enable the control-plane ACL with at least one address, never 0.0.0.0/0 or a "
        "range wider than /8 (IPv6: /16)."
    ),
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "linode", "lke", "network", "security"),
    remediation=(
        "Set controlPlane.acl.enabled: true and controlPlane.acl.addresses[].ipv4s/ipv6s to your "
        "office/VPN ranges (apiAccess.allowedCidrs)."
    ),
    rationale="Without the ACL the LKE API endpoint is open to the internet.",
    config=dict(CIDR_CONFIG),
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type != LKE_CLUSTER:
        return
    acl = as_map(dig(resource.props, "controlPlane", "acl"))
    if as_bool(acl.get("enabled")) is not True:
        yield "controlPlane.acl.enabled is not true; the Kubernetes API accepts connections from anywhere"
        return
    addresses = [
        cidr
        for entry in as_list(acl.get("addresses"))
        for key in ("ipv4s", "ipv6s")
        for cidr in str_list(as_map(entry).get(key))
    ]
    if not addresses:
        yield "controlPlane.acl lists no addresses; list the CIDRs that may reach the Kubernetes API"
    min_ipv4, min_ipv6 = open_cidr_config(config)
    yield from open_cidr_findings(addresses, "controlPlane.acl.addresses", min_ipv4, min_ipv6)


POLICY = resource_policy(META, check)
