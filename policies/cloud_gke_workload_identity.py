"""cloud-gke-workload-identity: GKE pods get Google credentials through Workload Identity.

Reads:
    gcp:container/cluster:Cluster: workloadIdentityConfig.workloadPool
    gcp:container/nodePool:NodePool: nodeConfig.workloadMetadataConfig.mode
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import GKE_CLUSTER, GKE_NODE_POOL, Meta, Resource, as_str, dig, resource_policy

META = Meta(
    name="cloud-gke-workload-identity",
    description="GKE clusters must enable Workload Identity and node pools must not expose node metadata.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "gcp", "gke", "identity", "security"),
    remediation=(
        "Set workloadIdentityConfig.workloadPool to <project>.svc.id.goog on the cluster and "
        "nodeConfig.workloadMetadataConfig.mode to GKE_METADATA on node pools."
    ),
    rationale="Without Workload Identity every pod can use the node's service account and its scopes.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == GKE_CLUSTER:
        pool = as_str(dig(resource.props, "workloadIdentityConfig", "workloadPool")) or ""
        if not pool.endswith(".svc.id.goog"):
            yield "workloadIdentityConfig.workloadPool is not set to <project>.svc.id.goog; Workload Identity is off"
    elif resource.type == GKE_NODE_POOL:
        mode = as_str(dig(resource.props, "nodeConfig", "workloadMetadataConfig", "mode"))
        if mode == "GCE_METADATA":
            yield "nodeConfig.workloadMetadataConfig.mode is GCE_METADATA; pods can read the node's credentials"


POLICY = resource_policy(META, check)
