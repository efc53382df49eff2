"""Where a ``gpuplane plan`` run spends its time: a timeline and an import breakdown (issue 15).

For each stack, ``--runs`` fresh processes run ``gpuplane plan <stack>`` exactly as the console entry
does (GC off, signal handlers, ``os._exit``), with timestamps taken at the seams by wrapping
functions from the outside (no code in gpuplane knows about this script). Printed per phase:
the median over the runs of

- ``interpreter``: a bare ``python -c pass`` (the floor pays it too);
- ``cli import``, ``inputs``: importing ``gpuplane.cli``, reading the stack file and policy config;
- ``pack launched``: when the pack process was started (it then starts up on the other core);
- ``plan/analyzer import``: gRPC, ``pulumi``, pydantic and the components (the program's own SDK
  modules are imported lazily while it runs, so they fall under ``program``);
- ``program``: the program under the mock runtime, registration included;
- ``pack ready``: the pack printed its port and answered the handshake (a point in time);
- ``analysis``: the number of ``Analyze`` calls, the time the client spent waiting for their answers
  (up to ``IN_FLIGHT`` are on the wire at once), ``AnalyzeStack``, and the wait for the verdict after
  the program ended (the part of the analysis the program did not hide);
- ``report``: writing the text report.

A second pass runs the same command under ``-X importtime`` and sums the self time of every module by
top-level package, so the import cost can be compared with the floor's (``benchmarks/plan.py``).

    python benchmarks/plan_profile.py [--runs N] [STACK ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import time
T0 = time.perf_counter()
import gc, io, json, os, sys
gc.disable()
marks = {}
sums = {"Analyze": 0.0, "AnalyzeStack": 0.0, "Analyze calls": 0}
def mark(name):
    marks.setdefault(name, time.perf_counter() - T0)
import gpuplane.cli as cli
mark("cli import")
import gpuplane.pack_process as pack_process
original_launch = pack_process.launch
def launch(pack_dir):
    mark("inputs")
    process = original_launch(pack_dir)
    mark("pack launched")
    return process
pack_process.launch = launch
original_use = cli._use_project_code
def use():
    original_use()
    import gpuplane.analyzer, gpuplane.plan
    mark("plan/analyzer import")
    A, P = gpuplane.analyzer, gpuplane.plan
    original_plan_stack = P.plan_stack
    def plan_stack(*a, **k):
        mark("program start")
        result = original_plan_stack(*a, **k)
        mark("program end")
        return result
    P.plan_stack = plan_stack
    original_connect = A.PolicyPackServer._connect
    def connect(self):
        original_connect(self)
        mark("pack ready")
    A.PolicyPackServer._connect = connect
    original_call = A.PolicyPackServer._call
    def call(self, method, request, what=""):
        start = time.perf_counter()
        try:
            return original_call(self, method, request, what)
        finally:
            if method in sums:
                sums[method] += time.perf_counter() - start
    A.PolicyPackServer._call = call
    original_start = A.PolicyPackServer.start_analysis
    def start_analysis(self, *a, **k):
        sums["Analyze calls"] += 1
        return original_start(self, *a, **k)
    A.PolicyPackServer.start_analysis = start_analysis
    original_answer = A.PolicyPackServer.analysis_result
    def analysis_result(self, pending):
        start = time.perf_counter()
        try:
            return original_answer(self, pending)
        finally:
            sums["Analyze"] += time.perf_counter() - start
    A.PolicyPackServer.analysis_result = analysis_result
    original_result = A.AnalysisSession.result
    def result(self):
        out = original_result(self)
        mark("verdict")
        return out
    A.AnalysisSession.result = result
cli._use_project_code = use
original_write = cli._write_plans
def write(*a, **k):
    mark("report start")
    original_write(*a, **k)
    mark("report end")
cli._write_plans = write
sys.stdout = io.StringIO()
code = cli.main(["plan", *sys.argv[1:]])
sys.stdout = sys.__stdout__
mark("end")
print(json.dumps({"code": code, "marks": marks, "sums": sums}))
sys.stdout.flush()
os._exit(0)
"""


def _interpreter(runs: int) -> float:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timeline(stack: str, runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, stack], cwd=ROOT, capture_output=True, text=True, check=False
        )
        report = json.loads(result.stdout.strip().splitlines()[-1])
        marks: dict[str, float] = report["marks"]
        for name, value in marks.items():
            samples[name].append(value)
        for name, value in report["sums"].items():
            samples[f"sum {name}"].append(float(value))
        samples["verdict wait after program"].append(marks["verdict"] - marks["program end"])
    return {name: statistics.median(values) for name, values in samples.items()}


def _imports(stack: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gpuplane", "plan", stack],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:") :].split("|")
        top = name.strip().split(".")[0]
        by_package[_group(top)] += int(self_us) / 1e6
    return dict(sorted(by_package.items(), key=lambda item: -item[1]))


def _group(top: str) -> str:
    if top in sys.stdlib_module_names:
        return "stdlib"
    if top in {"google", "grpc"}:
        return "grpc+protobuf"
    if top in {"pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"}:
        return "pydantic"
    return top


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("stacks", nargs="*", default=["aws-dev", "gcp-dev", "linode-dev", "existing-dev"])
    args = parser.parse_args(argv)
    os.environ.pop("GPUPLANE_DEBUG", None)
    print(f"interpreter start (python -c pass): {_interpreter(args.runs):.3f} s, median of {args.runs}")
    for stack in args.stacks:
        timeline = _timeline(stack, args.runs)
        print(f"\n{stack}: timeline, seconds since the first line of the process (median of {args.runs})")
        for name in (
            "cli import",
            "inputs",
            "pack launched",
            "plan/analyzer import",
            "program start",
            "pack ready",
            "program end",
            "verdict",
            "report start",
            "report end",
            "end",
        ):
            if name in timeline:
                print(f"  {timeline[name]:7.3f}  {name}")
        print(
            f"  analysis: {int(timeline['sum Analyze calls'])} Analyze calls {timeline['sum Analyze']:.3f} s, "
            f"AnalyzeStack {timeline['sum AnalyzeStack']:.3f} s, "
            f"verdict wait after the program {timeline['verdict wait after program']:.3f} s"
        )
        print(f"{stack}: import self time by package (-X importtime, one run)")
        for package, seconds in list(_imports(stack).items())[:12]:
            print(f"  {seconds:7.3f}  {package}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
