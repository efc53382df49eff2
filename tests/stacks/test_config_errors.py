"""Malformed stack configs: each is rejected by ``gpuplane plan`` with exit code 2, one line naming the
config key, no traceback, and not a single resource registered."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane import cli, stackfiles
from gpuplane.plan import plan_stack

STACKS = Path(__file__).resolve().parents[2] / "stacks"

pytestmark = pytest.mark.usefixtures("lent_pack")  # cli.main plans use the process's running pack (tests/support.py)
Config = dict[str, Any]


def _example(name: str) -> Config:
    return yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]


def _pool(config: Config, index: int) -> dict[str, Any]:
    return config["gpuplane:gpuPools"][index]


def _set(path: str, value: Any) -> Callable[[Config], None]:
    """Mutation setting ``gpuplane:<top>.<a>.<b>`` (list indexes as ints) to ``value``."""

    def apply(config: Config) -> None:
        top, *rest = path.split(".")
        if not rest:
            config[f"gpuplane:{top}"] = value
            return
        node: Any = config[f"gpuplane:{top}"]
        for part in rest[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = rest[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(key: str) -> Callable[[Config], None]:
    return lambda config: config.pop(key)


def _rename(old: str, new: str) -> Callable[[Config], None]:
    return lambda config: config.__setitem__(new, config.pop(old))


def _duplicate_pool(config: Config) -> None:
    _pool(config, 1)["name"] = _pool(config, 0)["name"]


def _duplicate_tenant(config: Config) -> None:
    config["gpuplane:tenants"][1]["name"] = config["gpuplane:tenants"][0]["name"]


def _pool_key_typo(config: Config) -> None:
    _pool(config, 0)["maxNode"] = _pool(config, 0).pop("maxNodes")


def _plain_kubeconfig(config: Config) -> None:
    config["gpuplane:kubeconfig"] = "apiVersion: v1\nkind: Config\n"


# (example stack, mutation, config key named, words the message must contain)
CASES: list[tuple[str, Callable[[Config], None], str, str]] = [
    ("aws-dev", _rename("gpuplane:tags", "gpuplane:tag"), "gpuplane:tag", "unknown key"),
    ("aws-dev", _set("cloud", "azure"), "gpuplane:cloud", "'aws', 'gcp', 'linode' or 'existing'"),
    ("aws-dev", _delete("gpuplane:cloud"), "gpuplane:cloud", "required key is missing"),
    ("aws-dev", _delete("gpuplane:clusterName"), "gpuplane:clusterName", "required key is missing"),
    ("aws-dev", _set("clusterName", "GPU_Cluster"), "gpuplane:clusterName", "should match pattern"),
    ("gcp-dev", _set("kubernetesVersion", "1.31"), "gpuplane:kubernetesVersion", "not in the tested set"),
    ("aws-dev", _set("kubernetesVersion", "2.0"), "gpuplane:kubernetesVersion", "should match pattern"),
    ("aws-dev", _set("apiAccess.allowedCidrs", []), "gpuplane:apiAccess.allowedCidrs", "at least one CIDR"),
    (
        "aws-dev",
        _set("apiAccess.allowedCidrs", ["0.0.0.0/0"]),
        "gpuplane:apiAccess.allowedCidrs",
        "whole internet",
    ),
    (
        "aws-dev",
        _set("apiAccess.allowedCidrs", ["10.0.0.1/33"]),
        "gpuplane:apiAccess.allowedCidrs",
        "not a CIDR",
    ),
    (
        "aws-dev",
        _set("apiAccess.mode", "private"),
        "gpuplane:apiAccess.allowedCidrs",
        "set apiAccess.mode to public",
    ),
    (
        "linode-dev",
        _set("apiAccess", {"mode": "private"}),
        "gpuplane:apiAccess.mode",
        "no private API endpoint",
    ),
    ("aws-dev", _set("apiAccess.cidrs", ["10.0.0.0/8"]), "gpuplane:apiAccess.cidrs", "unknown key"),
    (
        "aws-dev",
        _set("gpuPools.0.gpu", "nvidia-rtx-pro-6000"),
        "gpuplane:gpuPools[0].gpu",
        "choose one of: nvidia-a100-40gb",
    ),
    ("aws-dev", _set("systemPool.minNodes", 5), "gpuplane:systemPool.minNodes", "minNodes (5) is above maxNodes (3)"),
    ("aws-dev", _set("gpuPools.0.minNodes", 9), "gpuplane:gpuPools[0].minNodes", "above maxNodes"),
    (
        "aws-dev",
        _set("gpuPools.0.minNodes", -1),
        "gpuplane:gpuPools[0].minNodes",
        "greater than or equal to 0",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.maxNodes", 0),
        "gpuplane:gpuPools[0].maxNodes",
        "greater than or equal to 1",
    ),
    ("aws-dev", _duplicate_pool, "gpuplane:gpuPools[1].name", "duplicate name 'inference-l4'"),
    ("aws-dev", _set("tenants.0.name", "monitoring"), "gpuplane:tenants[0].name", "system or platform namespace"),
    ("gcp-dev", _set("gpu", {"driver": "operator"}), "gpuplane:gpu.driver", "GKE installs the NVIDIA driver"),
    (
        "aws-dev",
        _set("gpuPools.0.labels", {"gpuplane.io/pool": "training-h100"}),
        "gpuplane:gpuPools[0].labels.gpuplane.io/pool",
        "set by gpuplane",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.labels", {"bad key!": "v"}),
        "gpuplane:gpuPools[0].labels.bad key!",
        "not a Kubernetes label key",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.labels", {"a" * 40 + ".example.com/" + "k" * 60: "v"}),
        "gpuplane:gpuPools[0].labels",
        "too long for the Auto Scaling group tag",
    ),
    ("aws-dev", _set("tenants.0.name", "dcgm-exporter"), "gpuplane:tenants[0].name", "'dcgm-exporter' is a system"),
    (
        "aws-dev",
        _set("observability", {"enabled": False}),
        "gpuplane:autoscaling.customMetrics",
        "custom metrics come from the observability add-on",
    ),
    (
        "gcp-dev",
        _set("gpuPools.1.sharing", {"mode": "mig", "migProfile": "1g.5gb"}),
        "gpuplane:gpuPools[1].sharing.migProfile",
        "nvidia-a100-80gb has no MIG profile '1g.5gb'; choose one of: 1g.10gb, 1g.20gb",
    ),
    ("aws-dev", _duplicate_tenant, "gpuplane:tenants[1].name", "duplicate name 'search'"),
    (
        "aws-dev",
        _set("tenants.0.quotas.nvidia-a10g", 1),
        "gpuplane:tenants[0].quotas.nvidia-a10g",
        "no GPU pool provides",
    ),
    (
        "aws-dev",
        _set("tenants.0.quotas.nvidia-l4", 17),
        "gpuplane:tenants[0].quotas.nvidia-l4",
        "above the 16",
    ),
    ("aws-dev", _set("tenants.1.quotas.nvidia-l4", 9), "gpuplane:tenants", "add up to 17, above the 16"),
    (
        "aws-dev",
        _set("tenants.0.quotas.nvidia-l4", -2),
        "gpuplane:tenants[0].quotas.nvidia-l4",
        "greater than or equal",
    ),
    (
        "aws-dev",
        _set("gpuPools.1.gpusPerNode", 4),
        "gpuplane:gpuPools[1].gpusPerNode",
        "[1, 8] GPUs per node",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.instanceType", "g5.xlarge"),
        "gpuplane:gpuPools[0].instanceType",
        "does not carry",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.instanceType", "g6.12xlarge"),
        "gpuplane:gpuPools[0].gpusPerNode",
        "set gpusPerNode: 4",
    ),
    (
        "gcp-dev",
        _set(
            "gpuPools.1",
            {"name": "h100", "gpu": "nvidia-h100-80gb", "maxNodes": 1, "instanceType": "a3-highgpu-1g"},
        ),
        "gpuplane:gpuPools[1].capacity",
        "only as spot",
    ),
    ("linode-dev", _set("gpuPools.0.capacity", "spot"), "gpuplane:gpuPools[0].capacity", "no spot capacity"),
    ("linode-dev", _set("gpuPools.0.minNodes", 0), "gpuplane:gpuPools[0].minNodes", "cannot scale below 1"),
    (
        "aws-dev",
        _set("gpuPools.0.sharing", {"mode": "time-slicing"}),
        "gpuplane:gpuPools[0].sharing.replicas",
        "needs replicas",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.sharing", {"mode": "mig", "migProfile": "1g.10gb"}),
        "gpuplane:gpuPools[0].sharing.mode",
        "does not support MIG",
    ),
    (
        "gcp-dev",
        _set("gpuPools.1.sharing", {"mode": "mig"}),
        "gpuplane:gpuPools[1].sharing.migProfile",
        "needs a profile",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.sharing.mode", "timeslicing"),
        "gpuplane:gpuPools[0].sharing.mode",
        "Input should be",
    ),
    (
        "aws-dev",
        _set("gpuPools.0.taints", [{"key": "x", "effect": "NoSchedule"}]),
        "gpuplane:gpuPools[0].taints",
        "only be declared for existing",
    ),
    ("existing-dev", _delete("gpuplane:kubeconfig"), "gpuplane:kubeconfig", "pulumi config set --secret"),
    ("existing-dev", _plain_kubeconfig, "gpuplane:kubeconfig", "plain text"),
    (
        "aws-dev",
        _set("kubeconfig", {"secure": "v1:abc"}),
        "gpuplane:kubeconfig",
        "only used with cloud: existing",
    ),
    (
        "aws-dev",
        lambda c: c.__setitem__("aws:region", "eu-west-1"),
        "aws:region",
        "differs from gpuplane:region",
    ),
    ("aws-dev", _set("gpuPools", "l4"), "gpuplane:gpuPools", "expected a structured value"),
    ("aws-dev", _set("tenants.0.weight", 0), "gpuplane:tenants[0].weight", "greater than 0"),
    ("aws-dev", _set("gpuPools.0.name", "GPU_Pool"), "gpuplane:gpuPools[0].name", "should match pattern"),
    ("aws-dev", _pool_key_typo, "gpuplane:gpuPools[0].maxNode", "unknown key"),
    ("aws-dev", _set("production", "maybe"), "gpuplane:production", "expected a structured value"),
    ("aws-dev", _set("gpuPools", []), "gpuplane:gpuPools", "at least one GPU pool"),
    ("aws-dev", _set("gpuPools.0.name", "system"), "gpuplane:gpuPools[0].name", "name of the non-GPU pool"),
    ("gcp-dev", _set("tags.Owner", "platform"), "gpuplane:tags.Owner", "GCP labels take lowercase"),
    ("linode-dev", _set("tags.e", ""), "gpuplane:tags.e", "3 to 50 characters"),
    ("aws-dev", _set("tags.env", "has space"), "gpuplane:tags.env", "should match pattern"),
    (
        "existing-dev",
        _set("gpuPools.0.instanceType", "g6.xlarge"),
        "gpuplane:gpuPools[0].instanceType",
        "no instance type to choose",
    ),
]


def _write(tmp_path: Path, example: str, mutate: Callable[[Config], None]) -> Path:
    config = copy.deepcopy(_example(example))
    mutate(config)
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({(c[2], c[3]) for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("example", "mutate", "key", "words"), CASES, ids=[f"{c[2]}:{c[3]}" for c in CASES])
def test_plan_rejects_with_the_key_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    example: str,
    mutate: Callable[[Config], None],
    key: str,
    words: str,
) -> None:
    path = _write(tmp_path, example, mutate)

    assert cli.main(["plan", str(path)]) == cli.EXIT_CONFIG

    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"broken: {key}: ") and words in line for line in lines), lines
    assert not any("Traceback" in line for line in lines)


@pytest.mark.parametrize(("example", "mutate"), [(c[0], c[1]) for c in CASES[:8]])
def test_nothing_is_registered(tmp_path: Path, example: str, mutate: Callable[[Config], None]) -> None:
    plan = plan_stack(stackfiles.load(_write(tmp_path, example, mutate)))

    assert plan.errors
    assert plan.recording.resources == []
    assert plan.spec is None


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "linode-dev", _set("gpuPools.0.minNodes", 0))

    result = subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 2
    assert "broken: gpuplane:gpuPools[0].minNodes: linode GPU pools cannot scale below 1 node" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_stack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "no-such-stack"]) == cli.EXIT_CONFIG
    assert "no-such-stack: no stack of that name" in capsys.readouterr().err


def test_the_aws_region_list_is_the_pinned_sdks() -> None:
    """components/regions.py copies the AWS provider SDK's Region enum (minus isolated partitions)."""
    from pulumi_aws import _enums  # pyright: ignore[reportPrivateUsage]

    from components.regions import AWS_REGIONS

    isolated = ("us-iso", "eu-isoe", "eusc-")
    sdk = {r.value for r in _enums.Region if not r.value.startswith(isolated)}
    assert sdk == AWS_REGIONS
