"""Regions each cloud really has, so a typo (``us-easst-1``) fails at plan time, not at ``pulumi up``.

Sources (checked 2026-12-05):
- AWS: the ``Region`` enum of the pinned AWS provider SDK (pulumi-aws 7.51.1,
  ``pulumi_aws/_enums.py``, generated from the provider schema); tests/stacks/test_config_errors.py
  compares this list with the installed enum, so an SDK upgrade that adds a region fails loudly.
  The isolated partitions (``us-iso*``, ``eu-isoe``, ``eusc-de``) are left out: EKS GPU offerings
  there are not in the catalog.
- GCP: every region :mod:`components.gcp_zones` records a GPU machine type in (a region without
  any GPU zone cannot host a GPU pool; the GKE component places pools by those zones).
- Linode: no machine-readable list is pinned here (the provider SDK has no region enum), so Linode
  regions are checked for shape only (``us-ord``, ``de-fra-2``); docs/spec.md says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from components import catalog, gcp_zones

AWS_REGIONS: frozenset[str] = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "cn-north-1",
        "cn-northwest-1",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)
LINODE_REGION_SHAPE = re.compile(r"^[a-z]{2}-[a-z]+(-[0-9])?$")


def gcp_regions() -> frozenset[str]:
    machines = {o.instance_type for m in catalog.GPU_MODELS.values() for o in m.offerings.get("gcp", ())}
    return frozenset(region for machine in machines for region in gcp_zones.regions_with(machine))


def region_problem(cloud: str, region: str) -> str | None:
    """Why ``region`` is not a region of ``cloud`` (``None`` when it is, or cannot be checked)."""
    known: Mapping[str, frozenset[str]] = {"aws": AWS_REGIONS, "gcp": gcp_regions()}
    if cloud in known:
        regions = known[cloud]
        if region in regions:
            return None
        import difflib

        close = difflib.get_close_matches(region, sorted(regions), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"{cloud} regions: {', '.join(sorted(regions))}"
        return f"{region!r} is not a {cloud} region gpuplane knows; {hint}"
    if cloud == "linode" and not LINODE_REGION_SHAPE.match(region):
        return f"{region!r} is not a Linode region id (like us-ord or de-fra-2)"
    return None
