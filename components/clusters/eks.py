"""An EKS cluster with GPU managed node groups that scale from zero, as a :class:`GpuCluster`.

What it builds (every child is parented to the component and named ``f"{name}-{role}"``):

- Network: ``{name}-vpc`` (``vpc_cidr``, DNS support and hostnames on), ``{name}-igw``, a public and a
  private subnet in each of two availability zones chosen by :func:`choose_zones` from where EC2
  offers the node groups' instance types (``ec2:DescribeInstanceTypeOfferings``, location type
  availability-zone, at deploy time) or pinned by ``gpuPools[].zones`` (``{name}-public-subnet-{i}``,
  ``{name}-private-subnet-{i}``), one public route table to the internet gateway, and NAT gateways
  with Elastic IPs: one in the first AZ for development stacks, one per AZ when ``spec.production``
  (so losing an AZ does not cut the other AZ's nodes off). Each private subnet has its own route
  table pointing at "its" NAT gateway. Subnets carry ``kubernetes.io/cluster/<cluster>=shared`` and
  the load-balancer role tags (``kubernetes.io/role/elb`` public, ``.../internal-elb`` private) that
  the AWS cloud controller and the AWS Load Balancer Controller use to place load balancers.
- Control plane: ``{name}-cluster`` (``aws.eks.Cluster`` named ``spec.cluster_name``) with envelope
  encryption of Secrets under ``{name}-kms-key`` (rotation on), all five control-plane log types to
  ``{name}-log-group`` (``/aws/eks/<cluster>/cluster``, created first so EKS does not create an
  unmanaged, never-expiring one), a private endpoint always and a public one only for
  ``apiAccess.mode: public`` restricted to ``allowedCidrs``, and access entries (``API`` mode) with
  the creator bootstrapped as cluster admin.
- IAM: a cluster role (``AmazonEKSClusterPolicy`` + use of the KMS key only), a node role
  (``AmazonEKSWorkerNodePolicy``, ``AmazonEC2ContainerRegistryPullOnly`` — *not* the CNI policy) and
  three EKS Pod Identity roles, each assumable only by one service account of this cluster (session
  tags ``eks-cluster-arn``, ``kubernetes-namespace``, ``kubernetes-service-account``):
  ``{name}-vpc-cni-role`` (``AmazonEKS_CNI_Policy`` for ``aws-node``), ``{name}-ebs-csi-role``
  (``AmazonEBSCSIDriverPolicy``) and the autoscaler role (below).
- Pod networking: ``{name}-pod-identity-agent`` (hostNetwork DaemonSet add-on, created with the
  cluster) and ``{name}-vpc-cni``, the VPC CNI as a managed EKS add-on with
  ``{"enableNetworkPolicy": "true"}`` and its Pod Identity association, both before every node group.
- Nodes: ``{name}-system-nodes`` (AL2023 standard AMI, ``spec.system_instance_type()``, label
  ``gpuplane.io/pool=system``, no taint) and one ``{name}-gpu-{pool}`` managed node group per GPU pool
  (``AL2023_x86_64_NVIDIA``, the catalog's instance type, spot or on-demand, the pool's labels plus
  ``k8s.amazonaws.com/accelerator`` and its taints as declared once in the spec), each with its own
  ``{name}-{group}-lt`` launch template: IMDSv2 required, hop limit 1 (pods cannot reach the node
  role's credentials), encrypted gp3 root volume on ``/dev/xvda``; only in the subnets of the zones
  that offer its instance type. ``desiredSize`` is the live Auto Scaling group's desired capacity
  (looked up by tags at deploy time) kept within ``[minNodes, maxNodes]``; ``minNodes`` on creation.
- Storage: ``{name}-ebs-csi`` (the ``aws-ebs-csi-driver`` add-on, after the system nodes) and
  ``{name}-gp3``, the default StorageClass (``ebs.csi.aws.com``, gp3, encrypted, WaitForFirstConsumer,
  Delete); :attr:`storage_dependencies` is what add-ons with volumes wait for.
- Scale from zero: ``{name}-autoscaler-role`` with
  ``{name}-autoscaler-policy`` and ``{name}-autoscaler-pod-identity`` (kube-system/cluster-autoscaler),
  ``aws.autoscaling.Tag`` node-template hints on every GPU node group's ASG, and
  ``{name}-cluster-autoscaler``, the cluster-autoscaler Helm chart (``helm.v3.Release``) on the
  system pool. See ``docs/decisions/eks-scale-from-zero.md`` for why cluster-autoscaler and not
  Karpenter.
- ``{name}-provider``: a ``pulumi_kubernetes.Provider`` from an exec-based kubeconfig
  (``aws eks get-token``), a Pulumi secret like the kubeconfig itself, created after the system node
  group: every Kubernetes object waits for schedulable nodes, and on destroy is deleted while the
  nodes (and the controllers on them) still run.

Why these choices / upstream gotchas:

- Managed node groups do nothing by themselves beyond ``min``: without an autoscaler ``maxNodes`` is
  decoration (modelplaneai/modelplane#166), so the autoscaler is part of the cluster, not an add-on.
- A zero-node group has no node for cluster-autoscaler to copy. Since Kubernetes 1.24 it reads labels,
  taints and the instance type of a managed node group from ``eks:DescribeNodegroup``; the ASG tags
  ``k8s.io/cluster-autoscaler/node-template/{label,taint,resources}/...`` are added as well because
  they take precedence and state the schedulable ``nvidia.com/gpu`` units per node *after* time-slicing
  or MIG (the EC2 instance table only knows physical GPUs, so a time-sliced pool would look too small).
  Tags set on ``aws.eks.NodeGroup`` are *not* copied to its Auto Scaling group
  (aws/containers-roadmap#608, pulumi/pulumi-eks#658), hence the separate ``aws.autoscaling.Tag``
  resources on ``node_group.resources[0].autoscaling_groups[0]``.
- ``scalingConfig.desiredSize`` is owned by the autoscaler, but it is *not* in ``ignore_changes``:
  the AWS provider (terraform-provider-aws ``internal/service/eks/node_group.go``) sends the whole
  ``scaling_config`` — ``desired_size`` is a required field — on every scaling update, so with it
  ignored a raised ``minNodes`` goes out with the old desired size and EKS rejects the update. The
  live size is read instead (``autoscaling:DescribeAutoScalingGroups`` filtered on the
  ``eks:cluster-name`` tag and the pool's node-template label tag) and kept within the new bounds.
- cluster-autoscaler's AWS provider reads GPU nodes by ``k8s.amazonaws.com/accelerator``
  (``GPULabel``, cloudprovider/aws/aws_cloud_provider.go at cluster-autoscaler-1.34.5): a node with the
  label but no allocatable GPU yet counts as unready instead of as a node without GPUs, which is what
  stops it from adding more GPU nodes while the device plugin starts. The label is on the node group
  and in the ASG node-template tags (zero-node groups).
- The GPU taint must be declared on the node group (EKS spelling ``NO_SCHEDULE``) *and* in the ASG
  hint (Kubernetes spelling ``true:NoSchedule``); a taint the autoscaler does not know about makes it
  scale up groups whose nodes can never take the pending pod. GPU daemonsets must tolerate it
  (eksctl-io/eksctl#8550, awslabs/ai-on-eks#237) — add-ons read it from :attr:`gpu_pools`.
- ``AL2023_x86_64_NVIDIA`` ships the NVIDIA driver and container toolkit: the GPU operator must run
  with both disabled on EKS. GPU images are large, so GPU nodes get ``GPU_DISK_GIB`` root volumes in
  their launch template (EKS rejects ``disk_size`` together with a launch template).
- The autoscaler may only resize/terminate in Auto Scaling groups tagged
  ``k8s.io/cluster-autoscaler/<cluster>=owned`` (EKS adds that tag to managed node group ASGs, and it
  is the tag auto-discovery looks for) and may describe only this cluster's node groups.
- The cluster-autoscaler image minor must equal the cluster's Kubernetes minor; the chart pin and the
  image tags per minor are the constants below, so an unsupported ``kubernetesVersion`` fails here.
- With ``apiAccess.mode: private`` the API has no public endpoint: whatever runs ``pulumi up`` must be
  inside the VPC (or peered/VPN'd into it), or the Helm release and every add-on cannot be applied.
- NetworkPolicies (the add-ons' fences around Valkey, Postgres, ...) are accepted by the API server
  but *not enforced* on EKS unless the VPC CNI's network policy agent is on, and EKS ships it off
  (docs: "Restrict Pod network traffic with Kubernetes network policies"). The cluster's bootstrap
  self-managed ``vpc-cni`` is taken over as a managed add-on (``resolve_conflicts_on_create=
  OVERWRITE``) with ``enableNetworkPolicy`` (a *string* in the add-on's configuration schema), before
  any node joins, so no node ever runs pods without the policy agent. No ``addon_version`` is pinned:
  EKS picks its default for the cluster's minor. Network policy needs ``v1.14.0-eksbuild.3`` or later
  (2023; the user guide lists ``v1.20.1-eksbuild.3`` for 1.27-1.33), the EKS AMIs for 1.27+ bring
  the kernel (>= 5.10) and the mounted BPF file system it needs; the default for 1.34 was not
  checked against the EKS API here.
  ``preserve=True``: deleting the add-on resource leaves ``aws-node`` running instead of removing
  pod networking from a live cluster. Standard enforcing mode: a new pod is reachable until its
  policies are programmed (seconds); ``NETWORK_POLICY_ENFORCING_MODE=strict`` would need policies
  for CoreDNS and every other system pod.
- ``authentication_mode="API"``: no ``aws-auth`` ConfigMap; EKS creates the access entries for managed
  node group roles itself. Only the IAM identity that creates the cluster is admin; grant others with
  ``aws.eks.AccessEntry``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_aws import autoscaling, cloudwatch, ec2, eks, iam, kms

from components.clusters.contract import GpuPoolScheduling
from components.spec import (
    ASG_NODE_TEMPLATE_PREFIX,
    AWS_ZONE_COUNT,
    GPU_RESOURCE,
    POOL_LABEL,
    SYSTEM_POOL_NAME,
    GpuPool,
    PlatformSpec,
    Taint,
)
from components.versions import CLUSTER_AUTOSCALER, CLUSTER_AUTOSCALER_IMAGE_TAGS

if TYPE_CHECKING:
    from components.clusters.contract import GpuCluster


AUTOSCALER_NAMESPACE = "kube-system"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
SYSTEM_POOL = SYSTEM_POOL_NAME  # the spec rejects GPU pools with this name
AZ_COUNT = AWS_ZONE_COUNT
GPU_DISK_GIB = 200
SYSTEM_DISK_GIB = 50
LOG_RETENTION_DAYS = 90
KMS_DELETION_WINDOW_DAYS = 30
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
ROOT_DEVICE = "/dev/xvda"
"""The root device of the EKS AL2023 AMIs: the launch template's volume must use this name to replace it."""
IMDS_HOP_LIMIT = 1
"""IMDSv2 responses never leave the node's own network namespace: pods (one hop further) get no node
credentials. ``hostNetwork`` pods (aws-node, kube-proxy, the Pod Identity agent) are on the host."""

