"""ExistingCluster under the mock runtime (preview=False): only a provider, declared pools honoured."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.clusters.contract import GpuCluster
from components.clusters.existing import ExistingCluster, ExistingClusterArgs
from components.spec import GPU_TAINT, PlatformSpec, Taint
from gpuplane.recording import Recording
from tests.support import capture_registered_outputs, fresh_python, raw_spec, record, spec_for

KUBECONFIG = (
    "apiVersion: v1\nkind: Config\n"
    "clusters:\n- name: lab\n  cluster:\n    server: https://lab.example:6443\n    certificate-authority-data: Q0E=\n"
    "contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: admin\n"
    "current-context: lab\n"
    "users:\n- name: admin\n  user:\n    token: not-a-real-token\n"
)
"""A flattened single-context kubeconfig, what `kubectl config view --minify --flatten` writes."""
MINIFIED = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "lab", "cluster": {"server": "https://lab.example:6443", "certificate-authority-data": "Q0E="}}
        ],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}],
        "users": [{"name": "admin", "user": {"token": "not-a-real-token"}}],
        "current-context": "lab",
        "preferences": {},
    },
    indent=2,
)
"""What reaches the provider: that one context, its cluster and user, as JSON (which is YAML)."""


def _contract(cluster: ExistingCluster) -> GpuCluster:
    """pyright checks here that ExistingCluster satisfies the GpuCluster Protocol."""
    return cluster


def build(
    spec: PlatformSpec, kubeconfig: Callable[[], pulumi.Input[str]] = lambda: KUBECONFIG
) -> tuple[Recording, ExistingCluster, dict[str, Any]]:
    """Build ``ex``; ``kubeconfig`` is called inside the program (Outputs need its event loop)."""
    made: list[ExistingCluster] = []
    seen: dict[str, Any] = {}

    def program() -> None:
        cluster = ExistingCluster("ex", ExistingClusterArgs(spec=spec, kubeconfig=kubeconfig()))
        made.append(cluster)
        contract = _contract(cluster)
        contract.kubeconfig.apply(lambda v: seen.__setitem__("kubeconfig", v))
        pulumi.Output.from_input(contract.kubeconfig.is_secret()).apply(
            lambda v: seen.__setitem__("kubeconfig_secret", v)
        )
        contract.cluster_name.apply(lambda v: seen.__setitem__("cluster_name", v))

    recording = record(program, region=spec.region)
    return recording, made[0], seen


def test_only_child_is_the_kubernetes_provider() -> None:
    rec, _, _ = build(spec_for("existing"))
    component = rec.named("ex")
    assert component.type == "gpuplane:clusters:ExistingCluster"
    children = rec.children_of(component.urn)
    assert [(r.type, r.name) for r in children] == [("pulumi:providers:kubernetes", "ex-provider")]
    assert len(rec.resources) == 2
    assert rec.invokes == []


def test_plain_kubeconfig_becomes_secret_on_provider_and_output() -> None:
    rec, _, seen = build(spec_for("existing"))
    provider = rec.named("ex-provider")
    assert provider.is_secret("kubeconfig")
    assert provider.inputs["kubeconfig"] == MINIFIED
    assert seen["kubeconfig"] == MINIFIED
    assert seen["kubeconfig_secret"] is True


def test_kubeconfig_given_as_output_is_passed_through_as_secret() -> None:
    rec, _, seen = build(spec_for("existing"), kubeconfig=lambda: pulumi.Output.from_input(KUBECONFIG))
    assert rec.named("ex-provider").is_secret("kubeconfig")
    assert rec.named("ex-provider").inputs["kubeconfig"] == MINIFIED
    assert seen["kubeconfig_secret"] is True


def test_native_is_none_and_cluster_name_is_the_spec_name() -> None:
    _, cluster, seen = build(spec_for("existing"))
    assert cluster.native is None
    assert seen["cluster_name"] == "gp-existing"


def test_registered_outputs_are_camel_case_like_every_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = capture_registered_outputs(monkeypatch, ExistingCluster)
    build(spec_for("existing"))
    assert registered.values == {
        "clusterName": "gp-existing",
        "kubeconfig": MINIFIED,
        "gpuPools": ["inference", "training"],
    }
    assert registered.secret == {"clusterName": False, "kubeconfig": True, "gpuPools": False}


def test_declared_taints_override_the_default_gpu_taint() -> None:
    pools: list[dict[str, Any]] = raw_spec("existing")["gpuPools"]
    pools[0]["taints"] = []
    pools[0]["labels"] = {"node.kubernetes.io/instance-type": "dgx"}
    pools[1]["taints"] = [{"key": "dedicated", "value": "training", "effect": "NoExecute"}]
    _, cluster, _ = build(spec_for("existing", gpuPools=pools))
    inference, training = cluster.gpu_pools
    assert tuple(inference.taints) == ()
    assert inference.tolerations() == []
    assert dict(inference.labels) == {
        "gpuplane.io/pool": "inference",
        "gpuplane.io/gpu": "nvidia-l4",
        "node.kubernetes.io/instance-type": "dgx",
    }
    assert tuple(training.taints) == (Taint(key="dedicated", value="training", effect="NoExecute"),)
    assert training.tolerations() == [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]


def test_undeclared_taints_default_to_the_gpu_taint() -> None:
    _, cluster, _ = build(spec_for("existing"))
    assert [p.name for p in cluster.gpu_pools] == ["inference", "training"]
    for scheduling in cluster.gpu_pools:
        assert tuple(scheduling.taints) == (GPU_TAINT,)
        assert scheduling.instance_type == "existing"
    assert [dict(p.labels) for p in cluster.gpu_pools] == [
        {"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-l4"},
        {"gpuplane.io/pool": "training", "gpuplane.io/gpu": "nvidia-a100-80gb"},
    ]
    assert [p.gpus_per_node for p in cluster.gpu_pools] == [1, 1]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "linode"])
def test_args_reject_managed_clouds(cloud: str) -> None:
    with pytest.raises(ValueError, match=rf"^spec\.cloud: .*'{cloud}'"):
        ExistingClusterArgs(spec=spec_for(cloud), kubeconfig=KUBECONFIG)


@pytest.mark.parametrize("empty", ["", "  \n"])
def test_args_reject_an_empty_kubeconfig(empty: str) -> None:
    with pytest.raises(ValueError, match=r"^kubeconfig: "):
        ExistingClusterArgs(spec=spec_for("existing"), kubeconfig=empty)


def test_args_are_frozen_and_keyword_only() -> None:
    args = ExistingClusterArgs(spec=spec_for("existing"), kubeconfig=KUBECONFIG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.kubeconfig = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ExistingClusterArgs(spec_for("existing"), KUBECONFIG)  # type: ignore[misc]


_NO_CLOUD_SDK = """
import sys
from components.clusters.existing import ExistingCluster, ExistingClusterArgs
from tests.support import record, spec_for
spec = spec_for("existing")
kubeconfig = "{contexts: [{name: a, context: {cluster: a, user: a}}], clusters: [{name: a, cluster: {server: s}}], users: [{name: a, user: {token: t}}]}"
rec = record(lambda: ExistingCluster("ex", ExistingClusterArgs(spec=spec, kubeconfig=kubeconfig)))
assert len(rec.resources) == 2, rec.resources
loaded = sorted(m for m in ("pulumi_aws", "pulumi_gcp", "pulumi_linode", "pulumi_kubernetes") if m in sys.modules)
print(",".join(loaded))
"""


def test_adopting_a_cluster_imports_no_cloud_sdk() -> None:
    assert fresh_python(_NO_CLOUD_SDK).strip() == "pulumi_kubernetes"
