"""EksGpuCluster under the mock runtime: the exact child contract and every security-relevant input."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from typing import Any

import pytest

from components.clusters.contract import GpuPoolScheduling
from components.clusters.eks import (
    EksGpuCluster,
    EksGpuClusterArgs,
    ZoneError,
    choose_zones,
    desired_size,
    offered_zones,
)
from components.spec import GPU_TAINT, PlatformSpec, SpecError
from components.versions import CLUSTER_AUTOSCALER, CLUSTER_AUTOSCALER_IMAGE_TAGS, KUBERNETES_VERSIONS
from gpuplane import recording as recording_module
from gpuplane.recording import ACCOUNT_ID, Recording
from tests.support import capture_registered_outputs, fresh_python, raw_spec, record, spec_for

NAME = "gp"
CLUSTER = "gp-aws"  # spec_for("aws").cluster_name
POLICY = "arn:aws:iam::aws:policy/"

T_ROLE = "aws:iam/role:Role"
T_ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
T_INLINE = "aws:iam/rolePolicy:RolePolicy"
T_SUBNET = "aws:ec2/subnet:Subnet"
T_RT = "aws:ec2/routeTable:RouteTable"
T_RTA = "aws:ec2/routeTableAssociation:RouteTableAssociation"
T_EIP = "aws:ec2/eip:Eip"
T_NAT = "aws:ec2/natGateway:NatGateway"
T_NG = "aws:eks/nodeGroup:NodeGroup"
T_TAG = "aws:autoscaling/tag:Tag"
T_ADDON = "aws:eks/addon:Addon"
T_LT = "aws:ec2/launchTemplate:LaunchTemplate"
OFFERINGS = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
CLUSTER_ARN = f"arn:aws:eks:us-east-1:{ACCOUNT_ID}:gp-cluster"


def _children(production: bool) -> Counter[tuple[str, str]]:
    nats = ["0", "1"] if production else ["0"]
    children = [
        ("aws:ec2/vpc:Vpc", "gp-vpc"),
        ("aws:ec2/internetGateway:InternetGateway", "gp-igw"),
        (T_SUBNET, "gp-public-subnet-0"),
        (T_SUBNET, "gp-public-subnet-1"),
        (T_SUBNET, "gp-private-subnet-0"),
        (T_SUBNET, "gp-private-subnet-1"),
        (T_RT, "gp-public-rt"),
        (T_RTA, "gp-public-rta-0"),
        (T_RTA, "gp-public-rta-1"),
        *[(T_EIP, f"gp-nat-eip-{i}") for i in nats],
        *[(T_NAT, f"gp-nat-{i}") for i in nats],
        (T_RT, "gp-private-rt-0"),
        (T_RT, "gp-private-rt-1"),
        (T_RTA, "gp-private-rta-0"),
        (T_RTA, "gp-private-rta-1"),
        (T_ROLE, "gp-cluster-role"),
        (T_ATTACH, "gp-cluster-policy"),
        (T_INLINE, "gp-cluster-kms-policy"),
        (T_ROLE, "gp-node-role"),
        (T_ATTACH, "gp-node-worker-policy"),
        (T_ATTACH, "gp-node-ecr-policy"),
        ("aws:kms/key:Key", "gp-kms-key"),
        ("aws:cloudwatch/logGroup:LogGroup", "gp-log-group"),
        ("aws:eks/cluster:Cluster", "gp-cluster"),
        (T_ADDON, "gp-pod-identity-agent"),
        (T_ROLE, "gp-vpc-cni-role"),
        (T_ATTACH, "gp-vpc-cni-policy"),
        (T_ADDON, "gp-vpc-cni"),
        (T_LT, "gp-system-nodes-lt"),
        (T_LT, "gp-gpu-inference-lt"),
        (T_LT, "gp-gpu-training-lt"),
        (T_NG, "gp-system-nodes"),
        (T_NG, "gp-gpu-inference"),
        (T_NG, "gp-gpu-training"),
        (T_TAG, "gp-system-asg-label-gpuplane-io-pool"),
        *[
            (T_TAG, f"gp-gpu-{pool}-asg-{role}")
            for pool in ("inference", "training")
            for role in (
                "label-gpuplane-io-pool",
                "label-gpuplane-io-gpu",
                "label-k8s-amazonaws-com-accelerator",
                "taint-nvidia-com-gpu",
                "gpus",
            )
        ],
        (T_ROLE, "gp-ebs-csi-role"),
        (T_ATTACH, "gp-ebs-csi-policy"),
        (T_ADDON, "gp-ebs-csi"),
        ("kubernetes:storage.k8s.io/v1:StorageClass", "gp-gp3"),
        (T_ROLE, "gp-autoscaler-role"),
        (T_INLINE, "gp-autoscaler-policy"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "gp-autoscaler-pod-identity"),
        ("pulumi:providers:kubernetes", "gp-provider"),
        ("kubernetes:helm.sh/v3:Release", "gp-cluster-autoscaler"),
    ]
    return Counter(children)


def _build(spec: PlatformSpec, **args: Any) -> tuple[Recording, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def program() -> None:
        cluster = EksGpuCluster(NAME, EksGpuClusterArgs(spec=spec, **args))
        seen["cluster"] = cluster

        async def probe() -> None:
            seen["kubeconfig_secret"] = await cluster.kubeconfig.is_secret()
            seen["cluster_name"] = await cluster.cluster_name.future()

        seen["probe"] = asyncio.ensure_future(probe())  # keep a reference until the run settles

    return record(program), seen


@pytest.fixture(scope="module")
def dev() -> tuple[Recording, dict[str, Any]]:
    return _build(spec_for("aws"))


@pytest.fixture(scope="module")
def rec(dev: tuple[Recording, dict[str, Any]]) -> Recording:
    return dev[0]


def _component(rec: Recording) -> str:
    (component,) = rec.of_type("gpuplane:clusters:EksGpuCluster")
    assert component.name == NAME
    return component.urn


def _policy(rec: Recording, name: str, key: str = "policy") -> dict[str, Any]:
    return json.loads(rec.named(name).inputs[key])


# --- shape -------------------------------------------------------------------------------------


@pytest.mark.parametrize("production", [False, True])
def test_exact_children_every_one_parented_to_the_component(production: bool) -> None:
    rec, _ = _build(spec_for("aws", production=production))
    component = _component(rec)
    children = [r for r in rec.resources if r.urn != component]
    assert Counter((r.type, r.name) for r in children) == _children(production)
    assert all(r.parent == component for r in children)
    assert not rec.of_type("pulumi:providers:aws")  # uses the stack's default AWS provider


def test_nat_gateways_one_for_dev_one_per_az_for_production(rec: Recording) -> None:
    prod, _ = _build(spec_for("aws", production=True))
    for recording, nats in ((rec, ["gp-nat-0", "gp-nat-0"]), (prod, ["gp-nat-0", "gp-nat-1"])):
        for i, nat in enumerate(nats):
            (route,) = recording.named(f"gp-private-rt-{i}").inputs["routes"]
            assert route == {"cidrBlock": "0.0.0.0/0", "natGatewayId": f"{nat}-id"}
            assoc = recording.named(f"gp-private-rta-{i}").inputs
            assert assoc == {"subnetId": f"gp-private-subnet-{i}-id", "routeTableId": f"gp-private-rt-{i}-id"}
        for i in range(len(set(nats))):
            nat = recording.named(f"gp-nat-{i}")
            assert nat.inputs["subnetId"] == f"gp-public-subnet-{i}-id"
            assert nat.inputs["allocationId"] == f"gp-nat-eip-{i}-id"
            assert recording.named("gp-igw").urn in nat.dependencies
            assert recording.named(f"gp-nat-eip-{i}").inputs["domain"] == "vpc"


def test_vpc_and_subnets_are_tagged_for_kubernetes(rec: Recording) -> None:
    vpc = rec.named("gp-vpc").inputs
    assert vpc["cidrBlock"] == "10.0.0.0/16"
    assert vpc["enableDnsSupport"] is True
    assert vpc["enableDnsHostnames"] is True
    assert vpc["tags"][f"kubernetes.io/cluster/{CLUSTER}"] == "shared"
    expected = {
        "private": (["10.0.0.0/18", "10.0.64.0/18"], "kubernetes.io/role/internal-elb"),
        "public": (["10.0.128.0/20", "10.0.144.0/20"], "kubernetes.io/role/elb"),
    }
    for kind, (cidrs, role_tag) in expected.items():
        for i, cidr in enumerate(cidrs):
            subnet = rec.named(f"gp-{kind}-subnet-{i}").inputs
            assert subnet["vpcId"] == "gp-vpc-id"
            assert subnet["cidrBlock"] == cidr
            assert subnet["availabilityZone"] == f"us-east-1{'ab'[i]}"
            assert subnet["mapPublicIpOnLaunch"] is False
            assert subnet["tags"][role_tag] == "1"
            assert subnet["tags"][f"kubernetes.io/cluster/{CLUSTER}"] == "shared"
            assert subnet["tags"]["env"] == "test"
            other = "kubernetes.io/role/elb" if kind == "private" else "kubernetes.io/role/internal-elb"
            assert other not in subnet["tags"]
    (route,) = rec.named("gp-public-rt").inputs["routes"]
    assert route == {"cidrBlock": "0.0.0.0/0", "gatewayId": "gp-igw-id"}
    for i in range(2):
        assert rec.named(f"gp-public-rta-{i}").inputs == {
            "subnetId": f"gp-public-subnet-{i}-id",
            "routeTableId": "gp-public-rt-id",
        }
    assert "aws:index/getAvailabilityZones:getAvailabilityZones" in rec.invokes


def test_custom_vpc_cidr_is_split_into_the_subnets() -> None:
    rec, _ = _build(spec_for("aws"), vpc_cidr="172.20.0.0/20")
    assert rec.named("gp-vpc").inputs["cidrBlock"] == "172.20.0.0/20"
    assert [rec.named(f"gp-private-subnet-{i}").inputs["cidrBlock"] for i in range(2)] == [
        "172.20.0.0/22",
        "172.20.4.0/22",
    ]
    assert [rec.named(f"gp-public-subnet-{i}").inputs["cidrBlock"] for i in range(2)] == [
        "172.20.8.0/24",
        "172.20.9.0/24",
    ]


# --- control plane -----------------------------------------------------------------------------


def test_cluster_encrypts_secrets_with_its_kms_key_and_logs_everything(rec: Recording) -> None:
    cluster = rec.named("gp-cluster")
    inputs = cluster.inputs
    key = rec.named("gp-kms-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert inputs["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": key.outputs["arn"]},
    }
    assert inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    log_group = rec.named("gp-log-group")
    assert log_group.inputs["name"] == f"/aws/eks/{CLUSTER}/cluster"
    assert log_group.inputs["retentionInDays"] == 90
    assert log_group.urn in cluster.dependencies  # created before the cluster, so EKS does not
    assert rec.named("gp-cluster-policy").urn in cluster.dependencies
    assert rec.named("gp-cluster-kms-policy").urn in cluster.dependencies
    assert inputs["name"] == CLUSTER
    assert inputs["version"] == spec_for("aws").kubernetes_version
    assert inputs["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/gp-cluster-role"
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert inputs["vpcConfig"]["subnetIds"] == ["gp-private-subnet-0-id", "gp-private-subnet-1-id"]
    assert inputs["deletionProtection"] is False
    assert inputs["tags"] == {"env": "test", "gpuplane.io/cluster": CLUSTER}


def test_public_endpoint_only_with_the_specs_cidrs(rec: Recording) -> None:
    vpc_config = rec.named("gp-cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_private_endpoint_has_no_public_access_at_all() -> None:
    private, _ = _build(spec_for("aws", apiAccess={"mode": "private"}))
    vpc_config = private.named("gp-cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc_config


def test_production_protects_the_cluster_from_deletion() -> None:
    prod, _ = _build(spec_for("aws", production=True))
    assert prod.named("gp-cluster").inputs["deletionProtection"] is True


# --- IAM ---------------------------------------------------------------------------------------


def test_cluster_and_node_roles_are_least_privilege(rec: Recording) -> None:
    cluster_trust = _policy(rec, "gp-cluster-role", "assumeRolePolicy")
    assert cluster_trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    node_trust = _policy(rec, "gp-node-role", "assumeRolePolicy")
    assert node_trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole"]}
    ]
    attached = {(r.inputs["role"], r.inputs["policyArn"].removeprefix(POLICY)) for r in rec.of_type(T_ATTACH)}
    assert attached == {
        ("gp-cluster-role", "AmazonEKSClusterPolicy"),
        ("gp-node-role", "AmazonEKSWorkerNodePolicy"),
        ("gp-node-role", "AmazonEC2ContainerRegistryPullOnly"),
        ("gp-vpc-cni-role", "AmazonEKS_CNI_Policy"),
        ("gp-ebs-csi-role", "service-role/AmazonEBSCSIDriverPolicy"),
    }
    kms_use = rec.named("gp-cluster-kms-policy")
    assert kms_use.inputs["role"] == "gp-cluster-role-id"
    (statement,) = json.loads(kms_use.inputs["policy"])["Statement"]
    assert statement["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    assert statement["Resource"] == rec.named("gp-kms-key").outputs["arn"]


# --- node groups -------------------------------------------------------------------------------


def test_gpu_node_groups_scale_from_zero_with_the_pools_labels_and_taints(rec: Recording) -> None:
    expected_types = {"inference": "g6.xlarge", "training": "p5.4xlarge"}
    expected_max = {"inference": 4, "training": 2}
    gpu_models = {"inference": "nvidia-l4", "training": "nvidia-h100-80gb"}
    policies = {rec.named(f"gp-node-{p}-policy").urn for p in ("worker", "ecr")}
    for pool, instance_type in expected_types.items():
        group = rec.named(f"gp-gpu-{pool}")
        inputs = group.inputs
        assert inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert inputs["instanceTypes"] == [instance_type]
        assert inputs["capacityType"] == "ON_DEMAND"
        assert inputs["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": expected_max[pool]}
        assert inputs["labels"] == {
            "gpuplane.io/pool": pool,
            "gpuplane.io/gpu": gpu_models[pool],
            "k8s.amazonaws.com/accelerator": gpu_models[pool],
        }
        assert inputs["taints"] == [{"key": "nvidia.com/gpu", "value": GPU_TAINT.value, "effect": "NO_SCHEDULE"}]
        assert "diskSize" not in inputs  # the root volume is in the launch template
        assert inputs["launchTemplate"] == {"id": f"gp-gpu-{pool}-lt-id", "version": "1"}
        assert inputs["subnetIds"] == ["gp-private-subnet-0-id", "gp-private-subnet-1-id"]
        assert inputs["clusterName"] == CLUSTER
        assert inputs["nodeRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/gp-node-role"
        assert group.ignore_changes == []  # desiredSize comes from the live group, see the scaling tests
        assert policies <= set(group.dependencies)
        assert rec.named(f"gp-gpu-{pool}-lt").urn in group.dependencies


def test_vpc_cni_enforces_network_policies_before_any_node_joins(rec: Recording) -> None:
    addon = rec.named("gp-vpc-cni")
    assert addon.inputs == {
        "clusterName": CLUSTER,
        "addonName": "vpc-cni",
        "configurationValues": '{"enableNetworkPolicy": "true"}',
        "podIdentityAssociations": [
            {"roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/gp-vpc-cni-role", "serviceAccount": "aws-node"}
        ],
        "resolveConflictsOnCreate": "OVERWRITE",
        "resolveConflictsOnUpdate": "OVERWRITE",
        "preserve": True,
        "tags": {"env": "test", "gpuplane.io/cluster": CLUSTER},
    }
    assert json.loads(addon.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert "addonVersion" not in addon.inputs  # EKS's default for the cluster's minor
    assert addon.parent == _component(rec)
    agent = rec.named("gp-pod-identity-agent")
    assert set(addon.dependencies) >= {
        rec.named("gp-cluster").urn,
        rec.named("gp-vpc-cni-policy").urn,
        rec.named("gp-vpc-cni-role").urn,
        agent.urn,
    }
    policies = [rec.named(f"gp-node-{p}-policy").urn for p in ("worker", "ecr")]
    for group in ("gp-system-nodes", "gp-gpu-inference", "gp-gpu-training"):
        deps = set(rec.named(group).dependencies)
        assert {*policies, addon.urn, agent.urn, rec.named("gp-cluster").urn, rec.named("gp-node-role").urn} <= deps
        assert {rec.named(f"gp-private-subnet-{i}").urn for i in range(2)} <= deps
    names = [r.name for r in rec.resources]
    assert names.index("gp-vpc-cni") < min(names.index(g) for g in ("gp-system-nodes", "gp-gpu-inference"))


def test_spot_pools_buy_spot_capacity() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["capacity"] = "spot"
    spot, _ = _build(spec_for("aws", gpuPools=raw["gpuPools"]))
    assert spot.named("gp-gpu-inference").inputs["capacityType"] == "SPOT"
    assert spot.named("gp-gpu-training").inputs["capacityType"] == "ON_DEMAND"


def test_system_node_group_is_untainted_on_demand_and_labelled_system(rec: Recording) -> None:
    group = rec.named("gp-system-nodes")
    inputs = group.inputs
    assert inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert inputs["instanceTypes"] == ["m6i.large"]
    assert inputs["capacityType"] == "ON_DEMAND"
    assert inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 4}
    assert inputs["labels"] == {"gpuplane.io/pool": "system"}
    assert "taints" not in inputs
    assert "diskSize" not in inputs
    assert inputs["launchTemplate"] == {"id": "gp-system-nodes-lt-id", "version": "1"}
    assert inputs["subnetIds"] == ["gp-private-subnet-0-id", "gp-private-subnet-1-id"]
    assert group.ignore_changes == []


def test_asg_node_template_tags_mirror_each_gpu_pools_labels_and_taints(rec: Recording) -> None:
    prefix = "k8s.io/cluster-autoscaler/node-template"
    for pool, gpu in (("inference", "nvidia-l4"), ("training", "nvidia-h100-80gb")):
        tags = [r for r in rec.of_type(T_TAG) if r.name.startswith(f"gp-gpu-{pool}-")]
        assert {r.inputs["autoscalingGroupName"] for r in tags} == {f"eks-gp-gpu-{pool}-asg"}
        assert all(r.inputs["tag"]["propagateAtLaunch"] is False for r in tags)
        assert {r.inputs["tag"]["key"]: r.inputs["tag"]["value"] for r in tags} == {
            f"{prefix}/label/gpuplane.io/pool": pool,
            f"{prefix}/label/gpuplane.io/gpu": gpu,
            # cluster-autoscaler's AWS GPULabel: a zero-node group's template node must carry it too
            f"{prefix}/label/k8s.amazonaws.com/accelerator": gpu,
            f"{prefix}/taint/nvidia.com/gpu": f"{GPU_TAINT.value}:NoSchedule",
            f"{prefix}/resources/nvidia.com/gpu": "1",
        }
    (system,) = [r for r in rec.of_type(T_TAG) if r.name.startswith("gp-system-")]
    assert system.inputs["tag"]["key"] == f"{prefix}/label/gpuplane.io/pool"
    assert system.inputs["tag"]["value"] == "system"


def test_asg_gpu_resource_tag_counts_time_sliced_units() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["sharing"] = {"mode": "time-slicing", "replicas": 4}
    sliced, _ = _build(spec_for("aws", gpuPools=raw["gpuPools"]))
    units = {pool: sliced.named(f"gp-gpu-{pool}-asg-gpus").inputs["tag"]["value"] for pool in ("inference", "training")}
    assert units == {"inference": "4", "training": "1"}


def test_gpu_pools_attribute_is_the_one_source_of_labels_and_taints(dev: tuple[Recording, dict[str, Any]]) -> None:
    cluster: EksGpuCluster = dev[1]["cluster"]
    assert cluster.gpu_pools == [
        GpuPoolScheduling(
            name="inference",
            gpu="nvidia-l4",
            gpus_per_node=1,
            instance_type="g6.xlarge",
            labels={"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-l4"},
            taints=(GPU_TAINT,),
        ),
        GpuPoolScheduling(
            name="training",
            gpu="nvidia-h100-80gb",
            gpus_per_node=1,
            instance_type="p5.4xlarge",
            labels={"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-h100-80gb"},
            taints=(GPU_TAINT,),
        ),
    ]
    assert set(cluster.gpu_node_groups) == {"inference", "training"}


# --- cluster-autoscaler ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "namespace", "service_account"),
    [
        ("gp-autoscaler-role", "kube-system", "cluster-autoscaler"),
        ("gp-vpc-cni-role", "kube-system", "aws-node"),
        ("gp-ebs-csi-role", "kube-system", "ebs-csi-controller-sa"),
    ],
)
def test_pod_identity_roles_are_assumable_only_by_their_service_account_in_this_cluster(
    rec: Recording, role: str, namespace: str, service_account: str
) -> None:
    (statement,) = _policy(rec, role, "assumeRolePolicy")["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": rec.named("gp-cluster").outputs["arn"],
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }
        },
    }
    assert rec.named("gp-cluster").urn in rec.named(role).dependencies


def test_autoscaler_pod_identity_association(rec: Recording) -> None:
    association = rec.named("gp-autoscaler-pod-identity").inputs
    assert association == {
        "clusterName": CLUSTER,
        "namespace": "kube-system",
        "serviceAccount": "cluster-autoscaler",
        "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/gp-autoscaler-role",
        "tags": {"env": "test", "gpuplane.io/cluster": CLUSTER},
    }
    agent = rec.named("gp-pod-identity-agent")
    assert agent.inputs["addonName"] == "eks-pod-identity-agent"
    assert agent.inputs["clusterName"] == CLUSTER
    # hostNetwork: created with the cluster, before any node, so aws-node gets credentials at boot
    assert agent.dependencies == [rec.named("gp-cluster").urn]


def test_autoscaler_may_only_resize_this_clusters_groups(rec: Recording) -> None:
    policy = rec.named("gp-autoscaler-policy")
    assert policy.inputs["role"] == "gp-autoscaler-role-id"
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert set(statements) == {"Describe", "DescribeOwnNodegroups", "ScaleOwnGroups"}
    describe = statements["Describe"]
    assert describe["Resource"] == "*"
    assert all(":Describe" in a or ":GetInstanceTypes" in a for a in describe["Action"])
    assert "autoscaling:DescribeTags" in describe["Action"]
    own = statements["DescribeOwnNodegroups"]
    assert own["Action"] == ["eks:DescribeNodegroup"]
    assert own["Resource"] == [
        rec.named(n).outputs["arn"] for n in ("gp-system-nodes", "gp-gpu-inference", "gp-gpu-training")
    ]
    scale = statements["ScaleOwnGroups"]
    assert scale["Action"] == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert scale["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{CLUSTER}": "owned"}}
    assert all(s["Effect"] == "Allow" for s in statements.values())


def test_cluster_autoscaler_release(rec: Recording) -> None:
    release = rec.named("gp-cluster-autoscaler")
    inputs = release.inputs
    assert inputs["chart"] == "cluster-autoscaler"
    assert inputs["version"] == CLUSTER_AUTOSCALER.version == "9.52.1"
    assert inputs["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert inputs["namespace"] == "kube-system"
    assert inputs["name"] == "cluster-autoscaler"
    assert inputs["values"] == {
        "cloudProvider": "aws",
        "awsRegion": "us-east-1",
        "autoDiscovery": {"clusterName": CLUSTER},
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAGS[spec_for("aws").kubernetes_version]},
        "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler"}},
        "nodeSelector": {"gpuplane.io/pool": "system"},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-local-storage": False,
            "expander": "least-waste",
            "scale-down-unneeded-time": "10m",
            "scale-down-delay-after-add": "10m",
        },
    }
    provider = rec.named("gp-provider")
    assert release.provider == f"{provider.urn}::{provider.id}"
    assert release.deleted_with == rec.named("gp-cluster").urn
    for before in (
        "gp-pod-identity-agent",
        "gp-autoscaler-pod-identity",
        "gp-system-nodes",
        "gp-gpu-inference",
        "gp-gpu-training",
    ):
        assert rec.named(before).urn in release.dependencies


@pytest.mark.parametrize("minor", sorted(CLUSTER_AUTOSCALER_IMAGE_TAGS))
def test_autoscaler_image_matches_the_cluster_minor(minor: str) -> None:
    rec, _ = _build(spec_for("aws", kubernetesVersion=minor))
    tag = rec.named("gp-cluster-autoscaler").inputs["values"]["image"]["tag"]
    assert tag.startswith(f"v{minor}.")
    assert rec.named("gp-cluster").inputs["version"] == minor


# --- kubeconfig and provider -------------------------------------------------------------------


def test_kubeconfig_is_secret_and_exec_based(dev: tuple[Recording, dict[str, Any]]) -> None:
    rec, seen = dev
    assert seen["kubeconfig_secret"] is True
    assert seen["cluster_name"] == CLUSTER
    provider = rec.named("gp-provider")
    assert provider.parent == _component(rec)
    assert provider.is_secret("kubeconfig")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == rec.named("gp-cluster").outputs["endpoint"]
    assert (
        cluster["cluster"]["certificate-authority-data"]
        == rec.named("gp-cluster").outputs["certificateAuthority"]["data"]
    )
    (user,) = kubeconfig["users"]
    assert set(user["user"]) == {"exec"}  # no token or key material in the kubeconfig
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == ["eks", "get-token", "--cluster-name", CLUSTER, "--region", "us-east-1", "--output", "json"]
    assert kubeconfig["current-context"] == CLUSTER


def test_registered_outputs_are_camel_case_like_every_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = capture_registered_outputs(monkeypatch, EksGpuCluster)
    rec, _ = _build(spec_for("aws"))
    assert registered.values == {
        "clusterName": CLUSTER,
        "kubeconfig": rec.named("gp-provider").inputs["kubeconfig"],
        "endpoint": rec.named("gp-cluster").outputs["endpoint"],
        "vpcId": "gp-vpc-id",
        "privateSubnetIds": ["gp-private-subnet-0-id", "gp-private-subnet-1-id"],
    }
    assert {k for k, secret in registered.secret.items() if secret} == {"kubeconfig"}


# --- invalid args ------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["gcp", "linode", "existing"])
def test_args_reject_a_spec_for_another_cloud(cloud: str) -> None:
    with pytest.raises(ValueError, match=r"^spec\.cloud: .*aws"):
        EksGpuClusterArgs(spec=spec_for(cloud))


def test_every_accepted_kubernetes_version_has_an_autoscaler_image() -> None:
    assert set(KUBERNETES_VERSIONS) <= set(CLUSTER_AUTOSCALER_IMAGE_TAGS)
    with pytest.raises(SpecError, match=r"kubernetesVersion: 1\.30 is not in the tested set"):
        spec_for("aws", kubernetesVersion="1.30")


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/16", "fd00::/56", "nonsense"])
def test_args_reject_a_bad_vpc_cidr(cidr: str) -> None:
    with pytest.raises(ValueError, match=r"^vpc_cidr: "):
        EksGpuClusterArgs(spec=spec_for("aws"), vpc_cidr=cidr)


def test_spec_rejects_label_keys_too_long_for_an_asg_tag() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["labels"] = {"a" * 40 + ".example.com/" + "x" * 60: "v"}
    with pytest.raises(SpecError, match=r"gpuPools\[0\]\.labels: .* too long for the Auto Scaling group tag"):
        spec_for("aws", gpuPools=raw["gpuPools"])


# --- imports -----------------------------------------------------------------------------------


def test_building_an_eks_cluster_imports_no_other_clouds_sdk() -> None:
    code = (
        "import sys\n"
        "from tests.support import record, spec_for\n"
        "from components.clusters.eks import EksGpuCluster, EksGpuClusterArgs\n"
        "rec = record(lambda: EksGpuCluster('gp', EksGpuClusterArgs(spec=spec_for('aws'))))\n"
        "assert rec.of_type('aws:eks/cluster:Cluster'), 'nothing was built'\n"
        "print(sorted(m for m in ('pulumi_aws', 'pulumi_gcp', 'pulumi_linode') if m in sys.modules))\n"
    )
    assert fresh_python(code).strip() == "['pulumi_aws']"


# --- launch templates: IMDSv2, hop limit 1, encrypted root volume (issue 12 item 6) --------------


@pytest.mark.parametrize(("group", "disk"), [("system-nodes", 50), ("gpu-inference", 200), ("gpu-training", 200)])
def test_every_node_group_has_a_launch_template_requiring_imdsv2_with_hop_limit_1(
    rec: Recording, group: str, disk: int
) -> None:
    template = rec.named(f"gp-{group}-lt").inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    assert template["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"volumeSize": disk, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"},
        }
    ]
    assert template["updateDefaultVersion"] is True
    assert "iamInstanceProfile" not in template  # EKS manages the instance profile
    assert "imageId" not in template  # and the AMI (amiType on the node group)
    node_group = rec.named(f"gp-{group}")
    assert node_group.inputs["launchTemplate"]["id"] == f"gp-{group}-lt-id"


# --- storage: EBS CSI driver and a default StorageClass (issue 12 item 5) ------------------------


def test_ebs_csi_driver_is_a_managed_addon_on_its_own_pod_identity_role(rec: Recording) -> None:
    addon = rec.named("gp-ebs-csi")
    assert addon.inputs == {
        "clusterName": CLUSTER,
        "addonName": "aws-ebs-csi-driver",
        "podIdentityAssociations": [
            {"roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/gp-ebs-csi-role", "serviceAccount": "ebs-csi-controller-sa"}
        ],
        "resolveConflictsOnCreate": "OVERWRITE",
        "resolveConflictsOnUpdate": "OVERWRITE",
        "tags": {"env": "test", "gpuplane.io/cluster": CLUSTER},
    }
    # the controller is a Deployment: it needs the system nodes; its role needs the policy first
    for before in ("gp-system-nodes", "gp-ebs-csi-policy", "gp-pod-identity-agent"):
        assert rec.named(before).urn in addon.dependencies
    assert addon.deleted_with == ""


def test_default_storage_class_is_encrypted_gp3_waiting_for_the_first_consumer(rec: Recording) -> None:
    (storage_class,) = rec.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    inputs = storage_class.inputs
    assert inputs["metadata"]["name"] == "gp3"
    assert inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert inputs["provisioner"] == "ebs.csi.aws.com"
    assert inputs["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert inputs["reclaimPolicy"] == "Delete"
    assert rec.named("gp-ebs-csi").urn in storage_class.dependencies
    provider = rec.named("gp-provider")
    assert storage_class.provider == f"{provider.urn}::{provider.id}"
    # deleted for real, after every PVC owner and before the CSI driver that deletes their volumes
    assert storage_class.deleted_with == ""


def test_storage_dependencies_are_exposed_for_addons_with_volumes(dev: tuple[Recording, dict[str, Any]]) -> None:
    cluster: EksGpuCluster = dev[1]["cluster"]
    assert cluster.storage_dependencies == [cluster.ebs_csi, cluster.storage_class]


def test_kubernetes_provider_waits_for_the_system_node_group(rec: Recording) -> None:
    assert rec.named("gp-system-nodes").urn in rec.named("gp-provider").dependencies


# --- availability zones per pool (issue 12 item 7) -----------------------------------------------

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
TYPES = {"system": "m6i.large", "inference": "g6.xlarge", "training": "p5.4xlarge"}


def test_zones_follow_where_each_instance_type_is_offered() -> None:
    offered = {"m6i.large": set(ZONES[:3]), "g6.xlarge": {"us-east-1b", "us-east-1c"}, "p5.4xlarge": {"us-east-1d"}}
    offered["m6i.large"].add("us-east-1d")
    plan = choose_zones(ZONES, offered, TYPES, {}, 2)
    assert plan.cluster == ("us-east-1b", "us-east-1d")
    assert plan.pools == {
        "system": ("us-east-1b", "us-east-1d"),
        "inference": ("us-east-1b",),
        "training": ("us-east-1d",),
    }


def test_a_zone_without_the_types_is_never_chosen() -> None:
    # like use1-az3: available, but offers none of the (Nitro) types
    offered = {t: {"us-east-1b", "us-east-1d"} for t in TYPES.values()}
    assert choose_zones(ZONES, offered, TYPES, {}, 2).cluster == ("us-east-1b", "us-east-1d")


def test_pinned_zones_are_used_and_checked_against_the_offerings() -> None:
    offered = {t: set(ZONES) for t in TYPES.values()}
    plan = choose_zones(ZONES, offered, TYPES, {"training": ("us-east-1c",)}, 2)
    assert plan.cluster == ("us-east-1a", "us-east-1c")
    assert plan.pools["training"] == ("us-east-1c",)
    offered["p5.4xlarge"] = {"us-east-1a"}
    with pytest.raises(ZoneError, match=r"gpuPools\[training\]\.zones: EC2 does not offer p5\.4xlarge in us-east-1c"):
        choose_zones(ZONES, offered, TYPES, {"training": ("us-east-1c",)}, 2)


def test_types_that_need_more_zones_than_the_vpc_has_fail_clearly() -> None:
    offered = {"m6i.large": set(ZONES), "g6.xlarge": {"us-east-1a"}, "p5.4xlarge": {"us-east-1b"}}
    offered3 = {**offered, "m6i.large": {"us-east-1c"}}
    with pytest.raises(
        ZoneError, match="need the zones us-east-1a, us-east-1b, us-east-1c; the EKS VPC spans exactly 2"
    ):
        choose_zones(ZONES, offered3, TYPES, {}, 2)
    with pytest.raises(ZoneError, match=r"training: EC2 offers p5\.4xlarge in no available zone"):
        choose_zones(ZONES, {**offered, "p5.4xlarge": set()}, TYPES, {}, 2)


def test_offerings_answer_becomes_zones_per_type() -> None:
    assert offered_zones(["a", "b", "a"], ["z1", "z1", "z2"]) == {"a": {"z1", "z2"}, "b": {"z1"}}


def test_cluster_zones_and_node_group_subnets_come_from_the_ec2_offerings(monkeypatch: pytest.MonkeyPatch) -> None:
    def offerings(_region: str, args: Any) -> dict[str, Any]:
        where = {"m6i.large": ZONES[:3], "g6.xlarge": ["us-east-1a", "us-east-1c"], "p5.4xlarge": ["us-east-1c"]}
        types = args["filters"][0]["values"]
        pairs = [(t, z) for t in types for z in where[t]]
        return {"instanceTypes": [t for t, _ in pairs], "locations": [z for _, z in pairs], "id": "x"}

    monkeypatch.setitem(recording_module._INVOKES_WITH_ARGS, OFFERINGS, offerings)
    rec, _ = _build(spec_for("aws"))
    assert [rec.named(f"gp-private-subnet-{i}").inputs["availabilityZone"] for i in range(2)] == [
        "us-east-1a",
        "us-east-1c",
    ]
    assert rec.named("gp-gpu-training").inputs["subnetIds"] == ["gp-private-subnet-1-id"]
    assert rec.named("gp-gpu-inference").inputs["subnetIds"] == ["gp-private-subnet-0-id", "gp-private-subnet-1-id"]
    assert OFFERINGS in rec.invokes


def test_spec_pinned_zones_reach_the_subnets() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][1]["zones"] = ["us-east-1b"]
    rec, _ = _build(spec_for("aws", gpuPools=raw["gpuPools"]))
    assert rec.named("gp-private-subnet-1").inputs["availabilityZone"] == "us-east-1b"
    assert rec.named("gp-gpu-training").inputs["subnetIds"] == ["gp-private-subnet-1-id"]


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        (["eu-west-1a"], "'eu-west-1a' is not an availability zone of us-east-1"),
        (["us-east-1"], "'us-east-1' is not an availability zone of us-east-1"),
    ],
)
def test_spec_rejects_zones_outside_the_region(zones: list[str], message: str) -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["zones"] = zones
    with pytest.raises(SpecError) as error:
        spec_for("aws", gpuPools=raw["gpuPools"])
    assert any(p.key == "gpuPools[0].zones" and p.message == message for p in error.value.problems)


def test_spec_rejects_more_pinned_zones_than_the_vpc_spans() -> None:
    raw = raw_spec("aws")
    raw["gpuPools"][0]["zones"] = ["us-east-1a", "us-east-1b"]
    raw["gpuPools"][1]["zones"] = ["us-east-1c"]
    with pytest.raises(SpecError) as error:
        spec_for("aws", gpuPools=raw["gpuPools"])
    assert [p.key for p in error.value.problems] == ["gpuPools"]


# --- desiredSize: kept from the live group, raised to a new minNodes (issue 12 item 9) -----------


def _with_live_group(monkeypatch: pytest.MonkeyPatch, desired: int) -> None:
    def groups(_region: str, args: Any) -> dict[str, Any]:
        pool = next(f["values"][0] for f in args["filters"] if f["name"].endswith("/label/gpuplane.io/pool"))
        return {"names": [f"eks-{pool}-asg"], "arns": [], "id": "x"}

    monkeypatch.setitem(recording_module._INVOKES_WITH_ARGS, "aws:autoscaling/getAmiIds:getAmiIds", groups)
    monkeypatch.setitem(
        recording_module._INVOKES_WITH_ARGS,
        "aws:autoscaling/getGroup:getGroup",
        lambda _r, args: {"name": args["name"], "desiredCapacity": desired, "id": args["name"]},
    )


@pytest.mark.parametrize(("live", "min_nodes", "expected"), [(3, 0, 3), (0, 2, 2), (9, 0, 4)])
def test_desired_size_is_the_live_size_within_the_new_bounds(
    monkeypatch: pytest.MonkeyPatch, live: int, min_nodes: int, expected: int
) -> None:
    _with_live_group(monkeypatch, live)
    raw = raw_spec("aws")
    raw["gpuPools"][0]["minNodes"] = min_nodes
    rec, _ = _build(spec_for("aws", gpuPools=raw["gpuPools"]))
    scaling = rec.named("gp-gpu-inference").inputs["scalingConfig"]
    assert scaling == {"minSize": min_nodes, "desiredSize": expected, "maxSize": 4}
    assert "aws:autoscaling/getGroup:getGroup" in rec.invokes


def test_desired_size_lookup_is_scoped_to_this_cluster_and_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def groups(region: str, args: Any) -> dict[str, Any]:
        seen.append(args["filters"])
        return {"names": [], "arns": [], "id": region}

    monkeypatch.setitem(recording_module._INVOKES_WITH_ARGS, "aws:autoscaling/getAmiIds:getAmiIds", groups)
    _build(spec_for("aws"))
    pools = sorted(next(f["values"] for f in filters if "gpuplane.io/pool" in f["name"])[0] for filters in seen)
    assert pools == ["inference", "system", "training"]
    assert all({"name": "tag:eks:cluster-name", "values": [CLUSTER]} in filters for filters in seen)


def test_desired_size_helper() -> None:
    assert [desired_size(c, 1, 3) for c in (0, 1, 2, 3, 5)] == [1, 1, 2, 3, 3]


def test_plan_says_where_each_pools_zones_come_from() -> None:
    from pathlib import Path

    from gpuplane.plan import StackPlan, to_json
    from gpuplane.report import write_report

    raw = raw_spec("aws")
    raw["gpuPools"][1]["zones"] = ["us-east-1b"]
    plan = StackPlan(stack="t", path=Path("Pulumi.t.yaml"), spec=spec_for("aws", gpuPools=raw["gpuPools"]))
    pools = {p["name"]: (p["zones"], p["zones_from"]) for p in to_json(plan)["gpu_pools"]}
    assert pools == {"inference": (None, "ec2-offerings-at-deploy"), "training": (["us-east-1b"], "spec")}
    out = io.StringIO()
    write_report(plan, out)
    assert "zones of inference: chosen at deploy time where EC2 offers g6.xlarge" in out.getvalue()
    assert "zones of training: pinned to us-east-1b (gpuPools[].zones)" in out.getvalue()
