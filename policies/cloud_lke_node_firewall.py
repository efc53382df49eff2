"""cloud-lke-node-firewall: every LKE node pool sits behind a Cloud Firewall that drops inbound traffic.

LKE nodes have public IPs: without a firewall every NodePort (30000-32767) and every ``hostPort`` or
``hostNetwork`` port is reachable from the internet. A pool names its firewall with ``firewallId`` (LKE then
attaches it to every node the pool ever gets, autoscaled ones included); a pool without one gets whatever
the account's default firewall allows, or nothing. Checked: each ``LkeNodePool`` and each inline ``pools[]``
entry of an ``LkeCluster`` names a firewall, and each ``linode.Firewall`` drops inbound traffic by default,
is enabled, and accepts nothing from the whole internet (a range wider than ``minIpv4PrefixLength`` /
``minIpv6PrefixLength`` counts as the whole internet). Which firewall a pool names is only known after it
exists (its id), so the rules are judged on the firewalls of the stack.

Reads:
    linode:index/lkeNodePool:LkeNodePool: firewallId
    linode:index/lkeCluster:LkeCluster: pools[].firewallId
    linode:index/firewall:Firewall: inboundPolicy, disabled, inbounds[].action, inbounds[].ipv4s, inbounds[].ipv6s
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    CIDR_CONFIG,
    LKE_CLUSTER,
    LKE_NODE_POOL,
    Meta,
    Resource,
    as_bool,
    as_list,
    as_map,
    open_cidr_config,
    open_cidr_findings,
    resource_policy,
    str_list,
)

LINODE_FIREWALL = "linode:index/firewall:Firewall"

META = Meta(
    name="cloud-lke-node-firewall",
    description=(
        "LKE node pools must name a Cloud Firewall (firewallId), and Linode firewalls must drop inbound traffic "
        "by default and accept nothing from the whole internet."
    ),
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "linode", "lke", "network", "security"),
    remediation=(
        "Create a linode.Firewall with inboundPolicy DROP that accepts only what LKE needs (kubelet 10250/10256, "
        "WireGuard 51820, DNS 53, BGP 179 from 192.168.128.0/17; NodePorts from 192.168.255.0/24) and set "
        "firewallId on every node pool (gpuplane's LkeGpuCluster does)."
    ),
    rationale="LKE nodes have public IPs: without a firewall every NodePort and host port is open to the internet.",
    config=dict(CIDR_CONFIG),
)


def _has_firewall(pool: Mapping[str, Any]) -> bool:
    value = pool.get("firewallId")
    return value is not None and value not in {"", 0}


def _firewall_findings(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(props.get("disabled")) is True:
        yield "disabled is true; the firewall enforces none of its rules"
    policy = str(props.get("inboundPolicy") or "").upper()
    if policy != "DROP":
        yield f"inboundPolicy is {policy or 'unset'}, not DROP; inbound traffic no rule names is accepted"
    min_ipv4, min_ipv6 = open_cidr_config(config)
    for index, rule in enumerate(as_list(props.get("inbounds"))):
        entry = as_map(rule)
        if str(entry.get("action") or "").upper() != "ACCEPT":
            continue
        sources = [*str_list(entry.get("ipv4s")), *str_list(entry.get("ipv6s"))]
        label = entry.get("label") or f"#{index}"
        yield from open_cidr_findings(sources, f"inbounds[{index}] ({label})", min_ipv4, min_ipv6)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == LKE_NODE_POOL:
        if not _has_firewall(resource.props):
            yield "firewallId is not set; the pool's nodes get the account's default firewall or none"
    elif resource.type == LKE_CLUSTER:
        for index, pool in enumerate(as_list(resource.props.get("pools"))):
            if not _has_firewall(as_map(pool)):
                yield f"pools[{index}] has no firewallId; its nodes get the account's default firewall or none"
    elif resource.type == LINODE_FIREWALL:
        yield from _firewall_findings(resource.props, config)


POLICY = resource_policy(META, check)
