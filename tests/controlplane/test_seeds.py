"""The bookkeeping behind seeded control planes (``plugin.make_stack_control_plane``): which CRD sets are the
same, and which existing seed a new one may be built on. A wrong answer would start a control plane with
CRDs its stack does not install (or an older version of one) — the stack tests would then prove nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.controlplane import manifests
from tests.controlplane.plugin import _largest_subset  # pyright: ignore[reportPrivateUsage]


def crd(name: str, description: str = "x") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"description": description}}}]},
    }


def test_the_key_depends_on_content_not_order() -> None:
    a, b = crd("as.example.com"), crd("bs.example.com")
    changed = copy.deepcopy(b)
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "y"

    assert manifests.crd_set_key([a, b]) == manifests.crd_set_key([b, a])
    assert manifests.crd_set_key([a, b]) != manifests.crd_set_key([a, changed])
    assert manifests.crd_set_key([a, b]) != manifests.crd_set_key([a])


def test_a_seed_is_built_on_the_largest_seed_that_is_a_subset(tmp_path: Path) -> None:
    a, b, c, d = (crd(f"{n}s.example.com") for n in "abcd")
    b_changed = crd("bs.example.com", description="other version")
    for listing in ([a], [a, b], [a, c], [a, b_changed, d]):
        key = manifests.crd_set_key(listing)
        (tmp_path / f"{key}.json").write_text(json.dumps(manifests.crd_digests(listing)))

    wanted = manifests.crd_digests([a, b, d])
    best = _largest_subset(tmp_path, wanted)

    assert best is not None
    assert best[0] == manifests.crd_set_key([a, b])  # not [a, c] (c not wanted), not [a, b_changed, d]
    assert _largest_subset(tmp_path, manifests.crd_digests([c, d])) is None
