"""Zones of each GCP region that offer each GPU machine type gpuplane uses.

What: :func:`gpu_zones` answers "in which zones of ``region`` can a ``g2-standard-8`` node run?" for the
machine types in :mod:`components.catalog`; :func:`regions_with` lists the regions that have a machine type.
Why: a regional GKE cluster puts every node pool in every zone of the region unless the pool has
``node_locations``; GPU machine types exist only in some zones, so a GPU pool without them fails to create
("Accelerator type ... does not exist in zone ..."). The GKE component gives each GPU pool the zones listed
here (or the zones the spec pins), and the spec rejects a region or pinned zone without the GPU before
anything is created.

Source (docs only, not an API call from here): SkyPilot's GCP catalog,
github.com/skypilot-org/skypilot-catalog ``catalogs/v8/gcp/vms.csv`` at commit
006059e0f18acb1341e22a27751e9f80df6ba92f (the copy the search tool stores; undated, its prices match other
2026 snapshots), which lists one row per machine type and zone. Read on 2026-12-05. Google's own "GPU regions
and zones" page (cloud.google.com/compute/docs/gpus/gpu-regions-zones) renders its table in the browser and
could not be read through the search tool; docs/decisions/gke-gpu-zones.md says what this rests on.

Upstream gotchas recorded as data:

- Within a series the zones are the same for every size, except ``a2-megagpu-16g`` (fewer regions than the
  other A2 High-GPU types) and ``a3-highgpu-8g`` (no ``europe-west8-c``, which the 1g/2g/4g sizes have).
- ``g2-standard-8``/``-12``/``-96`` rows were not read; they are assumed to match the ``-4``/``-16``/``-24``/
  ``-32``/``-48`` rows, which agree zone for zone.
- N1 machine types with attached T4s are not recorded at all: a T4 pool on GKE is rejected until they are.
- ``a3-ultragpu-8g`` (H200) is offered in one zone per region.
"""

from __future__ import annotations

from collections.abc import Mapping

SOURCE = (
    "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @ 006059e0f18acb1341e22a27751e9f80df6ba92f, read 2026-12-05"
)

_Zones = Mapping[str, tuple[str, ...]]
"""Region -> zone suffixes (``("a", "c")`` means ``<region>-a`` and ``<region>-c``)."""

_G2: _Zones = {
    "asia-east1": ("a", "b", "c"),
    "asia-northeast1": ("a", "b", "c"),
    "asia-northeast3": ("a", "b"),
    "asia-south1": ("a", "b", "c"),
    "asia-southeast1": ("a", "b", "c"),
    "europe-west1": ("b", "c"),
    "europe-west2": ("a", "b"),
    "europe-west3": ("a", "b"),
    "europe-west4": ("a", "b", "c"),
    "europe-west6": ("b", "c"),
    "me-central2": ("a", "c"),
    "northamerica-northeast1": ("b", "c"),
    "northamerica-northeast2": ("a", "b"),
    "us-central1": ("a", "b", "c"),
    "us-east1": ("b", "c", "d"),
    "us-east4": ("a", "c"),
    "us-west1": ("a", "b", "c"),
    "us-west4": ("a", "c"),
}
_A2_HIGHGPU: _Zones = {
    "asia-northeast1": ("a", "c"),
    "asia-northeast3": ("a", "b"),
    "asia-southeast1": ("a", "b", "c"),
    "europe-west4": ("a", "b"),
    "me-west1": ("a", "c"),
    "us-central1": ("a", "b", "c", "f"),
    "us-east1": ("b",),
    "us-west1": ("b",),
    "us-west3": ("b",),
    "us-west4": ("b",),
}
_A2_MEGAGPU: _Zones = {
    "asia-southeast1": ("a", "c"),
    "europe-west4": ("a", "b"),
    "us-central1": ("a", "b", "c", "f"),
}
_A2_ULTRAGPU: _Zones = {
    "asia-southeast1": ("c",),
    "europe-west4": ("a",),
    "us-central1": ("a", "c"),
    "us-east4": ("c",),
    "us-east5": ("a", "b"),
}
_A3_HIGHGPU_8G: _Zones = {
    "asia-east1": ("c",),
    "asia-northeast1": ("b",),
    "asia-south1": ("c",),
    "asia-south2": ("b",),
    "asia-southeast1": ("b", "c"),
    "australia-southeast1": ("c",),
    "europe-north1": ("c",),
    "europe-west1": ("b", "c"),
    "europe-west3": ("c",),
    "europe-west4": ("b", "c"),
    "europe-west9": ("c",),
    "us-central1": ("a", "b", "c"),
    "us-east4": ("a", "b", "c"),
    "us-east5": ("a",),
    "us-west1": ("a", "b"),
    "us-west4": ("a",),
}
_A3_HIGHGPU_SMALL: _Zones = {**_A3_HIGHGPU_8G, "europe-west8": ("c",)}
_A3_ULTRAGPU: _Zones = {
    "asia-south1": ("b",),
    "asia-south2": ("c",),
    "europe-west1": ("b",),
    "europe-west4": ("a",),
    "us-central1": ("b",),
    "us-east4": ("b",),
    "us-east5": ("a",),
    "us-south1": ("b",),
    "us-west1": ("c",),
}

_BY_MACHINE_TYPE: Mapping[str, _Zones] = {
    **{f"g2-standard-{n}": _G2 for n in (4, 8, 12, 16, 24, 32, 48, 96)},
    **{f"a2-highgpu-{n}g": _A2_HIGHGPU for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": _A2_MEGAGPU,
    **{f"a2-ultragpu-{n}g": _A2_ULTRAGPU for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": _A3_HIGHGPU_SMALL for n in (1, 2, 4)},
    "a3-highgpu-8g": _A3_HIGHGPU_8G,
    "a3-ultragpu-8g": _A3_ULTRAGPU,
}


def recorded(machine_type: str) -> bool:
    """Whether zone data exists for ``machine_type`` at all."""
    return machine_type in _BY_MACHINE_TYPE


def gpu_zones(machine_type: str, region: str) -> tuple[str, ...]:
    """Full zone names of ``region`` that offer ``machine_type``; empty when none does (or none is recorded)."""
    suffixes = _BY_MACHINE_TYPE.get(machine_type, {}).get(region, ())
    return tuple(f"{region}-{suffix}" for suffix in suffixes)


def regions_with(machine_type: str) -> tuple[str, ...]:
    """Regions with at least one zone offering ``machine_type`` (sorted)."""
    return tuple(sorted(_BY_MACHINE_TYPE.get(machine_type, {})))
