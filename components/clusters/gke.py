"""A private, regional GKE cluster with autoscaled GPU node pools (pulumi-gcp only).

What it builds (every child parented to the component, named ``f"{name}-{role}"``):

- ``{name}-api-<service>`` one ``gcp.projects.Service`` per Google API the stack needs (:data:`REQUIRED_APIS`:
  Compute, GKE, Cloud KMS, IAM, Resource Manager, Logging, Monitoring); every other child depends on them, so a
  fresh project works on the first ``pulumi up``. They are never disabled on destroy (other things in the
  project may use them);
- ``{name}-keyring`` + ``{name}-secrets-key`` a Cloud KMS key ring (suffixed with ``{name}-keyring-suffix``, a
  ``random.RandomId``: key rings can never be deleted, so a re-created stack needs a new name) and a key that
  rotates every 90 days, ``{name}-secrets-key-gke-agent`` letting the GKE service agent
  (``service-<project number>@container-engine-robot.iam.gserviceaccount.com``) encrypt and decrypt with it, and
  the cluster's ``database_encryption`` set to that key: application-layer encryption of Kubernetes Secrets;
- ``{name}-network`` a custom-mode VPC, ``{name}-subnet`` a regional subnetwork with secondary
  ranges for pods and services and Private Google Access, ``{name}-router`` + ``{name}-nat`` Cloud
  NAT so private nodes can pull images and reach the internet without public IPs;
- ``{name}-node-sa`` a dedicated node service account and one ``{name}-node-sa-<role>`` project
  IAM binding per role in :data:`NODE_SA_ROLES` (``container.defaultNodeServiceAccount``, logging,
  monitoring, Artifact Registry read; the least privilege Google documents for nodes, instead of the
  default compute account's Editor);
- ``{name}-cluster`` the ``gcp.container.Cluster``: VPC-native, private nodes, a private endpoint
  when ``apiAccess.mode`` is ``private`` (master authorized networks present but empty, so only the
  VPC reaches it) or the public endpoint limited to ``apiAccess.allowedCidrs``; Workload Identity,
  shielded nodes, Dataplane V2, a release channel (STABLE for production, REGULAR otherwise),
  deletion protection for production, system-component logging/monitoring, labels from the tags;
- ``{name}-system`` the always-on system node pool and one ``{name}-gpu-<pool>`` node pool per GPU
  pool of the spec, with Google-managed driver install, time-slicing or MIG as the spec says,
  spot capacity, the pool's labels and taints, autoscaling on *total* node counts, and ``node_locations``:
  the pool's pinned ``zones`` or every zone of the region that offers its machine type
  (:mod:`components.gcp_zones`; the spec has already rejected a region or zone without it);
- ``{name}-k8s`` the ``pulumi_kubernetes.Provider`` built from the secret kubeconfig.

Why: the platform's add-ons only see the :class:`~components.clusters.contract.GpuCluster` contract,
so everything GKE-specific (driver installation, sharing, GKE's spelling of taint effects) is
decided here, and the GPU pools' labels/taints come from the same spec values that Kueue flavors
and tolerations are built from.

Upstream gotchas:

- GKE installs the NVIDIA driver *and* the device plugin itself when a guest accelerator has
  ``gpu_driver_installation_config`` (``LATEST`` here). The platform must therefore not install a
  second driver or device plugin on GKE (GPU operator off, or driver/device plugin disabled); GPU
  metrics come from a standalone DCGM exporter, which is why GKE's managed ``DCGM`` monitoring
  component is not enabled here (it would scrape the same GPUs twice).
- GKE adds its own ``nvidia.com/gpu=present:NoSchedule`` taint to GPU nodes, but *only* when the
  cluster has a non-GPU pool at the time (terraform-google-modules/terraform-google-kubernetes-engine#703:
  with ``remove_default_node_pool`` the GPU pool can race ahead and come up untainted). gpuplane
  therefore declares the GPU taint on every GPU pool itself and creates GPU pools after the system pool,
  with exactly GKE's key, value and effect (``spec.GPU_TAINT``): a second taint with the same key and a
  different value is rejected by GKE. The same taint flows from the spec to the pool, the Kueue flavors
  and the GPU daemonsets' tolerations. Since provider v5 GKE-added taints are reported in
  ``effective_taints`` and no longer cause perpetual node-pool replacement
  (hashicorp/terraform-provider-google#7928).
- Node pools are named by ``name_prefix`` (``gpu-<pool>-`` / ``system-``, at most 31 characters; the provider
  appends 9 random characters), never a fixed ``name``: a change to an input the provider marks ForceNew
  (``node_config.guest_accelerator`` and everything in it, ``spot``, ``preemptible``, ``service_account``,
  ``oauth_scopes``, ``shielded_instance_config``, ``metadata``, ``local_ssd_count``, ...; read in
  ``google/services/container/node_config.go`` of hashicorp/terraform-provider-google at commit 00b984c6)
  replaces the pool, and Pulumi creates the replacement *before* deleting the old one, which with a fixed
  name fails ("already exists"). ``machine_type``, disk size/type, labels, resource labels and taints are
  updated in place and do not replace the pool; ``node_locations`` is updated in place too.
- Google APIs must be enabled before anything uses them, but enabling them needs the Service Usage and
  Cloud Resource Manager APIs already on (they are on in every project created from the console).
- ``remove_default_node_pool`` still creates (then deletes) a default pool; without a
  ``node_config`` it runs as the default compute service account, which many organisations delete
  (hashicorp/terraform-provider-google#4435). The cluster's ``node_config`` names the dedicated
  node account, and ``node_config`` is ignored afterwards because any later difference would
  replace the whole cluster (hashicorp/terraform-provider-google#17511).
- ``initial_node_count`` of a node pool is *per zone* in a regional cluster and forces replacement
  when it differs from what the autoscaler has made of it, so it is in ``ignore_changes``; the
  autoscaler limits use ``total_min_node_count`` / ``total_max_node_count`` (whole pool, so a GPU
  pool scales from zero), and GPU pools use ``location_policy="ANY"`` to take capacity in whichever
  zone has it. A GPU pool whose ``minNodes`` is above zero starts with ``minNodes`` nodes per zone
  until the autoscaler trims it to the total minimum.
- GKE's managed Gateway API CRDs would fight the Gateway API CRDs the Envoy Gateway chart installs
  (envoyproxy/gateway#2301, #9004), so ``gateway_api_config`` is explicitly ``CHANNEL_DISABLED``.
- Dataplane V2 (``ADVANCED_DATAPATH``) enforces NetworkPolicy itself: never also set
  ``network_policy`` (Calico).
- ``deletion_protection`` defaults to true in the provider; it is set explicitly from
  ``spec.production`` so dev stacks can be destroyed.
- Application-layer secrets encryption needs the key in the cluster's own location (the region) and the
  GKE service agent allowed to use it *before* the cluster is created; the cluster depends on the binding.
  Destroying the stack schedules the key versions for destruction; the key ring itself stays (KMS never
  deletes key rings), which is why its name carries a random suffix.
- The kubeconfig authenticates through the ``gke-gcloud-auth-plugin`` exec plugin, which must be on
  the PATH of whoever runs ``pulumi up``; with a private endpoint, ``pulumi up`` must also run from
  inside the VPC (or a peered network/VPN), otherwise the Kubernetes provider cannot connect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_gcp import compute, container, kms, organizations, projects, serviceaccount

from components import gcp_zones
from components.clusters.contract import GpuPoolScheduling
from components.spec import POOL_LABEL, GpuPool, PlatformSpec, Taint
from components.versions import gke_release_channel

TYPE = "gpuplane:clusters:GkeGpuCluster"

# Address plan of the VPC gpuplane creates (the spec has no CIDR fields; all RFC 1918, non-overlapping).
NODES_CIDR = "10.0.0.0/20"
PODS_CIDR = "10.4.0.0/14"
SERVICES_CIDR = "10.8.0.0/20"
MASTER_CIDR = "172.16.0.0/28"
PODS_RANGE = "pods"
SERVICES_RANGE = "services"

SYSTEM_POOL = "system"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
NODE_POOL_NAME_PREFIX_MAX = 31
"""``name_prefix`` limit of ``gcp.container.NodePool`` (pulumi-gcp 10.2.0 docs)."""

# Google APIs the stack uses, by the child's kebab suffix.
REQUIRED_APIS: Mapping[str, str] = {
    "compute": "compute.googleapis.com",
    "container": "container.googleapis.com",
    "cloudkms": "cloudkms.googleapis.com",
    "iam": "iam.googleapis.com",
    "cloudresourcemanager": "cloudresourcemanager.googleapis.com",
    "logging": "logging.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
}
KMS_ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
SECRETS_KEY_ROTATION = "7776000s"
"""90 days."""

# Least-privilege node roles. Google's "Configure GKE node service accounts"
# (docs.cloud.google.com/kubernetes-engine/security/configure-node-service-accounts) names
# roles/container.defaultNodeServiceAccount as the minimum a node account needs; the CIS GKE benchmark
# (5.2.1) names logging.logWriter, monitoring.metricWriter and monitoring.viewer, and the hardening guide adds
# stackdriver.resourceMetadata.writer. All are granted (they overlap; the predefined role keeps up with what
# GKE's system components need), plus Artifact Registry read for image pulls. The child role name is the
# stable kebab suffix.
NODE_SA_ROLES: Mapping[str, str] = {
    "default-node-service-account": "roles/container.defaultNodeServiceAccount",
    "logging-log-writer": "roles/logging.logWriter",
    "monitoring-metric-writer": "roles/monitoring.metricWriter",
    "monitoring-viewer": "roles/monitoring.viewer",
    "resource-metadata-writer": "roles/stackdriver.resourceMetadata.writer",
    "artifact-registry-reader": "roles/artifactregistry.reader",
}

# Kubernetes taint effect -> GKE API enum.
GKE_TAINT_EFFECTS: Mapping[str, str] = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}


@dataclass(frozen=True, kw_only=True)
class GkeGpuClusterArgs:
    """What :class:`GkeGpuCluster` builds: a validated spec whose cloud is ``gcp``."""

    spec: PlatformSpec

    def __post_init__(self) -> None:
        if self.spec.cloud != "gcp":
            raise ValueError(f"spec.cloud: GkeGpuCluster builds GKE clusters; got cloud {self.spec.cloud!r}")
        # GPU pool names other than "system" and GCP-compatible tags are guaranteed by the spec.


class GkeGpuCluster(pulumi.ComponentResource):
    """A GKE cluster with GPU node pools; satisfies :class:`~components.clusters.contract.GpuCluster`."""

    cluster_name: pulumi.Output[str]
    """The GKE cluster's name (``spec.cluster_name``)."""
    kubeconfig: pulumi.Output[str]
    """Secret kubeconfig using the ``gke-gcloud-auth-plugin`` exec plugin."""
    provider: k8s.Provider
    """Kubernetes provider for add-ons (``providers=[cluster.provider]``)."""
    native: container.Cluster
    """The ``gcp.container.Cluster`` (add-ons are ``deleted_with`` it)."""
    gpu_pools: Sequence[GpuPoolScheduling]
    """Labels/taints of each GPU pool, plain values known at construction."""
    network: compute.Network
    subnetwork: compute.Subnetwork
    node_service_account: serviceaccount.Account
    system_pool: container.NodePool
    node_pools: Mapping[str, container.NodePool]
    """GPU node pools by spec pool name."""
    apis: Mapping[str, projects.Service]
    """Enabled Google APIs by service name."""
    secrets_key: kms.CryptoKey
    """The Cloud KMS key that encrypts Kubernetes Secrets at the application layer."""

    def __init__(self, name: str, args: GkeGpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        spec = args.spec
        project = organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).apply(
            lambda config: config.project
        )

        self.apis = self._apis(name, project)
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(self.apis.values()))
        self.network, self.subnetwork = self._network(name, spec, after_apis)
        self.node_service_account, bindings = self._node_identity(name, spec, project, after_apis)
        self.secrets_key, key_binding = self._secrets_key(name, spec, project, after_apis)
        self.native = self._cluster(name, spec, project, [*bindings, key_binding, *self.apis.values()])
        self.system_pool = self._system_pool(name, spec)
        self.node_pools = {pool.name: self._gpu_pool(name, spec, pool) for pool in spec.gpu_pools}

        self.cluster_name = self.native.name
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                project,
                self.native.name,
                self.native.endpoint,
                self.native.master_auth.apply(lambda auth: auth.cluster_ca_certificate or ""),
            ).apply(lambda parts: gke_kubeconfig(spec.region, *(str(p) for p in parts)))
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]),
        )
        self.gpu_pools = [GpuPoolScheduling.of(pool, spec.offering(pool).instance_type) for pool in spec.gpu_pools]

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "endpoint": self.native.endpoint,
                "network": self.network.id,
                "subnetwork": self.subnetwork.id,
                "nodeServiceAccount": self.node_service_account.email,
                "secretsKey": self.secrets_key.id,
            }
        )

    def _apis(self, name: str, project: pulumi.Output[str]) -> dict[str, projects.Service]:
        return {
            service: projects.Service(
                f"{name}-api-{suffix}",
                project=project,
                service=service,
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for suffix, service in REQUIRED_APIS.items()
        }

    def _secrets_key(
        self, name: str, spec: PlatformSpec, project: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> tuple[kms.CryptoKey, kms.CryptoKeyIAMMember]:
        suffix = random.RandomId(f"{name}-keyring-suffix", byte_length=3, opts=pulumi.ResourceOptions(parent=self))
        ring = kms.KeyRing(
            f"{name}-keyring",
            name=suffix.hex.apply(lambda h: f"{spec.cluster_name}-{h}"),
            location=spec.region,
            project=project,
            opts=opts,
        )
        key = kms.CryptoKey(
            f"{name}-secrets-key",
            name="kubernetes-secrets",
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=SECRETS_KEY_ROTATION,
            labels=dict(spec.tags),
            opts=opts,
        )
        number = organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).apply(lambda p: p.number)
        binding = kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke-agent",
            crypto_key_id=key.id,
            role=KMS_ENCRYPTER_DECRYPTER,
            member=number.apply(gke_service_agent_member),
            opts=opts,
        )
        return key, binding

    def _network(
        self, name: str, spec: PlatformSpec, child: pulumi.ResourceOptions
    ) -> tuple[compute.Network, compute.Subnetwork]:
        # ``child`` carries the dependency on the enabled APIs.
        network = compute.Network(
            f"{name}-network",
            name=f"{spec.cluster_name}-vpc",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnetwork = compute.Subnetwork(
            f"{name}-subnet",
            name=f"{spec.cluster_name}-nodes",
            region=spec.region,
            network=network.id,
            ip_cidr_range=NODES_CIDR,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=PODS_CIDR),
                compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=SERVICES_CIDR),
            ],
            opts=child,
        )
        router = compute.Router(
            f"{name}-router",
            name=f"{spec.cluster_name}-router",
            region=spec.region,
            network=network.id,
            opts=child,
        )
        compute.RouterNat(
            f"{name}-nat",
            name=f"{spec.cluster_name}-nat",
            router=router.name,
            region=spec.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                compute.RouterNatSubnetworkArgs(name=subnetwork.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
            ],
            log_config=compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        return network, subnetwork

    def _node_identity(
        self, name: str, spec: PlatformSpec, project: pulumi.Output[str], child: pulumi.ResourceOptions
    ) -> tuple[serviceaccount.Account, list[projects.IAMMember]]:
        account = serviceaccount.Account(
            f"{name}-node-sa",
            account_id=node_account_id(spec.cluster_name),
            display_name=f"GKE nodes of {spec.cluster_name} (gpuplane)",
            opts=child,
        )
        bindings = [
            projects.IAMMember(
                f"{name}-node-sa-{role_name}",
                project=project,
                role=role,
                member=account.member,
                opts=child,
            )
            for role_name, role in NODE_SA_ROLES.items()
        ]
        return account, bindings

    def _cluster(
        self,
        name: str,
        spec: PlatformSpec,
        project: pulumi.Output[str],
        bindings: Sequence[pulumi.Resource],
    ) -> container.Cluster:
        private = spec.api_access.mode == "private"
        return container.Cluster(
            f"{name}-cluster",
            name=spec.cluster_name,
            location=spec.region,
            network=self.network.id,
            subnetwork=self.subnetwork.id,
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=container.ClusterNodeConfigArgs(
                service_account=self.node_service_account.email,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                shielded_instance_config=container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            ),
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=PODS_RANGE,
                services_secondary_range_name=SERVICES_RANGE,
            ),
            private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=private,
                master_ipv4_cidr_block=MASTER_CIDR,
            ),
            master_authorized_networks_config=container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr, display_name=f"allowed-{index}"
                    )
                    for index, cidr in enumerate(spec.api_access.allowed_cidrs)
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=project.apply(lambda p: f"{p}.svc.id.goog")
            ),
            enable_shielded_nodes=True,
            release_channel=container.ClusterReleaseChannelArgs(channel=gke_release_channel(spec.production)),
            database_encryption=container.ClusterDatabaseEncryptionArgs(
                state="ENCRYPTED", key_name=self.secrets_key.id
            ),
            min_master_version=spec.kubernetes_version,
            deletion_protection=spec.production,
            datapath_provider="ADVANCED_DATAPATH",
            gateway_api_config=container.ClusterGatewayApiConfigArgs(channel="CHANNEL_DISABLED"),
            logging_config=container.ClusterLoggingConfigArgs(enable_components=["SYSTEM_COMPONENTS"]),
            monitoring_config=container.ClusterMonitoringConfigArgs(enable_components=["SYSTEM_COMPONENTS"]),
            resource_labels=dict(spec.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(bindings),
                ignore_changes=["node_config"],
            ),
        )

    def _node_config(
        self,
        spec: PlatformSpec,
        machine_type: str,
        labels: Mapping[str, str],
        *,
        taints: Sequence[Taint] = (),
        spot: bool = False,
        accelerators: Sequence[container.NodePoolNodeConfigGuestAcceleratorArgs] = (),
    ) -> container.NodePoolNodeConfigArgs:
        return container.NodePoolNodeConfigArgs(
            machine_type=machine_type,
            service_account=self.node_service_account.email,
            oauth_scopes=[CLOUD_PLATFORM_SCOPE],
            labels=dict(labels),
            resource_labels=dict(spec.tags),
            taints=[
                container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=GKE_TAINT_EFFECTS[t.effect])
                for t in taints
            ],
            spot=spot,
            guest_accelerators=list(accelerators),
            shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
            workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
        )

    def _system_pool(self, name: str, spec: PlatformSpec) -> container.NodePool:
        system = spec.system_pool
        return container.NodePool(
            f"{name}-{SYSTEM_POOL}",
            name_prefix=f"{SYSTEM_POOL}-",
            cluster=self.native.id,
            location=spec.region,
            initial_node_count=1,
            autoscaling=container.NodePoolAutoscalingArgs(
                total_min_node_count=system.min_nodes,
                total_max_node_count=system.max_nodes,
                location_policy="BALANCED",
            ),
            management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=self._node_config(spec, spec.system_instance_type(), {POOL_LABEL: SYSTEM_POOL}),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initial_node_count"]),
        )

    def _gpu_pool(self, name: str, spec: PlatformSpec, pool: GpuPool) -> container.NodePool:
        offering = spec.offering(pool)
        return container.NodePool(
            f"{name}-gpu-{pool.name}",
            name_prefix=gpu_pool_name_prefix(pool),
            cluster=self.native.id,
            location=spec.region,
            node_locations=list(gpu_pool_zones(spec, pool)),
            initial_node_count=pool.min_nodes,
            autoscaling=container.NodePoolAutoscalingArgs(
                total_min_node_count=pool.min_nodes,
                total_max_node_count=pool.max_nodes,
                location_policy="ANY",
            ),
            management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=self._node_config(
                spec,
                offering.instance_type,
                pool.node_labels,
                taints=pool.node_taints,
                spot=pool.spot,
                accelerators=[guest_accelerator(pool, offering.accelerator)],
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.system_pool],
                ignore_changes=["initial_node_count"],
            ),
        )


