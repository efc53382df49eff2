"""Run the real OpenFGA server on loopback, on Debian's PostgreSQL or its memory datastore.

What: :class:`Postgres` (``initdb`` in a temp dir, the server on a free 127.0.0.1 port and a unix
socket in that dir; as root it runs as the ``postgres`` user, since PostgreSQL refuses root) and
:class:`OpenFga` (``openfga migrate`` then ``openfga run`` with preshared-key authn, HTTP and gRPC on
free loopback ports, playground and metrics server off unless asked). Both are context managers that
stop what they started (SIGTERM, then SIGKILL after a bounded wait) and print the process log when
start-up fails. Readiness is bounded polling, never a fixed sleep.
Why: issue 9 item 6 / issue 14: the platform's tuple-sync script and the authorization service are
tested against the server the chart deploys, not a stand-in.
Gotchas: PostgreSQL binaries live in ``/usr/lib/postgresql/<major>/bin`` (not on PATH on Debian);
``.ci/run`` installs the ``postgresql`` package. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.openfga.build import openfga_binary

_DROP_ROOT_THEN_EXEC = (
    "import os, sys\n"
    "os.setgid(int(sys.argv[2]))\n"
    "os.setgroups([])\n"
    "os.setuid(int(sys.argv[1]))\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)
"""Run as ``python -I -S -c <this> <uid> <gid> <argv...>``: become that user, then ``argv`` (same pid)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        if predicate():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def postgres_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        on_path = shutil.which("postgres")
        if on_path is None:
            raise RuntimeError("PostgreSQL server binaries not found: install Debian's `postgresql` (.ci/run does)")
        return Path(on_path).resolve().parent
    return Path(found[-1]).parent


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth: only loopback and a private socket dir)."""

    user = "openfga"

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="gpuplane-pg-"))
        self.data = self.tmp / "data"
        self.log = self.tmp / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self.run_as = pwd.getpwnam("postgres") if _has_user("postgres") else pwd.getpwnam("nobody")
            os.chown(self.tmp, self.run_as.pw_uid, self.run_as.pw_gid)
            self.tmp.chmod(0o700)

    def _as_user(self, argv: list[str]) -> list[str]:
        """``argv`` run as :attr:`run_as` when this process is root (PostgreSQL refuses root).

        The switch happens in a tiny ``python -I -S`` launcher that then execs ``argv``, not in a
        ``preexec_fn``: that would make ``subprocess`` fork() instead of vfork in a pytest worker where
        gRPC runs (the policy pack client), and gRPC's fork handlers can abort the child before exec
        (grpc/grpc#43157; the same reason as ``gpuplane/pack_process.py``)."""
        if self.run_as is None:
            return argv
        return [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _DROP_ROOT_THEN_EXEC,
            str(self.run_as.pw_uid),
            str(self.run_as.pw_gid),
            *argv,
        ]

    def uri(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def __enter__(self) -> Postgres:
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            self._as_user(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            check=False,
            env=env,
            cwd=self.tmp,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        log = self.log.open("wb")
        self.proc = subprocess.Popen(
            self._as_user(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.tmp}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.tmp,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            probe = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-q"],
                capture_output=True,
                check=False,
            )
            return probe.returncode == 0

        try:
            wait_for(ready, 60, "postgres", self.proc)
        except Exception:
            self.__exit__(None, None, None)
            raise RuntimeError(f"postgres did not start:\n{self.log.read_text(errors='replace')[-3000:]}") from None
        return self

    def createdb(self, name: str) -> str:
        result = subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"createdb {name}: {result.stderr.decode(errors='replace')}")
        return self.uri(name)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class OpenFga:
    """The real OpenFGA server. ``datastore_uri=None`` uses the memory datastore."""

    def __init__(self, datastore_uri: str | None, preshared_key: str = "gpuplane-test-key") -> None:
        self.binary = openfga_binary()
        self.datastore_uri = datastore_uri
        self.key = preshared_key
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="gpuplane-openfga-"))
        self.log = self.tmp / "openfga.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _datastore_args(self) -> list[str]:
        if self.datastore_uri is None:
            return ["--datastore-engine", "memory"]
        return ["--datastore-engine", "postgres", "--datastore-uri", self.datastore_uri]

    def migrate(self) -> None:
        if self.datastore_uri is None:
            return
        result = subprocess.run(
            [str(self.binary), "migrate", *self._datastore_args()], capture_output=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"openfga migrate failed: {result.stderr.decode(errors='replace')[-3000:]}")

    def start(self) -> None:
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "run",
                *self._datastore_args(),
                "--http-addr",
                f"127.0.0.1:{self.http_port}",
                "--grpc-addr",
                f"127.0.0.1:{self.grpc_port}",
                "--playground-enabled=false",
                "--metrics-enabled=false",
                "--authn-method",
                "preshared",
                "--authn-preshared-keys",
                self.key,
                "--log-format",
                "json",
                "--log-level",
                "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    return json.loads(response.read()).get("status") == "SERVING"
            except (OSError, ValueError):
                return False

        try:
            wait_for(ready, 60, "openfga", self.proc)
        except Exception:
            stop_process(self.proc)
            raise RuntimeError(f"openfga did not start:\n{self.log.read_text(errors='replace')[-3000:]}") from None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> OpenFga:
        self.migrate()
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One authenticated JSON call (raises urllib.error.HTTPError on non-2xx)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}

    def check(self, store: str, user: str, relation: str, obj: str) -> bool:
        answer = self.call(
            "POST", f"/stores/{store}/check", {"tuple_key": {"user": user, "relation": relation, "object": obj}}
        )
        return bool(answer["allowed"])
