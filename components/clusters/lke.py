"""An LKE (Akamai/Linode Kubernetes Engine) cluster with GPU node pools, as a :class:`GpuCluster`.

What it builds (all children of the component, named ``f"{name}-{role}"``):

- ``{name}-cluster``: one ``linode.LkeCluster`` labelled ``spec.cluster_name`` with the control-plane
  ACL on (default deny, only ``spec.api_access.allowed_cidrs`` allowed, split into IPv4 and IPv6),
  high availability when ``spec.production``, and one inline, autoscaled *system* pool (labelled
  ``gpuplane.io/pool=system``, no taint) for the controllers.
- ``{name}-pool-{pool}``: one ``linode.LkeNodePool`` per GPU pool, typed by the catalog's plan for
  the pool's GPU model, labelled and tainted exactly as the spec declares (``pool.node_labels`` /
  ``pool.node_taints``), autoscaled by LKE between ``max(1, minNodes)`` and ``maxNodes``.
- ``{name}-firewall``: one ``linode.Firewall`` (Cloud Firewall) that drops every inbound packet except what
  LKE needs (:data:`FIREWALL_INBOUND_RULES`), attached to every pool through the pool's ``firewall_id`` (the
  inline system pool and each GPU pool), so nodes the autoscaler adds later are covered too.
- ``{name}-provider``: a ``pulumi_kubernetes.Provider`` from the cluster's decoded kubeconfig.

Why these choices:

- GPU pools are separate ``LkeNodePool`` resources, not inline ``pools`` of the cluster: adding,
  resizing or removing one GPU pool must never touch the cluster resource, and inline pools of the
  same type are matched by position (linode/terraform-provider-linode#595). The cluster therefore
  lists :data:`EXTERNAL_POOL_TAG` in ``external_pool_tags`` and every GPU pool carries that tag;
  without the pair the cluster resource deletes/recreates the GPU pools on every update
  (linode/terraform-provider-linode#1384, #1385). The system pool stays inline because LKE refuses a
  cluster without a pool.
- The LKE autoscaler owns the node counts, so ``node_count`` of GPU pools and ``pools[0].count`` of the
  system pool are in ``ignore_changes``; otherwise every ``up`` resizes the pools back to the minimum
  (linode/terraform-provider-linode#639, fixed in its docs by #648).
- GPU pools are ``deleted_with`` the cluster: deleting an LKE cluster deletes its pools, so destroy
  does not wait on each pool first.
- The ACL is always on. The spec already rejects ``apiAccess.mode: private`` on Linode (LKE has no
  private endpoint), so the allowed CIDRs are the only thing between the API server and the internet.
  The machine running ``pulumi up`` (CI runner) must be inside them, or the Kubernetes provider
  cannot reach the cluster after it is created.
- HA is tied to ``spec.production``: it costs a control-plane fee (see ``catalog.CONTROL_PLANE_FEES``)
  and LKE cannot turn it off again once on (the provider documents ``high_availability`` as an
  irreversible change), so development stacks never get it implicitly.

Upstream gotchas:

- ``LkeCluster.kubeconfig`` is **base64-encoded** YAML; the provider needs it decoded. It is wrapped
  in ``Output.secret`` here whatever the provider marks it.
- LKE's node pool autoscaler minimum is **1**: GPU pools on LKE never scale to zero. A pool declared
  with ``minNodes: 0`` is rejected by the spec; this module clamps the floor to 1 anyway, and the plan
  reports the idle floor (one GPU node per pool, billed around the clock).
- LKE GPU nodes come with the NVIDIA driver pre-installed (nodes carry
  ``nvidia.com/gpu.deploy.driver: pre-installed``): the GPU operator installed on top must run with
  its driver disabled on LKE, or it fights the pre-installed one.
- Quadro RTX 6000 (``g1-gpu-rtx6000-*``) plans cannot be deployed in LKE or LKE Enterprise clusters (Akamai,
  "Using GPUs on LKE", techdocs.akamai.com/cloud-computing/docs/gpus-on-lke, read 2026-12-05); LKE GPU pools
  use the RTX 4000 Ada and RTX PRO 6000 Blackwell plans of the catalog.
- LKE nodes have public IPs. Without a firewall every NodePort (30000-32767) and any ``hostPort`` /
  ``hostNetwork`` port is reachable from the internet. The rules follow Akamai's "Network and firewall
  details" page for LKE (techdocs.akamai.com/cloud-computing/docs/lke-network-firewall-details, read
  2026-12-05): kubelet health checks (TCP 10250, 10256), the WireGuard tunnel for ``kubectl`` proxy (UDP 51820),
  cluster DNS (TCP/UDP 53) and Calico BGP (TCP 179) from the LKE private range 192.168.128.0/17, and
  NodeBalancer traffic to NodePorts (TCP/UDP 30000-32767) from 192.168.255.0/24. Akamai's list keeps the
  default policy ACCEPT and drops TCP and UDP only, which leaves every other protocol open; gpuplane drops by
  default instead and therefore also accepts IP-in-IP (``IPENCAP``, Calico's pod network between nodes) and
  ICMP from 192.168.128.0/17 -- those two rules rest on that reading, not on a listed rule.
- Without ``firewall_id`` LKE attaches the account's *default* firewall (provider docs), whatever it allows;
  every pool here names the stack's firewall explicitly.
- Linode tags must be 3..50 characters (Linode API ``POST /tags``); spec tags become ``"key:value"``
  strings and are checked here before anything is registered.
- LKE was AI-conformance certified for Kubernetes 1.34 only (linode/lke-ai-conformance, 2025-11); LKE no longer
  offers 1.34 (past upstream end of life, ``components/versions.py``), so a new cluster runs an uncertified minor.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_linode as linode

from components.clusters.contract import GpuPoolScheduling
from components.spec import POOL_LABEL, GpuPool, PlatformSpec

LKE_PRIVATE_RANGE = "192.168.128.0/17"
"""Where LKE's control plane and the cluster's nodes reach each other from (Akamai's LKE firewall page)."""
NODEBALANCER_RANGE = "192.168.255.0/24"
"""Where NodeBalancers reach NodePorts from (same page)."""


@dataclass(frozen=True, kw_only=True)
class FirewallRule:
    """One inbound ACCEPT rule of the node firewall."""

    label: str
    protocol: str
    ports: str | None
    source: str


FIREWALL_INBOUND_RULES: tuple[FirewallRule, ...] = (
    FirewallRule(label="kubelet-health", protocol="TCP", ports="10250,10256", source=LKE_PRIVATE_RANGE),
    FirewallRule(label="wireguard-kubectl", protocol="UDP", ports="51820", source=LKE_PRIVATE_RANGE),
    FirewallRule(label="cluster-dns-tcp", protocol="TCP", ports="53", source=LKE_PRIVATE_RANGE),
    FirewallRule(label="cluster-dns-udp", protocol="UDP", ports="53", source=LKE_PRIVATE_RANGE),
    FirewallRule(label="calico-bgp", protocol="TCP", ports="179", source=LKE_PRIVATE_RANGE),
    FirewallRule(label="calico-ipip", protocol="IPENCAP", ports=None, source=LKE_PRIVATE_RANGE),
    FirewallRule(label="icmp-private", protocol="ICMP", ports=None, source=LKE_PRIVATE_RANGE),
    FirewallRule(label="nodebalancer-tcp", protocol="TCP", ports="30000-32767", source=NODEBALANCER_RANGE),
    FirewallRule(label="nodebalancer-udp", protocol="UDP", ports="30000-32767", source=NODEBALANCER_RANGE),
)
"""Everything the node firewall accepts; all other inbound traffic is dropped (``inbound_policy: DROP``)."""

EXTERNAL_POOL_TAG = "gpuplane-gpu-pool"
"""Tag on every GPU ``LkeNodePool`` and in the cluster's ``external_pool_tags``."""

SYSTEM_POOL = "system"
LKE_MIN_AUTOSCALED_NODES = 1
_TAG_MIN, _TAG_MAX = 3, 50


@dataclass(frozen=True, kw_only=True)
class LkeGpuClusterArgs:
    """Arguments of :class:`LkeGpuCluster`: a validated spec whose ``cloud`` is ``linode``."""

    spec: PlatformSpec

    def __post_init__(self) -> None:
        if self.spec.cloud != "linode":
            raise ValueError(f"spec.cloud: LkeGpuCluster builds LKE clusters; got cloud {self.spec.cloud!r}")
        # Tag lengths Linode accepts (3..50 characters) are guaranteed by the spec.


def linode_tags(spec: PlatformSpec) -> list[str]:
    """Spec tags as Linode tag strings (``"key:value"``, or ``"key"`` for an empty value), sorted for a
    stable diff."""
    return sorted(f"{key}:{value}" if value else key for key, value in spec.tags.items())


def split_cidrs(cidrs: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(ipv4, ipv6)`` CIDRs, order kept."""
    ipv4 = [c for c in cidrs if ipaddress.ip_network(c).version == 4]
    ipv6 = [c for c in cidrs if ipaddress.ip_network(c).version == 6]
    return ipv4, ipv6


def gpu_pool_floor(pool: GpuPool) -> int:
    """Nodes an LKE GPU pool keeps when idle: LKE's autoscaler cannot go below one."""
    return max(LKE_MIN_AUTOSCALED_NODES, pool.min_nodes)


def firewall_label(cluster_name: str) -> str:
    """The firewall's label: ``<cluster>-nodes``, cut to Linode's 32-character label limit."""
    return f"{cluster_name[:26]}-nodes"


def _decode_kubeconfig(encoded: str) -> str:
    return base64.b64decode(encoded).decode("utf-8")


class LkeGpuCluster(pulumi.ComponentResource):
    """An LKE cluster with a system pool and one autoscaled node pool per GPU pool."""

    cluster_name: pulumi.Output[str]
    """The cluster's label (``spec.cluster_name``)."""
    kubeconfig: pulumi.Output[str]
    """The decoded kubeconfig (YAML), a Pulumi secret."""
    provider: k8s.Provider
    """Kubernetes provider for the add-ons."""
    native: linode.LkeCluster
    """The ``linode.LkeCluster``; add-ons are ``deleted_with`` it."""
    node_pools: dict[str, linode.LkeNodePool]
    """GPU node pools by pool name (escape hatch)."""
    firewall: linode.Firewall
    """The Cloud Firewall every pool's nodes are behind."""
    gpu_pools: Sequence[GpuPoolScheduling]
    """Labels/taints of each GPU pool, as declared in the spec."""

    def __init__(self, name: str, args: LkeGpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:clusters:LkeGpuCluster", name, None, opts)
        spec = args.spec
        tags = linode_tags(spec)
        ipv4, ipv6 = split_cidrs(spec.api_access.allowed_cidrs)
        system = spec.system_pool

        firewall = linode.Firewall(
            f"{name}-firewall",
            label=firewall_label(spec.cluster_name),
            inbound_policy="DROP",
            outbound_policy="ACCEPT",
            inbounds=[
                linode.FirewallInboundArgs(
                    label=rule.label,
                    action="ACCEPT",
                    protocol=rule.protocol,
                    ports=rule.ports,
                    ipv4s=[rule.source],
                )
                for rule in FIREWALL_INBOUND_RULES
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        firewall_id = firewall.id.apply(int)

        cluster = linode.LkeCluster(
            f"{name}-cluster",
            label=spec.cluster_name,
            region=spec.region,
            k8s_version=spec.kubernetes_version,
            tags=tags,
            external_pool_tags=[EXTERNAL_POOL_TAG],
            control_plane=linode.LkeClusterControlPlaneArgs(
                high_availability=spec.production,
                acl=linode.LkeClusterControlPlaneAclArgs(
                    enabled=True,
                    addresses=[
                        linode.LkeClusterControlPlaneAclAddressArgs(
                            ipv4s=ipv4 or None,
                            ipv6s=ipv6 or None,
                        )
                    ],
                ),
            ),
            pools=[
                linode.LkeClusterPoolArgs(
                    type=spec.system_instance_type(),
                    count=system.min_nodes,
                    autoscaler=linode.LkeClusterPoolAutoscalerArgs(min=system.min_nodes, max=system.max_nodes),
                    labels={POOL_LABEL: SYSTEM_POOL},
                    tags=tags,
                    firewall_id=firewall_id,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["pools[0].count"]),
        )
        cluster_id = cluster.id.apply(int)

        node_pools: dict[str, linode.LkeNodePool] = {}
        for pool in spec.gpu_pools:
            floor = gpu_pool_floor(pool)
            node_pools[pool.name] = linode.LkeNodePool(
                f"{name}-pool-{pool.name}",
                cluster_id=cluster_id,
                type=spec.offering(pool).instance_type,
                node_count=floor,
                autoscaler=linode.LkeNodePoolAutoscalerArgs(min=floor, max=pool.max_nodes),
                labels=pool.node_labels,
                taints=[
                    linode.LkeNodePoolTaintArgs(key=t.key, value=t.value, effect=t.effect) for t in pool.node_taints
                ],
                tags=[*tags, EXTERNAL_POOL_TAG],
                firewall_id=firewall_id,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["node_count"], deleted_with=cluster),
            )

        self.native = cluster
        self.node_pools = node_pools
        self.firewall = firewall
        self.cluster_name = cluster.label
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig.apply(_decode_kubeconfig))
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        self.gpu_pools = tuple(GpuPoolScheduling.of(p, spec.offering(p).instance_type) for p in spec.gpu_pools)

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "clusterId": cluster.id,
                "firewallId": firewall.id,
                "gpuPools": [p.name for p in self.gpu_pools],
            }
        )
