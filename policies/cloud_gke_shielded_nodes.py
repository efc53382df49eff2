"""cloud-gke-shielded-nodes: GKE nodes run as Shielded VMs (verified boot chain, integrity monitoring).

GKE enables Shielded Nodes by default; this rule reports an explicit opt-out, and with
``requireSecureBoot`` also node pools without Secure Boot.

Reads:
    gcp:container/cluster:Cluster: enableShieldedNodes
    gcp:container/nodePool:NodePool: nodeConfig.shieldedInstanceConfig
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import GKE_CLUSTER, GKE_NODE_POOL, Meta, Resource, as_bool, dig, resource_policy

META = Meta(
    name="cloud-gke-shielded-nodes",
    description="GKE clusters must keep Shielded Nodes enabled (and Secure Boot where configured).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "gcp", "gke", "integrity", "security"),
    remediation=(
        "Do not set enableShieldedNodes: false on gcp.container.Cluster; with requireSecureBoot set "
        "nodeConfig.shieldedInstanceConfig.enableSecureBoot: true on every node pool."
    ),
    rationale="Shielded VMs stop boot-level rootkits from persisting on nodes that run other teams' jobs.",
    config={
        "requireSecureBoot": {
            "type": "boolean",
            "default": False,
            "description": "Also require Secure Boot on every node pool.",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == GKE_CLUSTER:
        if as_bool(resource.props.get("enableShieldedNodes")) is False:
            yield "enableShieldedNodes is false; nodes boot without verified integrity"
    elif resource.type == GKE_NODE_POOL:
        shielded = dig(resource.props, "nodeConfig", "shieldedInstanceConfig")
        if as_bool(dig(shielded, "enableIntegrityMonitoring")) is False:
            yield "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring is false"
        if config["requireSecureBoot"] and as_bool(dig(shielded, "enableSecureBoot")) is not True:
            yield "nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true"


POLICY = resource_policy(META, check)
