"""GpuPlatform: one spec on every target, the same contract and the same platform on each."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from components.gpu_platform import GpuPlatform, GpuPlatformArgs
from components.spec import SpecError, parse_spec
from gpuplane.recording import Recording
from tests.support import example_plan, raw_spec, record

CLUSTER_TYPES = {
    "aws": "gpuplane:clusters:EksGpuCluster",
    "gcp": "gpuplane:clusters:GkeGpuCluster",
    "linode": "gpuplane:clusters:LkeGpuCluster",
    "existing": "gpuplane:clusters:ExistingCluster",
}
REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "linode": "us-ord", "existing": "on-prem"}
ADDONS = [
    "gpuplane:addons:Observability",
    "gpuplane:addons:GpuEnablement",
    "gpuplane:addons:KueueAddon",
    "gpuplane:addons:WorkloadControllers",
    "gpuplane:addons:CustomMetricsAutoscaling",
    "gpuplane:addons:AiGateway",
    "gpuplane:addons:OpenFga",
    "gpuplane:addons:AdmissionGuardrails",
]

ONE_CONTEXT_KUBECONFIG = (
    '{"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": {"server": "https://c.example"}}], '
    '"contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}'
)
"""An existing cluster's kubeconfig must have exactly one usable context (components/kubeconfig.py)."""


def _neutral_spec(cloud: str) -> dict[str, Any]:
    """The same platform on any cloud that offers L4 and A100 80GB: only cloud and region change."""
    raw = copy.deepcopy(raw_spec("aws"))
    raw["gpuPools"][1]["gpu"] = "nvidia-a100-80gb"
    raw["gpuPools"][1]["gpusPerNode"] = 8  # AWS sells A100 80GB only in 8-GPU nodes
    raw["gpuPools"][1]["maxNodes"] = 1
    raw["tenants"] = [
        {"name": "team-a", "quotas": {"nvidia-l4": 2, "nvidia-a100-80gb": 4}, "weight": 2},
        {"name": "team-b", "quotas": {"nvidia-l4": 2, "nvidia-a100-80gb": 4}},
    ]
    raw["cloud"], raw["region"] = cloud, REGIONS[cloud]
    return raw


def _build(cloud: str) -> tuple[GpuPlatform, Recording]:
    spec = parse_spec(_neutral_spec(cloud))
    holder: list[GpuPlatform] = []

    def program() -> None:
        kubeconfig = pulumi.Output.secret(ONE_CONTEXT_KUBECONFIG) if cloud == "existing" else None
        holder.append(GpuPlatform("gp", GpuPlatformArgs(spec=spec, kubeconfig=kubeconfig)))

    recording = record(program, region=REGIONS[cloud])
    return holder[0], recording


@pytest.fixture(scope="module", params=["aws", "gcp", "existing"])
def built(request: pytest.FixtureRequest) -> tuple[str, GpuPlatform, Recording]:
    cloud = str(request.param)
    return (cloud, *_build(cloud))


def test_the_cloud_picks_the_cluster_and_the_platform_is_the_same(built: tuple[str, GpuPlatform, Recording]) -> None:
    cloud, _, recording = built
    platform = recording.named("gp")
    children = {r.type for r in recording.children_of(platform.urn)}
    assert children == {CLUSTER_TYPES[cloud], *ADDONS}
    assert not any(r.type in CLUSTER_TYPES.values() for r in recording.resources if r.type != CLUSTER_TYPES[cloud])


