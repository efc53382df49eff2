# pyright: reportArgumentType=false
# (Adversarial programs pass plain dicts where the SDK types ask for *Args, as a careless user does; the
# SDK accepts them at run time, which is the point of the case.)
"""One insecure program (and near-miss twins) for every resource type a policy's docstring says it
reads and no evasion class above exercises yet: cluster hardening on GKE node pools and clusters, EKS
logging/encryption/IMDS/CNI/CSI, LKE firewalls, GPU pools as Karpenter NodePools, GKE NodePools, LKE
node pools and instances, Kueue flavors and quotas, queue labels, secrets and provider credentials."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_linode as linode

from tests.policies.adversarial.corpus import compliant, insecure

ROLE = "arn:aws:iam::123456789012:role/nodes"
GPU_TAINT_NG = [aws.eks.NodeGroupTaintArgs(key="nvidia.com/gpu", value="true", effect="NO_SCHEDULE")]
GKE_TAINT = [gcp.container.NodePoolNodeConfigTaintArgs(key="nvidia.com/gpu", value="present", effect="NO_SCHEDULE")]
LKE_TAINT = [linode.LkeNodePoolTaintArgs(key="nvidia.com/gpu", value="true", effect="NoSchedule")]


def eks_cluster(**args: Any) -> aws.eks.Cluster:
    return aws.eks.Cluster(
        "eks",
        role_arn="arn:aws:iam::123456789012:role/eks",
        vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=["s"], endpoint_public_access=False),
        **args,
    )


def gke_pool(name: str = "gpu", **node_config: Any) -> None:
    extra = {
        k: node_config.pop(k)
        for k in ("network_config", "autoscaling", "node_count", "initial_node_count")
        if k in node_config
    }
    gcp.container.NodePool(
        name,
        cluster="projects/p/locations/us-central1-a/clusters/gke",
        location="us-central1-a",
        node_config=gcp.container.NodePoolNodeConfigArgs(**node_config),
        **extra,
    )


# -- EKS cluster hardening --------------------------------------------------------------------------


@insecure("cloud-eks-control-plane-logging", "enabledClusterLogTypes is missing api, audit, authenticator")
def eks_no_control_plane_logs() -> None:
    eks_cluster()


@insecure("cloud-eks-secrets-encrypted", "encryptionConfig does not cover resources: [secrets]")
def eks_secrets_unencrypted() -> None:
    eks_cluster(enabled_cluster_log_types=["api", "audit", "authenticator"])


@insecure("cloud-eks-node-imdsv2", "no launchTemplate")
def eks_node_group_without_launch_template() -> None:
    aws.eks.NodeGroup(
        "system",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        instance_types=["m6i.large"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1),
    )


@insecure("cloud-eks-node-imdsv2", "does not require IMDSv2")
def eks_launch_template_imdsv1() -> None:
    lt = aws.ec2.LaunchTemplate(
        "nodes",
        name="nodes",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_tokens="optional", http_put_response_hop_limit=1
        ),
    )
    aws.eks.NodeGroup(
        "system",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        instance_types=["m6i.large"],
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=lt.id, version="$Latest"),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1),
        opts=pulumi.ResourceOptions(depends_on=[lt]),
    )


@insecure("cloud-eks-node-role-no-cni-policy", "lists AmazonEKS_CNI_Policy in managedPolicyArns")
def eks_node_role_with_cni_managed_policy() -> None:
    role = aws.iam.Role(
        "nodes",
        assume_role_policy='{"Version":"2012-10-17","Statement":[]}',
        managed_policy_arns=["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"],
    )
    aws.eks.NodeGroup(
        "system",
        cluster_name="gp",
        node_role_arn=role.arn,
        subnet_ids=["s"],
        instance_types=["m6i.large"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1),
    )


@insecure("cloud-eks-node-role-no-cni-policy", "attaches AmazonEKS_CNI_Policy to node role")
def eks_node_role_cni_attachment() -> None:
    role = aws.iam.Role("nodes", name="nodes", assume_role_policy='{"Version":"2012-10-17","Statement":[]}')
    aws.iam.RolePolicyAttachment("cni", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
    aws.eks.NodeGroup(
        "system",
        cluster_name="gp",
        node_role_arn=role.arn,
        subnet_ids=["s"],
        instance_types=["m6i.large"],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1),
    )


CSI = "cloud-eks-volumes-have-csi-driver"


@insecure(CSI, "PersistentVolumeClaim on EKS with no aws-ebs-csi-driver add-on")
def eks_pvc_without_csi() -> None:
    eks_cluster()
    k8s.core.v1.PersistentVolumeClaim(
        "data",
        metadata={"name": "data", "namespace": "team-a"},
        spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
    )


@insecure(CSI, "StatefulSet volumeClaimTemplates on EKS")
def eks_statefulset_claims_without_csi() -> None:
    eks_cluster()
    k8s.apps.v1.StatefulSet(
        "db",
        metadata={"name": "db", "namespace": "team-a"},
        spec={
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    )


@insecure(CSI, "the default StorageClass is not provisioned by ebs.csi.aws.com")
def eks_release_persistence_with_wrong_default_class() -> None:
    eks_cluster()
    aws.eks.Addon("ebs", cluster_name="gp", addon_name="aws-ebs-csi-driver")
    k8s.storage.v1.StorageClass(
        "gp2",
        metadata={"name": "gp2", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        provisioner="kubernetes.io/aws-ebs",
    )
    k8s.helm.v3.Release(
        "db",
        chart="postgresql",
        version="16.7.4",
        namespace="team-a",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
        values={"primary": {"persistence": {"enabled": True}}},
    )


@insecure(CSI, "Helm values with a volume claim or persistence on EKS")
def eks_chart_v4_claims_without_csi() -> None:
    eks_cluster()
    k8s.helm.v4.Chart(
        "prom",
        chart="oci://registry.example.com/charts/prom",
        version="1.2.3",
        namespace="monitoring",
        values={"server": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}},
    )


# -- GKE cluster and node pool hardening ---------------------------------------------------------------


def gke_cluster(**args: Any) -> None:
    gcp.container.Cluster(
        "gke", location=args.pop("location", "us-central1"), initial_node_count=1, remove_default_node_pool=True, **args
    )


@insecure("cloud-gke-private-nodes", "privateClusterConfig.enablePrivateNodes is not true")
def gke_public_nodes() -> None:
    gke_cluster()


@insecure("cloud-gke-private-nodes", "networkConfig.enablePrivateNodes is false")
def gke_pool_public_nodes() -> None:
    gke_pool(
        machine_type="e2-standard-4", network_config=gcp.container.NodePoolNetworkConfigArgs(enable_private_nodes=False)
    )


@insecure("cloud-gke-workload-identity", "Workload Identity is off")
def gke_without_workload_identity() -> None:
    gke_cluster()


@insecure("cloud-gke-workload-identity", "mode is GCE_METADATA")
def gke_pool_exposes_node_metadata() -> None:
    gke_pool(
        machine_type="e2-standard-4",
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GCE_METADATA"),
    )


@insecure("cloud-gke-shielded-nodes", "enableShieldedNodes is false")
def gke_unshielded_cluster() -> None:
    gke_cluster(enable_shielded_nodes=False)


@insecure("cloud-gke-shielded-nodes", "enableIntegrityMonitoring is false")
def gke_pool_without_integrity_monitoring() -> None:
    gke_pool(
        machine_type="e2-standard-4",
        shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_integrity_monitoring=False
        ),
    )


@insecure("cloud-cluster-ha-control-plane", "is a zone", level="advisory")
def gke_zonal_cluster() -> None:
    gke_cluster(location="us-central1-a")


@insecure("cloud-cluster-ha-control-plane", "highAvailability is not true", level="advisory", region="us-ord")
def lke_single_control_plane() -> None:
    linode.LkeCluster(
        "lke",
        label="lke",
        k8s_version="1.34",
        region="us-ord",
        pools=[linode.LkeClusterPoolArgs(type="g6-dedicated-4", count=3)],
    )


@insecure("conformance-stack-ai-requirements", "missing", level="advisory")
def gke_cluster_without_ai_stack() -> None:
    gke_cluster()
    k8s.helm.v3.Release(
        "web",
        chart="web",
        version="1.2.3",
        namespace="team-a",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
    )


# -- LKE firewalls ---------------------------------------------------------------------------------------


@insecure("cloud-lke-node-firewall", "pools[0] has no firewallId", region="us-ord")
def lke_inline_pool_without_firewall() -> None:
    linode.LkeCluster(
        "lke",
        label="lke",
        k8s_version="1.34",
        region="us-ord",
        pools=[linode.LkeClusterPoolArgs(type="g6-dedicated-4", count=3)],
    )


@insecure("cloud-lke-node-firewall", "firewallId is not set", region="us-ord")
def lke_node_pool_without_firewall() -> None:
    linode.LkeNodePool("pool", cluster_id=1, type="g6-dedicated-4", node_count=1)


@insecure("cloud-lke-node-firewall", "", region="us-ord")
def lke_firewall_accepting_everything() -> None:
    linode.Firewall(
        "fw",
        label="fw",
        inbound_policy="ACCEPT",
        outbound_policy="ACCEPT",
        inbounds=[linode.FirewallInboundArgs(label="all", action="ACCEPT", protocol="TCP", ipv4s=["0.0.0.0/0"])],
    )


# -- GPU pools as Karpenter NodePools, GKE NodePools, LKE node pools and instances -------------------------


def karpenter(limit: int | None, types: list[str], taints: list[dict[str, str]] | None = None) -> None:
    spec: dict[str, Any] = {
        "template": {
            "spec": {
                "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": types}],
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
            }
        }
    }
    if taints is not None:
        spec["template"]["spec"]["taints"] = taints
    if limit is not None:
        spec["limits"] = {"nvidia.com/gpu": limit}
    k8s.apiextensions.CustomResource(
        "gpu", api_version="karpenter.sh/v1", kind="NodePool", metadata={"name": "gpu"}, spec=spec
    )


KARPENTER_TAINT = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]


@insecure("gpu-pool-tainted", "Karpenter NodePool gpu has GPUs but no nvidia.com/gpu taint")
def karpenter_untainted() -> None:
    karpenter(8, ["p5.48xlarge"])


@insecure("gpu-stack-max-gpus", "Karpenter NodePool any-gpu has no spec.limits for nvidia.com/gpu")
def karpenter_without_gpu_limit() -> None:
    karpenter(None, [], KARPENTER_TAINT)
    k8s.apiextensions.CustomResource(
        "any-gpu",
        api_version="karpenter.sh/v1",
        kind="NodePool",
        metadata={"name": "any-gpu"},
        spec={
            "template": {
                "spec": {
                    "taints": KARPENTER_TAINT,
                    "requirements": [
                        {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]}
                    ],
                }
            }
        },
    )


@insecure("gpu-stack-max-hourly-cost", "Karpenter NodePool gpu cannot be priced")
def karpenter_unpriced() -> None:
    karpenter(16, [], KARPENTER_TAINT)


@insecure("gpu-pool-instance-type-allowed", "Karpenter NodePool gpu uses p3.16xlarge")
def karpenter_unlisted_type() -> None:
    karpenter(8, ["p3.16xlarge"], KARPENTER_TAINT)


@insecure("gpu-pool-tainted", "GKE node pool gpu has GPUs but no nvidia.com/gpu taint")
def gke_node_pool_untainted() -> None:
    gke_pool(machine_type="a2-highgpu-1g")


@insecure("gpu-pool-instance-type-allowed", "GKE node pool gpu attaches nvidia-tesla-k80")
def gke_node_pool_unlisted_accelerator() -> None:
    gke_pool(
        machine_type="n1-standard-8",
        taints=GKE_TAINT,
        guest_accelerators=[gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(type="nvidia-tesla-k80", count=1)],
    )


@insecure("gpu-stack-max-gpus", "can scale to 80 GPUs")
def gke_node_pool_many_gpus() -> None:
    gke_pool(
        machine_type="a3-highgpu-8g",
        taints=GKE_TAINT,
        autoscaling=gcp.container.NodePoolAutoscalingArgs(min_node_count=0, max_node_count=10),
    )


@insecure("gpu-stack-max-hourly-cost", "the node pools can cost")
def gke_node_pool_costly() -> None:
    gke_pool(
        machine_type="a3-highgpu-8g",
        taints=GKE_TAINT,
        autoscaling=gcp.container.NodePoolAutoscalingArgs(min_node_count=0, max_node_count=6),
    )


@insecure("gpu-pool-scale-to-zero", "keeps at least 2 GPU nodes running")
def gke_node_pool_warm_minimum() -> None:
    gke_pool(
        machine_type="g2-standard-4",
        taints=GKE_TAINT,
        autoscaling=gcp.container.NodePoolAutoscalingArgs(min_node_count=2, max_node_count=4),
    )


@insecure("gpu-pool-scale-to-zero", "keeps at least 1 GPU nodes running")
def eks_gpu_node_group_warm_minimum() -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        instance_types=["g6.xlarge"],
        taints=GPU_TAINT_NG,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=1, max_size=2, desired_size=1),
    )


@insecure("gpu-pool-scale-to-zero", "keeps at least 3 GPU nodes running", region="us-ord")
def lke_inline_gpu_pool_warm() -> None:
    linode.LkeCluster(
        "lke",
        label="lke",
        k8s_version="1.34",
        region="us-ord",
        pools=[
            linode.LkeClusterPoolArgs(
                type="g2-gpu-rtx4000a1-s",
                count=3,
                autoscaler=linode.LkeClusterPoolAutoscalerArgs(min=3, max=4),
                taints=[linode.LkeClusterPoolTaintArgs(key="nvidia.com/gpu", value="true", effect="NoSchedule")],
            )
        ],
    )


def lke_node_pool(
    plan: str = "g2-gpu-rtx4000a1-s", count: int = 1, autoscaler: Any = None, taints: Any = LKE_TAINT
) -> None:
    linode.LkeNodePool("gpu", cluster_id=1, type=plan, node_count=count, autoscaler=autoscaler, taints=taints)


@insecure("gpu-pool-scale-to-zero", "has a fixed size of 2 GPU nodes", region="us-ord")
def lke_node_pool_fixed() -> None:
    lke_node_pool(count=2)


@insecure(
    "gpu-lke-pool-idle-floor", "keeps at least 1 g2-gpu-rtx4000a1-s node running", level="advisory", region="us-ord"
)
def lke_node_pool_idle_floor() -> None:
    lke_node_pool()


@insecure("gpu-lke-pool-idle-floor", "keeps at least 2", level="advisory", region="us-ord")
def lke_inline_pool_idle_floor() -> None:
    linode.LkeCluster(
        "lke",
        label="lke",
        k8s_version="1.34",
        region="us-ord",
        pools=[
            linode.LkeClusterPoolArgs(
                type="g2-gpu-rtx4000a1-s",
                count=2,
                taints=[linode.LkeClusterPoolTaintArgs(key="nvidia.com/gpu", value="t", effect="NoSchedule")],
            )
        ],
    )


@insecure("gpu-pool-tainted", "LKE node pool gpu has GPUs but no nvidia.com/gpu taint", region="us-ord")
def lke_node_pool_untainted() -> None:
    lke_node_pool(taints=None)


@insecure("gpu-pool-instance-type-allowed", "uses g1-gpu-rtx6000-2", region="us-ord")
def lke_node_pool_unlisted_plan() -> None:
    lke_node_pool(plan="g1-gpu-rtx6000-2")


@insecure("gpu-stack-max-hourly-cost", "the node pools can cost", region="us-ord")
def lke_node_pool_costly() -> None:
    lke_node_pool(plan="g2-gpu-rtx4000a4-m", autoscaler=linode.LkeNodePoolAutoscalerArgs(min=1, max=200))


@insecure("gpu-pool-instance-type-allowed", "Linode instance vm uses g1-gpu-rtx6000-1", region="us-ord")
def linode_instance_unlisted_plan() -> None:
    linode.Instance("vm", type="g1-gpu-rtx6000-1", region="us-ord", image="linode/debian12")


@insecure("gpu-stack-max-hourly-cost", "Linode instance vm cannot be priced", region="us-ord")
def linode_instance_unpriced() -> None:
    linode.Instance("vm", type="g1-gpu-rtx6000-1", region="us-ord", image="linode/debian12")


@insecure("gpu-pool-instance-type-allowed", "EKS node group gpu uses p3.8xlarge")
def eks_node_group_unlisted_type() -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        instance_types=["p3.8xlarge"],
        taints=GPU_TAINT_NG,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=1, desired_size=0),
    )


@insecure("gpu-pool-instance-type-allowed", "EC2 instance vm uses g3.4xlarge")
def ec2_instance_unlisted_type() -> None:
    aws.ec2.Instance("vm", ami="ami-0123456789abcdef0", instance_type="g3.4xlarge")


@insecure("gpu-stack-max-hourly-cost", "the node pools can cost")
def ec2_instances_costly() -> None:
    for index in range(5):
        aws.ec2.Instance(
            f"vm-{index}",
            ami="ami-0123456789abcdef0",
            instance_type="p5.48xlarge",
            user_data="--register-with-taints=nvidia.com/gpu=true:NoSchedule",
        )


@insecure("gpu-stack-max-hourly-cost", "Compute Engine instance vm cannot be priced")
def gce_instance_unpriced() -> None:
    gcp.compute.Instance(
        "vm",
        machine_type="m3-megamem-128",
        zone="us-central1-a",
        guest_accelerators=[gcp.compute.InstanceGuestAcceleratorArgs(type="nvidia-tesla-t4", count=1)],
        boot_disk=gcp.compute.InstanceBootDiskArgs(
            initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(image="debian-12")
        ),
        network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(network="default")],
    )


# -- Kueue ---------------------------------------------------------------------------------------------


def kueue_cr(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None) -> None:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}", api_version="kueue.x-k8s.io/v1beta2", kind=kind, metadata=metadata, spec=spec
    )


def labelled_gpu_group(max_size: int = 2) -> None:
    aws.eks.NodeGroup(
        "gpu",
        cluster_name="gp",
        node_role_arn=ROLE,
        subnet_ids=["s"],
        instance_types=["g6.xlarge"],
        labels={"gpuplane.io/pool": "inference"},
        taints=GPU_TAINT_NG,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=max_size, desired_size=0),
    )


TOLERATE = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@insecure("platform-kueue-flavor-pool-match", "")
def kueue_flavor_selects_no_pool() -> None:
    labelled_gpu_group()
    kueue_cr("ResourceFlavor", "inference", {"nodeLabels": {"gpuplane.io/pool": "inferense"}, "tolerations": TOLERATE})


@compliant("platform-kueue-flavor-pool-match")
def kueue_flavor_matches_pool() -> None:
    labelled_gpu_group()
    kueue_cr("ResourceFlavor", "inference", {"nodeLabels": {"gpuplane.io/pool": "inference"}, "tolerations": TOLERATE})


@insecure("platform-kueue-quota-within-capacity", "")
def kueue_quota_above_capacity() -> None:
    labelled_gpu_group(max_size=2)
    kueue_cr("ResourceFlavor", "inference", {"nodeLabels": {"gpuplane.io/pool": "inference"}, "tolerations": TOLERATE})
    kueue_cr(
        "ClusterQueue",
        "team-a",
        {
            "namespaceSelector": {},
            "resourceGroups": [
                {
                    "coveredResources": ["nvidia.com/gpu"],
                    "flavors": [{"name": "inference", "resources": [{"name": "nvidia.com/gpu", "nominalQuota": 16}]}],
                }
            ],
        },
    )


# -- workloads, secrets, Helm ------------------------------------------------------------------------


GPU_CONTAINER = {"name": "t", "image": "t:1", "resources": {"limits": {"nvidia.com/gpu": 1}}}


@insecure("platform-workload-queue-label", "Job team-a/train requests GPUs but has no kueue.x-k8s.io/queue-name label")
def job_without_queue_label() -> None:
    k8s.batch.v1.Job(
        "train",
        metadata={"name": "train", "namespace": "team-a"},
        spec={"template": {"spec": {"restartPolicy": "Never", "containers": [GPU_CONTAINER]}}},
    )


@insecure("platform-workload-queue-label", "Deployment team-a/serve requests GPUs")
def deployment_without_queue_label() -> None:
    k8s.apps.v1.Deployment(
        "serve",
        metadata={"name": "serve", "namespace": "team-a"},
        spec={
            "selector": {"matchLabels": {"app": "s"}},
            "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [GPU_CONTAINER]}},
        },
    )


def _unwrap_secret_data(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A transformation that rebuilds the Secret's data from plain values: the SDK's secret marking is gone."""
    if args.type_ != "kubernetes:core/v1:Secret":
        return None
    props = dict(args.props)
    for key in ("string_data", "stringData"):
        if key in props:
            props[key] = {"password": "hunter2"}
    return pulumi.ResourceTransformationResult(props, args.opts)


