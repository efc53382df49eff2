"""LkeGpuCluster under the mock runtime (preview=False): the exact child contract and its inputs."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pulumi
import pytest

from components.clusters.contract import GpuCluster
from components.clusters.lke import (
    EXTERNAL_POOL_TAG,
    FIREWALL_INBOUND_RULES,
    LkeGpuCluster,
    LkeGpuClusterArgs,
    firewall_label,
)
from components.spec import GPU_TAINT, PlatformSpec, SpecError
from gpuplane.recording import Recording
from tests.support import capture_registered_outputs, fresh_python, raw_spec, record, spec_for

CLUSTER_TYPE = "linode:index/lkeCluster:LkeCluster"
POOL_TYPE = "linode:index/lkeNodePool:LkeNodePool"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
FIREWALL_TYPE = "linode:index/firewall:Firewall"
MOCK_CLUSTER_ID = 123456
MOCK_FIREWALL_ID = 654321


def _contract(cluster: LkeGpuCluster) -> GpuCluster:
    """pyright checks here that LkeGpuCluster satisfies the GpuCluster Protocol."""
    return cluster


def build(spec: PlatformSpec) -> tuple[Recording, LkeGpuCluster, dict[str, Any]]:
    """Build ``gp`` from ``spec``; also capture the component's outputs (value and secretness)."""
    made: list[LkeGpuCluster] = []
    seen: dict[str, Any] = {}

    def program() -> None:
        cluster = LkeGpuCluster("gp", LkeGpuClusterArgs(spec=spec))
        made.append(cluster)
        contract = _contract(cluster)
        contract.kubeconfig.apply(lambda v: seen.__setitem__("kubeconfig", v))
        pulumi.Output.from_input(contract.kubeconfig.is_secret()).apply(
            lambda v: seen.__setitem__("kubeconfig_secret", v)
        )
        contract.cluster_name.apply(lambda v: seen.__setitem__("cluster_name", v))

    recording = record(program, region=spec.region)
    return recording, made[0], seen


def linode_spec(**overrides: Any) -> PlatformSpec:
    return spec_for("linode", **overrides)


def pools_with(**changes: Any) -> list[dict[str, Any]]:
    """The baseline linode GPU pools with ``changes`` applied to the first one."""
    pools: list[dict[str, Any]] = raw_spec("linode")["gpuPools"]
    pools[0].update(changes)
    return pools


# --- children -----------------------------------------------------------------------------------


def test_children_are_exactly_cluster_one_pool_per_gpu_pool_and_provider() -> None:
    rec, _, _ = build(linode_spec())
    component = rec.named("gp")
    assert component.type == "gpuplane:clusters:LkeGpuCluster"
    assert component.custom is False
    children = rec.children_of(component.urn)
    # Registration order of independent resources is not deterministic: compare as sorted lists.
    assert sorted((r.type, r.name) for r in children) == [
        (FIREWALL_TYPE, "gp-firewall"),
        (CLUSTER_TYPE, "gp-cluster"),
        (POOL_TYPE, "gp-pool-inference"),
        (POOL_TYPE, "gp-pool-training"),
        (PROVIDER_TYPE, "gp-provider"),
    ]
    # Nothing else is registered anywhere (no stray resources outside the component).
    assert len(rec.resources) == 1 + len(children)
    # Cloud resources use the default linode provider configured by the stack, never an explicit one.
    assert {r.provider for r in children if r.type != PROVIDER_TYPE} == {""}


def test_no_invokes_are_made() -> None:
    rec, _, _ = build(linode_spec())
    assert rec.invokes == []


# --- the cluster --------------------------------------------------------------------------------


def test_cluster_identity_version_tags_and_external_pool_tags() -> None:
    spec = linode_spec(tags={"env": "test", "team": "ml"})
    rec, _, seen = build(spec)
    inputs = rec.named("gp-cluster").inputs
    assert inputs["label"] == "gp-linode"
    assert inputs["region"] == "us-ord"
    assert inputs["k8sVersion"] == "1.35"
    assert inputs["tags"] == ["env:test", "team:ml"]
    assert inputs["externalPoolTags"] == [EXTERNAL_POOL_TAG]
    assert seen["cluster_name"] == "gp-linode"


