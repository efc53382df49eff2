"""The authorization service as the pod runs it: its own process, started from the environment, shut
down by SIGTERM with a bounded drain (out of the Service, still answering), against the real OpenFGA."""

from __future__ import annotations

import http.client
import signal
import urllib.error
import urllib.request

import pytest

from tests.authz.stack import AuthzProcess, poll_until
from tests.openfga.server import OpenFga

pytestmark = pytest.mark.tier2


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _decide(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/authorize/v1/chat", headers={"x-gpuplane-tenant": "t", "x-ai-eg-model": "m"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_sigterm_drains_then_exits(openfga_memory: OpenFga) -> None:
    authz = AuthzProcess(openfga_memory, {"m": "m"}, allow_ttl=0, deny_ttl=0, drain=6.0)
    authz.start()
    try:
        assert authz.proc is not None
        assert _health(authz.metrics_port) == 200
        assert _decide(authz.port) == 403  # no store named gpuplane here: an error, so a deny
        authz.proc.send_signal(signal.SIGTERM)
        seen: list[int] = []

        def draining() -> bool:
            seen.append(_health(authz.metrics_port))
            return seen[-1] == 503

        # Before the fix the handler ran only if the signal hit the main thread: about every other run
        # stayed at 200 until SIGKILL (the signal landed on a server thread).
        poll_until(draining, 4.0)
        assert _decide(authz.port) == 403, "decisions are still answered while draining"
        assert authz.proc.wait(timeout=15) == 0
    finally:
        authz.stop()
