"""``gpuplane plan`` starts the policy pack before it imports anything heavy (issue 15).

The pack needs ~0.3 s to start; launched after the program's imports it trailed the program and
``gpuplane plan`` waited for it at the end. These tests pin the order: at the moment the pack process
is started, neither gRPC, protobuf, ``pulumi``, pydantic nor the program's components are imported,
and the launcher module itself pulls in only the standard library. (The stack files are read, with
PyYAML, before the launch: unreadable input exits 2 without starting the pack.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("grpc", "google.protobuf", "pulumi", "pulumi_kubernetes", "pydantic", "components", "stacks")

_PROBE = """
import json, sys
import gpuplane.pack_process as pack_process
launched = []
original = pack_process.launch
def launch(pack_dir):
    launched.append(sorted({m.split('.')[0] if not m.startswith('google.') else 'google.protobuf'
                            for m in sys.modules if m.split('.')[0] in HEAVY_TOPS or m.startswith('google.protobuf')}))
    return original(pack_dir)
pack_process.launch = launch
from gpuplane.cli import main
code = main(["plan", "existing-dev"])
print(json.dumps({"code": code, "imported_at_launch": launched}))
"""


def test_the_pack_is_launched_before_grpc_pulumi_pydantic_or_the_program_are_imported() -> None:
    tops = sorted({name.split(".")[0] for name in HEAVY})
    probe = f"HEAVY_TOPS = {tops!r}\n" + _PROBE
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, result.stderr[-3000:]
    assert report["imported_at_launch"] == [[]], report


def test_the_launcher_module_imports_only_the_standard_library() -> None:
    probe = (
        "import sys; before = set(sys.modules); import gpuplane.pack_process; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    new = [m for m in result.stdout.split() if m]
    assert "gpuplane.pack_process" in new
    foreign = [m for m in new if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "gpuplane"]
    assert not foreign, foreign
    assert not [m for m in new if m.startswith("gpuplane.") and m != "gpuplane.pack_process"], new
