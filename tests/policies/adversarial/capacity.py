"""GPU capacity anywhere: launch templates (``amiType: CUSTOM``, no instanceTypes), self-managed auto
scaling groups, plain instances, GKE's default pool, inline ``nodePools`` and auto-provisioning, any
LKE pool or Linode; the cost cap prices the system pool too; unknown instance types fail closed."""

from __future__ import annotations

import base64
from typing import Any

import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_linode as linode

from tests.policies.adversarial.corpus import compliant, insecure, stack_case

MAX = "gpu-stack-max-gpus"
COST = "gpu-stack-max-hourly-cost"
TAINT = "gpu-pool-tainted"
TYPE = "gpu-pool-instance-type-allowed"
ROLE = "arn:aws:iam::123456789012:role/nodes"
GPU_TAINT = [aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect="NO_SCHEDULE")]
KUBELET_TAINT = "#!/bin/bash\n/etc/eks/bootstrap.sh gpu --kubelet-extra-args '--register-with-taints=nvidia.com/gpu=true:NoSchedule'\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def launch_template(
    name: str = "gpu", instance_type: str = "p5.48xlarge", user_data: str | None = None
) -> aws.ec2.LaunchTemplate:
    return aws.ec2.LaunchTemplate(
        name, name=name, instance_type=instance_type, image_id="ami-0123456789abcdef0", user_data=user_data
    )


def lt_node_group(max_size: int, taints: Any = None, template_name: str = "gpu", min_size: int = 0) -> None:
    aws.eks.NodeGroup(
        "custom",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["subnet-1"],
        ami_type="CUSTOM",
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(name=template_name, version="$Latest"),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=min_size, max_size=max_size, desired_size=min_size),
        taints=taints,
    )


def node_group(types: list[str] | None, max_size: int, name: str = "system", min_size: int = 1) -> None:
    aws.eks.NodeGroup(
        name,
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["subnet-1"],
        instance_types=types,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=min_size, max_size=max_size, desired_size=min_size),
    )


# -- EKS managed node groups on launch templates ----------------------------------------------------


@insecure(MAX, "can scale to 80 GPUs")
def eks_custom_ami_launch_template_gpus() -> None:
    launch_template()
    lt_node_group(10, GPU_TAINT)


@insecure(COST, "the node pools can cost $275.20/hour")
def eks_custom_ami_launch_template_cost() -> None:
    launch_template()
    lt_node_group(5, GPU_TAINT)


@compliant(MAX)
def eks_launch_template_within_cap() -> None:
    launch_template()
    lt_node_group(2, GPU_TAINT)


@insecure(MAX, "comes from launch template lt-0abc, which the stack does not declare, so its GPUs cannot be counted")
def eks_launch_template_outside_stack() -> None:
    aws.eks.NodeGroup(
        "custom",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["subnet-1"],
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id="lt-0abc", version="1"),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=1, desired_size=0),
        taints=GPU_TAINT,
    )


@insecure(COST, "which the stack does not declare); add hourlyPriceOverrides")
def eks_launch_template_outside_stack_cost() -> None:
    eks_launch_template_outside_stack()


@insecure(TAINT, "so whether its nodes have GPUs cannot be checked here")
def eks_launch_template_node_group_untainted() -> None:
    launch_template()
    lt_node_group(1)


@compliant(TAINT)
def eks_launch_template_node_group_tainted() -> None:
    launch_template(user_data=b64(KUBELET_TAINT))
    lt_node_group(1, GPU_TAINT)


@insecure(TAINT, "EC2 launch template gpu has GPUs but no nvidia.com/gpu taint")
def eks_launch_template_user_data_without_taint() -> None:
    launch_template(user_data=b64("#!/bin/bash\n/etc/eks/bootstrap.sh gpu\n"))
    lt_node_group(1, GPU_TAINT)


@insecure(TAINT, "its userData is not base64")
def eks_launch_template_user_data_not_base64() -> None:
    launch_template(user_data="#!/bin/bash\necho plain")


@compliant(TAINT)
def eks_launch_template_nodeadm_taint() -> None:
    nodeadm = (
        "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n"
        '      registerWithTaints:\n        - key: nvidia.com/gpu\n          value: "true"\n          effect: NoSchedule\n'
    )
    launch_template(user_data=b64(nodeadm))


