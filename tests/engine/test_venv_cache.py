"""The engine tier's venv cache (tests/engine/venvs.py) rebuilds exactly when it must (no pip, no engine build).

What: the key follows the requirement files (a changed pin in policies/requirements.txt or pyproject.toml's
``[project].dependencies`` builds a new venv; a change elsewhere in pyproject.toml does not) and the
interpreter; a venv is reused only with its marker and unchanged contents; a failed or killed build is
never reused; two processes asking at once build it once; a layered venv really sees the cached one.

Why: a stale cached venv would make the engine tests run against dependencies the repository no longer
pins (the lesson of tests agreeing with an old belief), and a half-built one would fail far from its cause.
The builder is injected only where pip would take minutes; the lock, marker, key and layering are real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.engine import venvs
from tests.engine.harness import REPO

IDENTITY = {
    "python": "3.11.7",
    "implementation": "cpython",
    "base_executable": "/x",
    "platform": "p",
    "bundled_pip": "1",
}


class Builder:
    """Builds a fake venv (bin/python + site-packages) and counts how often it was asked to."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, venv: Path, requirements: Sequence[str]) -> None:
        self.calls.append(list(requirements))
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("")
        sp = venvs.site_packages(venv)
        sp.mkdir(parents=True)
        for req in requirements:
            (sp / f"{req.split('==')[0]}.dist-info").mkdir()
        if self.fail:
            raise RuntimeError("pip died half-way")


def repo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    shutil.copyfile(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copyfile(REPO / "policies" / "requirements.txt", root / "policies" / "requirements.txt")
    return root


def test_policy_requirements_change_builds_a_new_venv(tmp_path: Path) -> None:
    repo, build, cache = repo_copy(tmp_path), Builder(), tmp_path / "cache"
    first = venvs.policy_pack_venv(repo, root=cache, build=build, identity=IDENTITY)
    assert venvs.policy_pack_venv(repo, root=cache, build=build, identity=IDENTITY) == first
    assert len(build.calls) == 1  # reused
    req = repo / "policies" / "requirements.txt"
    text = req.read_text()
    assert "pulumi-policy==" in text, text
    req.write_text(text.replace("pulumi-policy==", "pulumi-policy==9", 1))
    second = venvs.policy_pack_venv(repo, root=cache, build=build, identity=IDENTITY)
    assert second != first
    assert len(build.calls) == 2
    assert any(r.startswith("pulumi-policy==9") for r in build.calls[1]), build.calls


def test_project_dependency_change_builds_a_new_venv_and_other_edits_do_not(tmp_path: Path) -> None:
    repo, build, cache = repo_copy(tmp_path), Builder(), tmp_path / "cache"
    first = venvs.deploy_dependency_venv(repo, root=cache, build=build, identity=IDENTITY)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    # An edit outside [project].dependencies (pytest options, a test extra) keeps the venv.
    pyproject.write_text(text.replace('addopts = "', 'addopts = "-q ', 1).replace('"pytest==', '"pytest>=', 1))
    assert pyproject.read_text() != text
    assert venvs.deploy_dependency_venv(repo, root=cache, build=build, identity=IDENTITY) == first
    assert len(build.calls) == 1
    # A changed pin of a runtime dependency does not.
    assert '"pulumi==' in text
    pyproject.write_text(text.replace('"pulumi==', '"pulumi==9', 1))
    assert venvs.deploy_dependency_venv(repo, root=cache, build=build, identity=IDENTITY) != first
    assert len(build.calls) == 2


def test_key_follows_the_interpreter() -> None:
    reqs = ["pulumi==3.272.0"]
    assert venvs.venv_key(reqs, IDENTITY) == venvs.venv_key(list(reqs), dict(IDENTITY))
    for field in IDENTITY:
        assert venvs.venv_key(reqs, {**IDENTITY, field: "other"}) != venvs.venv_key(reqs, IDENTITY), field
    assert set(venvs.interpreter_identity()) == set(IDENTITY)


def test_key_follows_how_the_venv_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = ["pulumi==3.272.0"]
    before = venvs.venv_key(reqs, IDENTITY)
    monkeypatch.setattr(venvs, "PIP_INSTALL", tuple(a for a in venvs.PIP_INSTALL if a != "--no-compile"))
    assert venvs.venv_key(reqs, IDENTITY) != before
    monkeypatch.undo()
    monkeypatch.setattr(venvs, "NOT_COMPILED", ())
    assert venvs.venv_key(reqs, IDENTITY) != before


def test_requirements_that_depend_on_the_files_location_are_refused() -> None:
    assert venvs.requirement_lines("# c\n\npulumi>=3,<4  # why\nfoo; python_version<'4'\n") == [
        "pulumi>=3,<4",
        "foo; python_version<'4'",
    ]
    for line in ("-e ..", "-r other.txt", "./pkg", "/abs/pkg", "pkg @ https://example.invalid/p.whl"):
        with pytest.raises(venvs.VenvBuildError, match="location"):
            venvs.requirement_lines(line)


def test_a_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="half-way"):
        venvs.cached_venv("x", ["a==1"], build=Builder(fail=True), root=cache, identity=IDENTITY)
    assert [p.name for p in (cache / "venvs").iterdir() if not p.name.endswith(".lock")] == []
    build = Builder()
    venv = venvs.cached_venv("x", ["a==1"], build=build, root=cache, identity=IDENTITY)
    assert len(build.calls) == 1
    assert json.loads((venv / venvs.MARKER).read_text())["site_packages"] == ["a.dist-info"]


