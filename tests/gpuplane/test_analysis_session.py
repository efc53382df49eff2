"""AnalysisSession never hangs: whatever fails in the worker, finish() raises it and abandon() returns."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from gpuplane.analyzer import AnalysisSession, AnalyzerError, PolicyPackServer, Violation
from gpuplane.recording import run_program


class _FailingPack:
    """Connects and configures, then fails on the first resource it is asked to analyse."""

    def __init__(self) -> None:
        self.analysed: list[str] = []

    def connect(self) -> None: ...

    def configure(self, **_: Any) -> None: ...

    def start_analysis(self, resource: Any, by_urn: Any) -> object:
        self.analysed.append(resource.type)
        raise AnalyzerError("the pack died")

    def analysis_result(self, pending: object) -> list[Violation]:
        raise AssertionError("no analysis was started")

    def analyze_stack(self, resources: Any, by_urn: Any) -> list[Violation]:
        return []


def _session(server: object) -> AnalysisSession:
    return AnalysisSession(cast(PolicyPackServer, server), project="gpuplane", stack="test", config=None)


def _within(seconds: float, action: Any) -> None:
    done = threading.Event()

    def run() -> None:
        action()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), "the session hung"


def test_a_pack_that_was_never_started_is_reported_not_waited_for() -> None:
    session = _session(PolicyPackServer())
    with pytest.raises(AnalyzerError, match="was not launched"):
        session.finish()


def test_abandoning_a_stack_with_no_resources_returns_without_analysing() -> None:
    pack = _FailingPack()
    session = _session(pack)
    _within(5, session.abandon)
    assert pack.analysed == []


def test_a_failure_on_the_root_stack_after_the_last_resource_does_not_hang() -> None:
    pack = _FailingPack()
    session = _session(pack)

    def finish() -> None:
        with pytest.raises(AnalyzerError, match="the pack died"):
            session.finish()

    _within(5, finish)
    assert pack.analysed == ["pulumi:pulumi:Stack"]


def test_a_failure_mid_stream_lets_the_program_finish_and_is_raised() -> None:
    pack = _FailingPack()
    session = _session(pack)
    run_program(lambda: __import__("pulumi_kubernetes").core.v1.Namespace("ns"), on_register=session.add)

    def finish() -> None:
        with pytest.raises(AnalyzerError, match="the pack died"):
            session.finish()

    _within(5, finish)


class _FailingAnswers(_FailingPack):
    """Sends every analysis, then fails when the first answer is collected (calls in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0

    def start_analysis(self, resource: Any, by_urn: Any) -> object:
        self.analysed.append(resource.type)
        pack = self

        class _Future:
            def cancel(self) -> bool:
                pack.cancelled += 1
                return True

        class _Pending:
            future = _Future()

        return _Pending()

    def analysis_result(self, pending: object) -> list[Violation]:
        raise AnalyzerError("the pack died")


def test_a_failed_answer_with_calls_in_flight_is_raised_and_the_rest_cancelled() -> None:
    pack = _FailingAnswers()
    session = _session(pack)
    run_program(
        lambda: [__import__("pulumi_kubernetes").core.v1.Namespace(f"ns{i}") for i in range(3)],
        on_register=session.add,
    )

    def finish() -> None:
        with pytest.raises(AnalyzerError, match="the pack died"):
            session.finish()

    _within(5, finish)
    assert pack.analysed[0] == "pulumi:pulumi:Stack"
    assert pack.cancelled == len(pack.analysed) - 1, "the calls still in flight were not cancelled"