VPC_CNI_ADDON = "vpc-cni"
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
VPC_CNI_CONFIGURATION: Mapping[str, Any] = {"enableNetworkPolicy": "true"}
"""The VPC CNI add-on's configuration: a string ``"true"``, as in the add-on's configuration schema."""
POD_IDENTITY_AGENT_ADDON = "eks-pod-identity-agent"
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy"
CNI_POLICY = "AmazonEKS_CNI_Policy"
DEFAULT_STORAGE_CLASS = "gp3"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"

ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
"""cluster-autoscaler's AWS GPU label (``GPULabel`` in cloudprovider/aws/aws_cloud_provider.go). A node
that has it but no allocatable ``nvidia.com/gpu`` yet is treated as unready (GpuCustomResourcesProcessor),
so the autoscaler does not add more GPU nodes while the first one's device plugin starts."""

NODE_TEMPLATE_PREFIX = ASG_NODE_TEMPLATE_PREFIX

EKS_TAINT_EFFECTS: Mapping[str, str] = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}

AUTOSCALER_DESCRIBE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
AUTOSCALER_SCALE_ACTIONS = (
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
)


@dataclass(frozen=True, kw_only=True)
class EksGpuClusterArgs:
    """Arguments of :class:`EksGpuCluster`.

    ``spec`` must be an ``aws`` spec; ``vpc_cidr`` is the IPv4 block of the new VPC (/16 to /20): the
    first half holds the two private (node) subnets, the second half the two smaller public ones.
    """

    spec: PlatformSpec
    vpc_cidr: str = "10.0.0.0/16"

    def __post_init__(self) -> None:
        spec = self.spec
        if spec.cloud != "aws":
            raise ValueError(f"spec.cloud: EksGpuCluster needs an aws spec, got {spec.cloud!r}")
        # Every Kubernetes minor the spec accepts has a pinned autoscaler image (checked in test_eks.py).
        try:
            network = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError as exc:
            raise ValueError(f"vpc_cidr: {self.vpc_cidr!r} is not a CIDR block: {exc}") from None
        if not isinstance(network, ipaddress.IPv4Network) or not 16 <= network.prefixlen <= 20:
            raise ValueError(f"vpc_cidr: {self.vpc_cidr!r} must be an IPv4 block from /16 to /20")
        # Label and taint keys that fit an Auto Scaling group tag are guaranteed by the spec.

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(private, public) subnet CIDRs, one per AZ."""
        network = ipaddress.IPv4Network(self.vpc_cidr)
        private_half, public_half = network.subnets(prefixlen_diff=1)
        private = [str(s) for s in list(private_half.subnets(prefixlen_diff=1))[:AZ_COUNT]]
        public = [str(s) for s in list(public_half.subnets(prefixlen_diff=3))[:AZ_COUNT]]
        return private, public


@dataclass(frozen=True)
class ZonePlan:
    """The VPC's availability zones and, per node group (``system`` and each GPU pool), the subset its
    instance type is offered in."""

    cluster: tuple[str, ...]
    pools: Mapping[str, tuple[str, ...]]


class ZoneError(ValueError):
    """No availability-zone layout satisfies the pools (raised at deploy time, naming the key)."""


class EksGpuCluster(pulumi.ComponentResource):
    """An EKS cluster whose GPU node groups scale from zero. See the module docstring."""

    cluster_name: pulumi.Output[str]
    """The EKS cluster's name (``spec.cluster_name``, known once the cluster exists)."""
    kubeconfig: pulumi.Output[str]
    """Exec-based kubeconfig (``aws eks get-token``), always a Pulumi secret."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster (created after the system node group); add-ons take
    ``providers=[cluster.provider]``."""
    native: eks.Cluster
    """The ``aws.eks.Cluster``; in-cluster objects that own no cloud resource are ``deleted_with`` it."""
    gpu_pools: list[GpuPoolScheduling]
    """Labels/taints/instance type of each GPU pool, plain values, in spec order."""
    vpc: ec2.Vpc
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    zone_plan: pulumi.Output[ZonePlan]
    system_node_group: eks.NodeGroup
    gpu_node_groups: dict[str, eks.NodeGroup]
    """GPU managed node groups by pool name."""
    launch_templates: dict[str, ec2.LaunchTemplate]
    """Launch template per node group (``system`` and each GPU pool): IMDSv2 only, hop limit 1."""
    vpc_cni: eks.Addon
    """The managed ``vpc-cni`` add-on (network policy agent on, own Pod Identity role)."""
    pod_identity_agent: eks.Addon
    ebs_csi: eks.Addon
    """The ``aws-ebs-csi-driver`` add-on (own Pod Identity role)."""
    storage_class: k8s.storage.v1.StorageClass
    """The default ``gp3`` StorageClass (encrypted, WaitForFirstConsumer)."""
    storage_dependencies: list[pulumi.Resource]
    """What a PersistentVolumeClaim needs before it can bind: add-ons with volumes depend on these."""
    autoscaler_role: iam.Role
    autoscaler_release: k8s.helm.v3.Release

    def __init__(self, name: str, args: EksGpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:clusters:EksGpuCluster", name, None, opts)
        spec = args.spec
        self._name = name
        self._spec = spec
        self._tags: dict[str, str] = {**spec.tags, "gpuplane.io/cluster": spec.cluster_name}
        self._invoke = pulumi.InvokeOutputOptions(parent=self)
        self._partition = aws.get_partition_output(opts=self._invoke).apply(lambda p: p.partition)
        region = aws.get_region_output(opts=self._invoke).apply(lambda r: r.region)

        self._build_network(args)
        cluster_role, node_role, node_policies = self._build_iam()
        self.native = self._build_control_plane(cluster_role)
        self.cluster_name = self.native.name
        self._build_pod_networking()
        self._build_node_groups(node_role, [*node_policies, self.vpc_cni, self.pod_identity_agent])
        self.gpu_pools = [GpuPoolScheduling.of(pool, spec.offering(pool).instance_type) for pool in spec.gpu_pools]

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                name=self.native.name,
                endpoint=self.native.endpoint,
                ca=self.native.certificate_authority.apply(lambda ca: ca.data or ""),
                region=region,
            ).apply(lambda v: render_kubeconfig(v["name"], v["endpoint"], v["ca"], v["region"]))
        )
        # Nothing can be scheduled before the system nodes exist; every Kubernetes object waits for them
        # (and on destroy is deleted before them, while their controllers still run).
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group]),
        )
        self._build_storage()
        self._build_autoscaler(region)

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "endpoint": self.native.endpoint,
                "vpcId": self.vpc.id,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    # --- helpers --------------------------------------------------------------------------------

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _tagged(self, role: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self._tags, "Name": f"{self._spec.cluster_name}-{role}", **(extra or {})}

    def _managed_policy(self, policy: str) -> pulumi.Output[str]:
        return self._partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

    def _node_group_types(self) -> dict[str, str]:
        """Instance type per node group: ``system`` and each GPU pool."""
        spec = self._spec
        return {
            SYSTEM_POOL: spec.system_instance_type(),
            **{p.name: spec.offering(p).instance_type for p in spec.gpu_pools},
        }

    # --- network --------------------------------------------------------------------------------

    def _build_network(self, args: EksGpuClusterArgs) -> None:
        name, spec = self._name, self._spec
        shared = {f"kubernetes.io/cluster/{spec.cluster_name}": "shared"}
        zones = aws.get_availability_zones_output(state="available", opts=self._invoke)
        types = self._node_group_types()
        offerings = ec2.get_instance_type_offerings_output(
            filters=[ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type", values=sorted(set(types.values())))],
            location_type="availability-zone",
            opts=self._invoke,
        )
        pinned = {pool.name: tuple(pool.zones) for pool in spec.gpu_pools if pool.zones}
        self.zone_plan = pulumi.Output.all(zones.names, offerings.instance_types, offerings.locations).apply(
            lambda v: choose_zones(v[0], offered_zones(v[1], v[2]), types, pinned, AZ_COUNT)
        )
        private_cidrs, public_cidrs = args.subnet_cidrs()

        self.vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tagged("vpc", shared),
            opts=self._opts(),
        )
        igw = ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=self._tagged("igw"), opts=self._opts())
        public_rt = ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=self._tagged("public-rt"),
            opts=self._opts(),
        )

        public: list[ec2.Subnet] = []
        private: list[ec2.Subnet] = []
        for i in range(AZ_COUNT):
            zone = self.zone_plan.apply(lambda plan, i=i: plan.cluster[i])
            public.append(
                ec2.Subnet(
                    f"{name}-public-subnet-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=public_cidrs[i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=self._tagged(f"public-{i}", {**shared, "kubernetes.io/role/elb": "1"}),
                    opts=self._opts(),
                )
            )
            private.append(
                ec2.Subnet(
                    f"{name}-private-subnet-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=private_cidrs[i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=self._tagged(f"private-{i}", {**shared, "kubernetes.io/role/internal-elb": "1"}),
                    opts=self._opts(),
                )
            )
            ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}", subnet_id=public[i].id, route_table_id=public_rt.id, opts=self._opts()
            )

        nat_count = AZ_COUNT if spec.production else 1
        nats: list[ec2.NatGateway] = []
        for i in range(nat_count):
            eip = ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", tags=self._tagged(f"nat-{i}"), opts=self._opts())
            nats.append(
                ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags=self._tagged(f"nat-{i}"),
                    opts=self._opts(depends_on=[igw]),
                )
            )
        for i in range(AZ_COUNT):
            nat = nats[i % nat_count]
            rt = ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=self.vpc.id,
                routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=self._tagged(f"private-rt-{i}"),
                opts=self._opts(),
            )
            ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}", subnet_id=private[i].id, route_table_id=rt.id, opts=self._opts()
            )

        self.private_subnet_ids = [s.id for s in private]
        self.public_subnet_ids = [s.id for s in public]

    def _pool_subnets(self, pool: str) -> pulumi.Output[list[str]]:
        """The private subnets in the zones where ``pool``'s instance type is offered."""
        return pulumi.Output.all(self.zone_plan, *self.private_subnet_ids).apply(
            lambda v: [subnet for zone, subnet in zip(v[0].cluster, v[1:], strict=True) if zone in v[0].pools[pool]]
        )

    # --- IAM ------------------------------------------------------------------------------------

    def _build_iam(self) -> tuple[iam.Role, iam.Role, list[pulumi.Resource]]:
        name = self._name
        cluster_role = iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=service_trust_policy("eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            description=f"EKS control plane of {self._spec.cluster_name}",
            tags=self._tags,
            opts=self._opts(),
        )
        self._cluster_policy = iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=self._managed_policy("AmazonEKSClusterPolicy"),
            opts=self._opts(),
        )
        node_role = iam.Role(
            f"{name}-node-role",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com", ["sts:AssumeRole"]),
            description=f"EKS managed nodes of {self._spec.cluster_name}",
            tags=self._tags,
            opts=self._opts(),
        )
        # No AmazonEKS_CNI_Policy here: ENI create/delete belongs to aws-node's own role (Pod Identity).
        node_policies: list[pulumi.Resource] = [
            iam.RolePolicyAttachment(
                f"{name}-node-{role}",
                role=node_role.name,
                policy_arn=self._managed_policy(policy),
                opts=self._opts(),
            )
            for role, policy in (
                ("worker-policy", "AmazonEKSWorkerNodePolicy"),
                ("ecr-policy", "AmazonEC2ContainerRegistryPullOnly"),
            )
        ]
        return cluster_role, node_role, node_policies

    def _pod_identity_role(
        self, role: str, namespace: str, service_account: str, managed_policy: str
    ) -> tuple[iam.Role, iam.RolePolicyAttachment]:
        """A role only ``namespace/service_account`` of this cluster can assume, with one managed policy."""
        name = self._name
        iam_role = iam.Role(
            f"{name}-{role}-role",
            assume_role_policy=pod_identity_trust_policy(namespace, service_account, self.native.arn),
            description=f"{namespace}/{service_account} of EKS cluster {self._spec.cluster_name}",
            tags=self._tags,
            opts=self._opts(),
        )
        attachment = iam.RolePolicyAttachment(
            f"{name}-{role}-policy",
            role=iam_role.name,
            policy_arn=self._managed_policy(managed_policy),
            opts=self._opts(),
        )
        return iam_role, attachment

    # --- control plane --------------------------------------------------------------------------

    def _build_control_plane(self, cluster_role: iam.Role) -> eks.Cluster:
        name, spec = self._name, self._spec
        key = kms.Key(
            f"{name}-kms-key",
            description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {spec.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            tags=self._tags,
            opts=self._opts(),
        )
        key_use = iam.RolePolicy(
            f"{name}-cluster-kms-policy",
            role=cluster_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "EnvelopeEncryptionOfSecrets",
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                            "Resource": key.arn,
                        }
                    ],
                }
            ),
            opts=self._opts(),
        )
        log_group = cloudwatch.LogGroup(
            f"{name}-log-group",
            name=f"/aws/eks/{spec.cluster_name}/cluster",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=self._tags,
            opts=self._opts(),
        )
        public = spec.api_access.mode == "public"
        return eks.Cluster(
            f"{name}-cluster",
            name=spec.cluster_name,
            version=spec.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=eks.ClusterVpcConfigArgs(
                subnet_ids=self.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(spec.api_access.allowed_cidrs) if public else None,
            ),
            encryption_config=eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            deletion_protection=spec.production,
            tags=self._tags,
            opts=self._opts(depends_on=[log_group, self._cluster_policy, key_use]),
        )

    # --- pod networking and Pod Identity ----------------------------------------------------------

    def _build_pod_networking(self) -> None:
        """The Pod Identity agent, then the VPC CNI on its own role, both before any node joins."""
        name = self._name
        # hostNetwork DaemonSet: needs no CNI, so it can exist before the nodes and serve aws-node's
        # credentials when the first node starts.
        self.pod_identity_agent = eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=self.native.name,
            addon_name=POD_IDENTITY_AGENT_ADDON,
            tags=self._tags,
            opts=self._opts(),
        )
        cni_role, cni_policy = self._pod_identity_role("vpc-cni", "kube-system", VPC_CNI_SERVICE_ACCOUNT, CNI_POLICY)
        self.vpc_cni = eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=self.native.name,
            addon_name=VPC_CNI_ADDON,
            # No addon_version: EKS installs its default version for the cluster's Kubernetes minor.
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION),
            pod_identity_associations=[
                eks.AddonPodIdentityAssociationArgs(role_arn=cni_role.arn, service_account=VPC_CNI_SERVICE_ACCOUNT)
            ],
            # EKS installs a self-managed vpc-cni with the cluster; taking it over must not fail on
            # fields that differ from the add-on's defaults, and later updates restore this config.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            # Deleting the add-on would delete aws-node with it and cut every new pod off the network.
            preserve=True,
            tags=self._tags,
            opts=self._opts(depends_on=[cni_policy, self.pod_identity_agent]),
        )

    # --- node groups ----------------------------------------------------------------------------

    def _launch_template(self, group: str, disk_gib: int) -> ec2.LaunchTemplate:
        """IMDSv2 only with hop limit 1, and the encrypted gp3 root volume (so no ``disk_size``)."""
        return ec2.LaunchTemplate(
            f"{self._name}-{group}-lt",
            description=f"EKS node group {group} of {self._spec.cluster_name}",
            update_default_version=True,
            metadata_options=ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=IMDS_HOP_LIMIT,
            ),
            block_device_mappings=[
                ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=disk_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=self._tagged(group))
                for kind in ("instance", "volume")
            ],
            tags=self._tags,
            opts=self._opts(),
        )

    def _desired_size(self, pool: str, min_nodes: int, max_nodes: int) -> pulumi.Output[int]:
        """The node group's desired size: what its Auto Scaling group runs now (the autoscaler owns it),
        raised to ``min_nodes`` and capped at ``max_nodes``; ``min_nodes`` before the group exists.

        Not ``ignore_changes``: the AWS provider sends ``desiredSize`` with every scaling update (it is a
        required field of ``scaling_config``), and with it ignored the old value goes out with a raised
        ``minSize`` and EKS rejects the update (desired below minimum)."""
        spec = self._spec
        groups = autoscaling.get_ami_ids_output(
            filters=[
                autoscaling.GetAmiIdsFilterArgs(name="tag:eks:cluster-name", values=[spec.cluster_name]),
                autoscaling.GetAmiIdsFilterArgs(name=f"tag:{NODE_TEMPLATE_PREFIX}/label/{POOL_LABEL}", values=[pool]),
            ],
            opts=self._invoke,
        )

        def live(names: Sequence[str]) -> pulumi.Output[int]:
            if not names:
                return pulumi.Output.from_input(min_nodes)
            group = autoscaling.get_group_output(name=names[0], opts=self._invoke)
            return group.desired_capacity.apply(lambda current: desired_size(current, min_nodes, max_nodes))

        return groups.names.apply(live)

    def _build_node_groups(self, node_role: iam.Role, before: Sequence[pulumi.Resource]) -> None:
        """Every node group waits for ``before``: the node role's policies, the VPC CNI and the Pod
        Identity agent (aws-node's credentials)."""
        name, spec = self._name, self._spec
        common: dict[str, Any] = {
            "cluster_name": self.native.name,
            "version": self.native.version,
            "node_role_arn": node_role.arn,
            "update_config": eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        }
        opts = self._opts(depends_on=list(before))
        self.launch_templates = {}
        system = spec.system_pool
        template = self.launch_templates[SYSTEM_POOL] = self._launch_template("system-nodes", SYSTEM_DISK_GIB)
        self.system_node_group = eks.NodeGroup(
            f"{name}-system-nodes",
            ami_type=SYSTEM_AMI_TYPE,
            instance_types=[spec.system_instance_type()],
            capacity_type="ON_DEMAND",
            launch_template=launch_template_ref(template),
            subnet_ids=self._pool_subnets(SYSTEM_POOL),
            scaling_config=eks.NodeGroupScalingConfigArgs(
                min_size=system.min_nodes,
                desired_size=self._desired_size(SYSTEM_POOL, system.min_nodes, system.max_nodes),
                max_size=system.max_nodes,
            ),
            labels={POOL_LABEL: SYSTEM_POOL},
            tags=self._tagged("system-nodes"),
            opts=opts,
            **common,
        )
        self._tag_asg(
            SYSTEM_POOL,
            self.system_node_group,
            [("label-gpuplane-io-pool", f"{NODE_TEMPLATE_PREFIX}/label/{POOL_LABEL}", SYSTEM_POOL)],
        )
        self.gpu_node_groups = {}
        for pool in spec.gpu_pools:
            template = self.launch_templates[pool.name] = self._launch_template(f"gpu-{pool.name}", GPU_DISK_GIB)
            node_group = eks.NodeGroup(
                f"{name}-gpu-{pool.name}",
                ami_type=GPU_AMI_TYPE,
                instance_types=[spec.offering(pool).instance_type],
                capacity_type="SPOT" if pool.spot else "ON_DEMAND",
                launch_template=launch_template_ref(template),
                subnet_ids=self._pool_subnets(pool.name),
                scaling_config=eks.NodeGroupScalingConfigArgs(
                    min_size=pool.min_nodes,
                    desired_size=self._desired_size(pool.name, pool.min_nodes, pool.max_nodes),
                    max_size=pool.max_nodes,
                ),
                labels=gpu_node_labels(pool),
                taints=[eks_taint(t) for t in pool.node_taints],
                tags=self._tagged(f"gpu-{pool.name}"),
                opts=opts,
                **common,
            )
            self.gpu_node_groups[pool.name] = node_group
            self._tag_asg(f"gpu-{pool.name}", node_group, node_template_tags(pool))

    def _tag_asg(self, group: str, node_group: eks.NodeGroup, tags: Sequence[tuple[str, str, str]]) -> None:
        asg = node_group.resources.apply(first_asg_name)
        for role, key, value in tags:
            autoscaling.Tag(
                f"{self._name}-{group}-asg-{role}",
                autoscaling_group_name=asg,
                tag=autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=self._opts(),
            )

    # --- storage --------------------------------------------------------------------------------

    def _build_storage(self) -> None:
        """The EBS CSI driver on its own role and a default encrypted gp3 StorageClass: EKS 1.30+ marks
        no StorageClass default, so a PVC without a class would stay Pending forever."""
        name = self._name
        role, policy = self._pod_identity_role("ebs-csi", "kube-system", EBS_CSI_SERVICE_ACCOUNT, EBS_CSI_POLICY)
        self.ebs_csi = eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=self.native.name,
            addon_name=EBS_CSI_ADDON,
            pod_identity_associations=[
                eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT)
            ],
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags,
            # The controller is a Deployment: the add-on is only ACTIVE once the system nodes run it.
            opts=self._opts(depends_on=[policy, self.pod_identity_agent, self.system_node_group]),
        )
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DEFAULT_STORAGE_CLASS,
                annotations={DEFAULT_CLASS_ANNOTATION: "true"},
                labels={"app.kubernetes.io/managed-by": "gpuplane"},
            ),
            provisioner=EBS_CSI_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Delete",
            allow_volume_expansion=True,
            # Not deleted_with the cluster: it is deleted after every PVC owner (they depend on it) and
            # before the CSI driver, which must still run to delete their volumes.
            opts=self._opts(provider=self.provider, depends_on=[self.ebs_csi]),
        )
        self.storage_dependencies = [self.ebs_csi, self.storage_class]

    # --- autoscaler -----------------------------------------------------------------------------

    def _build_autoscaler(self, region: pulumi.Output[str]) -> None:
        name, spec = self._name, self._spec
        self.autoscaler_role = iam.Role(
            f"{name}-autoscaler-role",
            assume_role_policy=pod_identity_trust_policy(
                AUTOSCALER_NAMESPACE, AUTOSCALER_SERVICE_ACCOUNT, self.native.arn
            ),
            description=f"cluster-autoscaler of EKS cluster {spec.cluster_name}",
            tags=self._tags,
            opts=self._opts(),
        )
        node_groups = [self.system_node_group, *self.gpu_node_groups.values()]
        policy = iam.RolePolicy(
            f"{name}-autoscaler-policy",
            role=self.autoscaler_role.id,
            policy=autoscaler_policy(self.native.name, [ng.arn for ng in node_groups]),
            opts=self._opts(),
        )
        association = eks.PodIdentityAssociation(
            f"{name}-autoscaler-pod-identity",
            cluster_name=self.native.name,
            namespace=AUTOSCALER_NAMESPACE,
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            role_arn=self.autoscaler_role.arn,
            tags=self._tags,
            opts=self._opts(depends_on=[policy]),
        )
        self.autoscaler_release = k8s.helm.v3.Release(
            f"{name}-cluster-autoscaler",
            k8s.helm.v3.ReleaseArgs(
                name="cluster-autoscaler",
                chart=CLUSTER_AUTOSCALER.chart,
                version=CLUSTER_AUTOSCALER.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CLUSTER_AUTOSCALER.repository),
                namespace=AUTOSCALER_NAMESPACE,
                values=autoscaler_values(self.native.name, region, spec.kubernetes_version),
            ),
            opts=self._opts(
                provider=self.provider,
                deleted_with=self.native,
                depends_on=[self.pod_identity_agent, association, *node_groups],
            ),
        )


