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


# --- GKE zones per machine type (issue 12, item 10) ---------------------------------------------


def test_every_gcp_gpu_machine_type_but_n1_has_zone_data() -> None:
    from components import gcp_zones

    gcp_types = {o.instance_type for m in catalog.GPU_MODELS.values() for o in m.offerings.get("gcp", ())}
    unrecorded = sorted(t for t in gcp_types if not gcp_zones.recorded(t))
    # N1 machines with attached T4s are not in the zone table: T4 pools are refused on GKE (fail closed).
    assert unrecorded == ["n1-standard-16", "n1-standard-4", "n1-standard-8"]


def test_recorded_zones_belong_to_their_region() -> None:
    from components import gcp_zones

    for machine in (
        "g2-standard-4",
        "a2-highgpu-1g",
        "a2-megagpu-16g",
        "a2-ultragpu-8g",
        "a3-highgpu-8g",
        "a3-ultragpu-8g",
    ):
        regions = gcp_zones.regions_with(machine)
        assert regions, machine
        for region in regions:
            zones = gcp_zones.gpu_zones(machine, region)
            assert zones, (machine, region)
            assert all(z.startswith(f"{region}-") for z in zones), (machine, region)
            assert len(set(zones)) == len(zones), (machine, region)


def test_zone_data_differs_where_the_source_differs() -> None:
    from components import gcp_zones

    # a3-highgpu-8g is not offered in europe-west8-c, the smaller A3 High sizes are.
    assert gcp_zones.gpu_zones("a3-highgpu-1g", "europe-west8") == ("europe-west8-c",)
    assert gcp_zones.gpu_zones("a3-highgpu-8g", "europe-west8") == ()
    # H200 (a3-ultragpu) comes in one zone per region.
    assert gcp_zones.gpu_zones("a3-ultragpu-8g", "us-central1") == ("us-central1-b",)
    assert gcp_zones.gpu_zones("unknown-machine", "us-central1") == ()


# --- always-on prices (issue 12, item 18) -------------------------------------------------------


def test_always_on_prices_carry_dated_sources() -> None:
    for cloud, prices in catalog.ALWAYS_ON_PRICES.items():
        if cloud == "existing":
            assert (prices.nat_gateway_hourly, prices.load_balancer_hourly, prices.volume_gb_month) == (0, 0, 0)
            continue
        assert prices.load_balancer_source is not None
        assert prices.load_balancer_source.as_of
        assert prices.volume_source is not None
        if prices.nat_gateway_hourly or prices.nat_per_vm_hourly:
            assert prices.nat_source is not None
    assert catalog.EKS_EXTENDED_SUPPORT_FEE.hourly_usd == 0.60
