"""Each policy's docstring lists every resource type (and the paths) it reads, under ``Reads:``; every
listed type has an insecure corpus case for that policy that registers a resource of that type, so a
type a policy claims to guard is proven to be guarded (issue 10, one property per policy)."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

import policies
from tests.policies.adversarial import load_corpus
from tests.policies.adversarial.corpus import CASES
from tests.policies.adversarial.test_corpus import record_case

load_corpus()

_LINE = re.compile(r"^    ((?:[a-z0-9-]+:[^\s,]*:?[^\s,:]*)(?:, [a-z0-9-]+:[^\s,]*:?[^\s,:]*)*): (.+)$")


def reads(module: ModuleType) -> dict[str, str]:
    """``type -> paths`` from the module docstring's ``Reads:`` section."""
    doc = module.__doc__ or ""
    if "\nReads:\n" not in doc:
        return {}
    section = doc.split("\nReads:\n", 1)[1]
    found: dict[str, str] = {}
    for line in section.splitlines():
        if not line.strip():
            break
        match = _LINE.match(line)
        assert match, f"{module.__name__}: malformed Reads line {line!r} (want '    <type>[, <type>]: <paths>')"
        for type_ in match.group(1).split(", "):
            found[type_] = match.group(2)
    return found


def name_of(module: ModuleType) -> str:
    return str(module.META.name)


PAIRS = [(name_of(m), type_) for m in policies.MODULES for type_ in reads(m)]


@pytest.mark.parametrize("module", policies.MODULES, ids=name_of)
def test_every_policy_lists_what_it_reads(module: ModuleType) -> None:
    assert reads(module), f"{name_of(module)}: its docstring has no 'Reads:' section listing types and paths"


@pytest.mark.parametrize(("policy", "type_"), PAIRS, ids=[f"{p}-{t}" for p, t in PAIRS])
def test_every_listed_type_has_an_insecure_corpus_case(policy: str, type_: str) -> None:
    cases = [c for c in CASES if c.policy == policy and not c.compliant and c.program is not None]
    assert cases, f"no insecure corpus case for {policy}"
    assert any(type_ in {r.type for r in record_case(c).resources} for c in cases), (
        f"{policy} lists {type_} in its docstring, but no insecure corpus case for it registers one"
    )