# --- pure helpers (plain values in, plain values or Outputs out) ----------------------------------


def service_trust_policy(service: str, actions: Sequence[str]) -> str:
    """A role trust policy letting one AWS service principal assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}],
        }
    )


def pod_identity_trust_policy(
    namespace: str, service_account: str, cluster_arn: pulumi.Input[str]
) -> pulumi.Output[str]:
    """EKS Pod Identity trust, narrowed to one service account of one cluster by the session tags EKS
    adds (``eks-cluster-arn``, ``kubernetes-namespace``, ``kubernetes-service-account``)."""
    return pulumi.Output.from_input(cluster_arn).apply(
        lambda arn: pod_identity_trust_document(namespace, service_account, arn)
    )


def pod_identity_trust_document(namespace: str, service_account: str, cluster_arn: str) -> str:
    """The JSON of :func:`pod_identity_trust_policy` for known values."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {
                            "aws:RequestTag/eks-cluster-arn": cluster_arn,
                            "aws:RequestTag/kubernetes-namespace": namespace,
                            "aws:RequestTag/kubernetes-service-account": service_account,
                        }
                    },
                }
            ],
        }
    )


def offered_zones(instance_types: Sequence[str], locations: Sequence[str]) -> dict[str, set[str]]:
    """``DescribeInstanceTypeOfferings`` (location type availability-zone) as instance type -> zones."""
    offered: dict[str, set[str]] = {}
    for instance_type, zone in zip(instance_types, locations, strict=True):
        offered.setdefault(instance_type, set()).add(zone)
    return offered


