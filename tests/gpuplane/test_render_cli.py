"""``gpuplane render`` output handling: never writes over a directory it did not write, no stale files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplane import cli, render

# What render does with a plan, not the program: the example's plan is made once per process (tests/support.py).
pytestmark = pytest.mark.usefixtures("replayed_examples")


def test_refuses_a_directory_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    assert cli.main(["render", "existing-dev", "--out", str(tmp_path)]) == cli.EXIT_CONFIG

    assert "notes.txt (not written by gpuplane render)" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_re_render_replaces_its_own_files_and_keeps_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_OK
    first = sorted(p.name for p in out.iterdir())
    inode = out.stat().st_ino

    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_OK

    assert sorted(p.name for p in out.iterdir()) == first
    assert out.stat().st_ino == inode
    assert (out / render.MARKER).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert not [p for p in out.iterdir() if p.name.startswith(".gpuplane-render-staging")]


def test_unknown_stack_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["render", "nope", "--out", str(tmp_path / "o")]) == cli.EXIT_CONFIG
    assert "nope: no stack of that name" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_render_into_dot_from_inside_a_previous_render_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_OK
    before = sorted(p.name for p in out.iterdir())
    monkeypatch.chdir(out)

    assert cli.main(["render", "existing-dev", "--out", "."]) == cli.EXIT_OK, capsys.readouterr().err

    assert sorted(p.name for p in out.iterdir()) == before


def test_a_file_added_beside_the_marker_is_named_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_OK
    (out / "my-notes.yaml").write_text("kind: Mine\n")
    (out / "values" / "extra.yaml").write_text("a: 1\n")
    capsys.readouterr()

    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_CONFIG

    err = capsys.readouterr().err
    assert "my-notes.yaml (not written by gpuplane render)" in err
    assert "values/extra.yaml (not written by gpuplane render)" in err
    assert (out / "my-notes.yaml").read_text() == "kind: Mine\n"


def test_a_file_changed_since_render_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_OK
    (out / "charts.json").write_text("[] # my edit\n")
    capsys.readouterr()

    assert cli.main(["render", "existing-dev", "--out", str(out)]) == cli.EXIT_CONFIG

    assert "charts.json (changed since gpuplane render wrote it)" in capsys.readouterr().err
    assert (out / "charts.json").read_text() == "[] # my edit\n"


@pytest.mark.parametrize("how", ["copy", "symlink"])
def test_a_copied_or_symlinked_marker_authorizes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    rendered = tmp_path / "rendered"
    assert cli.main(["render", "existing-dev", "--out", str(rendered)]) == cli.EXIT_OK
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    (victim / "charts.json").write_text("mine, same name as a rendered file")
    marker = victim / render.MARKER
    if how == "copy":
        marker.write_bytes((rendered / render.MARKER).read_bytes())
    else:
        marker.symlink_to(rendered / render.MARKER)
    capsys.readouterr()

    assert cli.main(["render", "existing-dev", "--out", str(victim)]) == cli.EXIT_CONFIG

    assert "thesis.tex" in capsys.readouterr().err
    assert (victim / "thesis.tex").read_text() == "years of work"
    assert (victim / "charts.json").read_text() == "mine, same name as a rendered file"