@insecure(TYPE, "EC2 launch template gpu uses p3.2xlarge, which is not on the GPU instance type allow-list")
def eks_launch_template_unlisted_gpu_type() -> None:
    launch_template(instance_type="p3.2xlarge", user_data=b64(KUBELET_TAINT))


@insecure(COST, "the node pools can cost $416.00/hour")
def eks_node_group_default_instance_type_priced() -> None:
    node_group(None, 10000)


# -- the system pool is priced too -------------------------------------------------------------------


@insecure(COST, "the node pools can cost $21840.00/hour")
def eks_system_pool_of_u24tb1() -> None:
    node_group(["u-24tb1.metal"], 100)


@insecure(COST, "x2iedn.32xlarge has no known hourly price")
def eks_system_pool_unpriced_type() -> None:
    node_group(["x2iedn.32xlarge"], 3)


@compliant(COST)
def eks_small_system_pool() -> None:
    node_group(["m6i.large"], 3)


# -- self-managed auto scaling groups ----------------------------------------------------------------


def asg(
    overrides: list[str] | None = None, max_size: int = 10, tags: list[Any] | None = None, template: Any = None
) -> None:
    mixed = None
    if overrides is not None:
        mixed = aws.autoscaling.GroupMixedInstancesPolicyArgs(
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                    launch_template_name="base"
                ),
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                    for t in overrides
                ],
            )
        )
    aws.autoscaling.Group(
        "self-managed",
        min_size=0,
        max_size=max_size,
        vpc_zone_identifiers=["subnet-1"],
        mixed_instances_policy=mixed,
        launch_template=template,
        tags=tags,
    )


ASG_TAINT_TAG = [
    aws.autoscaling.GroupTagArgs(
        key="k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu",
        value="true:NoSchedule",
        propagate_at_launch=False,
    )
]


@insecure(MAX, "can scale to 80 GPUs")
def asg_mixed_instances_p4d() -> None:
    asg(["p4d.24xlarge"], 10, ASG_TAINT_TAG)


@insecure(COST, "the node pools can cost")
def asg_mixed_instances_cost() -> None:
    asg(["p5.48xlarge", "p4d.24xlarge"], 10, ASG_TAINT_TAG)


@insecure(MAX, "can scale to 160 GPUs")
def asg_launch_template_by_id() -> None:
    lt = launch_template(user_data=b64(KUBELET_TAINT))
    asg(None, 20, template=aws.autoscaling.GroupLaunchTemplateArgs(id=lt.id, version="$Latest"))


@insecure(MAX, "comes from launch configuration legacy-gpu")
def asg_launch_configuration() -> None:
    aws.autoscaling.Group(
        "legacy", min_size=0, max_size=50, launch_configuration="legacy-gpu", vpc_zone_identifiers=["subnet-1"]
    )


@insecure(TAINT, "auto scaling group self-managed has GPUs but no nvidia.com/gpu taint")
def asg_gpu_overrides_untainted() -> None:
    asg(["g6.xlarge"], 1)


@compliant(TAINT)
def asg_gpu_overrides_with_taint_tag() -> None:
    asg(["g6.xlarge"], 1, ASG_TAINT_TAG)


@insecure(TYPE, "uses g4ad.xlarge, which is not on the GPU instance type allow-list")
def asg_unlisted_gpu_override() -> None:
    asg(["g4ad.xlarge"], 1, ASG_TAINT_TAG)


@compliant(MAX)
def asg_cpu_only() -> None:
    asg(["m6i.large"], 50)


# -- plain EC2 instances --------------------------------------------------------------------------------


@insecure(MAX, "can scale to 8 GPUs", config={MAX: {"maxGpus": 4}})
def ec2_instance_p5() -> None:
    aws.ec2.Instance("gpu", ami="ami-0123456789abcdef0", instance_type="p5.48xlarge", user_data=KUBELET_TAINT)


@insecure(TAINT, "EC2 instance gpu has GPUs but no nvidia.com/gpu taint")
def ec2_instance_untainted() -> None:
    aws.ec2.Instance("gpu", ami="ami-0123456789abcdef0", instance_type="g6.xlarge")


@compliant(TAINT)
def ec2_instance_with_kubelet_taint() -> None:
    aws.ec2.Instance("gpu", ami="ami-0123456789abcdef0", instance_type="g6.xlarge", user_data=KUBELET_TAINT)


# -- GKE: default pool, inline pools, auto-provisioning, instances -------------------------------------


