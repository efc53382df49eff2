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


def class_for(resource_type: str) -> tuple[str, str] | None:
    """(module, class) of the SDK class behind a resource type (``None`` for gpuplane components).

    The SDKs load submodules lazily: ``import pulumi_aws.ec2`` alone loads almost nothing, so the floor
    imports the classes themselves, as the program must.
    """
    package, _, rest = resource_type.partition(":")
    if package == "pulumi":  # providers: pulumi:providers:kubernetes
        root = PACKAGES.get(rest.rpartition(":")[2])
        return None if root is None else (root, "Provider")
    if package not in PACKAGES:
        return None
    module, _, kind = rest.rpartition(":")
    root = PACKAGES[package]
    if package == "kubernetes":
        group, _, version = module.rpartition("/")
        if group == "helm.sh":
            return f"{root}.helm.{version}", kind
        if "." in group:  # a custom resource kind
            return f"{root}.apiextensions", "CustomResource"
        return f"{root}.{group or 'core'}.{version}", kind
    top = module.split("/")[0]
    return (root if top == "index" else f"{root}.{top}"), kind


def floor_statements(resource_types: Iterable[str]) -> list[str]:
    classes: dict[str, set[str]] = {}
    for found in filter(None, map(class_for, resource_types)):
        classes.setdefault(found[0], set()).add(found[1])
    return ["import pulumi"] + [f"from {m} import {', '.join(sorted(c))}" for m, c in sorted(classes.items())]


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
    print(f"{'stack':<14} {'plan (s)':>9} {'floor (s)':>9} {'ratio':>6}  floor: the resource classes of")
    for stack in args.stacks:
        statements = floor_statements(_stack_types(stack))
        plan = _median([sys.executable, "-m", "gpuplane", "plan", stack], args.runs)
        floor = _median([sys.executable, "-c", "\n".join(statements)], args.runs)
        ratio = plan / floor
        flag = "" if ratio <= TARGET_RATIO else f"  (above the {TARGET_RATIO}x target)"
        modules = sorted({s.split()[1] for s in statements})
        print(f"{stack:<14} {plan:9.2f} {floor:9.2f} {ratio:6.2f}  {', '.join(modules)}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
