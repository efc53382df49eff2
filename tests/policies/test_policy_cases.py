"""Every policy, driven through the real analyzer (gRPC): each mutation gives exactly the expected
violations, the level follows the config, out-of-scope types and excluded resources are skipped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import policies
from gpuplane.recording import Recording
from tests.policies.builders import retype
from tests.policies.cases import CASES, Case
from tests.policies.conftest import Analyze


def name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def test_every_policy_has_a_mutation_case() -> None:
    assert {c.policy for c in CASES} == {m.META.name for m in policies.MODULES}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_mutation_reports_exact_violations(case: Case, analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = case.build(baseline)
    violations = analyze(recording, case.config)
    got = [(v.level, v.message, name_of(v.urn)) for v in violations if v.policy == case.policy]
    assert sorted(got) == sorted(case.expected)
    others = {v.policy for v in violations if v.level == "mandatory" and v.policy != case.policy}
    assert others == set(case.also)

    # The enforcement level is the config's to choose.
    flipped = "advisory" if case.expected[0][0] == "mandatory" else "mandatory"
    overridden = analyze(recording, {case.policy: flipped})
    assert sorted((v.level, v.message) for v in overridden if v.policy == case.policy) == sorted(
        (flipped, message) for _, message, _ in case.expected
    )


RESOURCE_CASES = [c for c in CASES if not c.stack_policy]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: c.id)
def test_out_of_scope_types_and_excluded_resources_are_skipped(
    case: Case, analyze: Analyze, baseline: Callable[[str], Recording]
) -> None:
    assert case.targets
    recording = case.build(baseline)
    retyped = retype(recording, case.out_of_scope, *case.targets)
    assert [v for v in analyze(retyped) if v.policy == case.policy] == []
    excluded = analyze(recording, {case.policy: {"excludeResources": list(case.targets)}})
    assert [v for v in excluded if v.policy == case.policy] == []
