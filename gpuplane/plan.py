"""Plan one stack offline: run the real program under the mock runtime and summarise it.

The result (:class:`StackPlan`) carries the recording, the validated spec, config problems, the
cost estimate and policy violations; :func:`to_json` gives the stable JSON shape CI scripts against.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.cost import CostEstimate, estimate_cost
from components.spec import PlatformSpec, Problem
from gpuplane import stackfiles
from gpuplane.recording import Recording, run_program


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    message: str
    urn: str


@dataclass
class StackPlan:
    stack: str
    path: Path
    spec: PlatformSpec | None = None
    recording: Recording = field(default_factory=Recording)
    errors: list[Problem] = field(default_factory=list[Problem])
    violations: list[Violation] = field(default_factory=list[Violation])

    @property
    def cost(self) -> CostEstimate | None:
        return None if self.spec is None else estimate_cost(self.spec)

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def plan_stack(stack_file: stackfiles.StackFile) -> StackPlan:
    """Run the program for ``stack_file`` under the mock runtime; config errors are collected, not raised."""
    from stacks.program import main
    from stacks.settings import ConfigError

    plan = StackPlan(stack=stack_file.name, path=stack_file.path)
    region = stack_file.config.get("gpuplane:region", "us-east-1")

    def program() -> None:
        plan.spec = main().spec

    try:
        plan.recording = run_program(
            program,
            project=stackfiles.project_name(),
            stack=stack_file.name,
            config=stack_file.config,
            secret_keys=stack_file.secret_keys,
            region=region,
        )
    except ConfigError as error:
        plan.errors = list(error.problems)
    return plan


def resource_counts(recording: Recording) -> list[tuple[str, int]]:
    counts = Counter(r.type for r in recording.resources)
    return sorted(counts.items())


def to_json(plan: StackPlan) -> dict[str, Any]:
    """The stable ``--json`` shape for one stack (documented in the README)."""
    spec = plan.spec
    cost = plan.cost
    return {
        "stack": plan.stack,
        "path": str(plan.path),
        "cloud": None if spec is None else spec.cloud,
        "region": None if spec is None else spec.region,
        "resources": [
            {"type": r.type, "name": r.name, "parent": r.parent, "urn": r.urn} for r in plan.recording.resources
        ],
        "gpu_pools": [] if spec is None else _pools_json(spec),
        "cost": None
        if cost is None
        else {
            "hourly_min": cost.hourly_min,
            "hourly_max": cost.hourly_max,
            "monthly_min": cost.monthly_min,
            "monthly_max": cost.monthly_max,
            "currency": cost.currency,
            "notes": list(cost.notes),
        },
        "violations": [
            {"policy": v.policy, "level": v.level, "message": v.message, "urn": v.urn} for v in plan.violations
        ],
        "errors": [{"key": p.key, "message": p.message} for p in plan.errors],
    }


def _pools_json(spec: PlatformSpec) -> list[dict[str, Any]]:
    pools: list[dict[str, Any]] = []
    for pool in spec.gpu_pools:
        offering = spec.offering(pool)
        pools.append(
            {
                "name": pool.name,
                "gpu": pool.gpu,
                "instance_type": offering.instance_type,
                "gpus_per_node": pool.gpus_per_node,
                "min_nodes": pool.min_nodes,
                "max_nodes": pool.max_nodes,
                "capacity": pool.capacity,
                "sharing": pool.sharing.mode,
                "gpu_units_max": pool.max_gpu_units,
                "hourly_per_node": offering.hourly_usd,
                "scales_to_zero": pool.min_nodes == 0,
            }
        )
    return pools
