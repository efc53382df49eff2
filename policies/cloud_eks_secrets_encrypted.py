"""cloud-eks-secrets-encrypted: Kubernetes Secrets in EKS are envelope-encrypted with a KMS key.

Reads:
    aws:eks/cluster:Cluster: encryptionConfig[].resources, encryptionConfig[].provider.keyArn
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import EKS_CLUSTER, Meta, Resource, as_list, as_map, as_str, resource_policy, str_list

META = Meta(
    name="cloud-eks-secrets-encrypted",
    description="EKS clusters must encrypt Kubernetes Secrets with a KMS key (envelope encryption).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "encryption", "security"),
    remediation=(
        "Give aws.eks.Cluster an encryptionConfig with resources: [secrets] and provider.keyArn set to a "
        "customer-managed KMS key with rotation on."
    ),
    rationale="Without envelope encryption, anyone reading etcd snapshots reads every credential in the cluster.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type != EKS_CLUSTER:
        return
    blocks = [as_map(b) for b in as_list(resource.props.get("encryptionConfig"))]
    covering = [b for b in blocks if "secrets" in str_list(b.get("resources"))]
    if not covering:
        yield "encryptionConfig does not cover resources: [secrets]; Kubernetes Secrets are stored unencrypted"
        return
    if not any(as_str(as_map(b.get("provider")).get("keyArn")) for b in covering):
        yield "encryptionConfig for secrets has no provider.keyArn; name the KMS key that encrypts them"


POLICY = resource_policy(META, check)