def test_system_pool_is_inline_autoscaled_labelled_and_untainted() -> None:
    spec = linode_spec(systemPool={"size": "medium", "minNodes": 3, "maxNodes": 5})
    rec, _, _ = build(spec)
    cluster = rec.named("gp-cluster")
    assert cluster.inputs["pools"] == [
        {
            "type": "g6-dedicated-8",
            "count": 3,
            "autoscaler": {"min": 3, "max": 5},
            "labels": {"gpuplane.io/pool": "system"},
            "tags": ["env:test"],
            "firewallId": MOCK_FIREWALL_ID,
        }
    ]
    # The autoscaler owns the system pool's count.
    assert cluster.ignore_changes == ["pools[0].count"]


def test_system_pool_instance_type_override() -> None:
    rec, _, _ = build(linode_spec(systemPool={"instanceType": "g6-dedicated-16"}))
    assert rec.named("gp-cluster").inputs["pools"][0]["type"] == "g6-dedicated-16"


def test_acl_enabled_with_ipv4_and_ipv6_cidrs_split() -> None:
    spec = linode_spec(
        apiAccess={
            "mode": "public",
            "allowedCidrs": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32", "2001:db8:1::/48"],
        }
    )
    rec, _, _ = build(spec)
    acl = rec.named("gp-cluster").inputs["controlPlane"]["acl"]
    assert acl == {
        "enabled": True,
        "addresses": [{"ipv4s": ["203.0.113.0/24", "198.51.100.7/32"], "ipv6s": ["2001:db8::/32", "2001:db8:1::/48"]}],
    }


def test_acl_with_only_ipv4_cidrs_sends_no_ipv6_list() -> None:
    rec, _, _ = build(linode_spec())
    acl = rec.named("gp-cluster").inputs["controlPlane"]["acl"]
    assert acl == {"enabled": True, "addresses": [{"ipv4s": ["203.0.113.0/24"]}]}


def test_acl_with_only_ipv6_cidrs_sends_no_ipv4_list() -> None:
    rec, _, _ = build(linode_spec(apiAccess={"mode": "public", "allowedCidrs": ["2001:db8::/32"]}))
    acl = rec.named("gp-cluster").inputs["controlPlane"]["acl"]
    assert acl == {"enabled": True, "addresses": [{"ipv6s": ["2001:db8::/32"]}]}


def test_high_availability_on_in_production() -> None:
    rec, _, _ = build(linode_spec(production=True))
    assert rec.named("gp-cluster").inputs["controlPlane"]["highAvailability"] is True


def test_high_availability_off_outside_production() -> None:
    rec, _, _ = build(linode_spec(production=False))
    assert rec.named("gp-cluster").inputs["controlPlane"]["highAvailability"] is False


# --- GPU node pools -----------------------------------------------------------------------------


def test_gpu_pools_inputs_wiring_and_lifecycle() -> None:
    rec, _, _ = build(linode_spec())
    cluster = rec.named("gp-cluster")
    inference = rec.named("gp-pool-inference")
    training = rec.named("gp-pool-training")
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    firewall = rec.named("gp-firewall")
    assert inference.inputs == {
        "clusterId": MOCK_CLUSTER_ID,
        "type": "g2-gpu-rtx4000a1-s",
        "nodeCount": 1,
        "autoscaler": {"min": 1, "max": 4},
        "labels": {"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-rtx4000-ada"},
        "taints": [taint],
        "tags": ["env:test", EXTERNAL_POOL_TAG],
        "firewallId": MOCK_FIREWALL_ID,
    }
    assert training.inputs == {
        "clusterId": MOCK_CLUSTER_ID,
        "type": "g3-gpu-rtxpro6000-blackwell-1",
        "nodeCount": 1,
        "autoscaler": {"min": 1, "max": 2},
        "labels": {"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-rtx-pro-6000"},
        "taints": [taint],
        "tags": ["env:test", EXTERNAL_POOL_TAG],
        "firewallId": MOCK_FIREWALL_ID,
    }
    for pool in (inference, training):
        assert pool.parent == rec.named("gp").urn
        assert sorted(pool.dependencies) == sorted([cluster.urn, firewall.urn])
        assert pool.deleted_with == cluster.urn
        assert pool.ignore_changes == ["nodeCount"]
        # The cluster must ignore these pools, or it deletes them on every update.
        assert set(cluster.inputs["externalPoolTags"]) & set(pool.inputs["tags"])


