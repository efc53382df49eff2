"""The checks Pulumi's Python language host makes before it runs the program, replayed offline.

What: from the repository root, this resolves ``Pulumi.yaml`` the way the engine and
``pulumi-language-python`` do and fails where they would fail, so a Pulumi.yaml option that stops
every real ``pulumi up`` cannot land again while the unit tests stay green.

Upstream behaviour replayed here (pulumi/pulumi at v3.260.0-dev, commit a542e17f31 "Freeze 3.259.0";
the pinned SDK is 3.272.0, which the mirror does not hold — the same code paths are read, not run):

- ``pkg/engine/project.go`` ``getPwdMain``: ``main`` is joined to the project root; a directory
  becomes the *program directory* and the entry point ``.``.
- ``sdk/python/cmd/pulumi-language-python/main.go`` ``parseOptions``: only ``pip``/``poetry``/``uv``
  toolchains and ``mypy``/``pyright`` typecheckers are accepted; ``virtualenv`` is resolved against
  the project *root* (``toolchain/pip.go`` ``resolveVirtualEnvironmentPath``).
- ``Run``: ``ValidateVenv`` needs ``<venv>/bin/python``; with a ``typechecker`` set, the host first
  checks the package is installed in the venv ("The typechecker option is set to pyright, but pyright
  is not installed") and then runs ``python -m pyright <program dir>``, failing the run on any error.
- ``InstallDependencies`` (``pulumi install``, Pulumi Deployments) with ``toolchain: pip``:
  ``python -m venv <venv>``, then ``pip install -r requirements.txt`` with the *program directory*
  as working directory; a missing file is silently skipped (so the venv ends up without the program's
  dependencies and the run fails with an ImportError).
- ``pulumi-language-python-exec``: ``runpy.run_path(<program dir>)`` with the program directory as
  working directory; ``stacks/__main__.py`` imports ``stacks.program`` and ``components``, which
  therefore must come from the installed project.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PULUMI_YAML = ROOT / "Pulumi.yaml"
TOOLCHAINS = {"pip", "poetry", "uv"}
TYPECHECKERS = {"mypy", "pyright"}
KNOWN_OPTIONS = {"toolchain", "virtualenv", "typechecker"}


def _project() -> dict[str, Any]:
    return yaml.safe_load(PULUMI_YAML.read_text())


def _program_dir(project: dict[str, Any]) -> Path:
    main = project.get("main") or "."
    path = (ROOT / main).resolve()
    assert path.exists(), f"project 'main' could not be read: {path}"
    return path if path.is_dir() else path.parent


def _options(project: dict[str, Any]) -> dict[str, Any]:
    runtime = project["runtime"]
    assert isinstance(runtime, dict), "runtime must be a mapping with name and options"
    assert runtime["name"] == "python"
    return dict(runtime.get("options") or {})


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _deploy_packages() -> set[str]:
    """Distribution names the deploy install (``pip install -e .`` / ``pulumi install``) brings in
    directly: the project's runtime dependencies, never its ``test`` extra."""
    deps: list[str] = _pyproject()["project"]["dependencies"]
    return {re.split(r"[=<>!~\[ ;]", d, maxsplit=1)[0].lower() for d in deps}


def _requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def check_options(project: dict[str, Any]) -> list[str]:
    """What ``parseOptions`` and ``Run`` would reject, as messages (empty: the host runs the program)."""
    problems: list[str] = []
    options = _options(project)
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        problems.append(f"unknown runtime options {sorted(unknown)}")
    toolchain = options.get("toolchain", "pip")
    if toolchain not in TOOLCHAINS:
        problems.append(f"unsupported toolchain option: {toolchain}")
    checker = options.get("typechecker")
    if checker is not None:
        if checker not in TYPECHECKERS:
            problems.append(f"unsupported typechecker option: {checker}")
        elif checker not in _deploy_packages():
            problems.append(
                f"The typechecker option is set to {checker}, but {checker} is not installed by the deploy install"
            )
    return problems


def check_requirements(program_dir: Path) -> list[str]:
    """``toolchain: pip`` installs ``<program dir>/requirements.txt`` from the program directory."""
    path = program_dir / "requirements.txt"
    if not path.is_file():
        return [f"{path} missing: `pulumi install` would install nothing"]
    problems: list[str] = []
    pins = {re.split(r"==", d)[0].lower(): d for d in _pyproject()["project"]["dependencies"]}
    project_installed = False
    for line in _requirement_lines(path):
        if line.startswith(("-e", ".", "/")):
            local = (program_dir / line.removeprefix("-e").strip()).resolve()
            if local == ROOT:
                project_installed = True
            else:
                problems.append(f"requirements.txt line {line!r} installs {local}, not the project at {ROOT}")
            continue
        package = re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0].lower()
        if pins.get(package) != line:
            problems.append(f"requirements.txt line {line!r} differs from pyproject.toml ({pins.get(package)!r})")
    if not project_installed:
        problems.append("requirements.txt does not install the project itself (stacks.program, components)")
    return problems


