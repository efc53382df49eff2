"""Session fixtures: one PostgreSQL cluster and one real OpenFGA server on it, shared by the tests here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.openfga.server import OpenFga, Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with Postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def openfga(postgres: Postgres) -> Iterator[OpenFga]:
    with OpenFga(postgres.createdb("openfga")) as server:
        yield server
