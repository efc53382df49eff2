"""Run the adversarial corpus through the path ``gpuplane plan`` uses and assert each verdict.

Insecure cases: the named policy reports a violation at the named level whose message contains the
expected text. Compliant twins: the named policy reports nothing. Programs are recorded in-process
(mock runtime) and analysed by the session's one pack process (``tests/policies/conftest.py``); stack
files go through :func:`gpuplane.plan.plan_with_policies` with the stack's default policy config,
exactly as ``gpuplane plan <stack file>`` does.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane import stackfiles
from gpuplane.analyzer import PACK_DIR, PolicyPackServer, Violation
from gpuplane.plan import plan_with_policies, policy_config_for
from gpuplane.recording import Recording, run_program
from tests.policies.adversarial import load_corpus
from tests.policies.adversarial.corpus import CASES, Case

load_corpus()

_RECORDINGS: dict[str, Recording] = {}


def record_case(case: Case) -> Recording:
    """The case's recording (programs only), cached for the scope tests."""
    assert case.program is not None
    if case.id not in _RECORDINGS:
        _RECORDINGS[case.id] = run_program(case.program, stack="adversarial", region=case.region)
    return _RECORDINGS[case.id]


@contextlib.contextmanager
def edited_stack_file(case: Case) -> Iterator[stackfiles.StackFile]:
    """The case's example stack file with its edit applied, loaded from a temporary copy that exists
    while the context is open (planning reads the file again for placeholders)."""
    assert case.edit is not None
    source = stackfiles.resolve(case.stack)
    data: Any = yaml.safe_load(source.read_text())
    case.edit(data["config"])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / source.name
        path.write_text(yaml.safe_dump(data))
        yield stackfiles.load(path)


def verdicts(case: Case, pack: PolicyPackServer) -> list[Violation]:
    if case.program is not None:
        return pack.analyze(record_case(case), project="gpuplane", stack="adversarial", config=case.config)
    with edited_stack_file(case) as stack_file:
        plan = plan_with_policies(stack_file, pack, policy_config_for(case.stack, PACK_DIR))
    assert not plan.errors, f"the edited stack file is refused before any policy runs: {plan.errors}"
    return plan.violations


def test_corpus_size_and_unique_ids() -> None:
    insecure = [c for c in CASES if not c.compliant]
    assert len(insecure) >= 150, len(insecure)
    assert len({c.id for c in CASES}) == len(CASES), [i for i, n in Counter(c.id for c in CASES).items() if n > 1]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.evasion}-{c.id}")
def test_case(case: Case, pack: PolicyPackServer) -> None:
    found = [v for v in verdicts(case, pack) if v.policy == case.policy]
    if case.compliant:
        assert found == [], f"false positive: {[v.message for v in found]}"
        return
    matching = [v for v in found if v.level == case.level and case.message in v.message]
    assert matching, (
        f"{case.policy} ({case.level}) did not report {case.message!r}; got {[(v.level, v.message) for v in found]}"
    )
