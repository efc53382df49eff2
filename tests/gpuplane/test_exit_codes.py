"""``gpuplane plan`` exit codes at the process boundary: a real ``python -m gpuplane`` for each code.

Most tests call ``cli.main`` in-process (the report and the exit code, with the test process's running
pack); these make sure the code a CI script sees is the one ``main`` returns once the process flushes
and leaves through ``os._exit``, with no traceback. Where each code is covered by a real process:

- 0 (clean): ``tests/stacks/test_plan.py`` (all four example stacks in one call, ``--json``);
- 1 (a mandatory violation) and 4 (internal error): here;
- 2 (bad input): ``tests/stacks/test_config_errors.py``, ``tests/gpuplane/test_clean_errors.py`` (alias bomb),
  ``tests/fuzz/test_fuzz.py`` (hostile files);
- 3 (the pack failed) and 128+n (signals): ``tests/gpuplane/test_process.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from gpuplane import cli

ROOT = Path(__file__).resolve().parents[2]


def _plan(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GPUPLANE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_mandatory_violation_exits_1(tmp_path: Path) -> None:
    """An EKS GPU pool that cannot scale to zero (gpu-pool-scale-to-zero is mandatory in dev.json)."""
    data = yaml.safe_load((ROOT / "stacks" / "Pulumi.aws-dev.yaml").read_text())
    data["config"]["gpuplane:gpuPools"][1]["minNodes"] = 1
    path = tmp_path / "Pulumi.aws-dev.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    result = _plan(str(path))

    assert result.returncode == cli.EXIT_POLICY, result.stdout + result.stderr
    mandatory = result.stdout.split("mandatory violations", 1)[-1]
    assert "gpu-pool-scale-to-zero" in mandatory, result.stdout
    assert "keeps at least 1 GPU nodes running; set its minimum to 0" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bug_in_the_program_exits_4_naming_where_without_a_traceback(tmp_path: Path) -> None:
    """A project whose own program raises (``gpuplane plan`` runs the project's ``stacks/program.py``,
    as ``pulumi`` would): an internal error naming the exception type and the line, no traceback."""
    (tmp_path / "Pulumi.yaml").write_text("name: buggy\nruntime: python\n")
    (tmp_path / "Pulumi.buggy-dev.yaml").write_text("config:\n  gpuplane:cloud: existing\n")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "__init__.py").write_text("")
    (stacks / "settings.py").write_text("class ConfigError(Exception):\n    problems: list[object] = []\n")
    (stacks / "program.py").write_text(
        "def main() -> object:\n    raise RuntimeError('a bug in the program, not in the input')\n"
    )

    result = _plan("buggy-dev", cwd=tmp_path)

    assert result.returncode == cli.EXIT_INTERNAL, result.stdout + result.stderr
    assert "gpuplane: internal error (RuntimeError at program.py:2)" in result.stderr
    assert "GPUPLANE_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "a bug in the program" not in result.stdout + result.stderr  # only the type and where