def guest_accelerator(pool: GpuPool, accelerator: str) -> container.NodePoolNodeConfigGuestAcceleratorArgs:
    """The GKE guest accelerator of a GPU pool: Google installs the driver; sharing per the spec."""
    sharing = pool.sharing
    return container.NodePoolNodeConfigGuestAcceleratorArgs(
        type=accelerator,
        count=pool.gpus_per_node,
        gpu_driver_installation_config=container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
            gpu_driver_version="LATEST"
        ),
        gpu_sharing_config=(
            container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy="TIME_SHARING", max_shared_clients_per_gpu=sharing.replicas or 1
            )
            if sharing.mode == "time-slicing"
            else None
        ),
        gpu_partition_size=sharing.mig_profile if sharing.mode == "mig" else None,
    )


def gpu_pool_name_prefix(pool: GpuPool) -> str:
    """``gpu-<pool>-`` cut to the provider's 31-character ``name_prefix`` limit."""
    return f"gpu-{pool.name[: NODE_POOL_NAME_PREFIX_MAX - 5]}-"


def gpu_pool_zones(spec: PlatformSpec, pool: GpuPool) -> tuple[str, ...]:
    """The zones a GPU pool's nodes run in: the spec's pinned zones, else every zone of the region that
    offers the pool's machine type (validated non-empty by the spec)."""
    if pool.zones is not None:
        return tuple(pool.zones)
    return gcp_zones.gpu_zones(spec.offering(pool).instance_type, spec.region)


def gke_service_agent_member(project_number: str) -> str:
    """The GKE service agent of a project, as an IAM member (it encrypts Secrets with the KMS key)."""
    return f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


def node_account_id(cluster_name: str) -> str:
    """A service account id (6-30 chars) derived from the cluster name."""
    return f"{cluster_name[:24].rstrip('-')}-nodes"


def gke_kubeconfig(region: str, project: str, cluster: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig (JSON, which is YAML) that authenticates with ``gke-gcloud-auth-plugin``,
    named like the one ``gcloud container clusters get-credentials`` writes."""
    context = f"gke_{project}_{region}_{cluster}"
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate},
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        "installHint": "Install gke-gcloud-auth-plugin for use with kubectl by following "
                        "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
                        "provideClusterInfo": True,
                    }
                },
            }
        ],
    }
    return json.dumps(config, indent=2)
