"""Shared test helpers: baseline specs per cloud and a shortcut to run code under the mock runtime."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from components.spec import PlatformSpec, parse_spec
from gpuplane.recording import Recording, run_program

REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "linode": "us-ord", "existing": "on-prem"}

GPUS = {
    "aws": ("nvidia-l4", "nvidia-h100-80gb"),
    "gcp": ("nvidia-l4", "nvidia-a100-80gb"),
    "linode": ("nvidia-rtx4000-ada", "nvidia-rtx6000"),
    "existing": ("nvidia-l4", "nvidia-a100-80gb"),
}


def raw_spec(cloud: str) -> dict[str, Any]:
    """A valid camelCase spec for ``cloud`` with two GPU pools of different models and two tenants."""
    small, big = GPUS[cloud]
    min_nodes = 1 if cloud == "linode" else 0
    return copy.deepcopy(
        {
            "cloud": cloud,
            "region": REGIONS[cloud],
            "kubernetesVersion": "1.34",
            "clusterName": f"gp-{cloud}",
            "apiAccess": {"mode": "public", "allowedCidrs": ["203.0.113.0/24"]},
            "gpuPools": [
                {"name": "inference", "gpu": small, "gpusPerNode": 1, "minNodes": min_nodes, "maxNodes": 4},
                {"name": "training", "gpu": big, "gpusPerNode": 1, "minNodes": min_nodes, "maxNodes": 2},
            ],
            "tenants": [
                {"name": "team-a", "quotas": {small: 2, big: 1}, "weight": 2},
                {"name": "team-b", "quotas": {small: 2}, "weight": 1},
            ],
            "tags": {"env": "test"},
        }
    )


def spec_for(cloud: str, **overrides: Any) -> PlatformSpec:
    raw = raw_spec(cloud)
    raw.update(overrides)
    return parse_spec(raw)


def record(build: Callable[[], object], region: str = "us-east-1", **config: str) -> Recording:
    """Run ``build`` under the mock runtime with ``preview=False`` and return the registrations."""
    return run_program(build, config=config, region=region)


def build_platform(spec: Any, kubeconfig: str | None = None, *, install_addons: bool = False) -> Any:
    """Build ``GpuPlatform`` for ``spec`` (inside a ``record`` call); by default the cluster alone, so an
    add-on test sees only its own add-on. ``existing`` gets a test kubeconfig."""
    import pulumi

    from components.gpu_platform import GpuPlatform, GpuPlatformArgs

    if spec.cloud == "existing" and kubeconfig is None:
        kubeconfig = "apiVersion: v1\nkind: Config\n"
    secret = None if kubeconfig is None else pulumi.Output.secret(kubeconfig)
    return GpuPlatform("gp", GpuPlatformArgs(spec=spec, kubeconfig=secret, install_addons=install_addons))


def addon_scope(platform: Any) -> Any:
    """The ``AddonScope`` an add-on gets from a built platform."""
    from components.addons.base import AddonScope

    cluster = platform.cluster
    return AddonScope(spec=platform.spec, provider=cluster.provider, native=cluster.native, gpu_pools=cluster.gpu_pools)
