"""Runs inside the control plane's network namespace: brings up ``lo``, starts the processes, forwards a socket.

Started by :class:`tests.controlplane.cluster.ControlPlane` as ``unshare -n -- python3 supervisor.py CONFIG``
(``unshare`` execs Python, so this process's PID names the namespace: ``/proc/<pid>/ns/net``). It uses only
the standard library (it runs under the system Python or the venv's, whichever started it).

What it does:
1. ``ip link set lo up`` — the namespace has nothing else, so nothing the API server dials (webhook Services,
   ClusterIPs in private ranges) can leave the machine.
2. Starts each process of CONFIG in order, stdout+stderr to its log file, each with a parent-death signal
   (SIGKILL) so none outlives this supervisor; waits for a process's ``wait_tcp`` port before the next, and
   for a ``wait_url`` to answer 200 before starting a process (the controller manager exits if it starts
   before the API server has bootstrapped its RBAC roles). The signal comes from :data:`LAUNCHER`, not a
   ``preexec_fn`` (see there).
3. Forwards a Unix socket (``forward.unix`` → ``127.0.0.1:forward.port``): Unix sockets bound to a path live
   in the file system, not the network namespace, so the test process (outside) reaches the API server over
   it without any network interface — TLS runs end to end through the socket.
4. Exits when a process dies (exit code 3, name written to ``status``) or on SIGTERM/SIGINT: children get
   SIGTERM (or their spec's ``stop_signal``) in reverse start order, then SIGKILL after ``stop_timeout``
   seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05
"""How often a start-up wait looks again (a local port or URL: each look costs well under a millisecond)."""

LAUNCHER = (
    "import ctypes, os, sys\n"
    f"if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_PDEATHSIG}, {int(signal.SIGKILL)}, 0, 0, 0) != 0:\n"
    "    os._exit(127)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
"""Run as ``python -I -S -c LAUNCHER <parent pid> <argv...>``: ask for SIGKILL when the thread that started
it dies (``PR_SET_PDEATHSIG``, kept across exec), exit at once if that parent is already gone (the
fork/prctl race), then become ``argv`` (same pid, found on PATH).

Why not ``subprocess.Popen(preexec_fn=...)``: a ``preexec_fn`` makes ``subprocess`` fork() instead of vfork
and run Python in the child; in a process that has imported gRPC (every pytest worker: the policy pack
client), gRPC's fork handlers then restart its poller after ``close_fds`` closed the epoll fd and the child
aborts before exec (SIGABRT, grpc/grpc#43157; gpuplane/analyzer.py launches the policy pack the same way for
the same reason). Running Python between fork and exec in a process with threads (this supervisor's socket
forwarder) is unsafe besides. ``-I -S``: no site, no environment, no current directory on ``sys.path``, so
the launcher costs ~20 ms and cannot import anything from the test tree."""


def die_with_parent(argv: list[str]) -> list[str]:
    """``argv`` wrapped in :data:`LAUNCHER`: the process gets SIGKILL when the calling thread dies."""
    return [sys.executable, "-I", "-S", "-c", LAUNCHER, str(os.getpid()), *argv]


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _forward(unix_path: str, port: int) -> None:
    if os.path.exists(unix_path):
        os.unlink(unix_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(unix_path)
    os.chmod(unix_path, 0o600)
    server.listen(64)

    def serve() -> None:
        while True:
            client, _ = server.accept()
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(POLL_SECONDS)
    return False


def _wait_url(url: str, cafile: str | None, timeout: float) -> bool:
    """Poll ``url`` until it answers 200 (e.g. the API server's ``/readyz``, open to anonymous users)."""
    context = ssl.create_default_context(cafile=cafile)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(POLL_SECONDS)
    return False


def main(config_path: str) -> int:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    status = Path(config["status"])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    stopping = threading.Event()
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if fwd := config.get("forward"):
        _forward(fwd["unix"], int(fwd["port"]))

    failed = ""
    for spec in config["processes"]:
        if stopping.is_set():
            break
        if (url := spec.get("wait_url")) and not _wait_url(
            url, spec.get("wait_url_ca"), float(spec.get("wait_timeout", 120))
        ):
            failed = f"{url} did not answer 200 before {spec['name']} could start"
            break
        log = open(spec["log"], "ab")  # noqa: SIM115 - closed when the process ends (kept by the child)
        proc = subprocess.Popen(
            die_with_parent(spec["argv"]), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=spec.get("env") or None, cwd=spec.get("cwd"),
        )  # fmt: skip
        log.close()
        procs.append((spec["name"], proc))
        port = spec.get("wait_tcp")
        if port and not _wait_tcp(int(port), proc, float(spec.get("wait_timeout", 120))):
            failed = f"{spec['name']} did not listen on 127.0.0.1:{port}"
            break
    status.write_text(json.dumps({"state": "failed" if failed else "running", "detail": failed}))

    while not failed and not stopping.is_set():
        for name, proc in procs:
            if proc.poll() is not None:
                failed = f"{name} exited with {proc.returncode}"
                break
        stopping.wait(0.2)

    # One at a time, last started first: the API server must be gone before etcd goes. A process whose spec
    # has "stop_signal" gets that signal instead of SIGTERM.
    deadline = time.monotonic() + float(config.get("stop_timeout", 15))
    stop_signals = {spec["name"]: spec.get("stop_signal", "SIGTERM") for spec in config["processes"]}
    for name, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.Signals[stop_signals[name]])
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    status.write_text(json.dumps({"state": "failed" if failed else "stopped", "detail": failed}))
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
