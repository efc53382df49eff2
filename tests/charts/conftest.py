"""Every example stack planned and every Helm release rendered with its real chart, once per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from components.spec import PlatformSpec
from gpuplane import charts, render, stackfiles
from gpuplane.recording import Recording
from tests.support import example_plan

EXAMPLES = [stackfiles.stack_name(p) for p in stackfiles.discover()]


@dataclass(frozen=True)
class RenderedStack:
    name: str
    spec: PlatformSpec
    recording: Recording
    direct: list[dict[str, Any]]
    releases: list[charts.RenderedRelease]

    @property
    def objects(self) -> list[dict[str, Any]]:
        """Everything the stack installs: chart-rendered objects and the ones it creates directly."""
        return [o for r in self.releases for o in r.objects] + self.direct

    def release(self, name: str) -> charts.RenderedRelease:
        (found,) = [r for r in self.releases if r.release.name == name]
        return found


_CACHE: dict[str, RenderedStack] = {}


def rendered_stack(name: str) -> RenderedStack:
    if name not in _CACHE:
        plan = example_plan(name)
        assert plan.spec is not None, plan.errors
        direct = render.kubernetes_objects(plan.recording)
        releases = charts.render_stack(plan.recording, plan.spec.kubernetes_version, direct)
        _CACHE[name] = RenderedStack(name, plan.spec, plan.recording, direct, releases)
    return _CACHE[name]


@pytest.fixture(scope="session", params=EXAMPLES)
def stack(request: pytest.FixtureRequest) -> RenderedStack:
    return rendered_stack(str(request.param))
