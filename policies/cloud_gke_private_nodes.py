"""cloud-gke-private-nodes: GKE nodes get no public IP addresses.

Reads:
    gcp:container/cluster:Cluster: privateClusterConfig.enablePrivateNodes
    gcp:container/nodePool:NodePool: networkConfig.enablePrivateNodes
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import GKE_CLUSTER, GKE_NODE_POOL, Meta, Resource, as_bool, dig, resource_policy

META = Meta(
    name="cloud-gke-private-nodes",
    description="GKE clusters must use private nodes (no public node IPs).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "gcp", "gke", "network", "security"),
    remediation=(
        "Set privateClusterConfig.enablePrivateNodes: true on gcp.container.Cluster (with Cloud NAT for "
        "egress) and do not set networkConfig.enablePrivateNodes: false on node pools."
    ),
    rationale="GPU nodes with public IPs expose kubelets and workloads directly to the internet.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == GKE_CLUSTER:
        if as_bool(dig(resource.props, "privateClusterConfig", "enablePrivateNodes")) is not True:
            yield "privateClusterConfig.enablePrivateNodes is not true; nodes get public IP addresses"
    elif resource.type == GKE_NODE_POOL and (
        as_bool(dig(resource.props, "networkConfig", "enablePrivateNodes")) is False
    ):
        yield "networkConfig.enablePrivateNodes is false; this node pool's nodes get public IP addresses"


POLICY = resource_policy(META, check)
