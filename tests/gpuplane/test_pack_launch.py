"""``gpuplane plan`` starts the policy pack before it imports anything heavy (issue 15).

The pack needs ~0.3 s to start; launched after the program's imports it trailed the program and
``gpuplane plan`` waited for it at the end. These tests pin the order: at the moment the pack process
is started, neither gRPC, protobuf, ``pulumi``, pydantic nor the program's components are imported,
and the launcher module itself pulls in only the standard library. (The stack files are read, with
PyYAML, before the launch: unreadable input exits 2 without starting the pack.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("grpc", "google.protobuf", "pulumi", "pulumi_kubernetes", "pydantic", "components", "stacks")

_PROBE = """
import json, sys
import gpuplane.pack_process as pack_process
launched = []
original = pack_process.launch
def launch(pack_dir):
    launched.append(sorted({m.split('.')[0] if not m.startswith('google.') else 'google.protobuf'
                            for m in sys.modules if m.split('.')[0] in HEAVY_TOPS or m.startswith('google.protobuf')}))
    return original(pack_dir)
pack_process.launch = launch
from gpuplane.cli import main
code = main(["plan", "existing-dev"])
print(json.dumps({"code": code, "imported_at_launch": launched}))
"""


def test_the_pack_is_launched_before_grpc_pulumi_pydantic_or_the_program_are_imported() -> None:
    tops = sorted({name.split(".")[0] for name in HEAVY})
    probe = f"HEAVY_TOPS = {tops!r}\n" + _PROBE
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, result.stderr[-3000:]
    assert report["imported_at_launch"] == [[]], report


def test_the_launcher_module_imports_only_the_standard_library() -> None:
    probe = (
        "import sys; before = set(sys.modules); import gpuplane.pack_process; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    new = [m for m in result.stdout.split() if m]
    assert "gpuplane.pack_process" in new
    foreign = [m for m in new if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "gpuplane"]
    assert not foreign, foreign
    assert not [m for m in new if m.startswith("gpuplane.") and m != "gpuplane.pack_process"], new


def test_stopping_while_a_session_still_connects_prints_no_thread_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """An abandoned stack stops the pack while its session's worker may still be connecting. With
    ``grpc.channel_ready_future`` the future's polling thread raised "Channel closed!" and printed a
    traceback (seen in a CI run of the exit-4 test); connecting must not start such a thread."""
    import contextlib
    import random
    import threading
    import time

    import grpc

    from gpuplane.analyzer import AnalyzerError, PolicyPackServer

    def no_ready_future(*_: object) -> object:
        raise AssertionError("grpc.channel_ready_future is used")

    monkeypatch.setattr(grpc, "channel_ready_future", no_ready_future)
    failures: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(repr(args.exc_value)))
    rounds = random.Random(15)
    for _ in range(16):
        server = PolicyPackServer()
        server.launch()

        def connect(server: PolicyPackServer = server) -> None:
            with contextlib.suppress(AnalyzerError):  # stopped under it: reported to the caller, not printed
                server.connect()

        worker = threading.Thread(target=connect)
        worker.start()
        time.sleep(rounds.uniform(0.0, 0.35))
        server.stop()
        worker.join(timeout=30)
        assert not worker.is_alive()
    time.sleep(0.5)
    assert not failures, failures


def test_a_pack_stopped_while_connect_waits_for_its_port_is_an_analyzer_error() -> None:
    """``stop`` from another thread empties the server's state while ``connect`` still waits for the port
    (an abandoned stack on a loaded machine; a CI run saw an IndexError): connect reports the stop."""
    import queue

    from gpuplane.analyzer import AnalyzerError, PolicyPackServer

    server = PolicyPackServer()
    server.launch()

    class StopThenEnd(queue.Queue[str | None]):
        def get(self, block: bool = True, timeout: float | None = None) -> str | None:
            server.stop()  # as the other thread would, between two reads of the pack's stdout
            return None

    server._lines = StopThenEnd()  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(AnalyzerError):
        server.connect()
    server.stop()
