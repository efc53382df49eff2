"""Build the test control plane's Go binaries once and cache them outside the checkout.

What: `ensure_binaries()` returns the paths of etcd, kube-apiserver and kube-controller-manager built from
the Go module next to this file (go.mod + go.sum), and `ensure_module_binaries()` does the same for any
other small module (the Kueue build in ``kueue/`` uses it).

Why this way: upstream's prebuilt binaries cannot be downloaded here, and ``go install k8s.io/kubernetes/...@v``
is refused because k8s.io/kubernetes' go.mod has ``replace`` directives. A module that requires it (and
requires + replaces every k8s.io staging module at the matching v0.x release) can ``go build`` its commands.

Cache: ``$GPUPLANE_CACHE`` or ``~/.cache/gpuplane/<name>/<key>/bin``, where key = sha256 of go.mod, go.sum,
the package list, the ldflags and ``go version``. A ``fcntl`` lock on ``<key>.lock`` makes a second pytest
worker (or a second session) wait for the first build instead of building twice. Binaries are written to a
temporary directory and renamed into place, so a killed build never leaves a half cache. Builds run under
``nice -n 10`` with ``GOTOOLCHAIN=local`` (the machine's Go; go.mod says ``go 1.26.0``).

Gotchas: without ``-X k8s.io/component-base/version.gitVersion=...`` the API server reports
``v0.0.0-master`` and Helm / the Kubernetes provider refuse or misjudge it; client-go has its own copy of
the version variables. A cold build of the three commands takes minutes (see docs/decisions/control-plane.md);
``build-info.json`` in the cache directory records what the build that filled it measured.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The Kubernetes release the control plane is built from (go.mod pins the same).
KUBERNETES_VERSION = "v1.36.3"
#: The etcd release Kubernetes v1.36.3 ships (build/dependencies.yaml) — go.mod pins the same.
ETCD_VERSION = "v3.6.8"

CONTROL_PLANE_PACKAGES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
}


class BuildError(RuntimeError):
    """A Go build failed; the message carries the command and the tail of its output."""


def version_ldflags(git_version: str) -> list[str]:
    """The ``-X`` flags Kubernetes' own build sets, for both copies of the version variables."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    flags: list[str] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={git_version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitCommit=",
            f"-X {pkg}.gitTreeState=clean",
            # The release date from the module proxy, so rebuilds are reproducible.
            f"-X {pkg}.buildDate=2026-07-22T18:07:38Z",
        ]
    return flags


def cache_root() -> Path:
    env = os.environ.get("GPUPLANE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gpuplane"


def go_version() -> str:
    try:
        out = subprocess.run(["go", "version"], capture_output=True, text=True, check=True, env=_go_env())
    except FileNotFoundError as exc:  # a missing toolchain is a failure, never a skip
        raise BuildError("the Go toolchain (`go`) is not on PATH; .ci/run installs it") from exc
    return out.stdout.strip()


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = env.get("GOTOOLCHAIN", "local")
    env["GOFLAGS"] = "-buildvcs=false -mod=readonly"
    env["CGO_ENABLED"] = "0"
    return env


def cache_key(module_dir: Path, packages: dict[str, str], ldflags: Sequence[str]) -> str:
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        h.update((module_dir / name).read_bytes())
    h.update(json.dumps(sorted(packages.items())).encode())
    h.update(json.dumps(list(ldflags)).encode())
    h.update(go_version().encode())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _TreeRssSampler:
    """Samples the summed RSS of a process tree (the go command and its compile/link children)."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.root_pid))


def _tree_rss_kib(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total = 0
    for pid, kib in rss.items():
        p = pid
        while p and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += kib
    return total


@dataclass(frozen=True)
class Built:
    """Paths of built binaries plus what the build that produced them recorded."""

    bin_dir: Path
    info: dict[str, object]

    def path(self, name: str) -> Path:
        return self.bin_dir / name


def ensure_module_binaries(name: str, module_dir: Path, packages: dict[str, str], ldflags: Sequence[str] = ()) -> Built:
    """Build ``packages`` (binary name -> Go package) of the module at ``module_dir`` once; return the cache."""
    key = cache_key(module_dir, packages, ldflags)
    base = cache_root() / name
    final = base / key
    with _file_lock(base / f"{key}.lock"):
        if all((final / "bin" / b).is_file() for b in packages):
            return Built(final / "bin", json.loads((final / "build-info.json").read_text()))
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=base))
        try:
            info = _go_build(module_dir, packages, ldflags, work / "bin")
            info["key"] = key
            (work / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return Built(final / "bin", info)


def _go_build(module_dir: Path, packages: dict[str, str], ldflags: Sequence[str], out: Path) -> dict[str, object]:
    out.mkdir(parents=True)
    env = _go_env()
    info: dict[str, object] = {"go": go_version(), "packages": packages}
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for binary, pkg in packages.items():
        flags = " ".join(["-s", "-w", *ldflags])
        cmd = ["nice", "-n", "10", "go", "build", "-trimpath", "-ldflags", flags, "-o", str(out / binary), pkg]
        proc = subprocess.Popen(cmd, cwd=module_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with _TreeRssSampler(proc.pid) as sampler:
            output, _ = proc.communicate()
        info[f"peak_tree_rss_mib_{binary}"] = round(sampler.peak_kib / 1024)
        if proc.returncode != 0:
            tail = output.decode(errors="replace")[-4000:]
            raise BuildError(f"`{' '.join(cmd)}` in {module_dir} failed ({proc.returncode}):\n{tail}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    info["wall_s"] = round(time.monotonic() - start, 1)
    info["cpu_s"] = round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1)
    info["max_single_process_rss_mib"] = round(after.ru_maxrss / 1024)
    info["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return info


def ensure_binaries() -> Built:
    """etcd, kube-apiserver and kube-controller-manager at KUBERNETES_VERSION / ETCD_VERSION."""
    return ensure_module_binaries("controlplane", HERE, CONTROL_PLANE_PACKAGES, version_ldflags(KUBERNETES_VERSION))


if __name__ == "__main__":
    built = ensure_binaries()
    print(json.dumps({"bin_dir": str(built.bin_dir), **built.info}, indent=2))