def test_language_host_accepts_the_runtime_options() -> None:
    assert check_options(_project()) == []


def test_typechecker_without_it_in_the_deploy_install_is_caught() -> None:
    """The exact landed mistake: ``typechecker: pyright`` with pyright only in the test extra."""
    project = _project()
    project["runtime"]["options"]["typechecker"] = "pyright"
    assert check_options(project) == [
        "The typechecker option is set to pyright, but pyright is not installed by the deploy install"
    ]
    project["runtime"]["options"]["typechecker"] = "pytype"
    assert check_options(project) == ["unsupported typechecker option: pytype"]


def test_main_is_a_program_directory_with_an_entry_point() -> None:
    program_dir = _program_dir(_project())
    assert program_dir == ROOT / "stacks"
    assert (program_dir / "__main__.py").is_file()


def test_stack_config_dir_holds_the_example_stacks() -> None:
    project = _project()
    config_dir = ROOT / project["stackConfigDir"]
    names = sorted(p.name for p in config_dir.glob("Pulumi.*.yaml"))
    assert names == [f"Pulumi.{s}.yaml" for s in ("aws-dev", "existing-dev", "gcp-dev", "linode-dev")]


def test_virtualenv_is_the_one_the_readme_creates() -> None:
    venv = _options(_project())["virtualenv"]
    assert not Path(venv).is_absolute()
    readme = (ROOT / "README.md").read_text()
    assert f"python3 -m venv {venv}" in readme
    # ValidateVenv: the interpreter the host runs must exist where the option points.
    assert (ROOT / venv / "bin" / "python").exists()


def test_pulumi_install_installs_the_project_with_pyprojects_pins() -> None:
    assert check_requirements(_program_dir(_project())) == []


def test_missing_or_drifting_requirements_are_caught(tmp_path: Path) -> None:
    assert check_requirements(tmp_path) == [
        f"{tmp_path / 'requirements.txt'} missing: `pulumi install` would install nothing"
    ]
    pin = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("pulumi=="))
    (tmp_path / "requirements.txt").write_text(f"{pin}\npulumi-aws==6.0.0\n-e ..\n")
    assert check_requirements(tmp_path) == [
        "requirements.txt line 'pulumi-aws==6.0.0' differs from pyproject.toml ('pulumi-aws==7.51.1')",
        f"requirements.txt line '-e ..' installs {tmp_path.parent}, not the project at {ROOT}",
        "requirements.txt does not install the project itself (stacks.program, components)",
    ]


def test_pip_resolves_the_requirements_file_from_the_program_directory() -> None:
    """pip itself reads the file the way the host runs it (cwd = program directory): one local project,
    gpuplane, editable (--dry-run, --no-deps: only the build backend is fetched, from PyPI)."""
    program_dir = _program_dir(_project())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--quiet",
            "--report",
            "-",
            "-r",
            "requirements.txt",
        ],
        cwd=program_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    installs = [(i["metadata"]["name"], i["download_info"]["url"]) for i in report["install"]]
    assert installs == [("gpuplane", ROOT.as_uri())]


def test_entry_point_imports_from_the_program_directory() -> None:
    """Like the exec shim: cwd and sys.path[0] are the program directory, not the repository root."""
    program_dir = _program_dir(_project())
    code = (
        "import sys; sys.path[0] = sys.argv[1]; "
        "import stacks.program, components.gpu_platform, gpuplane; "
        "print(stacks.program.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(program_dir)],
        cwd=program_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == program_dir / "program.py"


@pytest.mark.parametrize("option", ["toolchain", "virtualenv"])
def test_required_options_are_present(option: str) -> None:
    assert option in _options(_project())


def test_readme_deploy_section_covers_install_stack_selection_and_every_placeholder() -> None:
    """The README's path from a fresh clone: install, stack init/select, and how to replace each kind of
    placeholder ``gpuplane plan`` reports in the example stacks."""
    from gpuplane import placeholders

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploying for real") :]
    section = section[: section.index("\n## ", 3)]
    for command in ("pulumi install", "pulumi stack init", "pulumi stack select", "pulumi up", "gpuplane plan"):
        assert command in section, command
    found = [p for s in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")) for p in placeholders.find(s)]
    assert found  # the examples do ship placeholders, so this test has something to check
    for placeholder in found:
        if "secure value" in placeholder.message:
            assert "secure: v1:REPLACE" in section
            assert "pulumi config set --secret" in section
        elif "documentation range" in placeholder.message:
            assert placeholder.message.split(" ", 1)[0] in section, placeholder
        else:
            assert placeholder.message.split(" ", 1)[0].strip("'") in section, placeholder
    for documentation in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"):
        assert documentation in section
