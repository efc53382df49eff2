"""Plan one stack offline: run the real program under the mock runtime and summarise it.

The result (:class:`StackPlan`) carries the recording, the validated spec, config problems, the
cost estimate and policy violations; :func:`to_json` gives the stable JSON shape CI scripts against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.addons.gateway import route_summary
from components.cost import CostEstimate, estimate_cost
from components.spec import GpuPool, PlatformSpec, Problem
from gpuplane import placeholders, stackfiles
from gpuplane.analyzer import AnalysisSession, PolicyPackServer, Violation, load_config
from gpuplane.recording import RecordedResource, Recording, run_program
from gpuplane.render import chart_entry, helm_releases

KUEUE_API = "kubernetes:kueue.x-k8s.io/v1beta2"


@dataclass
class StackPlan:
    stack: str
    path: Path
    spec: PlatformSpec | None = None
    recording: Recording = field(default_factory=Recording)
    errors: list[Problem] = field(default_factory=list[Problem])
    violations: list[Violation] = field(default_factory=list[Violation])
    policy_config: Path | None = None
    policy_config_reason: str = ""
    """Why ``policy_config`` applies (or why none does): printed in the report and the JSON."""
    warnings: list[str] = field(default_factory=list[str])

    @property
    def cost(self) -> CostEstimate | None:
        return None if self.spec is None else estimate_cost(self.spec)

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def plan_stack(
    stack_file: stackfiles.StackFile, on_register: Callable[[RecordedResource], None] | None = None
) -> StackPlan:
    """Run the program for ``stack_file`` under the mock runtime; config errors are collected, not raised.
    ``on_register`` sees each resource as it is registered."""
    from stacks.program import main
    from stacks.settings import ConfigError

    plan = StackPlan(stack=stack_file.name, path=stack_file.path)
    # Placeholders left from the examples: a warning per value, the exit code unchanged.
    plan.warnings.extend(f"placeholder {p}" for p in placeholders.find(stack_file.path))
    region = stack_file.config.get("gpuplane:region", "us-east-1")
    file_problems = [Problem(p.key, p.message) for p in stack_file.problems]

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
            on_register=on_register,
        )
    except ConfigError as error:
        plan.errors = list(error.problems)
    if file_problems:  # every problem of every stage at once: the file's, then the program's
        plan.errors = file_problems + plan.errors
        plan.spec = None
        plan.recording = Recording()
    return plan


@dataclass(frozen=True)
class TenantQueue:
    """A tenant's Kueue queues and GPU quota as the stack really creates them."""

    tenant: str
    cluster_queue: str
    cohort: str
    local_queues: list[str]
    quotas: dict[str, int]
    """GPU model -> nominal quota (nvidia.com/gpu units), summed over the model's pools."""
    weight: float | None


def tenant_queues(plan: StackPlan) -> list[TenantQueue]:
    """Read ClusterQueues and LocalQueues back from the recording (not from the spec)."""
    spec = plan.spec
    if spec is None:
        return []
    gpu_of_pool = {p.name: p.gpu for p in spec.gpu_pools}
    local: dict[str, list[str]] = {}
    for queue in plan.recording.resources:
        if queue.type == f"{KUEUE_API}:LocalQueue":
            inputs = queue.inputs
            target = str(inputs["spec"]["clusterQueue"])
            local.setdefault(target, []).append(f"{inputs['metadata']['namespace']}/{inputs['metadata']['name']}")
    result: list[TenantQueue] = []
    for queue in plan.recording.of_type(f"{KUEUE_API}:ClusterQueue"):
        inputs = queue.inputs
        name = str(inputs["metadata"]["name"])
        quotas: dict[str, int] = {}
        for group in inputs["spec"].get("resourceGroups", []):
            for flavor in group.get("flavors", []):
                gpu = gpu_of_pool.get(str(flavor["name"]), str(flavor["name"]))
                for resource in flavor.get("resources", []):
                    if resource["name"] == "nvidia.com/gpu":
                        quotas[gpu] = quotas.get(gpu, 0) + int(resource.get("nominalQuota", 0))
        weight = inputs["spec"].get("fairSharing", {}).get("weight")
        result.append(
            TenantQueue(
                tenant=str(inputs["metadata"].get("labels", {}).get("gpuplane.io/tenant", name)),
                cluster_queue=name,
                cohort=str(inputs["spec"].get("cohortName", "")),
                local_queues=sorted(local.get(name, [])),
                quotas=quotas,
                weight=None if weight is None else float(weight),
            )
        )
    return sorted(result, key=lambda q: q.cluster_queue)


def plan_with_policies(
    stack_file: stackfiles.StackFile, server: PolicyPackServer, config_path: Path | None
) -> StackPlan:
    """Plan one stack while the policy pack analyses each resource as it is registered (as the engine
    does), then the whole stack."""
    return plan_all([stack_file], server, lambda _: PolicyChoice(config_path, "given"))[0]


@dataclass(frozen=True)
class PolicyChoice:
    path: Path | None
    reason: str
    warning: str = ""


