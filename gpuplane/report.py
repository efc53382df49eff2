"""The human-readable ``gpuplane plan`` report for one stack."""

from __future__ import annotations

from typing import TextIO

from components.addons.gateway import route_summary
from components.spec import POOL_LABEL, SYSTEM_POOL_NAME
from gpuplane.plan import StackPlan, aws_zones, charts, resource_counts, sorted_violations, tenant_queues

SYSTEM_LABEL = f"{POOL_LABEL}={SYSTEM_POOL_NAME}"


def write_report(plan: StackPlan, out: TextIO, *, verbose: bool = False) -> None:
    spec = plan.spec
    out.write(f"== stack {plan.stack} ({plan.path})\n")
    if spec is None:
        out.write(f"   config invalid: {len(plan.errors)} problem(s), nothing planned\n")
        for problem in plan.errors:
            out.write(f"   - {problem}\n")
        out.write("\n")
        return
    out.write(
        f"   cloud {spec.cloud}, region {spec.region}, cluster {spec.cluster_name}, Kubernetes {spec.kubernetes_version}"
    )
    out.write(", production\n" if spec.production else "\n")
    _write_placeholders(plan, out)
    _write_resources(plan, out, verbose=verbose)
    _write_pools(plan, out)
    _write_tenants(plan, out)
    _write_addons(plan, out)
    _write_routes(plan, out)
    _write_cost(plan, out)
    _write_violations(plan, out)
    out.write("\n")


def _write_placeholders(plan: StackPlan, out: TextIO) -> None:
    """Values left from the examples (``gpuplane.placeholders``): pulumi up would reject or waste them."""
    found = [w.removeprefix("placeholder ") for w in plan.warnings if w.startswith("placeholder ")]
    if found:
        out.write(f"   warning: {len(found)} placeholder value(s) to replace before pulumi up:\n")
        for item in found:
            out.write(f"     - {item}\n")


def _write_resources(plan: StackPlan, out: TextIO, *, verbose: bool) -> None:
    """One line by provider package (``aws 31, kubernetes 97 ...``); every type under ``--verbose``."""
    counts = resource_counts(plan.recording)
    by_package: dict[str, int] = {}
    for type_, count in counts:
        package = type_.split(":", 1)[0]
        if package == "pulumi":
            package = "providers"
        by_package[package] = by_package.get(package, 0) + count
    summary = ", ".join(f"{package} {count}" for package, count in sorted(by_package.items()))
    out.write(
        f"   resources: {sum(n for _, n in counts)} ({summary}){'' if verbose else '; --verbose lists every type'}\n"
    )
    if verbose:
        for type_, count in counts:
            out.write(f"     {count:4d}  {type_}\n")


def _write_pools(plan: StackPlan, out: TextIO) -> None:
    spec = plan.spec
    assert spec is not None
    out.write("   GPU pools:\n")
    out.write(
        f"     {'name':<16} {'gpu':<20} {'instance type':<20} {'gpus/node':>9} {'min':>4} {'max':>4}  capacity  sharing\n"
    )
    for pool in spec.gpu_pools:
        offering = spec.offering(pool)
        sharing = pool.sharing.mode
        if pool.sharing.mode != "none":
            sharing += f" x{pool.slices_per_gpu}"
        out.write(
            f"     {pool.name:<16} {pool.gpu:<20} {offering.instance_type:<20} {pool.gpus_per_node:>9} "
            f"{pool.min_nodes:>4} {pool.max_nodes:>4}  {pool.capacity:<9} {sharing}\n"
        )
    if spec.cloud == "aws":
        for pool in spec.gpu_pools:
            zones = aws_zones(spec, pool)
            where = (
                f"pinned to {', '.join(zones['zones'])} (gpuPools[].zones)"
                if zones["zones_from"] == "spec"
                else f"chosen at deploy time where EC2 offers {spec.offering(pool).instance_type} "
                "(DescribeInstanceTypeOfferings; offline plans do not know)"
            )
            out.write(f"     zones of {pool.name}: {where}\n")
    if spec.cloud == "linode":
        out.write("     note: LKE's autoscaler minimum is 1 node per pool: these GPU pools never scale to zero\n")
    if spec.cloud == "existing":
        _write_existing_node_labels(plan, out)


