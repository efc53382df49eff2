"""Build the real Pulumi engine (CLI, Python language host, Kubernetes provider) once, cached outside the checkout.

What: ``ensure_engine()`` returns a directory holding ``pulumi``, ``pulumi-language-python`` and
``pulumi-resource-kubernetes`` (plus the provider's schema files), built from the two Go modules next to
this file. ``python -m tests.engine.build`` does the same from the command line (``.ci/run`` calls it).

Why this way: the Pulumi CLI is not on PyPI and its release binaries cannot be downloaded here, but the Go
module proxy serves ``github.com/pulumi/pulumi/pkg/v3`` and ``sdk/v3``. ``go install …@v3.276.0`` is refused
(pkg/v3's go.mod has replace directives), so ``cli/go.mod`` requires pkg/v3 and sdk/v3 at one version and
``go build``s ``pkg/v3/cmd/pulumi``. The provider comes from ``kubernetes/go.mod`` (its own module: it pins
pkg/v3 v3.215.0 and k8s.io v0.33 as upstream tested it).

Upstream gotchas (each verified at source, see docs/decisions/real-engine.md):
- The Python language host is its own untagged module; the proxy here refused every version asked for
  (``@v3.276.0`` and the exact pseudo-version of the v3.259.0 release commit), so ``cli/pulumi-language-python``
  is upstream's ``main.go`` vendored at tag v3.259.0 and compiled against pkg/sdk v3.276.0.
- Upstream's provider main embeds ``schema-embed.json`` that ``go generate`` writes; the module ships only
  ``schema.json`` — ``kubernetes/pulumi-resource-kubernetes`` reads it from beside the binary.
- The CLI finds plugins on ``$PATH`` ("ambient") whatever their version; the version stamped with ``-X`` is
  what ``pulumi version`` and the engine's plugin info report.

Cache: ``$GPUPLANE_CACHE`` or ``~/.cache/gpuplane/engine/<key>/`` (key = sha256 of every input file, the
ldflags and ``go version``). An ``fcntl`` lock makes a concurrent pytest worker wait; builds go to a temp dir
renamed into place, so a killed build leaves no half cache. ``build-info.json`` records what the build took.
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
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The Pulumi release the CLI is built from; cli/go.mod requires pkg/v3 and sdk/v3 at this version.
PULUMI_VERSION = "v3.276.0"
#: The pulumi/pulumi tag the vendored Python language host's main.go comes from (cli/pulumi-language-python/SOURCE.md).
LANGUAGE_HOST_SOURCE_TAG = "v3.259.0"
#: The only pseudo-version of the provider module the proxy serves; its commit f47bc2d6f199 is tag v4.25.0.
KUBERNETES_PROVIDER_MODULE_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"
KUBERNETES_PROVIDER_VERSION = "4.25.0"

BINARIES = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-kubernetes")


class EngineBuildError(RuntimeError):
    """A Go build failed or the toolchain is missing; the message carries the command and its output's tail."""


@dataclass(frozen=True)
class _Module:
    directory: Path
    packages: dict[str, str]  # binary name -> package
    ldflags: str


MODULES = (
    _Module(
        HERE / "cli",
        {
            "pulumi": "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
            "pulumi-language-python": "./pulumi-language-python",
        },
        f"-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={PULUMI_VERSION}",
    ),
    _Module(
        HERE / "kubernetes",
        {"pulumi-resource-kubernetes": "./pulumi-resource-kubernetes"},
        f"-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version={KUBERNETES_PROVIDER_VERSION}",
    ),
)


@dataclass(frozen=True)
class _Data:
    """A file a binary needs beside it, copied from a module the build resolved (not built)."""

    module_dir: Path  # the module whose go.mod resolves ``module``
    module: str
    source: str  # path inside that module
    target: str  # file name in the bin dir
    executable: bool = False


#: The language host runs programs through this Python shim, looked up next to its own binary
#: (main.go: "missing executor …/pulumi-language-python-exec"); it ships in sdk/v3 of the CLI's release.
#: The provider reads its schema and Terraform mapping from beside its binary (see the main.go).
DATA = (
    _Data(HERE / "cli", "github.com/pulumi/pulumi/sdk/v3", "python/cmd/pulumi-language-python-exec",
          "pulumi-language-python-exec", executable=True),
    _Data(HERE / "kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4",
          "cmd/pulumi-resource-kubernetes/schema.json", "pulumi-resource-kubernetes.schema.json"),
    _Data(HERE / "kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4",
          "cmd/pulumi-resource-kubernetes/terraform-mapping.json", "pulumi-resource-kubernetes.terraform-mapping.json"),
)  # fmt: skip