def plan_all(
    stack_files: Sequence[stackfiles.StackFile],
    server: PolicyPackServer,
    choose: Callable[[str], PolicyChoice],
) -> list[StackPlan]:
    """Plan every stack with one pack process. Stack N+1's program runs while the pack still
    finishes stack N (its last resources and ``AnalyzeStack``); the pack serves one stack at a time."""
    pending: list[tuple[StackPlan, AnalysisSession | None]] = []
    previous: AnalysisSession | None = None
    try:
        for stack_file in stack_files:
            choice = choose(stack_file.name)
            config = None if choice.path is None else load_config(choice.path)
            session = AnalysisSession(
                server, project=stackfiles.project_name(), stack=stack_file.name, config=config, after=previous
            )
            previous = session
            try:
                plan = plan_stack(stack_file, on_register=session.add)
            except BaseException:
                session.abandon()
                raise
            plan.policy_config, plan.policy_config_reason = choice.path, choice.reason
            if choice.warning:
                plan.warnings.append(choice.warning)
            if plan.errors:
                session.abandon()
                pending.append((plan, None))
            else:
                session.close()
                pending.append((plan, session))
        for plan, session in pending:
            if session is not None:
                plan.violations = session.result()
    finally:
        for _, session in pending:
            if session is not None:
                session.abandon()
    return [plan for plan, _ in pending]


def policy_config_for(stack: str, pack_dir: Path) -> Path | None:
    """``<stack>`` named ``<cloud>-<env>`` uses ``policies/config/<env>.json`` when it exists."""
    return choose_policy_config(stack, pack_dir).path


def choose_policy_config(stack: str, pack_dir: Path) -> PolicyChoice:
    """Which policy config a stack gets and why; a near-miss env name (``prod`` for ``production``)
    gets the pack defaults and a warning naming the file it probably meant."""
    import difflib

    env = stack.rpartition("-")[2]
    config_dir = pack_dir / "config"
    candidate = config_dir / f"{env}.json"
    if "-" in stack and env and candidate.is_file():
        return PolicyChoice(candidate, f"the stack name ends in -{env}")
    known = sorted(p.stem for p in config_dir.glob("*.json")) if config_dir.is_dir() else []
    reason = (
        f"no {config_dir.name}/{env}.json for a stack ending in -{env}" if "-" in stack else "stack name has no -<env>"
    )
    close = [k for k in known if k.startswith(env) or env.startswith(k)] if env else []
    close = close or difflib.get_close_matches(env, known, n=1, cutoff=0.6)
    warning = ""
    if close and "-" in stack:
        warning = (
            f"stack {stack} gets the pack defaults, not {config_dir.name}/{close[0]}.json: "
            f"rename the stack to ...-{close[0]} or pass --policy-config {config_dir / (close[0] + '.json')}"
        )
    return PolicyChoice(None, f"pack defaults ({reason}; per-env configs: {', '.join(known) or 'none'})", warning)


def charts(plan: StackPlan) -> list[dict[str, str]]:
    """Every Helm release, sorted by release name (registration order varies from run to run)."""
    return sorted((chart_entry(r) for r in helm_releases(plan.recording)), key=lambda c: c["release"])


_LEVEL_ORDER = {"mandatory": 0, "remediate": 1, "advisory": 2}


def sorted_violations(plan: StackPlan) -> list[Violation]:
    """Mandatory first, then by policy and resource: a stable order for reports and PR diffs."""
    return sorted(plan.violations, key=lambda v: (_LEVEL_ORDER.get(v.level, 3), v.policy, v.urn, v.message))


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
            {"type": r.type, "name": r.name, "parent": r.parent, "urn": r.urn}
            for r in sorted(plan.recording.resources, key=lambda r: r.urn)
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
            "breakdown": [
                {"part": line.part, "hourly_min": line.hourly_min, "hourly_max": line.hourly_max, "detail": line.detail}
                for line in cost.lines
            ],
        },
        "charts": charts(plan),
        "routes": [] if spec is None else [r.to_json() for r in route_summary(spec)],
        "tenants": [
            {
                "tenant": q.tenant,
                "cluster_queue": q.cluster_queue,
                "cohort": q.cohort,
                "local_queues": q.local_queues,
                "quotas": q.quotas,
                "weight": q.weight,
            }
            for q in tenant_queues(plan)
        ],
        "policy_config": None if plan.policy_config is None else str(plan.policy_config),
        "policy_config_reason": plan.policy_config_reason,
        "warnings": list(plan.warnings),
        "violations": [
            {
                "policy": v.policy,
                "level": v.level,
                "message": v.message,
                "urn": v.urn,
                "severity": v.severity,
                "remediation": v.remediation,
            }
            for v in sorted_violations(plan)
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
                "node_labels": pool.node_labels,
                "taints": [f"{t.key}={t.value}:{t.effect}" for t in pool.node_taints],
                "scales_to_zero": pool.min_nodes == 0,
                **aws_zones(spec, pool),
            }
        )
    return pools


def aws_zones(spec: PlatformSpec, pool: GpuPool) -> dict[str, Any]:
    """Where an EKS pool's nodes go: the spec's zones, or chosen at deploy time from the EC2 offerings of
    its instance type (``components.clusters.eks.choose_zones``); empty for other clouds."""
    if spec.cloud != "aws":
        return {}
    if pool.zones:
        return {"zones": list(pool.zones), "zones_from": "spec"}
    return {"zones": None, "zones_from": "ec2-offerings-at-deploy"}