@insecure("platform-credentials-secret", "has stringData.password in plaintext")
def secret_data_unwrapped_by_transformation() -> None:
    k8s.core.v1.Secret(
        "db",
        metadata={"name": "db", "namespace": "team-a"},
        string_data={"password": "hunter2"},
        opts=pulumi.ResourceOptions(transformations=[_unwrap_secret_data]),
    )


@compliant("platform-credentials-secret")
def secret_data_marked_by_the_sdk() -> None:
    k8s.core.v1.Secret("db", metadata={"name": "db", "namespace": "team-a"}, string_data={"password": "hunter2"})


@insecure("platform-credentials-secret", "provider k8s has kubeconfig in plaintext")
def provider_with_plain_kubeconfig() -> None:
    k8s.Provider(
        "k8s", kubeconfig='{"apiVersion": "v1", "kind": "Config", "users": [{"name": "a", "user": {"token": "t"}}]}'
    )


@insecure("platform-helm-hooks-supported", "relies on Helm hooks")
def chart_v4_hook_chart() -> None:
    k8s.helm.v4.Chart(
        "prom",
        chart="kube-prometheus-stack",
        version="88.5.3",
        namespace="monitoring",
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo="https://prometheus-community.github.io/helm-charts"),
    )


@insecure("platform-helm-compatibility-matrix", "")
def gateway_versions_mismatched() -> None:
    for name, chart, version in (("eg", "gateway-helm", "v1.9.0"), ("aigw", "ai-gateway-helm", "v1.1.0")):
        k8s.helm.v3.Release(
            name, chart=f"oci://docker.io/envoyproxy/{chart}", version=version, namespace="envoy-gateway-system"
        )


@insecure("platform-openfga-durable-datastore", "with datastore.engine memory")
def openfga_chart_v4_memory() -> None:
    k8s.helm.v4.Chart(
        "openfga",
        chart="openfga",
        version="0.3.12",
        namespace="openfga",
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo="https://openfga.github.io/helm-charts"),
        values={"datastore": {"engine": "memory"}},
    )


@insecure("conformance-stack-ai-requirements", "missing", level="advisory")
def eks_monitors_without_prometheus() -> None:
    eks_cluster()
    k8s.storage.v1.StorageClass("gp3", metadata={"name": "gp3"}, provisioner="ebs.csi.aws.com")
    for kind in ("ServiceMonitor", "PodMonitor"):
        k8s.apiextensions.CustomResource(
            kind.lower(),
            api_version="monitoring.coreos.com/v1",
            kind=kind,
            metadata={"name": "dcgm", "namespace": "gpu-operator", "labels": {"release": "nobody"}},
            spec={"selector": {"matchLabels": {"app": "dcgm"}}},
        )
