"""Fixtures for the policy tests: analysis through the session's one pack, cached baselines.

Every analysis goes through :class:`gpuplane.analyzer.PolicyPackServer`, the same gRPC path
``gpuplane plan`` uses; starting the pack costs about half a second, so the test process starts one
(the fixture ``pack`` in ``tests/support.py``, shared by every package).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from gpuplane.analyzer import PolicyPackServer, Violation
from gpuplane.recording import Recording
from tests.policies import builders

Analyze = Callable[..., list[Violation]]


@pytest.fixture(scope="session")
def analyze(pack: PolicyPackServer) -> Analyze:
    def run(recording: Recording, config: Mapping[str, Any] | None = None, stack: str = "test") -> list[Violation]:
        return pack.analyze(recording, project=builders.PROJECT, stack=stack, config=config)

    return run


_BASELINES: dict[str, Recording] = {}


@pytest.fixture(scope="session")
def baseline() -> Callable[[str], Recording]:
    """The compliant platform per cloud, built once per session (tests mutate copies)."""

    def get(cloud: str) -> Recording:
        if cloud not in _BASELINES:
            _BASELINES[cloud] = builders.baseline(cloud)
        return _BASELINES[cloud]

    return get
