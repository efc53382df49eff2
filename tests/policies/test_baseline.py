"""Compliant platforms pass; missing and mistyped keys never crash the pack; spec changes flow through
the real cluster components into the policies. All through the real analyzer (gRPC)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gpuplane import stackfiles
from gpuplane.analyzer import PACK_DIR, load_config
from gpuplane.recording import Recording
from tests.policies import builders
from tests.policies.builders import bare
from tests.policies.cases import IDLE_INFERENCE, IDLE_TRAINING
from tests.policies.conftest import Analyze
from tests.policies.test_policy_cases import name_of
from tests.support import example_plan, raw_spec

EXAMPLE_STACKS = sorted(stackfiles.discover())


def test_there_are_four_example_stacks() -> None:
    assert [p.name for p in EXAMPLE_STACKS] == [
        "Pulumi.aws-dev.yaml",
        "Pulumi.existing-dev.yaml",
        "Pulumi.gcp-dev.yaml",
        "Pulumi.linode-dev.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLE_STACKS, ids=lambda p: p.name)
def test_example_stacks_have_no_mandatory_violation(path: Any, analyze: Analyze) -> None:
    stack_file = stackfiles.load(path)
    plan = example_plan(stack_file.name)
    assert plan.errors == []
    assert plan.recording.resources
    for config in (None, load_config(PACK_DIR / "config" / "dev.json")):
        violations = analyze(plan.recording, config, stack=stack_file.name)
        assert [v for v in violations if v.level == "mandatory"] == []
        assert {v.level for v in violations} <= {"advisory"}


EXPECTED_BASELINE: dict[str, list[tuple[str, str, str, str]]] = {
    "aws": [],
    "gcp": [],
    "linode": [
        (
            "cloud-cluster-ha-control-plane",
            "advisory",
            "controlPlane.highAvailability is not true; the LKE control plane has a single replica",
            "gpuplane-cluster-cluster",
        ),
        ("gpu-lke-pool-idle-floor", *IDLE_TRAINING),
        ("gpu-lke-pool-idle-floor", *IDLE_INFERENCE),
    ],
    "existing": [
        (
            "conformance-stack-ai-requirements",
            "advisory",
            "CNCF Kubernetes AI Conformance v1.36: missing 1 of 8 MUST requirements: cluster_autoscaling (GPU pools "
            "autoscaled on pending pods). Provided: ai_inference, gang_scheduling, pod_autoscaling, accelerator_metrics, "
            "ai_service_metrics, secure_accelerator_access, robust_controller",
            "",
        )
    ],
}


@pytest.mark.parametrize("cloud", sorted(EXPECTED_BASELINE))
def test_compliant_platform_per_cloud(cloud: str, analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    violations = analyze(baseline(cloud))
    # Sorted: sibling registrations (the LKE pools) may settle in either order under the mock runtime.
    assert sorted((v.policy, v.level, v.message, name_of(v.urn)) for v in violations) == sorted(
        EXPECTED_BASELINE[cloud]
    )


def _pools(cloud: str, **changes: Any) -> list[dict[str, Any]]:
    pools = copy.deepcopy(raw_spec(cloud)["gpuPools"])
    for pool in pools:
        pool.update(changes.get(pool["name"], {}))
    return pools


def test_spec_changes_reach_the_policies_through_the_components(analyze: Analyze) -> None:
    """Stack-config mutations (not recording edits): the real EKS/LKE components turn them into inputs."""
    always_on = builders.baseline("aws", gpuPools=_pools("aws", training={"minNodes": 1}))
    assert [(v.policy, v.level, v.message) for v in analyze(always_on)] == [
        (
            "gpu-pool-scale-to-zero",
            "mandatory",
            "EKS node group gpuplane-cluster-gpu-training keeps at least 1 GPU nodes running; set its minimum to 0",
        )
    ]
    huge = builders.baseline("aws", gpuPools=_pools("aws", training={"maxNodes": 70}))
    assert sorted({(v.policy, v.level) for v in analyze(huge)}) == [
        ("gpu-stack-max-gpus", "mandatory"),
        ("gpu-stack-max-hourly-cost", "mandatory"),
    ]
    highly_available = builders.baseline("linode", production=True)
    # Only the idle floor LKE GPU pools always have (advisory, one per pool) remains.
    assert [(v.policy, v.level) for v in analyze(highly_available)] == [("gpu-lke-pool-idle-floor", "advisory")] * 2


MISSING: dict[str, tuple[str, bool]] = {
    "aws:eks/cluster:Cluster": ("eks", True),
    "aws:eks/nodeGroup:NodeGroup": ("ng", True),
    "gcp:container/cluster:Cluster": ("gke", True),
    "gcp:container/nodePool:NodePool": ("np", True),
    "linode:index/lkeCluster:LkeCluster": ("lke", True),
    "linode:index/lkeNodePool:LkeNodePool": ("lp", True),
    "kubernetes:karpenter.sh/v1:NodePool": ("kp", True),
    "kubernetes:helm.sh/v3:Release": ("release", True),
    "kubernetes:helm.sh/v4:Chart": ("chart", False),
    "kubernetes:helm.sh/v3:Chart": ("chart3", False),
    "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor": ("flavor", True),
    "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue": ("queue", True),
    "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute": ("route", True),
    "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy": ("btp", True),
    "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy": ("sp", True),
    "kubernetes:gateway.networking.k8s.io/v1:Gateway": ("gw", True),
    "kubernetes:apps/v1:Deployment": ("deploy", True),
    "kubernetes:batch/v1:Job": ("job", True),
    "kubernetes:batch/v1:CronJob": ("cron", True),
    "kubernetes:core/v1:Pod": ("pod", True),
    "kubernetes:core/v1:Secret": ("secret", True),
    "kubernetes:core/v1:ConfigMap": ("cm", True),
    "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet": ("jobset", True),
    "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet": ("lws", True),
    "kubernetes:ray.io/v1:RayJob": ("rayjob", True),
    "kubernetes:yaml/v2:ConfigFile": ("yaml", False),
    "pulumi:providers:kubernetes": ("provider", True),
    "gpuplane:index:GpuPlatform": ("platform", False),
}


def test_missing_keys_do_not_crash(analyze: Analyze) -> None:
    """Every type the pack reads, registered with no inputs at all: insecure defaults are reported,
    nothing else is guessed, nothing crashes."""
    recording = Recording(resources=[bare(t, name, custom=custom) for t, (name, custom) in MISSING.items()])
    found = {(v.policy, name_of(v.urn)) for v in analyze(recording) if v.level == "mandatory"}
    assert found == {
        ("cloud-eks-endpoint-restricted", "eks"),
        ("cloud-eks-secrets-encrypted", "eks"),
        ("cloud-eks-control-plane-logging", "eks"),
        ("cloud-eks-node-imdsv2", "ng"),  # no launch template at all: fails closed
        ("cloud-gke-private-nodes", "gke"),
        ("cloud-gke-master-authorized-networks", "gke"),
        ("cloud-gke-workload-identity", "gke"),
        ("cloud-lke-control-plane-acl", "lke"),
        ("platform-aigateway-route-rate-limited", "route"),
        ("platform-aigateway-route-authenticated", "route"),
        # pools of unknown type or size cannot be priced: reported, not priced at zero (issue 10)
        ("gpu-stack-max-hourly-cost", "ng"),
        ("gpu-stack-max-hourly-cost", "kp"),
        ("gpu-stack-max-hourly-cost", "lp"),
        ("gpu-stack-max-hourly-cost", "np"),
        ("cloud-lke-node-firewall", "lp"),  # an LKE pool without firewallId
    }


GARBAGE: list[tuple[str, dict[str, Any]]] = [
    ("aws:eks/cluster:Cluster", {"vpcConfig": "public", "encryptionConfig": 5, "enabledClusterLogTypes": "api"}),
    (
        "aws:eks/nodeGroup:NodeGroup",
        {"instanceTypes": "g6.xlarge", "taints": {"key": 1}, "scalingConfig": [], "labels": ["a"], "amiType": 3},
    ),
    (
        "gcp:container/cluster:Cluster",
        {"privateClusterConfig": [], "masterAuthorizedNetworksConfig": {"cidrBlocks": "x"}},
    ),
    (
        "gcp:container/nodePool:NodePool",
        {
            "nodeConfig": {"guestAccelerators": {"type": "nvidia-l4", "count": "two"}, "taints": "x", "machineType": 5},
            "autoscaling": {"totalMaxNodeCount": "many"},
            "nodeLocations": "us-central1-a",
        },
    ),
    ("linode:index/lkeCluster:LkeCluster", {"controlPlane": {"acl": []}, "pools": "g2-gpu-rtx4000a1-s"}),
    ("linode:index/lkeNodePool:LkeNodePool", {"type": "g2-gpu-rtx4000a1-s", "autoscaler": "on", "taints": [None, 3]}),
    ("kubernetes:karpenter.sh/v1:NodePool", {"spec": {"limits": {"nvidia.com/gpu": "lots"}, "template": []}}),
    ("kubernetes:helm.sh/v3:Release", {"chart": "openfga", "version": 1.2, "values": ["a", {"password": 3}]}),
    ("kubernetes:helm.sh/v4:Chart", {"chart": 7, "values": "x"}),
    ("kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor", {"spec": {"nodeLabels": ["a"], "tolerations": "all"}}),
    (
        "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue",
        {
            "spec": {
                "resourceGroups": [
                    {"flavors": [{"name": 1, "resources": [{"name": "nvidia.com/gpu", "nominalQuota": "x"}]}]}
                ]
            }
        },
    ),
    (
        "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute",
        {"metadata": "x", "spec": {"parentRefs": "gw", "llmRequestCosts": [1]}},
    ),
    ("kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy", {"spec": {"targetRefs": "gw", "rateLimit": []}}),
    (
        "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy",
        {"spec": {"targetSelectors": [{"matchLabels": "x"}], "jwt": "y"}},
    ),
    ("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": {"containers": "vllm"}}}}),
    (
        "kubernetes:batch/v1:Job",
        {"spec": {"template": {"spec": {"containers": [{"env": {"name": "TOKEN"}, "resources": []}]}}}},
    ),
    ("kubernetes:core/v1:Secret", {"stringData": ["a"], "data": "b"}),
    ("kubernetes:core/v1:ConfigMap", {"data": {"x": "{not: [yaml"}}),
    ("pulumi:providers:kubernetes", {"kubeconfig": 5}),
]


def test_mistyped_keys_do_not_crash(analyze: Analyze) -> None:
    recording = Recording(resources=[bare(t, f"garbage-{i}", wire) for i, (t, wire) in enumerate(GARBAGE)])
    violations = analyze(recording)
    assert all(v.message for v in violations)
    # Ill-typed values are not silently read as compliant where a default is insecure:
    assert {"cloud-eks-endpoint-restricted", "cloud-lke-control-plane-acl"} <= {v.policy for v in violations}