def test_pool_labels_and_taints_are_identical_on_every_target(built: tuple[str, GpuPlatform, Recording]) -> None:
    _, platform, _ = built
    pools = [(p.name, p.gpu, dict(p.labels), [t.toleration() for t in p.taints]) for p in platform.cluster.gpu_pools]
    assert pools == [
        (
            "inference",
            "nvidia-l4",
            {"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-l4"},
            [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
        (
            "training",
            "nvidia-a100-80gb",
            {"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-a100-80gb"},
            [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
    ]


def test_kueue_flavors_and_queues_are_identical_on_every_target(built: tuple[str, GpuPlatform, Recording]) -> None:
    _, _, recording = built
    flavors = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in recording.of_type("kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor")
    }
    assert flavors["training"]["nodeLabels"] == {"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-a100-80gb"}
    queues = sorted(
        r.inputs["metadata"]["name"] for r in recording.of_type("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue")
    )
    assert queues == ["team-a", "team-b"]


def test_every_kubernetes_child_uses_the_cluster_provider(built: tuple[str, GpuPlatform, Recording]) -> None:
    cloud, _, recording = built
    (provider,) = recording.of_type("pulumi:providers:kubernetes")
    expected = f"{provider.urn}::{provider.id}"
    kubernetes = [r for r in recording.resources if r.type.startswith("kubernetes:") and r.custom]
    assert kubernetes
    assert {r.provider for r in kubernetes} == {expected}
    native = [r for r in recording.resources if r.type in {"aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster"}]
    if cloud == "existing":
        assert native == []
        assert {r.deleted_with for r in kubernetes} == {""}
    else:
        # Objects owning cloud resources are deleted for real on destroy (tests/components/test_destroy_order.py).
        owners = ("-load-balancer", "-observability-stack", "-openfga-postgres", "-cluster-gp3")
        assert {r.deleted_with for r in kubernetes if not r.name.endswith(owners)} == {native[0].urn}
        assert {r.deleted_with for r in kubernetes if r.name.endswith(owners)} == {""}


def test_the_kubeconfig_output_is_secret(built: tuple[str, GpuPlatform, Recording]) -> None:
    _, _, recording = built
    (provider,) = recording.of_type("pulumi:providers:kubernetes")
    assert provider.is_secret("kubeconfig")


def test_linode_names_the_models_it_offers_for_the_same_spec() -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(_neutral_spec("linode"))
    messages = [str(p) for p in error.value.problems]
    assert (
        "gpuPools[0].gpu: linode does not offer 'nvidia-l4'; choose one of: nvidia-rtx-pro-6000, nvidia-rtx4000-ada"
        in messages
    )
    assert any(m.startswith("gpuPools[1].gpu: linode does not offer 'nvidia-a100-80gb'") for m in messages)


def test_install_addons_false_builds_the_cluster_alone() -> None:
    spec = parse_spec(_neutral_spec("aws"))
    recording = record(lambda: GpuPlatform("gp", GpuPlatformArgs(spec=spec, install_addons=False)))
    platform = recording.named("gp")
    assert [r.type for r in recording.children_of(platform.urn)] == [CLUSTER_TYPES["aws"]]


@pytest.mark.parametrize(
    ("cloud", "kubeconfig", "message"),
    [
        ("existing", None, "kubeconfig: required when spec.cloud is 'existing'"),
        ("aws", "apiVersion: v1", "kubeconfig: only used for existing clusters, not 'aws'"),
    ],
)
def test_args_check_the_kubeconfig(cloud: str, kubeconfig: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GpuPlatformArgs(spec=parse_spec(_neutral_spec(cloud)), kubeconfig=kubeconfig)


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "linode-dev", "existing-dev"])
def test_every_platform_namespace_is_reserved_from_tenants(stack: str) -> None:
    """A tenant named like a platform namespace would collide with it: the spec must reserve them all."""
    from components.spec import RESERVED_NAMESPACES

    plan = example_plan(stack)
    assert plan.spec is not None
    tenants = {t.name for t in plan.spec.tenants}
    created = {r.inputs["metadata"]["name"] for r in plan.recording.of_type("kubernetes:core/v1:Namespace")}
    assert tenants <= created
    assert created - tenants <= RESERVED_NAMESPACES


def test_kueue_starts_after_the_workload_controllers_crds(built: tuple[str, GpuPlatform, Recording]) -> None:
    _, _, recording = built
    kueue = next(r for r in recording.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kueue")
    controllers = {
        r.urn for r in recording.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] in {"jobset", "lws"}
    }
    assert len(controllers) == 2
    assert controllers <= set(kueue.dependencies)