def choose_zones(
    available: Sequence[str],
    offered: Mapping[str, set[str]],
    types: Mapping[str, str],
    pinned: Mapping[str, Sequence[str]],
    count: int,
) -> ZonePlan:
    """The VPC's ``count`` zones and each node group's share of them.

    ``types``: node group -> instance type; ``pinned``: node group -> zones the spec insists on. Pinned
    zones come first; then, while some group has no zone, the zone serving most uncovered groups; then
    the zones serving most groups, until ``count``. Ties go to the region's zone order. A group whose
    type is offered in no available zone, or zones that cannot fit, raise :class:`ZoneError`."""
    order = {zone: i for i, zone in enumerate(available)}
    candidates: dict[str, set[str]] = {}
    problems: list[str] = []
    for group, instance_type in types.items():
        where = offered.get(instance_type, set()) & set(available)
        if group in pinned:
            missing = sorted(set(pinned[group]) - where)
            if missing:
                problems.append(
                    f"gpuPools[{group}].zones: EC2 does not offer {instance_type} in {', '.join(missing)} "
                    f"(offered in: {', '.join(sorted(where, key=order.__getitem__)) or 'no available zone'})"
                )
            where = set(pinned[group]) & where
        if not where:
            problems.append(f"{group}: EC2 offers {instance_type} in no available zone of the region")
        candidates[group] = where
    if problems:
        raise ZoneError("; ".join(problems))
    chosen: list[str] = sorted({z for zones in pinned.values() for z in zones}, key=order.__getitem__)

    def best(pool_groups: Sequence[str]) -> str | None:
        scores = [
            (sum(zone in candidates[g] for g in pool_groups), -order[zone]) for zone in available if zone not in chosen
        ]
        top = max(scores, default=(0, 0))
        return None if top[0] == 0 else available[-top[1]]

    while uncovered := [g for g in types if not candidates[g] & set(chosen)]:
        zone = best(uncovered)
        assert zone is not None, "every group has a candidate zone"
        chosen.append(zone)
    while len(chosen) < count and (zone := best(list(types))) is not None:
        chosen.append(zone)
    if len(chosen) != count:
        raise ZoneError(
            f"the node groups need the zones {', '.join(chosen)}; the EKS VPC spans exactly {count} "
            "(pin gpuPools[].zones or choose instance types offered in common zones)"
        )
    cluster = tuple(sorted(chosen, key=order.__getitem__))
    return ZonePlan(cluster=cluster, pools={g: tuple(z for z in cluster if z in candidates[g]) for g in types})


