"""The cost estimate's idle floor prices what runs while every GPU pool is idle (issue 12, item 18)."""

from __future__ import annotations

from typing import Any

import pytest

from components import catalog
from components.cost import HOURS_PER_MONTH, NODE_DISK_GB, estimate_cost
from components.spec import PlatformSpec
from tests.support import raw_spec, spec_for

GB_HOUR_AWS = 0.08 / HOURS_PER_MONTH
GB_HOUR_GCP = 0.10 / HOURS_PER_MONTH


def _lines(spec: PlatformSpec) -> dict[str, tuple[float, float]]:
    return {line.part: (line.hourly_min, line.hourly_max) for line in estimate_cost(spec).lines}


def test_an_idle_eks_platform_costs_more_than_its_control_plane() -> None:
    estimate = estimate_cost(spec_for("aws"))
    # control plane + 2 x m6i.large + 1 NAT gateway + the gateway's load balancer
    # + Prometheus 50 GB + OpenFGA 10 GB + 2 system root disks of 50 GB; both GPU pools at zero.
    floor = 0.10 + 2 * 0.096 + 0.045 + 0.0225 + (50 + 10 + 2 * 50) * GB_HOUR_AWS
    assert estimate.hourly_min == pytest.approx(floor, abs=1e-4)
    assert estimate.hourly_min > 0.10 * 3
    assert _lines(spec_for("aws"))["GPU pool inference"] == (0.0, 4 * 0.8048)


def test_the_breakdown_adds_up_and_every_line_cites_a_dated_source() -> None:
    for cloud in ("aws", "gcp", "linode"):
        estimate = estimate_cost(spec_for(cloud))
        assert estimate.hourly_min == pytest.approx(sum(line.hourly_min for line in estimate.lines), abs=1e-4)
        assert estimate.hourly_max == pytest.approx(sum(line.hourly_max for line in estimate.lines), abs=1e-4)
        for line in estimate.lines:
            assert "[" in line.detail, (cloud, line.part)
            assert "[no source]" not in line.detail, (cloud, line.part)
            assert str(line) in estimate.notes


def test_eks_extended_support_costs_six_times_the_standard_fee() -> None:
    assert _lines(spec_for("aws", kubernetesVersion="1.33"))["control plane"] == (0.60, 0.60)
    assert _lines(spec_for("aws", kubernetesVersion="1.35"))["control plane"] == (0.10, 0.10)


def test_production_eks_pays_one_nat_gateway_per_zone() -> None:
    assert _lines(spec_for("aws"))["NAT"] == (0.045, 0.045)
    assert _lines(spec_for("aws", production=True))["NAT"] == (0.09, 0.09)


def test_cloud_nat_is_charged_per_vm_up_to_32() -> None:
    small = _lines(spec_for("gcp"))["NAT"]
    assert small == pytest.approx((2 * 0.0014 + 0.005, (4 + 4 + 2) * 0.0014 + 0.005))
    pools: list[dict[str, Any]] = raw_spec("gcp")["gpuPools"]
    pools[0]["maxNodes"] = 100
    capped = _lines(spec_for("gcp", gpuPools=pools, tenants=[]))["NAT"]
    assert capped[1] == pytest.approx(32 * 0.0014 + 0.005)


def test_without_a_gateway_there_is_no_load_balancer() -> None:
    spec = spec_for("aws", gateway={"enabled": False}, models=[])
    assert "load balancer" not in _lines(spec)


def test_volumes_follow_the_sizes_in_the_spec() -> None:
    base = _lines(spec_for("gcp"))["volumes"][0]
    bigger = _lines(spec_for("gcp", observability={"storageGb": 550}))["volumes"][0]
    assert bigger - base == pytest.approx(500 * GB_HOUR_GCP)
    external = _lines(spec_for("gcp", openfga={"datastore": "external"}))["volumes"][0]
    assert base - external == pytest.approx(10 * GB_HOUR_GCP)


def test_lke_has_no_nat_and_prices_its_system_nodes() -> None:
    lines = _lines(spec_for("linode"))
    assert "NAT" not in lines
    assert lines["system nodes"] == pytest.approx((2 * 0.108, 4 * 0.108))
    assert lines["load balancer"] == (0.015, 0.015)


def test_existing_clusters_price_nothing() -> None:
    estimate = estimate_cost(spec_for("existing"))
    assert (estimate.hourly_min, estimate.hourly_max, estimate.lines) == (0.0, 0.0, ())


def test_every_system_instance_type_has_a_sourced_price() -> None:
    for cloud, sizes in catalog.SYSTEM_INSTANCE_TYPES.items():
        if cloud == "existing":
            continue
        for machine in sizes.values():
            offering = catalog.SYSTEM_NODE_PRICES[machine]
            assert offering.hourly_usd is not None
            assert offering.hourly_usd > 0
            assert offering.source.as_of


def test_node_disk_sizes_match_the_eks_launch_templates() -> None:
    from components.clusters import eks

    assert NODE_DISK_GB["aws"] == (eks.SYSTEM_DISK_GIB, eks.GPU_DISK_GIB)
