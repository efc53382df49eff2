"""Issue 11 regressions at the process boundary: the policy pack dies with ``gpuplane plan`` however
the plan ends (what a CI cancel sends), signals end in 128+n without a traceback, and a stopped pack
ends the plan with exit 3 instead of stalling it. Real subprocesses; only processes started here are
signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0  # generous: a loaded CI machine; the assertions are about *whether*, not how fast


def _start_plan(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gpuplane", "plan", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _pack_of(plan: subprocess.Popen[str]) -> int:
    """The ``python -m pulumi.policy`` child of ``plan`` once it runs."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for child in _children(plan.pid):
            try:
                cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
            except OSError:
                continue
            if b"pulumi.policy" in cmdline:
                return child
        if plan.poll() is not None:
            pytest.fail(f"plan ended before its pack was seen: {plan.communicate()}")
        time.sleep(0.05)
    pytest.fail("no policy pack process appeared")


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_the_pack_dies_with_its_plan(signum: signal.Signals) -> None:
    plan = _start_plan("aws-dev")
    pack = _pack_of(plan)
    try:
        os.kill(plan.pid, signum)
        _, err = plan.communicate(timeout=WAIT)
        assert _gone_within(pack, 30), f"pack {pack} outlived gpuplane plan ({signum.name})"
        if signum != signal.SIGKILL:
            assert plan.returncode == 128 + signum
            assert "Traceback" not in err
            assert f"interrupted ({signum.name})" in err
    finally:
        if _alive(pack):
            os.kill(pack, signal.SIGKILL)


def test_sigint_exits_130_without_a_traceback_at_any_moment() -> None:
    """Interrupts at several points of start-up (lazy imports included) and of the run."""
    for delay in (0.05, 0.3, 0.8, 1.5, 3.0):
        plan = _start_plan("existing-dev")
        time.sleep(delay)
        plan.send_signal(signal.SIGINT)
        _, err = plan.communicate(timeout=WAIT)
        if plan.returncode in (0, 1):  # finished before the signal: nothing to check
            continue
        assert plan.returncode == 130, (delay, plan.returncode, err)
        assert "Traceback" not in err, (delay, err)
        for child in _children(plan.pid):
            assert not _alive(child)


def test_a_stopped_pack_ends_the_plan_with_exit_3() -> None:
    plan = _start_plan("aws-dev")
    pack = _pack_of(plan)
    try:
        os.kill(pack, signal.SIGSTOP)
        _, err = plan.communicate(timeout=WAIT)  # the old code waited for the 120 s RPC deadline first
        assert plan.returncode == 3, err
        assert "is stopped" in err
        assert "Traceback" not in err
        assert _gone_within(pack, 30)
    finally:
        if _alive(pack):
            os.kill(pack, signal.SIGKILL)
            os.kill(pack, signal.SIGCONT)
