"""The engine tier's virtualenvs: dependencies built once per machine, a cheap per-copy venv layered on top.

What: :func:`dependency_venv` returns a cached virtualenv holding only *dependencies* — the deploy venv's
(``pyproject.toml`` ``[project].dependencies``, what the README's ``pip install -e .`` resolves besides the
project itself) or the policy pack's (``policies/requirements.txt``). :func:`layered_venv` makes the venv a
test actually uses — ``<copy>/.venv`` or ``<copy>/policies/venv`` — with ``python -m venv --without-pip``
and one ``.pth`` file that adds the cached dependency venv's site-packages (``site.addsitedir``, so *its*
``.pth`` files run too); the deploy venv then gets the project with ``pip install --no-deps -e <copy>``.

Why: building both venvs with pip took 60-160 s per pytest worker and per run (pulumi-aws and pulumi-gcp
alone are ~700 MB installed), twice under xdist. The cached one is built once per machine (a few
seconds per run after that) and the per-copy venv is still a real venv at the path Pulumi.yaml /
PulumiPolicy.yaml name, so the language host, ``pip list``, ``pulumi install`` and the pack's
``python -m pulumi.policy`` see the same distributions the documented install gives.

Cache: ``<cache_root>/venvs/<name>-<key>/`` (``cache_root`` is tests/engine/build.py's:
``$GPUPLANE_CACHE/engine`` or ``~/.cache/gpuplane/engine``), key = sha256 of the requirement lines, the
interpreter (version, implementation, base executable, platform), the bundled pip (``ensurepip``) and the
pip arguments (``PIP_INSTALL``), so editing a requirement file or switching Python builds a new venv.
Built in place under an ``fcntl`` lock (two xdist workers never build it twice; venvs are not
relocatable, so no build-then-rename) and valid only with its ``.complete`` marker, written last: a
half-built venv (a killed worker) is removed and rebuilt. Old keys' venvs are not pruned (another
checkout on the machine may still use them). The marker also records site-packages' top-level entries; a cached venv whose entries changed
(something installed into it) is rebuilt rather than trusted.

Gotchas: venvs made by ``python -m venv --without-pip`` have no ``bin/pip``; ``python -m pip`` finds the
cached venv's pip through the ``.pth``. pip never uninstalls from the cached venv through a layered one
(it skips distributions "outside environment"), and ``pulumi install`` runs ``python -m venv`` plus
``pip install --upgrade pip setuptools wheel`` inside the per-copy venv only.
"""

from __future__ import annotations

import ensurepip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.engine.build import cache_root, file_lock

#: Written last into a cached venv; without it the directory is a half-built venv and is rebuilt.
MARKER = ".complete"
#: Names of the two cached venvs (directory ``<name>-<key>``).
DEPLOY_DEPS = "deploy-deps"
POLICY_PACK = "policy-pack"
#: The ``.pth`` a layered venv gets; its one line adds the cached dependency venv's site-packages.
LAYER_PTH = "_gpuplane_engine_deps.pth"
#: How a cached venv's requirements are installed (part of the key). ``--no-compile``, then ``compileall``
#: of everything but ``NOT_COMPILED``: pip byte-compiling every module was ~75 % of a cold build (the
#: dependencies took 62 s and 741 MB with it, 15 s and 373 MB without, measured 2026-12-05), most of it
#: pulumi-aws and pulumi-gcp (5,500 modules) that no engine test imports (its stacks are existing-cluster
#: ones). The rest is compiled because PYTHONDONTWRITEBYTECODE may be set (it is on these machines): then
#: Python would compile every imported module again in every process.
PIP_INSTALL = ("install", "-q", "--disable-pip-version-check", "--no-compile")
#: Top-level packages left uncompiled (if a test ever imports one, Python compiles it then; slower, same result).
NOT_COMPILED = ("pulumi_aws", "pulumi_gcp", "pulumi_linode")


class VenvBuildError(AssertionError):
    """pip or venv failed while building a cached venv; the message carries the command and its output."""


def _run(argv: Sequence[str], *, cwd: Path | None = None, timeout: float = 900) -> str:
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise VenvBuildError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file (comments and blank lines dropped).

    A cached venv may only hold what the file alone decides: ``-e``/``-r``/``-c`` options and local paths
    depend on where the file is, so they are refused (fail closed) rather than cached wrongly.
    """
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-", ".", "/")) or "://" in line:
            raise VenvBuildError(f"requirement {line!r} depends on the file's location; a cached venv cannot hold it")
        lines.append(line)
    return lines


def project_dependencies(pyproject: Path) -> list[str]:
    """``[project].dependencies`` of a pyproject.toml: what ``pip install -e .`` installs besides the project."""
    doc = tomllib.loads(pyproject.read_text())
    deps = doc.get("project", {}).get("dependencies")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):  # pyright: ignore[reportUnknownVariableType]
        raise VenvBuildError(f"{pyproject}: [project].dependencies is not a list of requirement strings")
    return list(deps)  # pyright: ignore[reportUnknownArgumentType]


def interpreter_identity() -> dict[str, str]:
    """What besides the requirements decides a venv's contents: the interpreter and the pip it bundles."""
    base = getattr(sys, "_base_executable", sys.executable)
    return {
        "python": sys.version,
        "implementation": sys.implementation.name,
        "base_executable": os.path.realpath(base),
        "platform": sysconfig.get_platform(),
        "bundled_pip": ensurepip.version(),
    }


