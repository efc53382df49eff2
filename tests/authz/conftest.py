"""Session fixture: the real OpenFGA server on its memory datastore (the datastore is not the point here;
tests/openfga runs it on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.openfga.server import OpenFga


@pytest.fixture(scope="session")
def openfga_memory() -> Iterator[OpenFga]:
    with OpenFga(None) as server:
        yield server
