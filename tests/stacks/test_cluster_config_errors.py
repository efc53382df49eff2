"""Cluster settings a stack file gets wrong (issue 12: GKE zones, Kubernetes versions, LKE GPU plans and
zones): ``gpuplane plan`` exits 2 naming the key, prints no traceback, and registers nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpuplane import cli, stackfiles
from gpuplane.plan import plan_stack
from tests.stacks.test_config_errors import Config, _write  # one way to write a broken stack

pytestmark = pytest.mark.usefixtures("lent_pack")  # cli.main plans use the process's running pack (tests/support.py)


def _region(region: str) -> Callable[[Config], None]:
    def apply(config: Config) -> None:
        config["gpuplane:region"] = region
        config["gcp:region"] = region

    return apply


def _pool(index: int, key: str, value: Any) -> Callable[[Config], None]:
    return lambda config: config["gpuplane:gpuPools"][index].__setitem__(key, value)


def _version(version: str) -> Callable[[Config], None]:
    return lambda config: config.__setitem__("gpuplane:kubernetesVersion", version)


CASES: list[tuple[str, Callable[[Config], None], str, str]] = [
    (
        "gcp-dev",
        _region("europe-west1"),
        "gpuplane:gpuPools[1].gpu",
        "a2-ultragpu-1g (nvidia-a100-80gb) is not offered in any zone of europe-west1",
    ),
    (
        "gcp-dev",
        _pool(1, "zones", ["us-central1-b"]),
        "gpuplane:gpuPools[1].zones[0]",
        "us-central1-b does not offer a2-ultragpu-1g (nvidia-a100-80gb)",
    ),
    (
        "gcp-dev",
        _pool(0, "zones", ["us-central1-a", "us-central1-a"]),
        "gpuplane:gpuPools[0].zones[1]",
        "listed twice",
    ),
    (
        "gcp-dev",
        lambda config: config.__setitem__("gpuplane:production", True),
        "gpuplane:kubernetesVersion",
        "",
    ),
    ("linode-dev", _version("1.34"), "gpuplane:kubernetesVersion", "LKE does not offer Kubernetes 1.34 today"),
    ("aws-dev", _version("1.31"), "gpuplane:kubernetesVersion", "1.31 is not in the tested set"),
    (
        "linode-dev",
        _pool(1, "gpu", "nvidia-rtx6000"),
        "gpuplane:gpuPools[1].gpu",
        "linode does not offer 'nvidia-rtx6000'",
    ),
    (
        "linode-dev",
        _pool(0, "zones", ["us-ord-1"]),
        "gpuplane:gpuPools[0].zones",
        "zones can be pinned on aws and gcp only",
    ),
]
# GKE STABLE (production) offers 1.34 and 1.35 only, so a production gcp stack is fine at 1.35: the
# production case above must *not* fail; it documents that the channel follows `production`.
FAILING = [c for c in CASES if c[3]]


@pytest.mark.parametrize(("example", "mutate", "key", "words"), FAILING, ids=[f"{c[2]}:{c[3][:30]}" for c in FAILING])
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
    plan = plan_stack(stackfiles.load(path))
    assert plan.errors
    assert plan.recording.resources == []


def test_production_gcp_stack_at_the_default_version_is_accepted(tmp_path: Path) -> None:
    (_, mutate, _, _) = next(c for c in CASES if not c[3])
    plan = plan_stack(stackfiles.load(_write(tmp_path, "gcp-dev", mutate)))
    assert not plan.errors


def test_a_production_gcp_stack_on_a_regular_only_version_is_rejected(tmp_path: Path) -> None:
    def mutate(config: Config) -> None:
        config["gpuplane:production"] = True
        config["gpuplane:kubernetesVersion"] = "1.36"

    plan = plan_stack(stackfiles.load(_write(tmp_path, "gcp-dev", mutate)))
    assert [(e.key, e.message) for e in plan.errors] == [
        (
            "gpuplane:kubernetesVersion",
            "GKE's STABLE release channel does not offer Kubernetes 1.36 today; choose one of: 1.34, 1.35",
        )
    ]
