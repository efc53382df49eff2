"""One or more mutations per policy, each with the exact violations it must produce.

A case starts from a compliant baseline (``builders.baseline(cloud)``), breaks one thing the way a
wrong program or stack config would, and lists every violation of ``policy`` it expects as
``(level, message, resource name)``; the test also checks that no *other* mandatory policy fires
unless listed in ``also``. ``targets`` names the resources the policy reports on (used by the
out-of-scope and exclusion tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.recording import Recording
from tests.policies import builders
from tests.policies.builders import drop, edit, plain

Mutate = Callable[[Callable[[str], Recording]], Recording]

GATEWAY_REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ai-gateway"}


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    build: Mutate
    expected: list[tuple[str, str, str]]
    targets: tuple[str, ...] = ()
    config: Mapping[str, Any] | None = None
    also: frozenset[str] = field(default_factory=frozenset[str])
    stack_policy: bool = False
    out_of_scope: str = "example:index/unrelated:Unrelated"
    """A type token the policy must ignore (platform-credentials-secret applies to every type but Helm's)."""


def on(cloud: str, name: str, change: Callable[[dict[str, Any]], None]) -> Mutate:
    return lambda base: edit(base(cloud), name, change)


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or with ``value is DELETE`` remove) a dotted path in wire inputs; digits index lists."""

    def change(wire: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = wire
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        key: Any = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


def chain(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        for step in changes:
            step(wire)

    return change


DELETE = object()
EKS = "gpuplane-cluster-cluster"
EKS_INFERENCE = "gpuplane-cluster-gpu-inference"
EKS_TRAINING = "gpuplane-cluster-gpu-training"
GKE = "gpuplane-cluster-cluster"
GKE_INFERENCE = "gpuplane-cluster-gpu-inference"
GKE_TRAINING = "gpuplane-cluster-gpu-training"
LKE = "gpuplane-cluster-cluster"
LKE_INFERENCE = "gpuplane-cluster-pool-inference"
LKE_TRAINING = "gpuplane-cluster-pool-training"
LKE_FIREWALL = "gpuplane-cluster-firewall"
FLAVOR_INFERENCE = "resourceflavor-inference"
ROUTE = "aigatewayroute-llama"
ROUTE_TITLE = "AIGatewayRoute ai-gateway/llama"


def with_addons(cloud: str, options: builders.AddonOptions, **overrides: Any) -> Mutate:
    return lambda _base: builders.baseline(cloud, options, **overrides)


def karpenter_pool(limits: Mapping[str, Any] | None) -> Callable[[pulumi.ResourceOptions], None]:
    def extra(opts: pulumi.ResourceOptions) -> None:
        spec: Any = {
            "template": {
                "metadata": {"labels": {"gpuplane.io/pool": "burst"}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                    "requirements": [
                        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6"]},
                        {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]},
                    ],
                    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                },
            }
        }
        if limits is not None:
            spec["limits"] = dict(limits)
        k8s.apiextensions.CustomResource(
            "burst", api_version="karpenter.sh/v1", kind="NodePool", metadata={"name": "burst"}, spec=spec, opts=opts
        )

    return extra


def gateway_api_install(version: str) -> Callable[[pulumi.ResourceOptions], None]:
    def extra(opts: pulumi.ResourceOptions) -> None:
        k8s.yaml.v2.ConfigFile(
            "gateway-api",
            file=f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{version}/standard-install.yaml",
            opts=opts,
        )

    return extra


def gpu_deployment(
    namespace: str, labels: Mapping[str, str], privileged: bool = False
) -> Callable[[pulumi.ResourceOptions], None]:
    def extra(opts: pulumi.ResourceOptions) -> None:
        container: dict[str, Any] = {
            "name": "vllm",
            "image": "vllm/vllm-openai:v0.11.0",
            "resources": {"limits": {"nvidia.com/gpu": 1}},
        }
        if privileged:
            container["securityContext"] = {"privileged": True}
        spec: Any = {
            "selector": {"matchLabels": {"app": "vllm"}},
            "template": {"metadata": {"labels": {"app": "vllm"}}, "spec": {"containers": [container]}},
        }
        k8s.apps.v1.Deployment(
            "vllm",
            metadata={"name": "vllm", "namespace": namespace, "labels": dict(labels)},
            spec=spec,
            opts=opts,
        )

    return extra


def plaintext_secret(opts: pulumi.ResourceOptions) -> None:
    """The Kubernetes SDK wraps Secret data in Output.secret itself: this one reaches the pack as a secret."""
    k8s.core.v1.Secret(
        "db-password", metadata={"name": "db", "namespace": "team-a"}, string_data={"password": "hunter2"}, opts=opts
    )


def hf_token_literal(wire: dict[str, Any]) -> None:
    env = wire["spec"]["template"]["spec"]["containers"][0]["env"]
    env[1] = {"name": "HF_TOKEN", "value": "hf_live_token"}


EKS_OPEN = "vpcConfig.publicAccessCidrs contains 0.0.0.0/0, which admits the whole internet"
EXEMPT = "only the GPU operator's and DCGM exporter's documented needs are exempt"
TAKES_NODE = f"which gives it control of its node; {EXEMPT}"


def wide(cidr: str, limit: int, key: str = "minIpv4PrefixLength") -> str:
    prefix = cidr.rsplit("/", 1)[1]
    return f"a /{prefix} range wider than the /{limit} limit ({key}), so it counts as open to the internet"


def trainer(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``key`` of the finetune Job's trainer container."""
    return setting(f"spec.template.spec.containers.0.{key}", value)


def add_env(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        wire["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": name, "value": value})

    return change


def bare_pod(base: Callable[[str], Recording]) -> Recording:
    """A Pod registered without metadata or container names: namespace ``default``, ``containers[0]``."""
    pod = builders.bare(
        "kubernetes:core/v1:Pod",
        "bare-pod",
        {"spec": {"containers": [{"args": ["--password=hunter2"], "env": [{"value": "mysql://root:pw@db/app"}]}]}},
    )
    return builders.extend(base("existing"), Recording(resources=[pod]))


M = "mandatory"
A = "advisory"

