"""Generate ``policies/gpu_catalog.json`` (the pack's copy of the GPU catalog) from the project's data.

The pack must stay self-contained so it can be published with ``pulumi policy publish``; it therefore
cannot import ``components``. This module derives its data from ``components.catalog``,
``components.spec`` (MIG slices) and ``components.versions`` (hook charts, compatibility), and
``test_catalog_sync.py`` fails when the committed files drift. Regenerate with::

    .venv/bin/python -m tests.policies.catalog_sync
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components import catalog, versions

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
CATALOG_FILE = PACK_DIR / "gpu_catalog.json"


def snapshot() -> dict[str, Any]:
    instance_types: dict[str, dict[str, dict[str, Any]]] = {"aws": {}, "gcp": {}, "linode": {}}
    accelerators: dict[str, str] = {}
    for model in sorted(catalog.GPU_MODELS.values(), key=lambda m: m.name):
        for cloud, offerings in sorted(model.offerings.items()):
            for offering in offerings:
                instance_types[cloud][offering.instance_type] = {
                    "gpu": model.name,
                    "gpus": offering.gpus,
                    "hourlyUsd": offering.hourly_usd,
                }
                if offering.accelerator:
                    accelerators[offering.accelerator] = model.name
    return {
        "generatedFrom": "components/catalog.py (tests/policies/catalog_sync.py)",
        "instanceTypes": {cloud: dict(sorted(types.items())) for cloud, types in instance_types.items()},
        "gcpAccelerators": dict(sorted(accelerators.items())),
        "migSlices": {
            model.name: dict(sorted(model.mig_profiles.items()))
            for model in sorted(catalog.GPU_MODELS.values(), key=lambda m: m.name)
            if model.mig_profiles
        },
    }


def hook_charts() -> list[str]:
    return sorted(pin.chart for pin in versions.CHARTS.values() if pin.uses_hooks)


def compatibility_matrix() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for ai_version, peers in sorted(versions.COMPATIBILITY["ai-gateway"].items()):
        row = {"aiGateway": ai_version}
        for peer in peers:
            component, version = peer.split(":", 1)
            row[{"envoy-gateway": "envoyGateway", "gateway-api": "gatewayApi"}[component]] = version
        rows.append(row)
    return rows


def render() -> str:
    return json.dumps(snapshot(), indent=2) + "\n"


if __name__ == "__main__":
    CATALOG_FILE.write_text(render())
    print(f"wrote {CATALOG_FILE}")
