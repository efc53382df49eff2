"""Benchmark: ``gpuplane plan`` against the floor no implementation can beat.

For each case this prints the median wall time of ``gpuplane plan <stack>`` (a fresh process each
run, as a user or CI runs it) beside the median wall time of a bare Python process that only imports
the SDK modules whose resource classes that stack instantiates (derived from the stack's own plan,
not retyped). Plan and floor runs alternate, so a change in machine load hits both alike.

Cases: each example stack; ``all`` (the four example stacks in one ``gpuplane plan`` call, one
interpreter and one pack); ``aws50x8-dev`` (50 tenants on 8 GPU pools) and ``aws200-dev``
(200 tenants on 2 pools), generated from the catalog into a temporary directory.
Targets: plan <= 1.3 x floor; 50x8 within 2 x and 200 tenants within 5 x the aws-dev plan.

    python benchmarks/plan.py [--runs N] [CASE ...]

``PYTHONPATH=<another checkout>`` measures that checkout with this venv (the before/after tables in
benchmarks/README.md were taken that way).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PACKAGES = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "linode": "pulumi_linode",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
    "tls": "pulumi_tls",
}
TARGET_RATIO = 1.3
EXAMPLES = ("aws-dev", "gcp-dev", "linode-dev", "existing-dev")
SCALE_CASES = ("aws50x8-dev", "aws200-dev")
KUBERNETES_BUILTIN_GROUPS = {
    # API groups whose kinds pulumi_kubernetes ships as classes (not CustomResource): the group's
    # first label names the SDK module (``rbac.authorization.k8s.io/v1`` -> ``pulumi_kubernetes.rbac.v1``).
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
}


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
        if group == "yaml":
            return f"{root}.yaml.{version}", kind
        if group in KUBERNETES_BUILTIN_GROUPS:
            return f"{root}.{group.split('.')[0]}.{version}", kind
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
    result = subprocess.run(command, check=False, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):  # 1: a policy violation, still a full plan
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr.decode()[-2000:]}")
    return elapsed


def _alternating_medians(first: Sequence[str], second: Sequence[str], runs: int) -> tuple[float, float]:
    """Median wall times of two commands run alternately (after one warm-up run of each)."""
    _time(first)
    _time(second)
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(_time(first))
        b.append(_time(second))
    return statistics.median(a), statistics.median(b)


def _plan_document(arguments: Sequence[str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", *arguments, "--json"], check=False, capture_output=True, text=True
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"gpuplane plan {' '.join(arguments)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def scale_stack(tenants: int, gpu_models: int) -> dict[str, Any]:
    """An EKS stack with ``tenants`` tenants sharing ``gpu_models`` GPU pools (one per model), each
    tenant with quota 1 on every pool, every pool large enough for all quotas."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from components import catalog

    models = [m for m in catalog.models_offered_on("aws") if not any(o.spot_only for o in catalog.offerings(m, "aws"))]
    pools: list[dict[str, Any]] = []
    for index, gpu in enumerate(models[:gpu_models]):
        offering = min(catalog.offerings(gpu, "aws"), key=lambda o: o.gpus)
        pools.append(
            {
                "name": f"pool-{index}",
                "gpu": gpu,
                "gpusPerNode": offering.gpus,
                "minNodes": 0,
                "maxNodes": min(1000, math.ceil(tenants / offering.gpus)),
            }
        )
    return {
        "config": {
            "aws:region": "us-east-1",
            "gpuplane:cloud": "aws",
            "gpuplane:region": "us-east-1",
            "gpuplane:clusterName": "gpuplane-scale",
            "gpuplane:kubernetesVersion": "1.34",
            "gpuplane:apiAccess": {"mode": "public", "allowedCidrs": ["203.0.113.0/24"]},
            "gpuplane:gpuPools": pools,
            "gpuplane:tenants": [
                {"name": f"team-{i:03d}", "quotas": {p["gpu"]: 1 for p in pools}, "weight": 1} for i in range(tenants)
            ],
        }
    }


def _case_arguments(case: str, scratch: Path) -> list[str]:
    if case == "all":
        return list(EXAMPLES)
    if case in SCALE_CASES:
        tenants, pools = (50, 8) if case == "aws50x8-dev" else (200, 2)
        path = scratch / f"Pulumi.{case}.yaml"
        path.write_text(json.dumps(scale_stack(tenants, pools), indent=2))  # JSON is YAML
        return [str(path)]
    return [case]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cases", nargs="*", default=[*EXAMPLES, "all", *SCALE_CASES])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    checkout = os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    print(f"checkout {checkout}, {args.runs} alternating runs each, medians")
    print(f"{'case':<14} {'plan (s)':>9} {'floor (s)':>9} {'ratio':>6}  floor: the resource classes of")
    with tempfile.TemporaryDirectory(prefix="gpuplane-bench-") as scratch:
        for case in args.cases:
            arguments = _case_arguments(case, Path(scratch))
            document = _plan_document(arguments)
            types = [r["type"] for s in document["stacks"] for r in s["resources"]]
            statements = floor_statements(types)
            plan, floor = _alternating_medians(
                [sys.executable, "-m", "gpuplane", "plan", *arguments],
                [sys.executable, "-c", "\n".join(statements)],
                args.runs,
            )
            ratio = plan / floor
            flag = "" if ratio <= TARGET_RATIO else f"  (above the {TARGET_RATIO}x target)"
            modules = sorted({s.split()[1] for s in statements})
            resources = len(types)
            print(
                f"{case:<14} {plan:9.2f} {floor:9.2f} {ratio:6.2f}  {resources} resources; {', '.join(modules)}{flag}"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