CASES: list[Case] = [
    # -- cloud -------------------------------------------------------------------------------------
    Case(
        "eks-open-cidr",
        "cloud-eks-endpoint-restricted",
        on("aws", EKS, setting("vpcConfig.publicAccessCidrs", ["203.0.113.0/24", "0.0.0.0/0"])),
        [(M, EKS_OPEN, EKS)],
        (EKS,),
    ),
    Case(
        "eks-public-without-cidrs",
        "cloud-eks-endpoint-restricted",
        on("aws", EKS, setting("vpcConfig.publicAccessCidrs", DELETE)),
        [
            (
                M,
                "the EKS API endpoint is public with no vpcConfig.publicAccessCidrs, so EKS admits 0.0.0.0/0; "
                "list the CIDRs that may reach it",
                EKS,
            )
        ],
        (EKS,),
    ),
    Case(
        "eks-secrets-unencrypted",
        "cloud-eks-secrets-encrypted",
        on("aws", EKS, setting("encryptionConfig", DELETE)),
        [(M, "encryptionConfig does not cover resources: [secrets]; Kubernetes Secrets are stored unencrypted", EKS)],
        (EKS,),
    ),
    Case(
        "eks-secrets-no-key",
        "cloud-eks-secrets-encrypted",
        on("aws", EKS, setting("encryptionConfig.provider", {})),
        [(M, "encryptionConfig for secrets has no provider.keyArn; name the KMS key that encrypts them", EKS)],
        (EKS,),
    ),
    Case(
        "eks-logging-partial",
        "cloud-eks-control-plane-logging",
        on("aws", EKS, setting("enabledClusterLogTypes", ["api", "scheduler"])),
        [(M, "enabledClusterLogTypes is missing audit, authenticator", EKS)],
        (EKS,),
    ),
    Case(
        "gke-public-nodes",
        "cloud-gke-private-nodes",
        on("gcp", GKE, setting("privateClusterConfig.enablePrivateNodes", False)),
        [(M, "privateClusterConfig.enablePrivateNodes is not true; nodes get public IP addresses", GKE)],
        (GKE,),
    ),
    Case(
        "gke-pool-public-nodes",
        "cloud-gke-private-nodes",
        on("gcp", GKE_INFERENCE, setting("networkConfig", {"enablePrivateNodes": False})),
        [
            (
                M,
                "networkConfig.enablePrivateNodes is false; this node pool's nodes get public IP addresses",
                GKE_INFERENCE,
            )
        ],
        (GKE_INFERENCE,),
    ),
    Case(
        "gke-open-master",
        "cloud-gke-master-authorized-networks",
        on("gcp", GKE, setting("masterAuthorizedNetworksConfig.cidrBlocks", [{"cidrBlock": "0.0.0.0/0"}])),
        [(M, "masterAuthorizedNetworksConfig.cidrBlocks contains 0.0.0.0/0, which admits the whole internet", GKE)],
        (GKE,),
    ),
    Case(
        "gke-no-authorized-networks",
        "cloud-gke-master-authorized-networks",
        on("gcp", GKE, setting("masterAuthorizedNetworksConfig", DELETE)),
        [
            (
                M,
                "the GKE control plane is public and masterAuthorizedNetworksConfig lists no cidrBlocks; "
                "list the CIDRs that may reach it",
                GKE,
            )
        ],
        (GKE,),
    ),
    Case(
        "gke-google-cidrs",
        "cloud-gke-master-authorized-networks",
        on("gcp", GKE, setting("masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled", True)),
        [(M, "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled admits every Google Cloud IP address", GKE)],
        (GKE,),
    ),
    Case(
        "gke-no-workload-identity",
        "cloud-gke-workload-identity",
        on("gcp", GKE, setting("workloadIdentityConfig", DELETE)),
        [(M, "workloadIdentityConfig.workloadPool is not set to <project>.svc.id.goog; Workload Identity is off", GKE)],
        (GKE,),
    ),
    Case(
        "gke-pool-node-metadata",
        "cloud-gke-workload-identity",
        on("gcp", GKE_TRAINING, setting("nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA")),
        [
            (
                M,
                "nodeConfig.workloadMetadataConfig.mode is GCE_METADATA; pods can read the node's credentials",
                GKE_TRAINING,
            )
        ],
        (GKE_TRAINING,),
    ),
    Case(
        "gke-unshielded",
        "cloud-gke-shielded-nodes",
        on("gcp", GKE, setting("enableShieldedNodes", False)),
        [(M, "enableShieldedNodes is false; nodes boot without verified integrity", GKE)],
        (GKE,),
    ),
    Case(
        "gke-pool-no-integrity-monitoring",
        "cloud-gke-shielded-nodes",
        on("gcp", GKE_INFERENCE, setting("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False)),
        [(M, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring is false", GKE_INFERENCE)],
        (GKE_INFERENCE,),
    ),
    Case(
        "lke-acl-off",
        "cloud-lke-control-plane-acl",
        on("linode", LKE, setting("controlPlane.acl.enabled", False)),
        [(M, "controlPlane.acl.enabled is not true; the Kubernetes API accepts connections from anywhere", LKE)],
        (LKE,),
    ),
    Case(
        "lke-acl-empty",
        "cloud-lke-control-plane-acl",
        on("linode", LKE, setting("controlPlane.acl.addresses", [])),
        [(M, "controlPlane.acl lists no addresses; list the CIDRs that may reach the Kubernetes API", LKE)],
        (LKE,),
    ),
    Case(
        "lke-acl-open",
        "cloud-lke-control-plane-acl",
        on("linode", LKE, setting("controlPlane.acl.addresses", [{"ipv4s": ["0.0.0.0/0"], "ipv6s": ["::/0"]}])),
        [
            (M, "controlPlane.acl.addresses contains 0.0.0.0/0, which admits the whole internet", LKE),
            (M, "controlPlane.acl.addresses contains ::/0, which admits the whole internet", LKE),
        ],
        (LKE,),
    ),
    Case(
        "lke-pool-without-firewall",
        "cloud-lke-node-firewall",
        on("linode", LKE_INFERENCE, setting("firewallId", DELETE)),
        [(M, "firewallId is not set; the pool's nodes get the account's default firewall or none", LKE_INFERENCE)],
        (LKE_INFERENCE,),
    ),
    Case(
        "lke-inline-pool-without-firewall",
        "cloud-lke-node-firewall",
        on("linode", LKE, setting("pools.0.firewallId", DELETE)),
        [(M, "pools[0] has no firewallId; its nodes get the account's default firewall or none", LKE)],
        (LKE,),
    ),
    Case(
        "lke-firewall-accepts-by-default",
        "cloud-lke-node-firewall",
        on("linode", LKE_FIREWALL, setting("inboundPolicy", "ACCEPT")),
        [(M, "inboundPolicy is ACCEPT, not DROP; inbound traffic no rule names is accepted", LKE_FIREWALL)],
        (LKE_FIREWALL,),
    ),
    Case(
        "lke-firewall-open-nodeports",
        "cloud-lke-node-firewall",
        on(
            "linode",
            LKE_FIREWALL,
            setting(
                "inbounds.7",
                {
                    "label": "nodeports",
                    "action": "ACCEPT",
                    "protocol": "TCP",
                    "ports": "30000-32767",
                    "ipv4s": ["0.0.0.0/0"],
                },
            ),
        ),
        [(M, "inbounds[7] (nodeports) contains 0.0.0.0/0, which admits the whole internet", LKE_FIREWALL)],
        (LKE_FIREWALL,),
    ),
    Case(
        "lke-single-control-plane",
        "cloud-cluster-ha-control-plane",
        lambda base: base("linode"),
        [(A, "controlPlane.highAvailability is not true; the LKE control plane has a single replica", LKE)],
        (LKE,),
    ),
    Case(
        "gke-zonal",
        "cloud-cluster-ha-control-plane",
        on("gcp", GKE, setting("location", "us-central1-a")),
        [(A, "location us-central1-a is a zone; a zonal GKE cluster has a single control-plane replica", GKE)],
        (GKE,),
    ),
    # -- gpu ---------------------------------------------------------------------------------------
    Case(
        "eks-gpu-untainted",
        "gpu-pool-tainted",
        on("aws", EKS_INFERENCE, setting("taints", DELETE)),
        [
            (
                M,
                f"EKS node group {EKS_INFERENCE} has GPUs but no nvidia.com/gpu taint with effect NoSchedule or NoExecute",
                EKS_INFERENCE,
            )
        ],
        (EKS_INFERENCE,),
    ),
    Case(
        "gke-gpu-prefer-no-schedule",
        "gpu-pool-tainted",
        on("gcp", GKE_TRAINING, setting("nodeConfig.taints.0.effect", "PREFER_NO_SCHEDULE")),
        [
            (
                M,
                f"GKE node pool {GKE_TRAINING} has GPUs but no nvidia.com/gpu taint with effect NoSchedule or NoExecute",
                GKE_TRAINING,
            )
        ],
        (GKE_TRAINING,),
        also=frozenset({"platform-kueue-flavor-pool-match"}),
    ),
    Case(
        "lke-gpu-untainted",
        "gpu-pool-tainted",
        on("linode", LKE_TRAINING, setting("taints", [])),
        [
            (
                M,
                f"LKE node pool {LKE_TRAINING} has GPUs but no nvidia.com/gpu taint with effect NoSchedule or NoExecute",
                LKE_TRAINING,
            )
        ],
        (LKE_TRAINING,),
    ),
    Case(
        "eks-gpu-min-one",
        "gpu-pool-scale-to-zero",
        on("aws", EKS_TRAINING, setting("scalingConfig.minSize", 1)),
        [(M, f"EKS node group {EKS_TRAINING} keeps at least 1 GPU nodes running; set its minimum to 0", EKS_TRAINING)],
        (EKS_TRAINING,),
    ),
    Case(
        "lke-gpu-min-two",
        "gpu-pool-scale-to-zero",
        on("linode", LKE_INFERENCE, setting("autoscaler.min", 2)),
        [
            (
                M,
                f"LKE node pool {LKE_INFERENCE} keeps at least 2 GPU nodes running; set its minimum to 1 "
                "(LKE cannot scale below 1)",
                LKE_INFERENCE,
            )
        ],
        (LKE_INFERENCE,),
    ),
    Case(
        "gke-gpu-fixed-size",
        "gpu-pool-scale-to-zero",
        on("gcp", GKE_INFERENCE, chain(setting("autoscaling", DELETE), setting("nodeCount", 4))),
        [
            (
                M,
                # nodeCount is per zone; the pool's location is the region us-central1 (3 zones by default).
                f"GKE node pool {GKE_INFERENCE} has a fixed size of 12 GPU nodes and no autoscaling; autoscale it from 0",
                GKE_INFERENCE,
            )
        ],
        (GKE_INFERENCE,),
    ),
    Case(
        "eks-unlisted-gpu-type",
        "gpu-pool-instance-type-allowed",
        on("aws", EKS_INFERENCE, setting("instanceTypes", ["p3.2xlarge"])),
        [
            (
                M,
                f"EKS node group {EKS_INFERENCE} uses p3.2xlarge, which is not on the GPU instance type allow-list",
                EKS_INFERENCE,
            )
        ],
        (EKS_INFERENCE,),
        also=frozenset({"gpu-stack-max-gpus", "gpu-stack-max-hourly-cost"}),
    ),
    Case(
        "gke-unlisted-accelerator",
        "gpu-pool-instance-type-allowed",
        on("gcp", GKE_INFERENCE, setting("nodeConfig.guestAccelerators.0.type", "nvidia-tesla-v100")),
        [
            (
                M,
                f"GKE node pool {GKE_INFERENCE} attaches nvidia-tesla-v100, which is not on the accelerator allow-list",
                GKE_INFERENCE,
            )
        ],
        (GKE_INFERENCE,),
    ),
    Case(
        "eks-gpus-above-cap",
        "gpu-stack-max-gpus",
        on("aws", EKS_TRAINING, setting("scalingConfig.maxSize", 70)),
        [
            (
                M,
                f"the GPU pools can scale to 74 GPUs (EKS node group {EKS_INFERENCE}: 4; EKS node group {EKS_TRAINING}: 70), "
                "above the cap of 64",
                "",
            )
        ],
        stack_policy=True,
        also=frozenset({"gpu-stack-max-hourly-cost"}),
    ),
    Case(
        "karpenter-unbounded",
        "gpu-stack-max-gpus",
        with_addons("aws", builders.AddonOptions(extra=karpenter_pool(None))),
        [
            (
                M,
                "Karpenter NodePool burst has no spec.limits for nvidia.com/gpu, so the stack's GPU count is unbounded",
                "burst",
            )
        ],
        stack_policy=True,
        also=frozenset({"gpu-stack-max-hourly-cost", "platform-kueue-flavor-pool-match"}),
    ),
    Case(
        "eks-cost-above-budget",
        "gpu-stack-max-hourly-cost",
        on("aws", EKS_TRAINING, setting("scalingConfig.maxSize", 40)),
        [
            (
                M,
                # the system pool is priced too (4 x m6i.large at $0.096)
                f"the node pools can cost $278.80/hour at maximum size (EKS node group {EKS_INFERENCE}: 4 x $0.80; "
                f"EKS node group {EKS_TRAINING}: 40 x $6.88; EKS node group gpuplane-cluster-system-nodes: 4 x $0.10), "
                "above the budget of $250/hour",
                "",
            )
        ],
        stack_policy=True,
    ),
    Case(
        "lke-unpriced-plan",
        "gpu-stack-max-hourly-cost",
        on("linode", LKE_INFERENCE, setting("type", "g3-gpu-rtx9000-1")),
        [
            (
                M,
                f"LKE node pool {LKE_INFERENCE} cannot be priced (g3-gpu-rtx9000-1 has no known hourly price or the pool "
                "no maximum size); add hourlyPriceOverrides or bound the pool",
                LKE_INFERENCE,
            )
        ],
        stack_policy=True,
        also=frozenset({"gpu-pool-instance-type-allowed", "gpu-stack-max-gpus"}),
    ),
    # -- platform: Helm ------------------------------------------------------------------------------
    Case(
        "helm-version-range",
        "platform-helm-version-pinned",
        on("aws", "kueue", setting("version", "^0.19")),
        [
            (
                M,
                "helm.v3.Release kueue installs chart kueue at '^0.19', which is not an exact version; pin one such as 1.2.3",
                "kueue",
            )
        ],
        ("kueue",),
    ),
    Case(
        "helm-version-missing",
        "platform-helm-version-pinned",
        on("linode", "kuberay-operator", setting("version", DELETE)),
        [
            (
                M,
                "helm.v3.Release kuberay-operator installs chart kuberay-operator without a version; pin an exact version",
                "kuberay-operator",
            )
        ],
        ("kuberay-operator",),
    ),
    Case(
        "hooks-chart-via-v4",
        "platform-helm-hooks-supported",
        with_addons("linode", builders.AddonOptions(hooks_chart_via_v4=True)),
        [
            (
                M,
                "helm.v4.Chart kube-prometheus-stack installs kube-prometheus-stack, which relies on Helm hooks that "
                "helm.v4.Chart skips (pulumi/pulumi-kubernetes#3284); install it with helm.v3.Release",
                "kube-prometheus-stack",
            )
        ],
        ("kube-prometheus-stack",),
    ),
    Case(
        "ai-gateway-untested-version",
        "platform-helm-compatibility-matrix",
        lambda base: edit(
            edit(base("linode"), "ai-gateway", setting("version", "v1.2.0")),
            "ai-gateway-crds",
            setting("version", "v1.2.0"),
        ),
        [
            (
                M,
                "Envoy AI Gateway v1.2.0 + Envoy Gateway v1.8.3 is not a tested combination (tested: Envoy AI Gateway "
                "v1.1.0 + Envoy Gateway v1.8.3 + Gateway API v1.5.1)",
                "ai-gateway-crds",
            )
        ],
        stack_policy=True,
    ),
    Case(
        "ai-gateway-crds-mismatch",
        "platform-helm-compatibility-matrix",
        on("linode", "ai-gateway-crds", setting("version", "v1.0.0")),
        [
            (
                M,
                "Envoy AI Gateway charts disagree on the version: ai-gateway-crds-helm v1.0.0, ai-gateway-helm v1.1.0",
                "ai-gateway-crds",
            ),
        ],
        stack_policy=True,
    ),
    Case(
        "gateway-api-too-new",
        "platform-helm-compatibility-matrix",
        with_addons("linode", builders.AddonOptions(extra=gateway_api_install("v1.6.1"))),
        [
            (
                M,
                "Envoy AI Gateway v1.1.0 + Envoy Gateway v1.8.3 + Gateway API v1.6.1 is not a tested combination "
                "(tested: Envoy AI Gateway v1.1.0 + Envoy Gateway v1.8.3 + Gateway API v1.5.1)",
                "ai-gateway-crds",
            )
        ],
        stack_policy=True,
    ),
    # -- platform: Kueue -----------------------------------------------------------------------------
    Case(
        "flavor-without-tolerations",
        "platform-kueue-flavor-pool-match",
        on("aws", FLAVOR_INFERENCE, setting("spec.tolerations", [])),
        [
            (
                M,
                f"ResourceFlavor inference selects EKS node group {EKS_INFERENCE} but does not tolerate its taint "
                "nvidia.com/gpu=present:NoSchedule; admitted pods would stay Pending",
                FLAVOR_INFERENCE,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "flavor-label-drift",
        "platform-kueue-flavor-pool-match",
        on(
            "gcp",
            FLAVOR_INFERENCE,
            lambda wire: wire["spec"]["nodeLabels"].update({"gpuplane.io/pool": "inference-old"}),
        ),
        [
            (
                M,
                f"GKE node pool {GKE_INFERENCE} (labels {{gpuplane.io/gpu=nvidia-l4, gpuplane.io/pool=inference}}) has no "
                "Kueue ResourceFlavor whose nodeLabels select it; no ClusterQueue can admit workloads onto its GPUs",
                GKE_INFERENCE,
            ),
            (
                M,
                "ResourceFlavor inference nodeLabels {gpuplane.io/gpu=nvidia-l4, gpuplane.io/pool=inference-old} match no "
                "node pool of this stack; workloads admitted to it stay Pending",
                FLAVOR_INFERENCE,
            ),
        ],
        stack_policy=True,
    ),
    Case(
        "pool-without-flavor",
        "platform-kueue-flavor-pool-match",
        lambda base: drop(base("linode"), "resourceflavor-training"),
        [
            (
                M,
                f"LKE node pool {LKE_TRAINING} (labels {{gpuplane.io/gpu=nvidia-rtx-pro-6000, gpuplane.io/pool=training}}) has "
                "no Kueue ResourceFlavor whose nodeLabels select it; no ClusterQueue can admit workloads onto its GPUs",
                LKE_TRAINING,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "quota-above-capacity",
        "platform-kueue-quota-within-capacity",
        with_addons("aws", builders.AddonOptions(tenants={"team-a": {"inference": 3}, "team-b": {"inference": 2}})),
        [
            (
                M,
                "ClusterQueues guarantee 5 nvidia.com/gpu on flavor inference (team-a: 3, team-b: 2) but its pools "
                "provide at most 4",
                FLAVOR_INFERENCE,
            )
        ],
        stack_policy=True,
    ),
    # -- platform: AI gateway ------------------------------------------------------------------------
    Case(
        "route-without-rate-limit",
        "platform-aigateway-route-rate-limited",
        lambda base: drop(base("gcp"), "backendtrafficpolicy-token-limit"),
        [
            (
                M,
                f"{ROUTE_TITLE} has no BackendTrafficPolicy with a token-cost rate limit (cost from metadata "
                "io.envoy.ai_gateway) targeting it or its Gateway",
                ROUTE,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "rate-limit-on-other-gateway",
        "platform-aigateway-route-rate-limited",
        on(
            "gcp", "backendtrafficpolicy-token-limit", setting("spec.targetRefs", [{**GATEWAY_REF, "name": "internal"}])
        ),
        [
            (
                M,
                f"{ROUTE_TITLE} has no BackendTrafficPolicy with a token-cost rate limit (cost from metadata "
                "io.envoy.ai_gateway) targeting it or its Gateway",
                ROUTE,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "rate-limit-uncounted-key",
        "platform-aigateway-route-rate-limited",
        on("gcp", ROUTE, setting("spec.llmRequestCosts", [{"metadataKey": "llm_output_token", "type": "OutputToken"}])),
        [
            (
                M,
                f"{ROUTE_TITLE} is rate-limited on token metadata key(s) llm_total_token, but spec.llmRequestCosts "
                "declares none of them, so no tokens are counted (envoyproxy/ai-gateway#1754)",
                ROUTE,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "route-without-authentication",
        "platform-aigateway-route-authenticated",
        lambda base: drop(base("aws"), "securitypolicy-api-keys"),
        [
            (
                M,
                f"{ROUTE_TITLE} has no SecurityPolicy with jwt, apiKeyAuth, oidc, basicAuth or extAuth targeting it or its Gateway",
                ROUTE,
            )
        ],
        stack_policy=True,
    ),
    Case(
        "security-policy-cors-only",
        "platform-aigateway-route-authenticated",
        on(
            "aws",
            "securitypolicy-api-keys",
            chain(setting("spec.apiKeyAuth", DELETE), setting("spec.cors", {"allowOrigins": ["https://example.com"]})),
        ),
        [
            (
                M,
                f"{ROUTE_TITLE} on Gateway ai-gateway/ai-gateway listener http is governed by SecurityPolicy "
                "ai-gateway/api-keys (on the Gateway), which does not authenticate: it sets only cors",
                ROUTE,
            )
        ],
        stack_policy=True,
    ),
    # -- platform: workloads and secrets ---------------------------------------------------------------
    Case(
        "openfga-in-memory",
        "platform-openfga-durable-datastore",
        on("existing", "openfga", setting("values.datastore", {})),
        [
            (
                M,
                "helm.v3.Release openfga runs OpenFGA with datastore.engine memory; authorization data is lost on every "
                "restart. Use one of: postgres, mysql",
                "openfga",
            )
        ],
        ("openfga",),
    ),
    Case(
        "openfga-plaintext-uri",
        "platform-workload-no-plaintext-secrets",
        on("existing", "openfga", setting("values.datastore.uri", "postgres://openfga:s3cret@postgres:5432/openfga")),
        [
            (
                M,
                "helm.v3.Release openfga sets values.datastore.uri to a plaintext credential; make it a Pulumi secret "
                "or reference an existing Kubernetes Secret",
                "openfga",
            )
        ],
        ("openfga",),
    ),
    Case(
        "helm-plaintext-password",
        "platform-workload-no-plaintext-secrets",
        on("aws", "openfga", setting("values.datastore.password", "hunter2")),
        [
            (
                M,
                "helm.v3.Release openfga sets values.datastore.password to a plaintext credential; "
                "make it a Pulumi secret or reference an existing Kubernetes Secret",
                "openfga",
            )
        ],
        ("openfga",),
    ),
    Case(
        "helm-values-env-literal",
        "platform-workload-no-plaintext-secrets",
        on(
            "aws",
            "kube-prometheus-stack",
            setting("values.prometheus", {"extraEnv": [{"name": "REMOTE_WRITE_TOKEN", "value": "abc"}]}),
        ),
        [
            (
                M,
                "helm.v3.Release kube-prometheus-stack sets values.prometheus.extraEnv[0].value (env REMOTE_WRITE_TOKEN) "
                "to a plaintext credential; make it a Pulumi secret or reference an existing Kubernetes Secret",
                "kube-prometheus-stack",
            )
        ],
        ("kube-prometheus-stack",),
    ),
    Case(
        "job-env-literal-token",
        "platform-workload-no-plaintext-secrets",
        on("gcp", "finetune", hf_token_literal),
        [
            (
                M,
                "Job team-a/finetune container trainer sets env HF_TOKEN as a literal value; use valueFrom.secretKeyRef",
                "finetune",
            )
        ],
        ("finetune",),
    ),
    Case(
        "gpu-job-without-queue",
        "platform-workload-queue-label",
        on("linode", "finetune", setting("metadata.labels", {})),
        [
            (
                M,
                "Job team-a/finetune requests GPUs but has no kueue.x-k8s.io/queue-name label; it bypasses Kueue quotas",
                "finetune",
            )
        ],
        ("finetune",),
    ),
    Case(
        "gpu-deployment-without-queue",
        "platform-workload-queue-label",
        with_addons("linode", builders.AddonOptions(extra=gpu_deployment("serving", {"app": "vllm"}))),
        [
            (
                M,
                "Deployment serving/vllm requests GPUs but has no kueue.x-k8s.io/queue-name label; it bypasses Kueue quotas",
                "vllm",
            )
        ],
        ("vllm",),
    ),
    Case(
        "privileged-outside-gpu-operator",
        "platform-container-not-privileged",
        on(
            "aws",
            "gpu-node-tuner",
            chain(
                setting("metadata.namespace", "kube-system"),
                setting("spec.template.spec.containers.0.securityContext", {"privileged": True}),
            ),
        ),
        [
            (
                M,
                f"DaemonSet kube-system/gpu-node-tuner: spec.template.spec container tuner is privileged, {TAKES_NODE}",
                "gpu-node-tuner",
            )
        ],
        ("gpu-node-tuner",),
    ),
    Case(
        "provider-kubeconfig-plaintext",
        "platform-credentials-secret",
        on("linode", "gpuplane-cluster-provider", lambda wire: wire.update(kubeconfig=plain(wire["kubeconfig"]))),
        [
            (
                M,
                "provider gpuplane-cluster-provider has kubeconfig in plaintext; make it a Pulumi secret so state stores it encrypted",
                "gpuplane-cluster-provider",
            )
        ],
        ("gpuplane-cluster-provider",),
        out_of_scope="kubernetes:helm.sh/v3:Release",
    ),
    Case(
        "kubernetes-secret-plaintext",
        "platform-credentials-secret",
        on("existing", "hf-token", lambda wire: wire.update(stringData=plain(wire["stringData"]))),
        [(M, "Secret team-a/hf-token has stringData.token in plaintext; wrap it in pulumi.Output.secret", "hf-token")],
        ("hf-token",),
    ),
    # -- conformance -----------------------------------------------------------------------------------
    Case(
        "no-ai-controller",
        "conformance-stack-ai-requirements",
        lambda base: drop(base("gcp"), "kuberay-operator"),
        [
            (
                A,
                "CNCF Kubernetes AI Conformance v1.36: missing 1 of 8 MUST requirements: robust_controller (an AI "
                "operator such as KubeRay). Provided: ai_inference, gang_scheduling, cluster_autoscaling, pod_autoscaling, "
                "accelerator_metrics, ai_service_metrics, secure_accelerator_access",
                "",
            )
        ],
        stack_policy=True,
    ),
]

# -- gpu-lke-pool-idle-floor (advisory): LKE GPU pools never scale below one node; the plan prices that floor.
LKE_PLAN_INFERENCE = "g2-gpu-rtx4000a1-s"
LKE_PLAN_TRAINING = "g3-gpu-rtxpro6000-blackwell-1"
LKE_FLOOR = "(LKE's autoscaler minimum is 1)"
IDLE_TRAINING = (
    A,
    f"LKE node pool {LKE_TRAINING} keeps at least 1 {LKE_PLAN_TRAINING} node running {LKE_FLOOR}: an idle cost floor "
    "of $3.00/hour ($2,190/month) at list price",
    LKE_TRAINING,
)
IDLE_INFERENCE = (
    A,
    f"LKE node pool {LKE_INFERENCE} keeps at least 1 {LKE_PLAN_INFERENCE} node running {LKE_FLOOR}: an idle cost "
    "floor of $0.52/hour ($380/month) at list price",
    LKE_INFERENCE,
)


def inline_gpu_pool(wire: dict[str, Any]) -> None:
    """A GPU pool declared inline in the LkeCluster's ``pools`` (tainted and labelled like the others)."""
    wire["pools"].append(
        {
            "type": LKE_PLAN_TRAINING,
            "count": 1,
            "autoscaler": {"min": 1, "max": 1},
            "labels": {"gpuplane.io/pool": "inline", "gpuplane.io/gpu": "nvidia-rtx-pro-6000"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        }
    )


def bare_lke_pool(base: Callable[[str], Recording]) -> Recording:
    """An LkeNodePool registered with nothing but its plan: the floor is LKE's minimum of one node."""
    pool = builders.bare(
        "linode:index/lkeNodePool:LkeNodePool", "bare-gpu-pool", {"type": LKE_PLAN_INFERENCE, "clusterId": 1}
    )
    return builders.extend(base("linode"), Recording(resources=[pool]))


CASES.extend(
    [
        Case(
            "lke-gpu-idle-floor",
            "gpu-lke-pool-idle-floor",
            lambda base: base("linode"),
            [IDLE_TRAINING, IDLE_INFERENCE],
            (LKE_INFERENCE, LKE_TRAINING),
        ),
        Case(
            "lke-gpu-idle-floor-min-two",
            "gpu-lke-pool-idle-floor",
            on("linode", LKE_INFERENCE, setting("autoscaler.min", 2)),
            [
                IDLE_TRAINING,
                (
                    A,
                    f"LKE node pool {LKE_INFERENCE} keeps at least 2 {LKE_PLAN_INFERENCE} nodes running: an idle cost "
                    "floor of $1.04/hour ($759/month) at list price",
                    LKE_INFERENCE,
                ),
            ],
            (LKE_INFERENCE, LKE_TRAINING),
            also=frozenset({"gpu-pool-scale-to-zero"}),
        ),
        Case(
            "lke-gpu-idle-floor-fixed-size",
            "gpu-lke-pool-idle-floor",
            on("linode", LKE_INFERENCE, chain(setting("autoscaler", DELETE), setting("nodeCount", 3))),
            [
                IDLE_TRAINING,
                (
                    A,
                    f"LKE node pool {LKE_INFERENCE} keeps at least 3 {LKE_PLAN_INFERENCE} nodes running: an idle cost "
                    "floor of $1.56/hour ($1,139/month) at list price",
                    LKE_INFERENCE,
                ),
            ],
            (LKE_INFERENCE, LKE_TRAINING),
            # A fixed-size pool of 3 is also above LKE's scale-to-zero floor of 1, and 3 nodes no longer
            # hold the tenants' 4 nvidia-rtx4000-ada units.
            also=frozenset({"gpu-pool-scale-to-zero", "platform-kueue-quota-within-capacity"}),
        ),
        Case(
            "lke-gpu-idle-floor-inline-pool",
            "gpu-lke-pool-idle-floor",
            on("linode", LKE, inline_gpu_pool),
            [
                IDLE_TRAINING,
                IDLE_INFERENCE,
                (
                    A,
                    f"LKE cluster {LKE} pools[1] keeps at least 1 {LKE_PLAN_TRAINING} node running {LKE_FLOOR}: an idle "
                    "cost floor of $3.00/hour ($2,190/month) at list price",
                    LKE,
                ),
            ],
            (LKE, LKE_INFERENCE, LKE_TRAINING),
            also=frozenset({"platform-kueue-flavor-pool-match", "cloud-lke-node-firewall"}),  # no flavor, no firewall
        ),
        Case(
            "lke-gpu-idle-floor-unpriced",
            "gpu-lke-pool-idle-floor",
            on("linode", LKE_INFERENCE, setting("type", "g3-gpu-rtx9000-1")),
            [
                IDLE_TRAINING,
                (
                    A,
                    f"LKE node pool {LKE_INFERENCE} keeps at least 1 g3-gpu-rtx9000-1 node running {LKE_FLOOR}; "
                    "g3-gpu-rtx9000-1 has no known hourly price, so its idle cost floor is unknown",
                    LKE_INFERENCE,
                ),
            ],
            (LKE_INFERENCE, LKE_TRAINING),
            also=frozenset({"gpu-pool-instance-type-allowed", "gpu-stack-max-gpus", "gpu-stack-max-hourly-cost"}),
        ),
        Case(
            "lke-gpu-idle-floor-missing-keys",
            "gpu-lke-pool-idle-floor",
            bare_lke_pool,
            [
                IDLE_TRAINING,
                IDLE_INFERENCE,
                (
                    A,
                    f"LKE node pool bare-gpu-pool keeps at least 1 {LKE_PLAN_INFERENCE} node running {LKE_FLOOR}: an "
                    "idle cost floor of $0.52/hour ($380/month) at list price",
                    "bare-gpu-pool",
                ),
            ],
            ("bare-gpu-pool", LKE_INFERENCE, LKE_TRAINING),
            also=frozenset(
                {
                    "cloud-lke-node-firewall",
                    "gpu-pool-tainted",
                    "platform-kueue-flavor-pool-match",
                    "gpu-stack-max-gpus",
                    "gpu-stack-max-hourly-cost",
                }
            ),
        ),
    ]
)

# -- review fixes: wide CIDRs, GKE regional per-zone counts, plaintext credentials in env values and
# arguments, privileged Helm values, host namespaces and capabilities ----------------------------------
RUN_WITH_SECRET = "read it from a Secret (env valueFrom.secretKeyRef, referenced as $(VAR))"
HOST_PID = "sets hostPID: true (its containers see and can signal every process on the node)"
HOST_NETWORK = "sets hostNetwork: true (it shares the node's network stack)"
HOST_IPC = "sets hostIPC: true (it shares the node's IPC namespace)"

CASES.extend(
    [
        # cloud: a range wider than /8 (IPv6 /16) is as good as 0.0.0.0/0
        Case(
            "eks-wide-cidrs",
            "cloud-eks-endpoint-restricted",
            on("aws", EKS, setting("vpcConfig.publicAccessCidrs", ["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"])),
            [
                (M, f"vpcConfig.publicAccessCidrs contains 0.0.0.0/1, {wide('0.0.0.0/1', 8)}", EKS),
                (M, f"vpcConfig.publicAccessCidrs contains 128.0.0.0/1, {wide('128.0.0.0/1', 8)}", EKS),
            ],
            (EKS,),
        ),
        Case(
            "gke-wide-cidr",
            "cloud-gke-master-authorized-networks",
            on(
                "gcp",
                GKE,
                setting(
                    "masterAuthorizedNetworksConfig.cidrBlocks",
                    [{"cidrBlock": "203.0.113.0/24"}, {"cidrBlock": "100.0.0.0/6"}, {"cidrBlock": "10.0.0.0/8"}],
                ),
            ),
            [(M, f"masterAuthorizedNetworksConfig.cidrBlocks contains 100.0.0.0/6, {wide('100.0.0.0/6', 8)}", GKE)],
            (GKE,),
        ),
        Case(
            "lke-acl-wide-ipv6",
            "cloud-lke-control-plane-acl",
            on(
                "linode",
                LKE,
                setting(
                    "controlPlane.acl.addresses",
                    [{"ipv4s": ["203.0.113.0/24", "10.0.0.0/8"], "ipv6s": ["2000::/3", "2001:db8::/32"]}],
                ),
            ),
            [
                (
                    M,
                    f"controlPlane.acl.addresses contains 2000::/3, {wide('2000::/3', 16, 'minIpv6PrefixLength')}",
                    LKE,
                )
            ],
            (LKE,),
        ),
        # gpu: per-zone counts of a regional pool without nodeLocations are multiplied by GKE's 3 zones
        Case(
            "gke-regional-per-zone-min",
            "gpu-pool-scale-to-zero",
            on(
                "gcp",
                GKE_TRAINING,
                chain(
                    setting("nodeLocations", DELETE),
                    setting("autoscaling", {"locationPolicy": "ANY", "minNodeCount": 1, "maxNodeCount": 2}),
                ),
            ),
            [
                (
                    M,
                    f"GKE node pool {GKE_TRAINING} keeps at least 3 GPU nodes running; set its minimum to 0",
                    GKE_TRAINING,
                )
            ],
            (GKE_TRAINING,),
        ),
        Case(
            "gke-regional-per-zone-max",
            "gpu-stack-max-gpus",
            on(
                "gcp",
                GKE_TRAINING,
                chain(
                    setting("nodeLocations", DELETE),
                    setting("autoscaling", {"locationPolicy": "ANY", "minNodeCount": 0, "maxNodeCount": 22}),
                ),
            ),
            [
                (
                    M,
                    f"the GPU pools can scale to 70 GPUs (GKE node pool {GKE_INFERENCE}: 4; GKE node pool {GKE_TRAINING}: "
                    "66), above the cap of 64",
                    "",
                )
            ],
            stack_policy=True,
            also=frozenset({"gpu-stack-max-hourly-cost"}),
        ),
        # platform: credentials in env values and in args/command
        Case(
            "job-env-embedded-credentials",
            "platform-workload-no-plaintext-secrets",
            on("gcp", "finetune", add_env("DATABASE_URL", "postgres://trainer:s3cret@db:5432/runs")),
            [
                (
                    M,
                    "Job team-a/finetune container trainer sets env DATABASE_URL to a URI with embedded credentials; "
                    "use valueFrom.secretKeyRef",
                    "finetune",
                )
            ],
            ("finetune",),
        ),
        Case(
            "job-args-credential-flags",
            "platform-workload-no-plaintext-secrets",
            on(
                "aws",
                "finetune",
                trainer(
                    "args",
                    [
                        "train.py",
                        "--epochs=3",
                        "--password=hunter2",
                        "--api-token",
                        "hf_live_token",
                        "--hf-token=$(HF_TOKEN)",  # filled from the env (a secretKeyRef): fine
                        "--kubeconfig",
                        "/etc/kube/config",  # a file: fine
                    ],
                ),
            ),
            [
                (
                    M,
                    f"Job team-a/finetune container trainer passes --password in args[2] as a literal value; {RUN_WITH_SECRET}",
                    "finetune",
                ),
                (
                    M,
                    f"Job team-a/finetune container trainer passes --api-token in args[3] as a literal value; {RUN_WITH_SECRET}",
                    "finetune",
                ),
            ],
            ("finetune",),
        ),
        Case(
            "job-command-shell-credentials",
            "platform-workload-no-plaintext-secrets",
            on(
                "linode",
                "finetune",
                trainer("command", ["sh", "-c", "exec train --wandb-api-key=abc123 --db postgres://u:p@db/runs"]),
            ),
            [
                (
                    M,
                    "Job team-a/finetune container trainer passes --wandb-api-key in command[2] as a literal value; "
                    f"{RUN_WITH_SECRET}",
                    "finetune",
                ),
                (
                    M,
                    "Job team-a/finetune container trainer passes a URI with embedded credentials in command[2] as a "
                    f"literal value; {RUN_WITH_SECRET}",
                    "finetune",
                ),
            ],
            ("finetune",),
        ),
        Case(
            "pod-credentials-missing-keys",
            "platform-workload-no-plaintext-secrets",
            bare_pod,
            [
                (
                    M,
                    "Pod default/bare-pod container containers[0] sets env env[0] to a URI with embedded credentials; "
                    "use valueFrom.secretKeyRef",
                    "bare-pod",
                ),
                (
                    M,
                    "Pod default/bare-pod container containers[0] passes --password in args[0] as a literal value; "
                    f"{RUN_WITH_SECRET}",
                    "bare-pod",
                ),
            ],
            ("bare-pod",),
        ),
        Case(
            "helm-values-credential-flag",
            "platform-workload-no-plaintext-secrets",
            on(
                "aws",
                "kube-prometheus-stack",
                setting("values.prometheusOperator", {"extraArgs": ["--log-level=info", "--remote-write-token=abc"]}),
            ),
            [
                (
                    M,
                    "helm.v3.Release kube-prometheus-stack sets values.prometheusOperator.extraArgs[1] to a plaintext "
                    "credential; make it a Pulumi secret or reference an existing Kubernetes Secret",
                    "kube-prometheus-stack",
                )
            ],
            ("kube-prometheus-stack",),
        ),
        # platform: privileged Helm values, host namespaces, SYS_ADMIN/ALL
        Case(
            "helm-values-privileged",
            "platform-container-not-privileged",
            on(
                "aws",
                "kuberay-operator",
                setting("values.sidecarContainers", [{"name": "debug", "securityContext": {"privileged": True}}]),
            ),
            [
                (
                    M,
                    "helm.v3.Release kuberay-operator (chart kuberay-operator, namespace kuberay) sets "
                    f"values.sidecarContainers[0].securityContext.privileged to true; {EXEMPT}",
                    "kuberay-operator",
                )
            ],
            ("kuberay-operator",),
        ),
        Case(
            "helm-values-container-security-context",
            "platform-container-not-privileged",
            on(
                "linode",
                "kube-prometheus-stack",
                setting(
                    "values.grafana.containerSecurityContext",
                    {"privileged": "true", "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}},
                ),
            ),
            [
                (
                    M,
                    "helm.v3.Release kube-prometheus-stack (chart kube-prometheus-stack, namespace monitoring) sets "
                    f"values.grafana.containerSecurityContext.privileged to true; {EXEMPT}",
                    "kube-prometheus-stack",
                ),
                (
                    M,
                    "helm.v3.Release kube-prometheus-stack (chart kube-prometheus-stack, namespace monitoring) adds "
                    f"capability SYS_ADMIN in values.grafana.containerSecurityContext.capabilities.add; {EXEMPT}",
                    "kube-prometheus-stack",
                ),
            ],
            ("kube-prometheus-stack",),
        ),
        Case(
            "helm-values-privileged-no-namespace",
            "platform-container-not-privileged",
            on(
                "gcp",
                "kuberay-operator",
                chain(setting("namespace", DELETE), setting("values.securityContext", {"privileged": True})),
            ),
            [
                (
                    M,
                    "helm.v3.Release kuberay-operator (chart kuberay-operator, namespace default) sets "
                    f"values.securityContext.privileged to true; {EXEMPT}",
                    "kuberay-operator",
                )
            ],
            ("kuberay-operator",),
        ),
        Case(
            "pod-host-namespaces",
            "platform-container-not-privileged",
            on(
                "gcp",
                "finetune",
                chain(
                    setting("spec.template.spec.hostPID", True),
                    setting("spec.template.spec.hostNetwork", True),
                    setting("spec.template.spec.hostIPC", True),
                ),
            ),
            [
                (M, f"Job team-a/finetune: spec.template.spec {HOST_PID}, {TAKES_NODE}", "finetune"),
                (M, f"Job team-a/finetune: spec.template.spec {HOST_NETWORK}, {TAKES_NODE}", "finetune"),
                (M, f"Job team-a/finetune: spec.template.spec {HOST_IPC}, {TAKES_NODE}", "finetune"),
            ],
            ("finetune",),
        ),
        Case(
            "container-sys-admin",
            "platform-container-not-privileged",
            on(
                "existing",
                "finetune",
                trainer("securityContext", {"capabilities": {"add": ["NET_ADMIN", "CAP_SYS_ADMIN"]}}),
            ),
            [
                (
                    M,
                    "Job team-a/finetune: spec.template.spec container trainer adds capability NET_ADMIN "
                    f"(securityContext.capabilities.add), {TAKES_NODE}",
                    "finetune",
                ),
                (
                    M,
                    "Job team-a/finetune: spec.template.spec container trainer adds capability CAP_SYS_ADMIN "
                    f"(securityContext.capabilities.add), {TAKES_NODE}",
                    "finetune",
                ),
            ],
            ("finetune",),
        ),
        Case(
            "container-all-capabilities-no-namespace",
            "platform-container-not-privileged",
            on(
                "aws",
                "gpu-node-tuner",
                chain(
                    setting("metadata.namespace", DELETE),
                    setting("spec.template.spec.hostNetwork", True),
                    setting("spec.template.spec.containers.0.securityContext", {"capabilities": {"add": ["all"]}}),
                ),
            ),
            [
                (
                    M,
                    f"DaemonSet default/gpu-node-tuner: spec.template.spec {HOST_NETWORK}, {TAKES_NODE}",
                    "gpu-node-tuner",
                ),
                (
                    M,
                    "DaemonSet default/gpu-node-tuner: spec.template.spec container tuner adds capability all "
                    f"(securityContext.capabilities.add), {TAKES_NODE}",
                    "gpu-node-tuner",
                ),
            ],
            ("gpu-node-tuner",),
        ),
    ]
)


# --- EKS storage, IMDS and node-role cases (issue 12 items 5-6) -------------------------------------

EKS_SYSTEM = "gpuplane-cluster-system-nodes"
EKS_INFERENCE_LT = "gpuplane-cluster-gpu-inference-lt"
EKS_EBS_CSI = "gpuplane-cluster-ebs-csi"
EKS_GP3 = "gpuplane-cluster-gp3"
EKS_NODE_ECR_POLICY = "gpuplane-cluster-node-ecr-policy"
CNI_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
VOLUME_PENDING = "the volume stays Pending"


def _eks_volume_users(reason: str) -> list[tuple[str, str, str]]:
    """Every volume user of the aws baseline, reported for ``reason``."""
    return [
        (M, f"Helm values with a volume claim or persistence on EKS with {reason}: {VOLUME_PENDING}", name)
        for name in EKS_VOLUME_RELEASES
    ] + [
        (M, f"StatefulSet volumeClaimTemplates on EKS with {reason}: {VOLUME_PENDING}", name)
        for name in EKS_VOLUME_STATEFULSETS
    ]


EKS_VOLUME_RELEASES = ("kube-prometheus-stack",)
EKS_VOLUME_STATEFULSETS: tuple[str, ...] = ()
PROMETHEUS_VOLUME = {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}


def eks_with_volumes(*changes: Callable[[Recording], Recording]) -> Mutate:
    """The aws baseline with Prometheus asking for a volume (as the real add-on does), then ``changes``."""

    def build(base: Callable[[str], Recording]) -> Recording:
        recording = edit(
            base("aws"),
            "kube-prometheus-stack",
            setting("values.prometheus.prometheusSpec.storageSpec", PROMETHEUS_VOLUME),
        )
        for change in changes:
            recording = change(recording)
        return recording

    return build


CASES.extend(
    [
        Case(
            "eks-volumes-without-csi-driver",
            "cloud-eks-volumes-have-csi-driver",
            eks_with_volumes(lambda r: drop(r, EKS_EBS_CSI)),
            _eks_volume_users("no aws-ebs-csi-driver add-on"),
            stack_policy=True,
        ),
        Case(
            "eks-volumes-without-default-storage-class",
            "cloud-eks-volumes-have-csi-driver",
            eks_with_volumes(lambda r: edit(r, EKS_GP3, setting("metadata.annotations", {}))),
            _eks_volume_users("no default StorageClass"),
            stack_policy=True,
        ),
        Case(
            "eks-volumes-default-class-not-ebs",
            "cloud-eks-volumes-have-csi-driver",
            eks_with_volumes(lambda r: edit(r, EKS_GP3, setting("provisioner", "kubernetes.io/aws-ebs"))),
            _eks_volume_users("the default StorageClass is not provisioned by ebs.csi.aws.com"),
            stack_policy=True,
        ),
        Case(
            "eks-node-group-without-launch-template",
            "cloud-eks-node-imdsv2",
            on("aws", EKS_INFERENCE, setting("launchTemplate", DELETE)),
            [
                (
                    M,
                    "no launchTemplate: nodes get EKS's metadata defaults and pods can read the node role's "
                    "credentials from IMDS",
                    EKS_INFERENCE,
                )
            ],
            stack_policy=True,
        ),
        Case(
            "eks-launch-template-imdsv1-and-two-hops",
            "cloud-eks-node-imdsv2",
            on(
                "aws",
                EKS_INFERENCE_LT,
                chain(
                    setting("metadataOptions.httpTokens", "optional"),
                    setting("metadataOptions.httpPutResponseHopLimit", 2),
                ),
            ),
            [
                (
                    M,
                    f"launch template {EKS_INFERENCE_LT} does not require IMDSv2 (metadataOptions.httpTokens is not "
                    "required)",
                    EKS_INFERENCE,
                ),
                (
                    M,
                    f"launch template {EKS_INFERENCE_LT} lets IMDS answers reach pods "
                    "(metadataOptions.httpPutResponseHopLimit is 2, not 1)",
                    EKS_INFERENCE,
                ),
            ],
            stack_policy=True,
        ),
        Case(
            "eks-launch-template-outside-the-stack",
            "cloud-eks-node-imdsv2",
            lambda base: drop(base("aws"), EKS_INFERENCE_LT),
            [
                (
                    M,
                    "its launch template is not in this stack, so IMDSv2 and the hop limit cannot be checked",
                    EKS_INFERENCE,
                )
            ],
            stack_policy=True,
        ),
        Case(
            "eks-node-role-with-cni-policy",
            "cloud-eks-node-role-no-cni-policy",
            on("aws", EKS_NODE_ECR_POLICY, setting("policyArn", CNI_POLICY_ARN)),
            [
                (
                    M,
                    "attaches AmazonEKS_CNI_Policy to node role gpuplane-cluster-node-role: every node may create and "
                    "delete network interfaces account-wide",
                    EKS_NODE_ECR_POLICY,
                )
            ],
            stack_policy=True,
        ),
        Case(
            "eks-node-role-managed-cni-policy",
            "cloud-eks-node-role-no-cni-policy",
            on("aws", "gpuplane-cluster-node-role", setting("managedPolicyArns", [CNI_POLICY_ARN])),
            [
                (
                    M,
                    "node role gpuplane-cluster-node-role lists AmazonEKS_CNI_Policy in managedPolicyArns",
                    "gpuplane-cluster-node-role",
                )
            ],
            stack_policy=True,
        ),
    ]
)