def desired_size(current: int, min_nodes: int, max_nodes: int) -> int:
    """The live desired size kept, but inside the node group's new bounds."""
    return max(min_nodes, min(current, max_nodes))


def launch_template_ref(template: ec2.LaunchTemplate) -> eks.NodeGroupLaunchTemplateArgs:
    """Pin the node group to the template's newest version (a change rolls the nodes)."""
    return eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str))


def gpu_node_labels(pool: GpuPool) -> dict[str, str]:
    """The pool's labels plus cluster-autoscaler's AWS GPU label (its value: the GPU model)."""
    return {**pool.node_labels, ACCELERATOR_LABEL: pool.gpu}


def autoscaler_policy(
    cluster_name: pulumi.Input[str], node_group_arns: Sequence[pulumi.Input[str]]
) -> pulumi.Output[str]:
    """cluster-autoscaler's permissions: read everywhere it must, write only to this cluster's ASGs."""
    return pulumi.Output.all(
        name=pulumi.Output.from_input(cluster_name), arns=pulumi.Output.all(*node_group_arns)
    ).apply(lambda v: autoscaler_policy_document(v["name"], v["arns"]))


def autoscaler_policy_document(cluster_name: str, node_group_arns: Sequence[str]) -> str:
    """The JSON policy of :func:`autoscaler_policy` for known values."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Describe",
                    "Effect": "Allow",
                    "Action": list(AUTOSCALER_DESCRIBE_ACTIONS),
                    "Resource": "*",
                },
                {
                    "Sid": "DescribeOwnNodegroups",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": list(node_group_arns),
                },
                {
                    "Sid": "ScaleOwnGroups",
                    "Effect": "Allow",
                    "Action": list(AUTOSCALER_SCALE_ACTIONS),
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
                    },
                },
            ],
        }
    )


def autoscaler_values(
    cluster_name: pulumi.Input[str], region: pulumi.Input[str], kubernetes_version: str
) -> dict[str, Any]:
    """Helm values of the cluster-autoscaler chart (key paths checked against its values.yaml)."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAGS[kubernetes_version]},
        "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
        "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-local-storage": False,
            "expander": "least-waste",
            "scale-down-unneeded-time": "10m",
            "scale-down-delay-after-add": "10m",
        },
    }