def test_gpu_pool_min_nodes_above_one_is_kept() -> None:
    rec, _, _ = build(linode_spec(gpuPools=pools_with(minNodes=3, maxNodes=6)))
    inputs = rec.named("gp-pool-inference").inputs
    assert inputs["nodeCount"] == 3
    assert inputs["autoscaler"] == {"min": 3, "max": 6}


def test_gpu_pool_min_nodes_zero_is_clamped_to_lke_minimum_of_one() -> None:
    # The spec rejects minNodes 0 on linode; the component clamps anyway (defence in depth).
    spec = linode_spec()
    zero = spec.gpu_pools[0].model_copy(update={"min_nodes": 0})
    unvalidated = spec.model_copy(update={"gpu_pools": (zero, spec.gpu_pools[1])})
    rec, _, _ = build(unvalidated)
    inputs = rec.named("gp-pool-inference").inputs
    assert inputs["nodeCount"] == 1
    assert inputs["autoscaler"] == {"min": 1, "max": 4}


def test_gpu_pool_plan_follows_gpus_per_node_and_explicit_instance_type() -> None:
    pools = pools_with(gpusPerNode=2)
    pools[1] = {
        "name": "training",
        "gpu": "nvidia-rtx4000-ada",
        "instanceType": "g2-gpu-rtx4000a1-l",
        "minNodes": 1,
        "maxNodes": 2,
    }
    rec, cluster, _ = build(linode_spec(gpuPools=pools, tenants=[]))
    assert rec.named("gp-pool-inference").inputs["type"] == "g2-gpu-rtx4000a2-s"
    assert rec.named("gp-pool-training").inputs["type"] == "g2-gpu-rtx4000a1-l"
    assert [p.instance_type for p in cluster.gpu_pools] == ["g2-gpu-rtx4000a2-s", "g2-gpu-rtx4000a1-l"]
    assert [p.gpus_per_node for p in cluster.gpu_pools] == [2, 1]


def test_extra_pool_labels_reach_the_node_pool_and_the_scheduling_contract() -> None:
    rec, cluster, _ = build(linode_spec(gpuPools=pools_with(labels={"team": "ml"})))
    expected = {"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-rtx4000-ada", "team": "ml"}
    assert rec.named("gp-pool-inference").inputs["labels"] == expected
    assert dict(cluster.gpu_pools[0].labels) == expected


def test_gpu_pools_contract_matches_what_the_node_pools_carry() -> None:
    rec, cluster, _ = build(linode_spec())
    assert [p.name for p in cluster.gpu_pools] == ["inference", "training"]
    for scheduling in cluster.gpu_pools:
        node_pool = rec.named(f"gp-pool-{scheduling.name}").inputs
        assert scheduling.instance_type == node_pool["type"]
        assert dict(scheduling.labels) == node_pool["labels"]
        assert tuple(scheduling.taints) == (GPU_TAINT,)
        assert [{"key": t.key, "value": t.value, "effect": t.effect} for t in scheduling.taints] == node_pool["taints"]
    assert set(cluster.node_pools) == {"inference", "training"}


# --- kubeconfig and provider --------------------------------------------------------------------


def test_kubeconfig_is_decoded_from_base64_and_secret() -> None:
    rec, _, seen = build(linode_spec())
    encoded = rec.named("gp-cluster").outputs["kubeconfig"]
    decoded = base64.b64decode(encoded).decode()
    assert seen["kubeconfig"] == decoded
    assert seen["kubeconfig"] != encoded
    assert json.loads(seen["kubeconfig"])["kind"] == "Config"
    assert seen["kubeconfig_secret"] is True


