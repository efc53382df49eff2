"""Fixtures for the real-engine tier (marker ``engine``): the built engine and a deployable copy of the repo.

- ``engine`` (session): :func:`tests.engine.build.ensure_engine` — builds on first use (minutes, cached).
  A build failure or a missing Go toolchain fails the tests; nothing here skips.
- ``deploy_copy`` (session): a copy of the repository with the README's deploy venv
  (``python3 -m venv .venv && .venv/bin/pip install -e .``) and the policy pack's venv
  (policies/README: ``python -m venv policies/venv && policies/venv/bin/pip install -r policies/requirements.txt``).
  Their dependencies come from venvs built once per machine (tests/engine/venvs.py: cached by the requirement
  lines and the interpreter, under a file lock); each copy gets its own venvs layered on them and the project
  installed with ``pip install --no-deps -e .``.
- ``make_cli``: a :class:`tests.engine.harness.PulumiCli` factory with fresh ``PULUMI_HOME`` and state.

Every test module here sets ``pytestmark = pytest.mark.engine`` (``.ci/run`` selects or deselects the tier by it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.build import Engine, ensure_engine
from tests.engine.harness import PulumiCli, copy_repository
from tests.engine.venvs import deploy_dependency_venv, install_project, layered_venv, policy_pack_venv


@pytest.fixture(scope="session")
def engine() -> Engine:
    return ensure_engine()


@pytest.fixture(scope="session")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_repository(tmp_path_factory.mktemp("deploy") / "gpuplane")
    install_project(layered_venv(root / ".venv", deploy_dependency_venv(root)), root)
    layered_venv(root / "policies" / "venv", policy_pack_venv(root))
    return root


@pytest.fixture
def make_cli(engine: Engine, tmp_path: Path) -> Callable[..., PulumiCli]:
    made = 0

    def make(project: Path, **kwargs: object) -> PulumiCli:
        nonlocal made
        made += 1
        base = tmp_path / f"pulumi-{made}"
        (base / "state").mkdir(parents=True)
        (base / "home").mkdir()
        return PulumiCli(engine.bin_dir, project, base / "state", base / "home", **kwargs)  # type: ignore[arg-type]

    return make
