"""Build the real OpenFGA server from its Go module, once, into a cache outside the checkout.

What: ``openfga_binary()`` returns the path of ``openfga`` built from ``github.com/openfga/openfga/cmd/openfga``
at the version ``tests/openfga/gomod/go.mod`` requires (v1.18.3, the appVersion of the pinned chart
openfga-0.3.12). The binary lives in ``~/.cache/gpuplane/openfga/<key>/`` where ``<key>`` hashes go.mod,
go.sum and ``go version``; a file lock makes two pytest workers (or a benchmark) build it once.
Why: the module proxy serves the source, not a binary; nothing prebuilt may be downloaded.
Gotchas: the build runs under ``nice -n 10`` (2 shared cores); ``-trimpath`` and ``-ldflags -s -w`` keep the
binary small; the version ldflags match upstream's goreleaser (``internal/build.Version``) so
``openfga version`` reports the real release. Run as ``python -m tests.openfga.build`` to warm the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GOMOD_DIR = Path(__file__).resolve().parent / "gomod"
PACKAGE = "github.com/openfga/openfga/cmd/openfga"


def _required_version() -> str:
    for line in (GOMOD_DIR / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "require" and parts[1] == "github.com/openfga/openfga":
            return parts[2]
        if len(parts) >= 2 and parts[0] == "github.com/openfga/openfga":
            return parts[1]
    raise RuntimeError("tests/openfga/gomod/go.mod does not require github.com/openfga/openfga")


OPENFGA_VERSION = _required_version()


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain is needed to build the OpenFGA server (go not on PATH)")
    return go


def cache_key() -> str:
    go_version = subprocess.run([_go(), "version"], capture_output=True, text=True, check=True).stdout
    digest = hashlib.sha256()
    for part in ((GOMOD_DIR / "go.mod").read_bytes(), (GOMOD_DIR / "go.sum").read_bytes(), go_version.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:20]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gpuplane" / "openfga" / cache_key()


def openfga_binary() -> Path:
    """The cached server binary, built on first use (blocking other builders through a file lock)."""
    target_dir = cache_dir()
    binary = target_dir / "openfga"
    if binary.exists():
        return binary
    target_dir.mkdir(parents=True, exist_ok=True)
    with (target_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        started = time.monotonic()
        partial = target_dir / "openfga.partial"
        ldflags = f"-s -w -X github.com/openfga/openfga/internal/build.Version={OPENFGA_VERSION}"
        cmd = ["nice", "-n", "10", _go(), "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), PACKAGE]
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        result = subprocess.run(cmd, cwd=GOMOD_DIR, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"building {PACKAGE}@{OPENFGA_VERSION} failed:\n{result.stderr[-4000:]}")
        partial.rename(binary)
        (target_dir / "build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
    return binary


if __name__ == "__main__":
    t0 = time.monotonic()
    path = openfga_binary()
    print(f"{path} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
