"""``gpuplane render`` output handling: never writes over a directory it did not write, no stale files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplane import cli, render


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
