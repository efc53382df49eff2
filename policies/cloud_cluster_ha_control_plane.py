"""cloud-cluster-ha-control-plane: production control planes survive the loss of one zone/instance.

EKS control planes are always multi-AZ. GKE is HA only as a regional cluster (``location`` is a
region, not a zone). LKE needs ``controlPlane.highAvailability`` (irreversible, paid). Advisory by
default; ``config/production.json`` makes it mandatory.

Reads:
    gcp:container/cluster:Cluster: location
    linode:index/lkeCluster:LkeCluster: controlPlane.highAvailability
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import GKE_CLUSTER, LKE_CLUSTER, Meta, Resource, as_bool, as_str, dig, resource_policy

_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")

META = Meta(
    name="cloud-cluster-ha-control-plane",
    description="Production clusters must run a highly available control plane.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    tags=("cloud", "gke", "lke", "availability", "production"),
    remediation=(
        "GKE: use a region (us-central1), not a zone, as the cluster location. "
        "LKE: set controlPlane.highAvailability: true (set production: true in the stack)."
    ),
    rationale="A single control-plane instance makes every upgrade or zone outage an API outage.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == GKE_CLUSTER:
        location = as_str(resource.props.get("location")) or ""
        if _ZONE.match(location):
            yield f"location {location} is a zone; a zonal GKE cluster has a single control-plane replica"
    elif resource.type == LKE_CLUSTER and as_bool(dig(resource.props, "controlPlane", "highAvailability")) is not True:
        yield "controlPlane.highAvailability is not true; the LKE control plane has a single replica"


POLICY = resource_policy(META, check)