def test_provider_gets_decoded_kubeconfig_as_secret_and_parent_is_component() -> None:
    rec, cluster, _ = build(linode_spec())
    provider = rec.named("gp-provider")
    assert provider.parent == rec.named("gp").urn
    assert provider.is_secret("kubeconfig")
    config = json.loads(provider.inputs["kubeconfig"])
    assert config["clusters"][0]["cluster"]["server"] == "https://gp-cluster.us-ord.linodelke.net:443"
    assert rec.named("gp-cluster").urn in provider.dependencies
    assert isinstance(cluster.native, pulumi.CustomResource)


def test_registered_outputs_are_camel_case_like_every_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = capture_registered_outputs(monkeypatch, LkeGpuCluster)
    rec, _, seen = build(linode_spec())
    assert registered.values == {
        "clusterName": "gp-linode",
        "kubeconfig": seen["kubeconfig"],
        "clusterId": rec.named("gp-cluster").id,
        "firewallId": rec.named("gp-firewall").id,
        "gpuPools": ["inference", "training"],
    }
    assert registered.secret == {
        "clusterName": False,
        "kubeconfig": True,
        "clusterId": False,
        "firewallId": False,
        "gpuPools": False,
    }


# --- args ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["aws", "gcp", "existing"])
def test_args_reject_other_clouds(cloud: str) -> None:
    with pytest.raises(ValueError, match=rf"^spec\.cloud: .*'{cloud}'"):
        LkeGpuClusterArgs(spec=spec_for(cloud))


@pytest.mark.parametrize(
    ("tags", "bad"),
    [
        ({"ab": ""}, "'ab'"),
        ({"k" * 30: "v" * 20}, "'" + "k" * 30 + ":" + "v" * 20 + "'"),
    ],
)
def test_spec_rejects_tags_linode_cannot_store(tags: dict[str, str], bad: str) -> None:
    with pytest.raises(SpecError, match=rf"tags\.\w+: Linode tags \({bad}\) must be 3 to 50 characters"):
        linode_spec(tags=tags)


def test_args_accept_tags_at_the_length_limits() -> None:
    args = LkeGpuClusterArgs(spec=linode_spec(tags={"env": "", "k" * 30: "v" * 19}))
    assert args.spec.cloud == "linode"


def test_args_are_frozen_and_keyword_only() -> None:
    args = LkeGpuClusterArgs(spec=linode_spec())
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.spec = linode_spec()  # type: ignore[misc]
    with pytest.raises(TypeError):
        LkeGpuClusterArgs(linode_spec())  # type: ignore[misc]


# --- imports ------------------------------------------------------------------------------------

_NO_OTHER_CLOUDS = """
import sys
from components.clusters.lke import LkeGpuCluster, LkeGpuClusterArgs
from tests.support import record, spec_for
rec = record(lambda: LkeGpuCluster("gp", LkeGpuClusterArgs(spec=spec_for("linode"))), region="us-ord")
assert len(rec.resources) == 6, rec.resources
loaded = sorted(m for m in ("pulumi_aws", "pulumi_gcp", "pulumi_linode", "pulumi_kubernetes") if m in sys.modules)
print(",".join(loaded))
"""


def test_building_an_lke_cluster_imports_no_other_cloud_sdk() -> None:
    assert fresh_python(_NO_OTHER_CLOUDS).strip() == "pulumi_kubernetes,pulumi_linode"


# --- node firewall (issue 12, item 14) ----------------------------------------------------------


