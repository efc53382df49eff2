"""The pack's speed-ups change no verdict: proofs against pulumi-policy's own code.

``policies/_lazy_props.py`` replaces pulumi-policy's eager ``unknown_checking_proxy`` with lazy,
copy-on-write wrappers over one deserialised tree per request, and ``policies/_support.py`` remembers
each policy's checked config. Here:

- the lazy wrappers are driven with the same random property trees (unknown sentinels and secrets
  included) and the same random reads, iterations and writes as pulumi-policy's proxy, and must give
  the same values and the same ``UnknownValueError`` (sentinel and path) or error type;
- two policies' wrappers over one tree never see each other's writes, and the tree never changes;
- every adversarial corpus case and every example stack is analysed by the real pack and by a copy of
  it without the speed-ups (stock pulumi-policy servicer, secret marking kept), over gRPC: the
  verdicts must be identical;
- a remembered config is never reused for a value that only compares equal (``True == 1``).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy import proxy as upstream

from gpuplane import stackfiles
from gpuplane.analyzer import PACK_DIR, PolicyPackServer, Violation, load_config
from gpuplane.plan import plan_stack, policy_config_for
from gpuplane.recording import Recording
from policies import _lazy_props, _support
from tests.policies.adversarial import load_corpus
from tests.policies.adversarial.corpus import CASES, Case
from tests.policies.adversarial.test_corpus import edited_stack_file, record_case

SPEEDUP_LINES = (
    'importlib.import_module("gpuplane_policies._convert_once").install()',
    'importlib.import_module("gpuplane_policies._lazy_props").install()',
)

# ---------------------------------------------------------------------------------------------------
# The lazy wrappers behave like pulumi-policy's proxy

UNKNOWNS = [
    upstream.UNKNOWN_BOOLEAN_VALUE,
    upstream.UNKNOWN_NUMBER_VALUE,
    upstream.UNKNOWN_STRING_VALUE,
    upstream.UNKNOWN_ARRAY_VALUE,
    upstream.UNKNOWN_ASSET_VALUE,
    upstream.UNKNOWN_ARCHIVE_VALUE,
    upstream.UNKNOWN_OBJECT_VALUE,
]


def test_the_unknown_sentinels_are_pulumi_policys() -> None:
    assert frozenset(UNKNOWNS) == _lazy_props._UNKNOWNS  # pyright: ignore[reportPrivateUsage]


KEYS = st.sampled_from(["a", "b", "spec", "x", "0"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3), st.sampled_from(UNKNOWNS))
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=25,
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.one_of(KEYS, st.integers(-5, 5), st.sampled_from(["__target"]))),
        st.tuples(st.just("slice"), st.integers(-3, 3)),
        st.tuples(st.just("set"), KEYS),
        st.tuples(st.just("contains"), KEYS),
        st.tuples(st.just("len"), st.none()),
        st.tuples(st.just("keys"), st.none()),
        st.tuples(st.just("items"), st.none()),
        st.tuples(st.just("iter"), st.none()),
        st.tuples(st.just("up"), st.none()),
    ),
    max_size=12,
)


def _plain(value: object, depth: int = 0) -> object:
    """A wrapper's content as plain data, read without the unknown checks (for comparing)."""
    if depth > 30:
        return "..."
    if isinstance(value, Mapping) and not isinstance(value, dict):
        target = value["__target"]
        return {k: _plain(v, depth + 1) for k, v in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | list):
        return [_plain(v, depth + 1) for v in value["__target"]]  # pyright: ignore[reportArgumentType, reportCallIssue]
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def _outcome(here: Any, step: str, argument: Any) -> tuple[str, object]:
    try:
        return "ok", _plain(_act(here, step, argument))
    except upstream.UnknownValueError as error:
        return "unknown", (error.unknown_type_sentinel, error.props, error.message)
    except Exception as error:
        return "error", type(error).__name__