def eks_taint(taint: Taint) -> eks.NodeGroupTaintArgs:
    """A Kubernetes taint in EKS's spelling (``NoSchedule`` -> ``NO_SCHEDULE``)."""
    return eks.NodeGroupTaintArgs(key=taint.key, value=taint.value or None, effect=EKS_TAINT_EFFECTS[taint.effect])


def node_template_tags(pool: GpuPool) -> list[tuple[str, str, str]]:
    """(role, key, value) of the ASG tags that tell cluster-autoscaler what a zero-node group makes."""
    tags: list[tuple[str, str, str]] = [
        (f"label-{_slug(k)}", f"{NODE_TEMPLATE_PREFIX}/label/{k}", v) for k, v in gpu_node_labels(pool).items()
    ]
    tags += [
        (f"taint-{_slug(t.key)}", f"{NODE_TEMPLATE_PREFIX}/taint/{t.key}", f"{t.value}:{t.effect}")
        for t in pool.node_taints
    ]
    # What a node advertises after time-slicing/MIG, not the physical count: a pod asking for more units
    # than the template offers would never trigger a scale-up.
    units = pool.gpus_per_node * pool.slices_per_gpu
    tags.append(("gpus", f"{NODE_TEMPLATE_PREFIX}/resources/{GPU_RESOURCE}", str(units)))
    return tags


def first_asg_name(resources: Sequence[eks.outputs.NodeGroupResource]) -> str:
    """The Auto Scaling group behind a managed node group."""
    for resource in resources:
        for group in resource.autoscaling_groups or []:
            if group.name:
                return group.name
    raise ValueError("the EKS node group reports no Auto Scaling group")


def render_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no long-lived credentials)."""
    user = f"aws-eks-{cluster_name}"
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
            "current-context": cluster_name,
            "preferences": {},
            "users": [
                {
                    "name": user,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        indent=2,
    )


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


if TYPE_CHECKING:  # pyright proves EksGpuCluster satisfies the GpuCluster protocol
    _CONTRACT: type[GpuCluster] = EksGpuCluster
