"""Start the policy pack process the way the Pulumi CLI does, importing nothing heavy.

What: :func:`launch` runs ``python -u -m pulumi.policy <engine address> <pack dir>`` (working
directory the pack, the engine's ``PULUMI_*`` variables removed) and returns the process;
``gpuplane.analyzer.PolicyPackServer`` adopts it, reads its port and speaks gRPC to it.

Why a module of its own: the pack needs ~0.3 s to start (its interpreter imports ``pulumi``,
``grpc`` and the policies). ``gpuplane plan`` starts it before it imports the program, the SDKs,
gRPC or pydantic itself, so the pack is ready about when the first resource is registered and keeps
pace with the program instead of trailing it (issue 15). This module therefore imports only the
standard library; ``gpuplane.analyzer`` (which imports ``grpc`` and, through ``pulumi.runtime.proto``,
all of ``pulumi``) must not be needed to launch.

Gotchas (see ``gpuplane/analyzer.py`` for the protocol): the pack dies with the *thread* that
started it (``PR_SET_PDEATHSIG``), so launch from a thread that outlives the pack -- the main thread
in ``gpuplane``. No ``preexec_fn``: it makes ``subprocess`` fork() instead of vfork, and in a process
where gRPC runs its fork handlers can abort the child before exec (grpc/grpc#43157).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1] / "policies"
ENGINE_ADDRESS = "127.0.0.1:0"
"""What the pack is told as the engine address. Python packs never dial it."""

ENGINE_ENV = (
    "PULUMI_PROJECT",
    "PULUMI_STACK",
    "PULUMI_ORGANIZATION",
    "PULUMI_DRY_RUN",
    "PULUMI_CONFIG",
    "PULUMI_CONFIG_SECRET_KEYS",
)
"""Set by the engine for programs, never for analyzers: removed from the pack's environment."""

# Run as ``python -I -S -c <this> <parent pid> <command...>``: ask for SIGKILL when the thread that
# started us dies (``PR_SET_PDEATHSIG`` = 1, kept across exec), exit at once if the parent is already gone
# (the spawn/prctl race), then become the command (same pid).
DIE_WITH_PARENT_THEN_EXEC = (
    "import ctypes, os, sys\n"
    f"ctypes.CDLL(None).prctl(1, {int(signal.SIGKILL)}, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class AnalyzerError(RuntimeError):
    """The pack could not be started or failed while analysing (the pack's stderr is included)."""


def is_pack(pack_dir: Path) -> bool:
    return (pack_dir / "PulumiPolicy.yaml").is_file()


def launch(pack_dir: Path) -> subprocess.Popen[bytes]:
    """Start the pack in ``pack_dir`` without waiting for it (stdout and stderr are pipes)."""
    pack_dir = Path(pack_dir).resolve()
    if not is_pack(pack_dir):
        raise AnalyzerError(f"{pack_dir} is not a policy pack (no PulumiPolicy.yaml)")
    env = {k: v for k, v in os.environ.items() if k not in ENGINE_ENV}
    command = [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(pack_dir)]
    if sys.platform == "linux":
        command = [sys.executable, "-I", "-S", "-c", DIE_WITH_PARENT_THEN_EXEC, str(os.getpid()), *command]
    return subprocess.Popen(
        command,
        cwd=pack_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