def _act(here: Any, step: str, argument: Any) -> object:
    """One read or write on a wrapper; raises what the wrapper raises."""
    if step == "get":
        return here[argument]
    if step == "slice":
        return here[argument:] if isinstance(here, Sequence) else here["__slice"]
    if step == "set":
        if isinstance(here, Mapping):
            here[argument] = {"written": [argument]}  # pyright: ignore[reportIndexIssue]
        return len(here)
    if step == "contains":
        return argument in here
    if step == "len":
        return len(here)
    if step == "keys":
        return list(here.keys()) if isinstance(here, Mapping) else list(range(len(here)))
    if step == "items":
        return list(here.items()) if isinstance(here, Mapping) else list(here)
    return list(iter(here))


def _run(root: object, steps: Sequence[tuple[str, Any]]) -> Iterator[tuple[str, object]]:
    stack = [root]
    for step, argument in steps:
        here: Any = stack[-1]
        if step == "up":
            if len(stack) > 1:
                stack.pop()
            continue
        if not isinstance(here, Mapping | Sequence) or isinstance(here, str):
            yield "leaf", None
            continue
        outcome = _outcome(here, step, argument)
        yield outcome
        if step == "get" and outcome[0] == "ok" and argument != "__target":
            stack.append(here[argument])


@settings(max_examples=400, deadline=None)
@given(tree=st.dictionaries(KEYS, TREES, max_size=5), steps=STEPS)
def test_lazy_wrappers_answer_every_read_and_write_like_pulumi_policys_proxy(
    tree: dict[str, Any], steps: list[tuple[str, Any]]
) -> None:
    eager = upstream.unknown_checking_proxy(copy.deepcopy(tree))
    shared = copy.deepcopy(tree)
    lazy = _lazy_props.LazyMapping(shared, [])
    assert list(_run(lazy, steps)) == list(_run(eager, steps))
    assert shared == tree, "a write through the lazy wrapper reached the shared tree"


@settings(max_examples=200, deadline=None)
@given(tree=st.dictionaries(KEYS, TREES, min_size=1, max_size=5), key=KEYS, first_steps=STEPS)
def test_one_policys_writes_are_invisible_to_the_next_policy(
    tree: dict[str, Any], key: str, first_steps: list[tuple[str, Any]]
) -> None:
    shared = copy.deepcopy(tree)
    first = _lazy_props.LazyMapping(shared, [])
    list(_run(first, [*first_steps, ("set", key)]))
    first[key] = "overwritten"
    second = _lazy_props.LazyMapping(shared, [])
    fresh = upstream.unknown_checking_proxy(copy.deepcopy(tree))
    assert _plain(second) == _plain(fresh)
    assert shared == tree


# ---------------------------------------------------------------------------------------------------
# Same verdicts with and without the speed-ups, through the real pack over gRPC


