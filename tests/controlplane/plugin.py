"""pytest fixtures for the real control plane; registered for the whole suite by ``tests/conftest.py``.

Fixtures:
- ``control_plane`` (session): one shared etcd + kube-apiserver + kube-controller-manager
  (:class:`tests.controlplane.cluster.ControlPlane`). Tests that change cluster-wide state (CRDs, admission
  policies) must be idempotent under server-side apply and clean up what would disturb others.
- ``kube`` (function): ``control_plane.client`` — a :class:`tests.controlplane.client.KubeClient`.
- ``make_control_plane`` (session): a factory for a private control plane (``make_control_plane("kueue")``),
  for tests that install webhooks or controllers the shared one must not see. Stopped at session end.

A failing test that used any of them gets a "control plane logs" section with the tail of every log (etcd,
kube-apiserver, kube-controller-manager, and whatever ran via ``popen_in_netns``); the full logs stay under
pytest's basetemp (``.../controlplane-*/logs``).

Other test packages reuse these fixtures by name; e.g. ``tests/engine`` runs the Pulumi engine with
``subprocess.run(control_plane.in_netns([...]))`` and ``--kubeconfig control_plane.kubeconfig``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

from tests.controlplane.client import KubeClient
from tests.controlplane.cluster import ControlPlane

_RUNNING: list[ControlPlane] = []


@pytest.fixture(scope="session")
def make_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ControlPlane]]:
    started: list[ControlPlane] = []

    def make(name: str = "cp", **kwargs: bool | float) -> ControlPlane:
        cp = ControlPlane(tmp_path_factory.mktemp(f"controlplane-{name}"), **kwargs)  # type: ignore[arg-type]
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