def test_firewall_drops_inbound_except_what_lke_needs() -> None:
    rec, cluster, _ = build(linode_spec())
    firewall = rec.named("gp-firewall")
    inputs = firewall.inputs
    assert inputs["label"] == "gp-linode-nodes"
    assert inputs["inboundPolicy"] == "DROP"
    assert inputs["outboundPolicy"] == "ACCEPT"
    assert inputs["tags"] == ["env:test"]
    assert firewall.parent == rec.named("gp").urn
    assert cluster.firewall is not None
    rules = {(r["label"], r["protocol"], r.get("ports"), tuple(r["ipv4s"])) for r in inputs["inbounds"]}
    # Akamai's LKE firewall page: kubelet health checks, WireGuard, DNS, Calico BGP from 192.168.128.0/17,
    # NodeBalancers to NodePorts from 192.168.255.0/24; IP-in-IP and ICMP only from the private range.
    assert rules == {
        ("kubelet-health", "TCP", "10250,10256", ("192.168.128.0/17",)),
        ("wireguard-kubectl", "UDP", "51820", ("192.168.128.0/17",)),
        ("cluster-dns-tcp", "TCP", "53", ("192.168.128.0/17",)),
        ("cluster-dns-udp", "UDP", "53", ("192.168.128.0/17",)),
        ("calico-bgp", "TCP", "179", ("192.168.128.0/17",)),
        ("calico-ipip", "IPENCAP", None, ("192.168.128.0/17",)),
        ("icmp-private", "ICMP", None, ("192.168.128.0/17",)),
        ("nodebalancer-tcp", "TCP", "30000-32767", ("192.168.255.0/24",)),
        ("nodebalancer-udp", "UDP", "30000-32767", ("192.168.255.0/24",)),
    }
    for rule in inputs["inbounds"]:
        assert rule["action"] == "ACCEPT"
        assert "ipv6s" not in rule  # LKE is IPv4 single-stack: nothing is accepted over IPv6
        assert 3 <= len(rule["label"]) <= 32
    assert len(FIREWALL_INBOUND_RULES) == len(inputs["inbounds"])


def test_every_pool_is_behind_the_firewall_including_the_inline_system_pool() -> None:
    rec, _, _ = build(
        linode_spec(
            gpuPools=[*pools_with(), {"name": "extra", "gpu": "nvidia-rtx4000-ada", "minNodes": 1, "maxNodes": 1}]
        )
    )
    firewall = rec.named("gp-firewall")
    cluster = rec.named("gp-cluster")
    assert [p["firewallId"] for p in cluster.inputs["pools"]] == [MOCK_FIREWALL_ID]
    assert firewall.urn in cluster.property_dependencies["pools"]
    pools = rec.of_type(POOL_TYPE)
    assert len(pools) == 3
    for pool in pools:
        assert pool.inputs["firewallId"] == MOCK_FIREWALL_ID, pool.name
        assert firewall.urn in pool.property_dependencies["firewallId"], pool.name


@pytest.mark.parametrize(("cluster_name", "label"), [("a", "a-nodes"), ("x" * 32, "x" * 26 + "-nodes")])
def test_firewall_label_fits_linode_limits(cluster_name: str, label: str) -> None:
    assert firewall_label(cluster_name) == label
    assert 3 <= len(label) <= 32


# --- LKE GPU plans (issue 12, item 13) ----------------------------------------------------------


def test_quadro_rtx_6000_plans_are_gone_and_lke_gpu_plans_are_priced() -> None:
    from components import catalog

    linode_types = {o.instance_type: o for m in catalog.GPU_MODELS.values() for o in m.offerings.get("linode", ())}
    assert not [t for t in linode_types if t.startswith("g1-gpu-rtx6000")]
    assert "nvidia-rtx6000" not in catalog.GPU_MODELS
    assert catalog.models_offered_on("linode") == ["nvidia-rtx-pro-6000", "nvidia-rtx4000-ada"]
    blackwell = linode_types["g3-gpu-rtxpro6000-blackwell-1"]
    assert (blackwell.gpus, blackwell.hourly_usd) == (1, 3.00)
    assert blackwell.source.as_of == "2026-09-06"
    for offering in linode_types.values():
        assert offering.hourly_usd is not None, offering.instance_type
        assert offering.hourly_usd > 0, offering.instance_type


def test_spec_rejects_the_quadro_rtx_6000_on_lke() -> None:
    pools = pools_with(gpu="nvidia-rtx6000")
    with pytest.raises(SpecError, match=r"gpuPools\[0\]\.gpu: linode does not offer 'nvidia-rtx6000'"):
        linode_spec(gpuPools=pools)