@pytest.fixture(scope="module")
def stock_pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyPackServer]:
    """The pack without ``_convert_once`` and ``_lazy_props``: pulumi-policy's own servicer loop."""
    directory = tmp_path_factory.mktemp("stock") / "policies"
    shutil.copytree(PACK_DIR, directory, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    main = directory / "__main__.py"
    source = main.read_text()
    for line in SPEEDUP_LINES:
        assert line in source, f"policies/__main__.py no longer installs {line}: update this test"
        source = source.replace(line, "pass")
    main.write_text(source)
    with PolicyPackServer(directory) as server:
        yield server


@pytest.fixture(scope="module")
def fast_pack() -> Iterator[PolicyPackServer]:
    with PolicyPackServer(PACK_DIR) as server:
        yield server


def _verdicts(server: PolicyPackServer, recording: Recording, stack: str, config: Any) -> list[Violation]:
    found = server.analyze(recording, project="gpuplane", stack=stack, config=config)
    return sorted(found, key=lambda v: (v.policy, v.urn, v.level, v.message))


def _case_input(case: Case) -> tuple[Recording, str, Any]:
    if case.program is not None:
        return record_case(case), "adversarial", case.config
    with edited_stack_file(case) as stack_file:
        plan = plan_stack(stack_file)
    assert not plan.errors, plan.errors
    config_path = policy_config_for(case.stack, PACK_DIR)
    return plan.recording, case.stack, None if config_path is None else load_config(config_path)


load_corpus()


def test_every_corpus_case_gets_the_same_verdicts_with_and_without_the_speedups(
    stock_pack: PolicyPackServer, fast_pack: PolicyPackServer
) -> None:
    differences: list[str] = []
    reported = 0
    for case in CASES:
        recording, stack, config = _case_input(case)
        stock = _verdicts(stock_pack, recording, stack, config)
        fast = _verdicts(fast_pack, recording, stack, config)
        reported += len(stock)
        if stock != fast:
            differences.append(f"{case.id}: stock {stock} != fast {fast}")
    assert not differences, "\n".join(differences[:5])
    assert reported > len(CASES) // 2, "the corpus produced almost no verdicts: the comparison proves nothing"


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "linode-dev", "existing-dev"])
def test_example_stacks_get_the_same_verdicts_with_and_without_the_speedups(
    stack: str, stock_pack: PolicyPackServer, fast_pack: PolicyPackServer
) -> None:
    plan = plan_stack(stackfiles.load(stackfiles.resolve(stack)))
    assert not plan.errors
    for config in (None, load_config(PACK_DIR / "config" / "dev.json")):
        assert _verdicts(stock_pack, plan.recording, stack, config) == _verdicts(
            fast_pack, plan.recording, stack, config
        )


# ---------------------------------------------------------------------------------------------------
# The remembered config


def test_a_remembered_config_is_not_reused_for_a_value_that_only_compares_equal() -> None:
    meta = _support.Meta(
        name="speedup-probe",
        description="d",
        severity=cast(Severity, "low"),
        enforcement=EnforcementLevel.ADVISORY,
        tags=(),
        remediation="r",
        rationale="r",
        config={"maxGpus": {"type": "number", "default": 4}},
    )
    assert _support.effective_config(meta, {"maxGpus": 1})["maxGpus"] == 1
    with pytest.raises(_support.PolicyConfigError, match="maxGpus must be of type number"):
        _support.effective_config(meta, {"maxGpus": True})
    assert _support.effective_config(meta, {"maxGpus": 1.0})["maxGpus"] == 1.0
    first = _support.effective_config(meta, {"maxGpus": 2})
    first["maxGpus"] = 99
    assert _support.effective_config(meta, {"maxGpus": 2})["maxGpus"] == 2, "a caller's change leaked into the memo"


# ---------------------------------------------------------------------------------------------------
# Analyze calls in flight


def test_calls_in_flight_give_the_same_violations_in_the_same_order(
    fast_pack: PolicyPackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client keeps ``IN_FLIGHT`` Analyze calls on the wire; one at a time must give the same list."""
    import pulumi_kubernetes as k8s

    from gpuplane import analyzer
    from gpuplane.analyzer import AnalysisSession
    from gpuplane.recording import run_program

    def privileged_pods() -> None:
        for index in range(24):
            k8s.core.v1.Pod(
                f"p{index}",
                metadata={"name": f"p{index}", "namespace": "team-a"},
                spec={"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]},  # pyright: ignore[reportArgumentType]
            )

    recording = run_program(privileged_pods)

    def session_violations() -> list[Violation]:
        session = AnalysisSession(fast_pack, project="gpuplane", stack="test", config=None)
        for resource in recording.resources:
            session.add(resource)
        return session.finish()

    pipelined = session_violations()
    monkeypatch.setattr(analyzer, "IN_FLIGHT", 1)
    one_by_one = session_violations()
    assert pipelined == one_by_one
    assert len({v.urn for v in pipelined}) > 3, "too few violations for the order to mean anything"
