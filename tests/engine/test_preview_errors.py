"""How the deploy-path preview's errors are judged (tests/engine/test_deploy_path.py), on recorded CLI output.

What: ``unexpected_errors`` accepts the GPU operator chart's unreachable repository, and the engine's
"Resource monitor has terminated" on the stack only beside it; anything else, or that line alone, fails.

Why: one run under load (2026-12-05, CLI 3.276.0) ended the preview with both errors — the program was
still registering resources when the engine shut down on the chart error — and the old check (every error
must be the chart's) failed on a preview that was right. No Go build or engine needed here.
"""

from __future__ import annotations

from tests.engine.harness import Result
from tests.engine.test_deploy_path import unexpected_errors

CHART_ERROR = (
    "error: kubernetes:helm.sh/v3:Release resource 'gpuplane-gpu-gpu-operator': property chart value "
    '{gpu-operator} has a problem: looks like "https://helm.ngc.nvidia.com/nvidia" is not a valid chart '
    'repository or cannot be reached: Get "https://helm.ngc.nvidia.com/nvidia/index.yaml": dial tcp: lookup '
    "helm.ngc.nvidia.com on 10.255.255.53:53: dial udp 10.255.255.53:53: connect: network is unreachable; "
    "check the chart name and repository configuration."
)

#: The Diagnostics section of the run that raced (trimmed to its sections; paths shortened).
RACED = f"""\
Policies:
    ✅ gpuplane@v0.1.0 (local: policies)

Diagnostics:
  kubernetes:helm.sh/v3:Release (gpuplane-gpu-gpu-operator):
    {CHART_ERROR}

  pulumi:pulumi:Stack (gpuplane-deploy):
    warning: using pulumi-resource-kubernetes from $PATH at /engine/bin/pulumi-resource-kubernetes
    warning: resource plugin kubernetes is expected to have version >=4.34.2, but has 4.25.0; the wrong version may be on your path, or this may be a bug in the plugin
    error: Resource monitor has terminated, shutting down

Outputs:
    cloud      : "existing"

Resources:
    + 9 to create
    2 errored
"""


def result(stdout: str) -> Result:
    return Result(["pulumi", "preview"], 1, stdout, "")


def test_the_engines_shutdown_beside_the_chart_error_is_accepted() -> None:
    assert unexpected_errors(result(RACED)) == []


def test_the_chart_error_alone_is_accepted() -> None:
    alone = RACED.replace("    error: Resource monitor has terminated, shutting down\n", "")
    assert unexpected_errors(result(alone)) == []


def test_the_shutdown_error_without_a_chart_error_fails() -> None:
    without = RACED.replace(f"    {CHART_ERROR}\n", "")
    assert unexpected_errors(result(without)) == ["error: Resource monitor has terminated, shutting down"]


def test_the_shutdown_error_on_another_resource_fails() -> None:
    moved = RACED.replace("pulumi:pulumi:Stack (gpuplane-deploy)", "gpuplane:index:GpuPlatform (gpuplane)")
    assert unexpected_errors(result(moved)) == ["error: Resource monitor has terminated, shutting down"]


def test_any_other_error_fails() -> None:
    other = RACED.replace(
        "    error: Resource monitor has terminated, shutting down\n",
        "    error: preview failed: 1 mandatory policy violation\n",
    )
    assert unexpected_errors(result(other)) == ["error: preview failed: 1 mandatory policy violation"]


def test_no_diagnostics_at_all_fails() -> None:
    assert unexpected_errors(result("Resources:\n    + 9 to create\n")) == ["no chart repository error at all"]
