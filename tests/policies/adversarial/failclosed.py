# pyright: reportArgumentType=false
# (Adversarial programs pass plain dicts where the SDK types ask for *Args, as a careless user does; the
# SDK accepts them at run time, which is the point of the case.)
"""Fail closed: values a policy needs but cannot read -- unknown until deployment (an output of another
resource during preview), of the wrong type, or unparseable -- are reported at the policy's own level
with a message naming what could not be checked, never passed."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_linode as linode

from tests.policies.adversarial.corpus import compliant, insecure

UNKNOWN = "cannot be checked yet"


def unknown() -> pulumi.Output[Any]:
    """An output whose value is not known before deployment (what ``pulumi preview`` sends as unknown)."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


@insecure("cloud-eks-endpoint-restricted", f"{UNKNOWN}: string value at .vpcConfig.publicAccessCidrs.0")
def eks_cidr_unknown_at_preview() -> None:
    aws.eks.Cluster(
        "api",
        role_arn="arn:aws:iam::123456789012:role/eks",
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=["s"], endpoint_public_access=True, public_access_cidrs=[unknown()]
        ),
    )


@insecure("cloud-gke-master-authorized-networks", UNKNOWN)
def gke_cidr_unknown_at_preview() -> None:
    gcp.container.Cluster(
        "api",
        location="us-central1",
        initial_node_count=1,
        remove_default_node_pool=True,
        master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=unknown())]
        ),
    )


@insecure("cloud-gke-master-authorized-networks", "which is not a CIDR")
def gke_cidr_block_missing() -> None:
    gcp.container.Cluster(
        "api",
        location="us-central1",
        initial_node_count=1,
        remove_default_node_pool=True,
        master_authorized_networks_config={"cidrBlocks": [{"displayName": "office"}]},
    )


@insecure("gpu-pool-tainted", UNKNOWN)
def node_group_instance_type_unknown() -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn="arn:aws:iam::123456789012:role/nodes",
        subnet_ids=["s"],
        instance_types=[unknown()],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=1, desired_size=0),
    )


@insecure("gpu-stack-max-gpus", "has an unknown maximum size or GPU count")
def node_group_max_size_not_a_number() -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn="arn:aws:iam::123456789012:role/nodes",
        subnet_ids=["s"],
        instance_types=["p5.48xlarge"],
        scaling_config={"minSize": 0, "maxSize": "ten", "desiredSize": 0},
        taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
    )


@insecure("gpu-stack-max-gpus", "has an unknown maximum size or GPU count", region="us-ord")
def lke_pool_count_not_a_number() -> None:
    linode.LkeCluster(
        "lke",
        label="lke",
        k8s_version="1.34",
        region="us-ord",
        pools=[
            {
                "type": "g2-gpu-rtx4000a1-s",
                "count": "lots",
                "taints": [{"key": "nvidia.com/gpu", "value": "t", "effect": "NoSchedule"}],
            }
        ],
    )


@insecure("gpu-stack-max-gpus", "has an unknown maximum size or GPU count")
def unknown_gpu_instance_type() -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn="arn:aws:iam::123456789012:role/nodes",
        subnet_ids=["s"],
        instance_types=["p9.96xlarge"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=1, desired_size=0),
        taints=[aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect="NO_SCHEDULE")],
    )


# Stack policies see the mock outputs offline, where an unknown input is absent: still reported.
@insecure("platform-helm-version-pinned", "without a version")
def chart_version_unknown_at_preview() -> None:
    k8s.helm.v3.Release(
        "agent",
        chart="agent",
        version=unknown(),
        namespace="team-a",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
    )


@insecure("platform-container-not-privileged", UNKNOWN)
def privileged_flag_unknown_at_preview() -> None:
    k8s.core.v1.Pod(
        "x",
        metadata={"name": "x", "namespace": "team-a"},
        spec={"containers": [{"name": "app", "image": "a:1", "securityContext": {"privileged": unknown()}}]},
    )


@insecure("platform-container-not-privileged", "whose path cannot be read")
def host_path_without_path() -> None:
    k8s.core.v1.Pod(
        "x",
        metadata={"name": "x", "namespace": "team-a"},
        spec={
            "containers": [{"name": "app", "image": "a:1"}],
            "volumes": [{"name": "h", "hostPath": {"type": "Directory"}}],
        },
    )


@insecure("platform-aigateway-route-authenticated", "has no SecurityPolicy with jwt")
def security_policy_target_unknown_at_preview() -> None:
    from tests.policies.adversarial.gateway import API_KEYS, gateway, route

    gateway()
    route()
    k8s.apiextensions.CustomResource(
        "sp",
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind="SecurityPolicy",
        metadata={"name": "keys", "namespace": "ai-gateway"},
        spec={
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": unknown()}],
            "apiKeyAuth": API_KEYS,
        },
    )


@insecure("platform-workload-no-plaintext-secrets", UNKNOWN)
def env_value_unknown_at_preview() -> None:
    k8s.core.v1.Pod(
        "x",
        metadata={"name": "x", "namespace": "team-a"},
        spec={"containers": [{"name": "app", "image": "a:1", "env": [{"name": "DB_PASSWORD", "value": unknown()}]}]},
    )


@compliant("platform-container-not-privileged")
def unrelated_unknown_is_not_reported() -> None:
    k8s.core.v1.Pod(
        "x",
        metadata={"name": "x", "namespace": "team-a", "annotations": {"build": unknown()}},
        spec={"containers": [{"name": "app", "image": "a:1"}]},
    )
