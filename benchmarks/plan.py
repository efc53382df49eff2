"""Benchmark: ``gpuplane plan <stack>`` against the floor no implementation can beat.

For each example stack this prints the median wall time of ``gpuplane plan <stack>`` (a fresh
process each run, as a user or CI runs it) beside the median wall time of a bare Python process that
only imports the SDK modules whose resource classes that stack instantiates (derived from the
stack's own plan, not retyped). Target: plan <= 1.3 x floor.

    python benchmarks/plan.py [--runs N] [STACK ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "linode": "pulumi_linode", "kubernetes": "pulumi_kubernetes"}
TARGET_RATIO = 1.3


def module_for(resource_type: str) -> str | None:
    """The SDK module that defines a resource type's class (``None`` for gpuplane components)."""
    package, _, rest = resource_type.partition(":")
    if package == "pulumi":  # providers: pulumi:providers:kubernetes
        return PACKAGES.get(rest.rpartition(":")[2])
    if package not in PACKAGES:
        return None
    module = rest.rpartition(":")[0]
    root = PACKAGES[package]
    if package == "kubernetes":
        group, _, version = module.rpartition("/")
        if group == "helm.sh":
            return f"{root}.helm.{version}"
        if "." in group:  # a custom resource kind
            return f"{root}.apiextensions"
        return f"{root}.{group or 'core'}.{version}"
    return root if module.split("/")[0] == "index" else f"{root}.{module.split('/')[0]}"


def modules_for(resource_types: Iterable[str]) -> list[str]:
    return sorted({"pulumi"} | {m for t in resource_types if (m := module_for(t)) is not None})


def _time(command: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def _median(command: Sequence[str], runs: int) -> float:
    _time(command)  # warm the file cache
    return statistics.median(_time(command) for _ in range(runs))


def _stack_types(stack: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", stack, "--json"], check=False, capture_output=True, text=True
    )
    document = json.loads(result.stdout)
    return [r["type"] for r in document["stacks"][0]["resources"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("stacks", nargs="*", default=["aws-dev", "gcp-dev", "linode-dev", "existing-dev"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'stack':<14} {'plan (s)':>9} {'floor (s)':>9} {'ratio':>6}  floor imports")
    for stack in args.stacks:
        modules = modules_for(_stack_types(stack))
        plan = _median([sys.executable, "-m", "gpuplane", "plan", stack], args.runs)
        floor = _median([sys.executable, "-c", "; ".join(f"import {m}" for m in modules)], args.runs)
        ratio = plan / floor
        flag = "" if ratio <= TARGET_RATIO else f"  (above the {TARGET_RATIO}x target)"
        print(f"{stack:<14} {plan:9.2f} {floor:9.2f} {ratio:6.2f}  {', '.join(modules)}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
