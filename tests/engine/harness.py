"""Drive the real Pulumi CLI against a throw-away copy of the repository.

What: :func:`copy_repository` copies the checkout's files (what git tracks or would track) to a temp dir;
:class:`PulumiCli` runs ``pulumi`` with a private ``PULUMI_HOME``, a ``file://`` backend, a passphrase
secrets provider, the engine's bin dir first on ``PATH`` and plugin downloads off, optionally inside the
control plane's netns — to completion (``run``/``ok``) or in the background (``start``: a
:class:`Running` command whose output a test reads while it runs, then stops). The venvs come from
tests/engine/venvs.py.

Why a copy: ``pulumi stack init`` writes the stack's encryption salt into ``stacks/Pulumi.<stack>.yaml``
(``stackConfigDir``) and ``--policy-pack policies`` needs ``policies/venv``: neither may touch the checkout,
and the deploy venv must be the README's (``pip install -e .``, no test extras, so no pyright).

Gotchas: the CLI starts its plugins in their own process groups; on a timeout the whole session (started
with ``start_new_session``) is killed so no language host, provider or policy pack outlives the test.
Every inherited ``PULUMI_*`` variable is dropped so a developer's login or access token cannot leak in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Passphrase for the passphrase secrets provider of the throw-away stacks (never a real secret).
PASSPHRASE = "gpuplane-engine-tests"


class EngineTestError(AssertionError):
    """A step of the engine tests failed; the message carries the command and its output."""


def repository_files(repo: Path = REPO) -> list[str]:
    """Files git tracks or would track (untracked, not ignored) — what a fresh clone has plus work in progress."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    return [p for p in out.stdout.decode().split("\0") if p and not p.startswith("tests/")]


def copy_repository(dest: Path, repo: Path = REPO) -> Path:
    """Copy the repository's files (not tests/, not venvs or caches) to ``dest``."""
    for rel in repository_files(repo):
        src = repo / rel
        if not src.is_file():  # deleted in the work tree but still in the index
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def loopback_only(argv: list[str]) -> list[str]:
    """``argv`` run in a fresh network namespace with only ``lo`` up (root; util-linux ``unshare``).

    The engine tests that need no API server still run the Kubernetes provider, which tries to fetch
    Helm charts from their repositories: in here that fails at once and sends nothing off the machine.
    """
    return ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]


def has_distribution(venv: Path, name: str) -> bool:
    """Whether ``name`` is installed in ``venv`` (asked of the venv's own interpreter)."""
    probe = (
        f"import importlib.metadata as m, sys\ntry:\n m.version({name!r})\nexcept m.PackageNotFoundError:\n sys.exit(1)"
    )
    return subprocess.run([str(venv / "bin" / "python"), "-c", probe], check=False).returncode == 0


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"`{' '.join(self.argv)}` exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class PulumiCli:
    """``pulumi`` for one throw-away project directory, its own home, state and passphrase."""

    bin_dir: Path
    project: Path
    state: Path
    home: Path
    wrap: Callable[[list[str]], list[str]] = field(default=lambda argv: argv)
    extra_env: dict[str, str] = field(default_factory=dict[str, str])

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.pop("VIRTUAL_ENV", None)
        env.update(
            PATH=f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}",
            PULUMI_HOME=str(self.home),
            PULUMI_BACKEND_URL=f"file://{self.state}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_SKIP_CONFIRMATIONS="true",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="true",
            NO_COLOR="1",
            **self.extra_env,
        )
        return env

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = 900,
        cwd: Path | None = None,
        stop_at_timeout: bool = False,
    ) -> Result:
        """Run ``pulumi``; a timeout is an error unless ``stop_at_timeout`` (then returncode is -9)."""
        argv = [str(self.bin_dir / "pulumi"), *args, "--non-interactive", "--color", "never"]
        full = self.wrap(argv)
        proc = subprocess.Popen(
            full,
            cwd=cwd or self.project,
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_leftovers(proc.pid)
            out, err = proc.communicate()
            if not stop_at_timeout:
                raise EngineTestError(f"`{' '.join(argv)}` timed out after {timeout}s\n{out}\n{err}") from None
        finally:
            _kill_leftovers(proc.pid)
        return Result(argv, proc.returncode, out, err)

    def start(self, *args: str, logs: Path) -> Running:
        """Start ``pulumi`` in the background (its own session); stdout/stderr go to files under ``logs``."""
        argv = [str(self.bin_dir / "pulumi"), *args, "--non-interactive", "--color", "never"]
        logs.mkdir(parents=True, exist_ok=True)
        stdout, stderr = logs / "stdout", logs / "stderr"
        with stdout.open("w") as out, stderr.open("w") as err:
            proc = subprocess.Popen(
                self.wrap(argv),
                cwd=self.project,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        return Running(argv, proc, stdout, stderr)

    def ok(self, *args: str, stdin: str | None = None, timeout: float = 900, cwd: Path | None = None) -> Result:
        result = self.run(*args, stdin=stdin, timeout=timeout, cwd=cwd)
        if result.returncode != 0:
            raise EngineTestError(result.describe())
        return result


@dataclass
class Running:
    """A ``pulumi`` command running in its own session; its output so far is readable at any time."""

    argv: list[str]
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def returncode(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> Result:
        """SIGKILL the whole session (CLI, language host, providers, pack) unless it ended; its result."""
        if self.proc.poll() is None:
            _kill_leftovers(self.proc.pid)
        code = self.proc.wait(timeout=60)
        _kill_leftovers(self.proc.pid)
        return Result(self.argv, code, self.stdout(), self.stderr_path.read_text(errors="replace"))


def _session_members(session: int) -> list[int]:
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session:  # state ppid pgrp session ...
            pids.append(int(entry.name))
    return pids


def _kill_leftovers(session: int) -> None:
    """SIGKILL whatever is still in the session the CLI was started in (a plugin it failed to stop).

    Plugins get process groups of their own, so the group of the CLI is not enough; they stay in its
    session. Only that session's members are touched.
    """
    for pid in _session_members(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