@dataclass(frozen=True)
class Engine:
    """The directory with the engine's binaries and what the build that filled it measured."""

    bin_dir: Path
    info: dict[str, object]

    def path(self, name: str) -> Path:
        return self.bin_dir / name


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = env.get("GOTOOLCHAIN", "local")
    env["GOFLAGS"] = "-buildvcs=false -mod=readonly"
    return env


def go_version() -> str:
    try:
        out = subprocess.run(["go", "version"], capture_output=True, text=True, check=True, env=go_env())
    except FileNotFoundError as exc:  # a missing toolchain is a failure, never a skip
        raise EngineBuildError("the Go toolchain (`go`) is not on PATH; the engine tier needs it") from exc
    return out.stdout.strip()


def _input_files() -> list[Path]:
    files: list[Path] = []
    for module in MODULES:
        files += sorted(p for p in module.directory.rglob("*") if p.is_file())
    return files


def cache_key() -> str:
    h = hashlib.sha256()
    for path in _input_files():
        h.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes() + b"\0")
    for module in MODULES:
        h.update(json.dumps([sorted(module.packages.items()), module.ldflags]).encode())
    h.update(go_version().encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    env = os.environ.get("GPUPLANE_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "gpuplane") / "engine"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_go(args: list[str], cwd: Path) -> dict[str, float]:
    """Run one ``go`` command under ``nice -n 10``; return wall and CPU seconds and the children's peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(
        ["nice", "-n", "10", "go", *args], cwd=cwd, env=go_env(), capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise EngineBuildError(f"`go {' '.join(args)}` in {cwd} failed (exit {proc.returncode}):\n{tail}")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        # ru_maxrss of children is the largest single process (compile or link), in KiB on Linux.
        "max_process_rss_mib": round(after.ru_maxrss / 1024),
    }


def _module_dir(module_dir: Path, path: str) -> Path:
    out = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", path],
        cwd=module_dir,
        env=go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise EngineBuildError(f"`go list -m {path}` failed: {out.stderr.strip()}")
    return Path(out.stdout.strip())


def _build_into(bin_dir: Path) -> dict[str, object]:
    steps: dict[str, object] = {}
    for module in MODULES:
        for name, package in module.packages.items():
            steps[name] = _run_go(
                ["build", "-trimpath", "-ldflags", module.ldflags, "-o", str(bin_dir / name), package],
                module.directory,
            )
    for data in DATA:
        target = bin_dir / data.target
        shutil.copyfile(_module_dir(data.module_dir, data.module) / data.source, target)
        target.chmod(0o755 if data.executable else 0o644)
    return steps


def ensure_engine() -> Engine:
    """Build the engine binaries unless the cache for these exact inputs has them; return where they are."""
    key = cache_key()
    base = cache_root()
    final = base / key
    with file_lock(base / f"{key}.lock"):
        info_path = final / "build-info.json"
        if info_path.is_file() and all((final / "bin" / b).is_file() for b in BINARIES):
            return Engine(final / "bin", json.loads(info_path.read_text()))
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=base))
        try:
            (work / "bin").mkdir()
            start = time.monotonic()
            steps = _build_into(work / "bin")
            info: dict[str, object] = {
                "key": key,
                "go": go_version(),
                "pulumi": PULUMI_VERSION,
                "language_host_source": LANGUAGE_HOST_SOURCE_TAG,
                "kubernetes_provider": KUBERNETES_PROVIDER_VERSION,
                "wall_s": round(time.monotonic() - start, 1),
                "steps": steps,
            }
            (work / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return Engine(final / "bin", info)


def cached_engine() -> Engine | None:
    """The cached engine for the current inputs, or None (never builds)."""
    try:
        final = cache_root() / cache_key()
    except EngineBuildError:
        return None
    info_path = final / "build-info.json"
    if info_path.is_file() and all((final / "bin" / b).is_file() for b in BINARIES):
        return Engine(final / "bin", json.loads(info_path.read_text()))
    return None


def main(argv: list[str]) -> int:
    if argv[1:] == ["--cached"]:
        engine = cached_engine()
        if engine is None:
            print("engine: not cached")
            return 1
        print(engine.bin_dir)
        return 0
    try:
        engine = ensure_engine()
    except EngineBuildError as exc:
        print(f"engine build failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"bin_dir": str(engine.bin_dir), **engine.info}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
