"""The project's own components plus a few extra resources or a ``transformations`` hook: what an
adversary writes first (issue 10: 38 of 39 such programs got through)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from tests.policies.adversarial.corpus import compliant, insecure
from tests.policies.builders import cluster_for
from tests.support import spec_for


def _strip_gpu_taints(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "aws:eks/nodeGroup:NodeGroup":
        return None
    props = dict(args.props)
    props["taints"] = []
    return pulumi.ResourceTransformationResult(props, args.opts)


def _open_endpoint(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "aws:eks/cluster:Cluster":
        return None
    props = dict(args.props)
    props["vpc_config"] = {
        "subnet_ids": ["subnet-1"],
        "endpoint_public_access": True,
        "public_access_cidrs": [f"{n}.0.0.0/8" for n in range(256)],
    }
    return pulumi.ResourceTransformationResult(props, args.opts)


def _gpu_system_pool(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "gcp:container/nodePool:NodePool" or "system" not in args.name:
        return None
    props = dict(args.props)
    props["node_config"] = {"machine_type": "a3-highgpu-8g"}  # the pool's labels and taints go with it
    return pulumi.ResourceTransformationResult(props, args.opts)


def _drop_acl(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != "linode:index/lkeCluster:LkeCluster":
        return None
    props = dict(args.props)
    props["control_plane"] = {"acl": {"enabled": False}}
    return pulumi.ResourceTransformationResult(props, args.opts)


@insecure("gpu-pool-tainted", "has GPUs but no nvidia.com/gpu taint")
def eks_component_taints_stripped_by_stack_transformation() -> None:
    pulumi.runtime.register_stack_transformation(_strip_gpu_taints)
    cluster_for(spec_for("aws"))


@insecure("cloud-eks-endpoint-restricted", "together cover 0.0.0.0/0")
def eks_component_endpoint_opened_by_transformation() -> None:
    pulumi.runtime.register_stack_transformation(_open_endpoint)
    cluster_for(spec_for("aws"))


@insecure("gpu-stack-max-gpus", "auto scaling group extra-gpus")
def eks_component_plus_self_managed_gpu_group() -> None:
    cluster_for(spec_for("aws"))
    template = aws.ec2.LaunchTemplate(
        "extra-gpus", name="extra-gpus", instance_type="p5.48xlarge", image_id="ami-0123456789abcdef0"
    )
    aws.autoscaling.Group(
        "extra-gpus",
        min_size=0,
        max_size=10,
        vpc_zone_identifiers=["subnet-1"],
        launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest"),
    )


@compliant("gpu-pool-tainted")
def eks_component_as_shipped() -> None:
    cluster_for(spec_for("aws"))


@compliant("gpu-stack-max-gpus")
def eks_component_as_shipped_within_cap() -> None:
    cluster_for(spec_for("aws"))


@insecure("gpu-pool-tainted", "has GPUs but no nvidia.com/gpu taint", region="us-central1")
def gke_component_system_pool_turned_gpu() -> None:
    pulumi.runtime.register_stack_transformation(_gpu_system_pool)
    cluster_for(spec_for("gcp"))


@insecure("cloud-lke-control-plane-acl", "controlPlane.acl.enabled is not true", region="us-ord")
def lke_component_acl_dropped_by_transformation() -> None:
    pulumi.runtime.register_stack_transformation(_drop_acl)
    cluster_for(spec_for("linode"))
