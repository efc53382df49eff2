"""``gpuplane plan`` on the bundled example stacks: clean plans, the JSON contract, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gpuplane import cli, stackfiles
from gpuplane.plan import plan_stack
from tests.support import example_plan

EXAMPLES = ["aws-dev", "existing-dev", "gcp-dev", "linode-dev"]
CLUSTER_TYPES = {
    "aws": "gpuplane:clusters:EksGpuCluster",
    "gcp": "gpuplane:clusters:GkeGpuCluster",
    "linode": "gpuplane:clusters:LkeGpuCluster",
    "existing": "gpuplane:clusters:ExistingCluster",
}


@pytest.fixture(scope="module")
def plan_json() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", "--json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_example_stack_is_planned(plan_json: dict[str, Any]) -> None:
    assert [s["stack"] for s in plan_json["stacks"]] == EXAMPLES
    assert [stackfiles.stack_name(p) for p in stackfiles.discover()] == EXAMPLES


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_plans_cleanly_with_the_stable_json_keys(plan_json: dict[str, Any], index: int) -> None:
    stack = plan_json["stacks"][index]

    assert {"stack", "cloud", "resources", "gpu_pools", "cost", "violations", "errors"} <= set(stack)
    assert stack["errors"] == []
    assert [v for v in stack["violations"] if v["level"] == "mandatory"] == []
    assert {"hourly_min", "hourly_max", "currency"} <= set(stack["cost"])
    assert stack["cost"]["currency"] == "USD"
    for resource in stack["resources"]:
        assert set(resource) >= {"type", "name", "parent"}
    types = {r["type"] for r in stack["resources"]}
    assert CLUSTER_TYPES[stack["cloud"]] in types
    assert "gpuplane:index:GpuPlatform" in types


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_examples_have_two_gpu_models_and_two_tenants(plan_json: dict[str, Any], index: int) -> None:
    stack = plan_json["stacks"][index]
    pools = stack["gpu_pools"]
    for pool in pools:
        assert set(pool) >= {"name", "gpu", "instance_type", "gpus_per_node", "min_nodes", "max_nodes"}
    assert len({p["gpu"] for p in pools}) >= 2
    spec = example_plan(stack["stack"]).spec
    assert spec is not None
    assert len(spec.tenants) >= 2


def test_aws_example_prices_match_the_catalog(plan_json: dict[str, Any]) -> None:
    aws = next(s for s in plan_json["stacks"] if s["stack"] == "aws-dev")

    assert [(p["name"], p["instance_type"], p["min_nodes"], p["max_nodes"]) for p in aws["gpu_pools"]] == [
        ("inference-l4", "g6.xlarge", 0, 4),
        ("training-h100", "p5.48xlarge", 0, 1),
    ]
    # GPUs scale to zero, the platform does not: control plane, 2 system nodes, a NAT gateway, the gateway's load
    # balancer and the volumes (Prometheus 50 GB, OpenFGA 10 GB, 2 x 50 GB root disks) make the idle floor.
    always_on_min = 0.10 + 2 * 0.096 + 0.045 + 0.0225 + (50 + 10 + 2 * 50) * 0.08 / 730
    always_on_max = 0.10 + 3 * 0.096 + 0.045 + 0.0225 + (50 + 10 + 3 * 50 + 5 * 200) * 0.08 / 730
    assert aws["cost"]["hourly_min"] == pytest.approx(always_on_min, abs=1e-4)
    assert aws["cost"]["hourly_max"] == pytest.approx(always_on_max + 4 * 0.8048 + 55.04, abs=1e-4)
    assert [line["part"] for line in aws["cost"]["breakdown"]] == [
        "control plane",
        "system nodes",
        "NAT",
        "load balancer",
        "volumes",
        "GPU pool inference-l4",
        "GPU pool training-h100",
    ]


def test_linode_example_reports_the_idle_floor(plan_json: dict[str, Any]) -> None:
    linode = next(s for s in plan_json["stacks"] if s["stack"] == "linode-dev")

    assert all(p["min_nodes"] == 1 and not p["scales_to_zero"] for p in linode["gpu_pools"])
    # one node per GPU pool (LKE's minimum) on top of 2 system nodes, the NodeBalancer and 60 GB of volumes
    assert linode["cost"]["hourly_min"] == pytest.approx(0.52 + 3.00 + 2 * 0.108 + 0.015 + 60 * 0.10 / 730, abs=1e-4)
    assert any("cannot scale below 1 node" in note for note in linode["cost"]["notes"])


@pytest.mark.usefixtures(
    "lent_pack", "replayed_examples"
)  # the report: running pack, plan made once (tests/support.py)
def test_text_report_names_pools_cost_and_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "gcp-dev", "--verbose"]) == cli.EXIT_OK  # --verbose lists every resource type
    report = capsys.readouterr().out

    assert "== stack gcp-dev" in report
    assert "inference-l4     nvidia-l4            g2-standard-4" in report
    assert "batch-a100       nvidia-a100-80gb     a2-ultragpu-1g" in report
    assert "mig x7" in report
    assert "gpuplane:clusters:GkeGpuCluster" in report
    assert "cost (USD, list prices): 0.44/h" in report  # the idle floor: control plane, system nodes, NAT, LB, disks
    assert "     - NAT: 0.0078-0.0190/h (Cloud NAT" in report


def test_a_stack_file_anywhere_can_be_planned(tmp_path: Path) -> None:
    copy = tmp_path / "Pulumi.mine.yaml"
    copy.write_text((stackfiles.STACKS_DIR / "Pulumi.existing-dev.yaml").read_text())

    plan = plan_stack(stackfiles.load(stackfiles.resolve(str(copy))))

    assert plan.stack == "mine"
    assert plan.errors == []
    assert plan.recording.of_type("gpuplane:clusters:ExistingCluster")


@pytest.mark.parametrize(
    ("stack", "forbidden"),
    [("linode-dev", ("pulumi_aws", "pulumi_gcp")), ("existing-dev", ("pulumi_aws", "pulumi_gcp", "pulumi_linode"))],
)
def test_planning_imports_only_the_sdk_the_stack_uses(stack: str, forbidden: tuple[str, ...]) -> None:
    code = (
        "import sys\nfrom gpuplane import cli\n"
        f"rc = cli.main(['plan', '{stack}', '--json'])\n"
        f"loaded = [m for m in {forbidden!r} if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\nsys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
