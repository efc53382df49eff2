"""The GPU catalog: MIG layouts per GPU model and what they do to capacity."""

from __future__ import annotations

import pytest

from components import catalog
from tests.support import spec_for


@pytest.mark.parametrize(
    ("gpu", "profile", "instances"),
    [
        ("nvidia-a100-40gb", "1g.5gb", 7),
        ("nvidia-a100-40gb", "1g.10gb", 4),
        ("nvidia-a100-80gb", "1g.10gb", 7),
        ("nvidia-a100-80gb", "1g.20gb", 4),
        ("nvidia-h100-80gb", "3g.40gb", 2),
        ("nvidia-h200", "1g.35gb", 4),
        ("nvidia-h200", "7g.141gb", 1),
    ],
)
def test_mig_instances_per_gpu_depend_on_the_model(gpu: str, profile: str, instances: int) -> None:
    assert catalog.GPU_MODELS[gpu].mig_profiles[profile] == instances


def test_only_a100_h100_h200_have_mig() -> None:
    assert sorted(n for n, m in catalog.GPU_MODELS.items() if m.mig_capable) == [
        "nvidia-a100-40gb",
        "nvidia-a100-80gb",
        "nvidia-h100-80gb",
        "nvidia-h200",
    ]


def test_a_mig_pools_capacity_counts_instances_of_its_profile() -> None:
    pools = [
        {"name": "inference", "gpu": "nvidia-l4", "maxNodes": 4},
        {
            "name": "training",
            "gpu": "nvidia-a100-80gb",
            "maxNodes": 2,
            "sharing": {"mode": "mig", "migProfile": "1g.20gb"},
        },
    ]
    spec = spec_for("gcp", gpuPools=pools, tenants=[])

    assert spec.gpu_capacity() == {"nvidia-l4": 4, "nvidia-a100-80gb": 2 * 4}
    assert spec.gpu_pools[1].slices_per_gpu == 4


def test_every_offering_carries_a_dated_source() -> None:
    for model in catalog.GPU_MODELS.values():
        for offerings in model.offerings.values():
            for offering in offerings:
                assert offering.source.key
                assert offering.source.as_of
