"""Stack files for the engine tests, derived from the repository's example stacks.

What: :func:`existing_stack_config` loads ``stacks/Pulumi.existing-dev.yaml`` and returns its ``config`` with
the two secrets removed (they are placeholders that only ``pulumi config set --secret`` can replace) and,
for the deploy-path test, every add-on that installs a Helm chart switched off (no chart repository is
reachable here, and pulumi-kubernetes' Release.Check loads the chart during preview).

Why: the engine tests must run the same config keys a user deploys, not a hand-written toy stack; deriving
the file keeps them in step with the example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SECRETS = ("gpuplane:kubeconfig", "gpuplane:openfgaDatastoreUri")

#: Spec keys (docs/spec.md) that switch off every add-on installed from a Helm chart.
NO_CHARTS: dict[str, Any] = {
    "gpuplane:kueue": {"enabled": False},
    "gpuplane:observability": {"enabled": False},
    "gpuplane:gateway": {"enabled": False},
    "gpuplane:openfga": {"enabled": False},
    "gpuplane:workloads": {"jobset": False, "leaderWorkerSet": False},
    "gpuplane:autoscaling": {"customMetrics": False},
    "gpuplane:gpu": {"driver": "preinstalled"},
}


#: Add-ons that create ``random.RandomPassword`` (Grafana admin, the gateway's MCP seed and API keys,
#: OpenFGA's preshared key): the
#: pulumi-random provider is not built here (toolchain.md: not buildable from its modules), so the
#: engine runs without them.
NO_RANDOM_PROVIDER: dict[str, Any] = {
    "gpuplane:observability": {"enabled": False},
    "gpuplane:gateway": {"enabled": False},
    "gpuplane:autoscaling": {"customMetrics": False},
    "gpuplane:openfga": {"enabled": False},
}


#: Kueue's chart registers mutating/validating webhooks (failurePolicy Fail) served by its controller pod;
#: without a kubelet that pod never runs, so the API server refuses every Kueue object ("failed calling
#: webhook mresourceflavor.kb.io ... connect: network is unreachable"). On a real cluster the Release waits
#: for the controller first. The engine's up/destroy runs without Kueue; the preview keeps it.
NO_KUEUE: dict[str, Any] = {"gpuplane:kueue": {"enabled": False}}


def existing_stack_config(
    repo: Path, *, charts: bool = True, random_provider: bool = True, kueue: bool = True
) -> dict[str, Any]:
    doc = yaml.safe_load((repo / "stacks" / "Pulumi.existing-dev.yaml").read_text())
    config: dict[str, Any] = dict(doc["config"])
    for key in SECRETS:
        config.pop(key, None)
    if not random_provider:
        config.update(NO_RANDOM_PROVIDER)
    if not kueue:
        config.update(NO_KUEUE)
    if not charts:
        config.update(NO_CHARTS)
    if config.get("gpuplane:gateway", {}).get("enabled", True) is False:
        config.pop("gpuplane:models", None)  # models are gateway routes
    return config


def write_stack_file(repo: Path, stack: str, config: dict[str, Any]) -> Path:
    path = repo / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path