def test_a_killed_build_without_marker_is_rebuilt_not_reused(tmp_path: Path) -> None:
    cache, build = tmp_path / "cache", Builder()
    venv = venvs.cached_venv("x", ["a==1"], build=build, root=cache, identity=IDENTITY)
    (venv / venvs.MARKER).unlink()  # what a SIGKILLed worker leaves: everything but the marker
    (venvs.site_packages(venv) / "half-unpacked").mkdir()
    assert venvs.cached_venv("x", ["a==1"], build=build, root=cache, identity=IDENTITY) == venv
    assert len(build.calls) == 2
    assert not (venvs.site_packages(venv) / "half-unpacked").exists()


def test_a_cached_venv_something_installed_into_is_rebuilt(tmp_path: Path) -> None:
    cache, build = tmp_path / "cache", Builder()
    venv = venvs.cached_venv("x", ["a==1"], build=build, root=cache, identity=IDENTITY)
    (venvs.site_packages(venv) / "stray.dist-info").mkdir()
    venvs.cached_venv("x", ["a==1"], build=build, root=cache, identity=IDENTITY)
    assert len(build.calls) == 2
    assert not (venvs.site_packages(venv) / "stray.dist-info").exists()


CONCURRENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tests.engine import venvs

    def build(venv, requirements):
        with open(sys.argv[3], "a") as log:
            log.write("build\\n")
        time.sleep(1.0)  # long enough for the other process to reach the lock
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("")
        venvs.site_packages(venv).mkdir(parents=True)

    identity = {"python": "3", "implementation": "c", "base_executable": "/x", "platform": "p", "bundled_pip": "1"}
    print(venvs.cached_venv("x", ["a==1"], build=build, root=Path(sys.argv[2]), identity=identity))
    """
)


def test_two_processes_build_the_venv_once(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    argv = [sys.executable, "-c", CONCURRENT, str(REPO), str(tmp_path / "cache"), str(log)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1], outs
    assert log.read_text().splitlines() == ["build"]


def test_layered_venv_sees_the_cached_site_packages_and_their_pth_files(tmp_path: Path) -> None:
    """A real ``python -m venv --without-pip`` plus the layer: imports and metadata come from the cache."""
    deps = tmp_path / "deps"
    sp = venvs.site_packages(deps)
    sp.mkdir(parents=True)
    (sp / "cached_mod.py").write_text("VALUE = 42\n")
    (sp / "cached_dist-1.0.dist-info").mkdir()
    (sp / "cached_dist-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cached-dist\nVersion: 1.0\n"
    )
    (sp / "extra").mkdir()
    (sp / "extra" / "from_pth.py").write_text("OK = True\n")
    (sp / "nested.pth").write_text(str(sp / "extra") + "\n")  # a dependency's own .pth must run too
    venv = venvs.layered_venv(tmp_path / "venv", deps)
    probe = (
        "import sys, importlib.metadata as m, cached_mod, from_pth\n"
        "print(cached_mod.VALUE, from_pth.OK, m.version('cached-dist'), sys.prefix)"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["42", "True", "1.0", str(venv)]
    assert not (venv / "bin" / "pip").exists()  # nothing copied: pip too comes from the cached venv