def gke(**args: Any) -> None:
    gcp.container.Cluster("gke", location="us-central1", **args)


A3 = gcp.container.ClusterNodeConfigArgs(machine_type="a3-highgpu-8g")


@insecure(MAX, "can scale to 72 GPUs")
def gke_default_pool_gpus() -> None:
    gke(initial_node_count=3, node_config=A3)


@insecure(TAINT, "GKE cluster gke default node pool has GPUs but no nvidia.com/gpu taint")
def gke_default_pool_untainted() -> None:
    gke(initial_node_count=1, node_config=A3)


@compliant(TAINT)
def gke_default_pool_removed() -> None:
    gke(initial_node_count=1, remove_default_node_pool=True, node_config=A3)


@compliant(TAINT)
def gke_default_pool_tainted() -> None:
    gke(
        initial_node_count=1,
        node_config=gcp.container.ClusterNodeConfigArgs(
            machine_type="a3-highgpu-8g",
            taints=[
                gcp.container.ClusterNodeConfigTaintArgs(key="nvidia.com/gpu", value="present", effect="NO_SCHEDULE")
            ],
        ),
    )


def inline_pool(machine: str, max_nodes: int, accelerators: list[Any] | None = None) -> Any:
    return gcp.container.ClusterNodePoolArgs(
        name="inline-gpu",
        node_config=gcp.container.ClusterNodePoolNodeConfigArgs(machine_type=machine, guest_accelerators=accelerators),
        autoscaling=gcp.container.ClusterNodePoolAutoscalingArgs(min_node_count=0, max_node_count=max_nodes),
    )


@insecure(MAX, "can scale to 240 GPUs")
def gke_inline_node_pool_gpus() -> None:
    gke(node_pools=[inline_pool("a2-highgpu-8g", 10)])


@insecure(TAINT, "GKE cluster gke nodePools[inline-gpu] has GPUs but no nvidia.com/gpu taint")
def gke_inline_node_pool_untainted() -> None:
    gke(node_pools=[inline_pool("a2-highgpu-1g", 1)])


@insecure(TYPE, "GKE cluster gke nodePools[inline-gpu] attaches nvidia-tesla-k80")
def gke_inline_pool_unlisted_accelerator() -> None:
    k80 = gcp.container.ClusterNodePoolNodeConfigGuestAcceleratorArgs(type="nvidia-tesla-k80", count=1)
    gke(node_pools=[inline_pool("n1-standard-8", 1, [k80])])


@insecure(TYPE, "GKE cluster gke default node pool attaches nvidia-tesla-p4")
def gke_default_pool_unlisted_accelerator() -> None:
    p4 = gcp.container.ClusterNodeConfigGuestAcceleratorArgs(type="nvidia-tesla-p4", count=1)
    gke(
        initial_node_count=1,
        node_config=gcp.container.ClusterNodeConfigArgs(machine_type="n1-standard-8", guest_accelerators=[p4]),
    )


@insecure(MAX, "can scale to 100 GPUs")
def gke_node_auto_provisioning_gpus() -> None:
    gke(
        initial_node_count=1,
        remove_default_node_pool=True,
        cluster_autoscaling=gcp.container.ClusterClusterAutoscalingArgs(
            enabled=True,
            resource_limits=[
                gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="cpu", maximum=1000),
                gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="nvidia-h100-80gb", maximum=100),
            ],
        ),
    )


@insecure(COST, "node auto-provisioning cannot be priced")
def gke_node_auto_provisioning_unpriced() -> None:
    gke_node_auto_provisioning_gpus()


@insecure(TYPE, "node auto-provisioning attaches nvidia-tesla-k80")
def gke_node_auto_provisioning_unlisted() -> None:
    gke(
        initial_node_count=1,
        remove_default_node_pool=True,
        cluster_autoscaling=gcp.container.ClusterClusterAutoscalingArgs(
            enabled=True,
            resource_limits=[
                gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="nvidia-tesla-k80", maximum=1)
            ],
        ),
    )


@insecure(COST, "the node pools can cost")
def gke_default_pool_system_cost() -> None:
    gke(initial_node_count=1000, node_config=gcp.container.ClusterNodeConfigArgs(machine_type="e2-standard-16"))