def _write_existing_node_labels(plan: StackPlan, out: TextIO) -> None:
    """gpuplane cannot label nodes it does not own: say which labels queues and controllers select on."""
    spec = plan.spec
    assert spec is not None
    out.write("     before pulumi up, label the existing nodes (queues and tolerations select on these):\n")
    out.write(f"       kubectl label nodes <system nodes> {SYSTEM_LABEL}\n")
    for pool in spec.gpu_pools:
        labels = " ".join(f"{k}={v}" for k, v in pool.node_labels.items())
        out.write(f"       kubectl label nodes <{pool.name} nodes> {labels}\n")


def _write_tenants(plan: StackPlan, out: TextIO) -> None:
    spec = plan.spec
    assert spec is not None
    if not spec.tenants:
        return
    capacity = spec.gpu_capacity()
    out.write("   tenants (quota in nvidia.com/gpu units / capacity at maxNodes):\n")
    for tenant in sorted(spec.tenants, key=lambda t: t.name):
        quotas = ", ".join(f"{gpu} {q}/{capacity.get(gpu, 0)}" for gpu, q in sorted(tenant.quotas.items()))
        out.write(f"     {tenant.name:<16} weight {tenant.weight:g}: {quotas or 'no quota'}\n")


def _write_addons(plan: StackPlan, out: TextIO) -> None:
    releases = charts(plan)
    if releases:
        out.write("   Helm releases:\n")
        for chart in releases:
            out.write(
                f"     {chart['release']:<22} {chart['chart']} {chart['version']} in {chart['namespace']}"
                f"  ({chart['repository']})\n"
            )
    queues = tenant_queues(plan)
    if queues:
        out.write("   Kueue queues (ClusterQueue <- LocalQueues: nominal GPU quota):\n")
        for queue in queues:
            quotas = ", ".join(f"{gpu} {n}" for gpu, n in sorted(queue.quotas.items())) or "none"
            out.write(
                f"     {queue.cluster_queue:<16} cohort {queue.cohort} <- {', '.join(queue.local_queues)}: {quotas}\n"
            )


def _write_routes(plan: StackPlan, out: TextIO) -> None:
    assert plan.spec is not None
    routes = route_summary(plan.spec)
    if not routes:
        return
    out.write("   model routes (tenant: token budget):\n")
    for route in routes:
        limits = ", ".join(f"{limit.tenant} {limit.tokens}/{limit.per}" for limit in route.limits) or "no tenant"
        out.write(f"     {route.model:<16} -> {route.provider} {route.backend}: {limits}\n")


def _write_cost(plan: StackPlan, out: TextIO) -> None:
    cost = plan.cost
    assert cost is not None
    out.write(
        f"   cost ({cost.currency}, list prices): {cost.hourly_min:.2f}/h ({cost.monthly_min:.0f}/month) at minimum, "
        f"{cost.hourly_max:.2f}/h ({cost.monthly_max:.0f}/month) at maximum\n"
    )
    for note in cost.notes:
        out.write(f"     - {note}\n")


def _write_violations(plan: StackPlan, out: TextIO) -> None:
    config = "pack defaults" if plan.policy_config is None else str(plan.policy_config)
    if plan.policy_config_reason and plan.policy_config is not None:
        config += f": {plan.policy_config_reason}"
    elif plan.policy_config_reason:
        config = plan.policy_config_reason
    if not plan.violations:
        out.write(f"   policies ({config}): no violations\n")
        return
    out.write(f"   policies ({config}):\n")
    for level in ("mandatory", "advisory", "remediate"):
        found = [v for v in sorted_violations(plan) if v.level == level]
        if not found:
            continue
        out.write(f"   {level} violations: {len(found)}\n")
        for violation in found:
            where = violation.urn or "the whole stack"
            out.write(f"     [{violation.policy}] {violation.message}\n       at {where}\n")
            for line in violation.remediation.strip().splitlines():
                out.write(f"       fix: {line.strip()}\n" if line.strip() else "")
