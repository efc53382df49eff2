"""pytest fixtures for the real control plane; registered for the whole suite by ``tests/conftest.py``.

Fixtures:
- ``control_plane`` (session): one shared etcd + kube-apiserver + kube-controller-manager
  (:class:`tests.controlplane.cluster.ControlPlane`). Tests that change cluster-wide state (CRDs, admission
  policies) must be idempotent under server-side apply and clean up what would disturb others.
- ``kube`` (function): ``control_plane.client`` — a :class:`tests.controlplane.client.KubeClient`.
- ``make_control_plane`` (session): a factory for a private control plane (``make_control_plane("kueue")``),
  for tests that install webhooks or controllers the shared one must not see. Stopped at session end.
- ``make_stack_control_plane`` (session): ``make_stack_control_plane(name, crds)`` is a private control plane
  that already serves exactly ``crds``, Established (ready once the API server is: the controller manager
  may still be making ServiceAccounts; tests that need one wait for it). The first request for a set of
  CRDs in a pytest run applies them (server-side apply, strict validation, every refusal an assertion
  error) to a template control plane without a controller manager, waits until they are Established and
  stops it; every control plane for the same set (same content,
  :func:`tests.controlplane.manifests.crd_set_key`) then starts from a copy of that etcd data. Storing and
  establishing a stack's 57 CRDs costs the API server 15-20 CPU-seconds each time; a seeded start costs ~2
  more than an empty one. A template itself starts from the largest seed whose CRDs are a subset of its
  own (see ``_crd_seed``). Workers of one xdist run share the templates (a file lock in the run's temporary
  root); nothing outlives the run, so every run proves the CRDs are accepted.

A failing test that used any of them gets a "control plane logs" section with the tail of every log (etcd,
kube-apiserver, kube-controller-manager, and whatever ran via ``popen_in_netns``); the full logs stay under
pytest's basetemp (``.../controlplane-*/logs``).

Other test packages reuse these fixtures by name; e.g. ``tests/engine`` runs the Pulumi engine with
``subprocess.run(control_plane.in_netns([...]))`` and ``--kubeconfig control_plane.kubeconfig``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane import manifests
from tests.controlplane.client import KubeClient
from tests.controlplane.cluster import ControlPlane

_RUNNING: list[ControlPlane] = []


@pytest.fixture(scope="session")
def make_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ControlPlane]]:
    started: list[ControlPlane] = []

    def make(name: str = "cp", **kwargs: Any) -> ControlPlane:
        cp = ControlPlane(tmp_path_factory.mktemp(f"controlplane-{name}"), **kwargs)
        started.append(cp)
        _RUNNING.append(cp)
        return cp.start()

    yield make
    for cp in reversed(started):
        cp.stop()
        _RUNNING.remove(cp)


@pytest.fixture(scope="session")
def control_plane(make_control_plane: Callable[..., ControlPlane]) -> ControlPlane:
    return make_control_plane("shared")


@pytest.fixture
def kube(control_plane: ControlPlane) -> KubeClient:
    return control_plane.client


@pytest.fixture(scope="session")
def make_stack_control_plane(
    make_control_plane: Callable[..., ControlPlane], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Sequence[dict[str, Any]]], ControlPlane]:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's root, shared by its workers (each has its own basetemp below it)
    seeds = root / "controlplane-crd-seeds"

    def make(name: str, crds: Sequence[dict[str, Any]]) -> ControlPlane:
        seed = _crd_seed(seeds, crds, make_control_plane)
        cp = make_control_plane(name, etcd_seed=seed, await_service_account=False)
        manifests.wait_established(cp.client, crds)
        return cp

    return make


def _crd_seed(seeds: Path, crds: Sequence[dict[str, Any]], make_control_plane: Callable[..., ControlPlane]) -> Path:
    """The etcd data of a stopped control plane that served exactly ``crds`` (made on first use).

    A seed is made from the largest existing seed whose CRDs are all among ``crds`` (same content), applying
    only the rest: ``gcp-dev``'s 49 CRDs are byte-identical to 49 of the other stacks' 57 (the GPU operator's
    8 are the difference), so after the 49 the 57 cost about a second, not another 15-20."""
    digests = manifests.crd_digests(crds)
    key = manifests.crd_set_key(crds)
    seed, listing = seeds / key, seeds / f"{key}.json"
    seeds.mkdir(parents=True, exist_ok=True)
    with open(seeds / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be making it; wait, then use it
        if listing.is_file():
            return seed
        base = _largest_subset(seeds, digests)
        template = make_control_plane(
            f"crds-{key}", controller_manager=False, etcd_seed=None if base is None else seeds / base[0]
        )
        try:
            missing = [c for c in crds if base is None or c["metadata"]["name"] not in base[1]]
            failures = manifests.apply_all(template.client, missing)
            assert not failures, "CRDs refused by the API server:\n" + "\n".join(failures)
            manifests.wait_established(template.client, crds)
        finally:
            template.stop()
        partial = seeds / f"{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.move(template.workdir / "etcd", partial)
        partial.rename(seed)
        listing.write_text(json.dumps(digests, indent=1, sort_keys=True))  # written last: the seed is complete
    return seed


def _largest_subset(seeds: Path, digests: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    best: tuple[str, dict[str, str]] | None = None
    for listing in seeds.glob("*.json"):
        held: dict[str, str] = json.loads(listing.read_text())
        if all(digests.get(name) == digest for name, digest in held.items()) and (
            best is None or len(held) > len(best[1])
        ):
            best = (listing.stem, held)
    return best


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _RUNNING and _uses_control_plane(item):
        report.sections.append(("control plane logs", "\n\n".join(cp.logs_tail() for cp in _RUNNING)))
    return report


def _uses_control_plane(item: pytest.Item) -> bool:
    # fixturenames is the whole closure: any fixture built on make_control_plane brings it in.
    return "make_control_plane" in set(getattr(item, "fixturenames", ()))