def venv_key(requirements: Sequence[str], identity: dict[str, str] | None = None) -> str:
    payload = json.dumps(
        {
            "requirements": list(requirements),
            "interpreter": identity or interpreter_identity(),
            "pip": PIP_INSTALL,
            "not_compiled": NOT_COMPILED,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def site_packages(venv: Path) -> Path:
    """The venv's site-packages (``lib/pythonX.Y/site-packages`` on POSIX, for the interpreter running the tests)."""
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _listing(venv: Path) -> list[str]:
    return sorted(p.name for p in site_packages(venv).iterdir() if p.name != "__pycache__")


def is_intact(venv: Path) -> bool:
    """Whether ``venv`` is a complete cached venv whose site-packages still hold what its build left."""
    marker = venv / MARKER
    if not marker.is_file() or not (venv / "bin" / "python").exists():
        return False
    try:
        recorded = json.loads(marker.read_text()).get("site_packages")
    except (OSError, ValueError):
        return False
    return recorded == _listing(venv)


def pip_install_requirements(venv: Path, requirements: Sequence[str]) -> None:
    """``python -m venv <venv>``, ``pip install --no-compile <requirements>``, ``compileall`` but ``NOT_COMPILED``."""
    _run([sys.executable, "-m", "venv", str(venv)])
    if requirements:
        python = str(venv / "bin" / "python")
        _run([python, "-m", "pip", *PIP_INSTALL, *requirements])
        skip = "/site-packages/(" + "|".join(NOT_COMPILED) + ")/"
        _run([python, "-m", "compileall", "-q", "-j", "0", "-x", skip, str(site_packages(venv))])


def cached_venv_path(
    name: str, requirements: Sequence[str], *, root: Path | None = None, identity: dict[str, str] | None = None
) -> Path:
    """Where the cached venv for ``requirements`` lives (built or not)."""
    return (root or cache_root()) / "venvs" / f"{name}-{venv_key(requirements, identity)}"


def cached_venv(
    name: str,
    requirements: Sequence[str],
    *,
    build: Callable[[Path, Sequence[str]], None] = pip_install_requirements,
    root: Path | None = None,
    identity: dict[str, str] | None = None,
) -> Path:
    """The cached venv holding ``requirements``; built by ``build(venv, requirements)`` unless valid already.

    The lock is held while checking and building, so a second worker waits and then reuses the venv.
    """
    venv = cached_venv_path(name, requirements, root=root, identity=identity)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(venv.with_name(f"{venv.name}.lock")):
        if is_intact(venv):
            return venv
        if venv.exists():  # half-built (no marker) or changed since: never reused
            shutil.rmtree(venv)
        try:
            build(venv, requirements)
            record = {
                "requirements": list(requirements),
                "interpreter": identity or interpreter_identity(),
                "site_packages": _listing(venv),
            }
            (venv / MARKER).write_text(json.dumps(record, indent=2) + "\n")
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
    return venv


def deploy_requirements(repo: Path) -> list[str]:
    return project_dependencies(repo / "pyproject.toml")


def deploy_dependency_venv(repo: Path, **cache: Any) -> Path:
    """The deploy venv's dependencies (README: ``pip install -e .``) without the project, cached.

    ``cache``: :func:`cached_venv`'s keyword arguments (tests of the cache pass ``root`` and ``build``).
    """
    return cached_venv(DEPLOY_DEPS, deploy_requirements(repo), **cache)


def policy_pack_venv(repo: Path, **cache: Any) -> Path:
    """The policy pack's venv (policies/README: ``pip install -r policies/requirements.txt``), cached."""
    return cached_venv(POLICY_PACK, requirement_lines((repo / "policies" / "requirements.txt").read_text()), **cache)


def layered_venv(venv: Path, dependencies: Path) -> Path:
    """A fresh venv at ``venv`` that sees ``dependencies``' site-packages after its own (nothing is copied)."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    line = f"import site; site.addsitedir({str(site_packages(dependencies))!r})\n"
    (site_packages(venv) / LAYER_PTH).write_text(line)
    return venv


def install_project(venv: Path, project: Path) -> None:
    """``pip install --no-deps -e <project>``: the project itself, its dependencies come from the layer."""
    _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "-e", str(project)],
        cwd=project,
    )  # fmt: skip