@insecure(MAX, "can scale to 16 GPUs", config={MAX: {"maxGpus": 8}})
def gce_instance_a2_mega() -> None:
    gcp.compute.Instance(
        "vm",
        machine_type="a2-megagpu-16g",
        zone="us-central1-a",
        boot_disk=gcp.compute.InstanceBootDiskArgs(
            initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(image="debian-12")
        ),
        network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(network="default")],
    )


@insecure(TYPE, "Compute Engine instance vm attaches nvidia-tesla-v100")
def gce_instance_unlisted_accelerator() -> None:
    gcp.compute.Instance(
        "vm",
        machine_type="n1-standard-8",
        zone="us-central1-a",
        guest_accelerators=[gcp.compute.InstanceGuestAcceleratorArgs(type="nvidia-tesla-v100", count=8)],
        boot_disk=gcp.compute.InstanceBootDiskArgs(
            initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(image="debian-12")
        ),
        network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(network="default")],
    )


# -- Linode ----------------------------------------------------------------------------------------------


def lke(pools: list[Any]) -> None:
    linode.LkeCluster("lke", label="lke", k8s_version="1.34", region="us-ord", pools=pools)


@insecure(TAINT, "LKE cluster lke pools[1] has GPUs but no nvidia.com/gpu taint", region="us-ord")
def lke_inline_gpu_pool_untainted() -> None:
    lke(
        [
            linode.LkeClusterPoolArgs(type="g6-dedicated-4", count=3),
            linode.LkeClusterPoolArgs(type="g2-gpu-rtx4000a1-s", count=1),
        ]
    )


@insecure(MAX, "can scale to 400 GPUs", region="us-ord")
def lke_node_pool_autoscaler_max() -> None:
    linode.LkeNodePool(
        "gpu",
        cluster_id=1,
        type="g2-gpu-rtx4000a4-m",
        node_count=1,
        autoscaler=linode.LkeNodePoolAutoscalerArgs(min=1, max=100),
        taints=[linode.LkeNodePoolTaintArgs(key="nvidia.com/gpu", value="true", effect="NoSchedule")],
    )


@insecure(COST, "the node pools can cost", region="us-ord")
def lke_system_pool_cost() -> None:
    lke([linode.LkeClusterPoolArgs(type="g6-dedicated-16", count=1000)])


@insecure(TYPE, "uses g1-gpu-rtx6000-4, which is not on the GPU instance type allow-list", region="us-ord")
def lke_unlisted_gpu_plan() -> None:
    lke(
        [
            linode.LkeClusterPoolArgs(
                type="g1-gpu-rtx6000-4",
                count=1,
                taints=[linode.LkeClusterPoolTaintArgs(key="nvidia.com/gpu", value="true", effect="NoSchedule")],
            )
        ]
    )


@insecure(MAX, "Linode instance vm", config={MAX: {"maxGpus": 0}}, region="us-ord")
def linode_gpu_instance() -> None:
    linode.Instance("vm", type="g2-gpu-rtx4000a1-s", region="us-ord", image="linode/debian12")


@compliant(COST, region="us-ord")
def lke_small_system_pool() -> None:
    lke([linode.LkeClusterPoolArgs(type="g6-dedicated-4", count=3)])


# -- stack files ---------------------------------------------------------------------------------------


def _big_system_pool(config: dict[str, Any]) -> None:
    """GPU pools at $113.30/hour (under dev's $150 cap on their own); 100 large system nodes add $38.40."""
    config["gpuplane:systemPool"] = {"size": "large", "minNodes": 2, "maxNodes": 100}
    config["gpuplane:gpuPools"][1]["maxNodes"] = 2


def _small_system_pool(config: dict[str, Any]) -> None:
    config["gpuplane:systemPool"] = {"size": "large", "minNodes": 2, "maxNodes": 10}
    config["gpuplane:gpuPools"][1]["maxNodes"] = 2


stack_case(
    "stack-aws-system-pool-tips-the-budget",
    "capacity",
    "aws-dev",
    COST,
    _big_system_pool,
    "the node pools can cost $151.70/hour",
)
stack_case("stack-aws-system-pool-within-budget", "capacity", "aws-dev", COST, _small_system_pool, is_compliant=True)


@insecure(MAX, "EKS node group gpu-ami has an unknown maximum size or GPU count")
def eks_gpu_ami_without_instance_types() -> None:
    aws.eks.NodeGroup(
        "gpu-ami",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["subnet-1"],
        ami_type="AL2023_x86_64_NVIDIA",
        taints=GPU_TAINT,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=100, desired_size=0),
    )
