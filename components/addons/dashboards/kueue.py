"""The Kueue dashboard: pending and admitted workloads and GPU quota use per tenant.

Each tenant has one ClusterQueue named after it, so ``cluster_queue`` is the tenant. The quota panels
read ``kueue_cluster_queue_resource_usage`` and ``kueue_cluster_queue_nominal_quota``, which Kueue
exports only with ``metrics.enableClusterQueueResources: true`` in its configuration (the Kueue
add-on sets it). Usage above 100 % of the nominal quota is borrowing from the cohort.
"""

from __future__ import annotations

from components.addons.alerts.series import CLUSTER_QUEUE, GPU_RESOURCE, KUEUE_LEADER
from components.addons.dashboards import Dashboard, Panel, Query

_TENANT = f"{{{{{CLUSTER_QUEUE}}}}}"
_GPU = f'resource="{GPU_RESOURCE}", {KUEUE_LEADER}'


def kueue_dashboard() -> Dashboard:
    by_tenant = f"by ({CLUSTER_QUEUE})"
    usage = f"sum {by_tenant} (kueue_cluster_queue_resource_usage{{{_GPU}}})"
    quota = f"sum {by_tenant} (kueue_cluster_queue_nominal_quota{{{_GPU}}})"
    return Dashboard(
        uid="gpuplane-kueue",
        title="gpuplane / Kueue queues",
        description="Pending and admitted workloads and GPU quota use per tenant (one ClusterQueue per tenant).",
        tags=("gpuplane", "kueue"),
        panels=(
            Panel(
                title="Pending workloads per tenant",
                queries=(
                    Query(
                        expr=f'sum {by_tenant} (kueue_pending_workloads{{status="active", {KUEUE_LEADER}}})',
                        legend=f"{_TENANT} waiting",
                    ),
                    Query(
                        expr=f'sum {by_tenant} (kueue_pending_workloads{{status="inadmissible", {KUEUE_LEADER}}})',
                        legend=f"{_TENANT} inadmissible",
                    ),
                ),
            ),
            Panel(
                title="Admitted workloads per tenant",
                queries=(
                    Query(
                        expr=f"sum {by_tenant} (kueue_admitted_active_workloads{{{KUEUE_LEADER}}})",
                        legend=_TENANT,
                    ),
                ),
            ),
            Panel(
                title="GPUs in use per tenant",
                min=0,
                queries=(Query(expr=usage, legend=f"{_TENANT} in use"), Query(expr=quota, legend=f"{_TENANT} quota")),
            ),
            Panel(
                title="GPU quota use per tenant (%)",
                unit="percent",
                min=0,
                description="Above 100% the tenant borrows from the cohort.",
                queries=(Query(expr=f"100 * {usage} / {quota}", legend=_TENANT),),
            ),
            Panel(
                title="Admission wait time per tenant (p90)",
                unit="s",
                min=0,
                queries=(
                    Query(
                        expr=(
                            f"histogram_quantile(0.9, sum by ({CLUSTER_QUEUE}, le) "
                            f"(rate(kueue_admission_wait_time_seconds_bucket{{{KUEUE_LEADER}}}[5m])))"
                        ),
                        legend=_TENANT,
                    ),
                ),
            ),
            Panel(
                title="Workloads admitted per tenant (per hour)",
                min=0,
                queries=(
                    Query(
                        expr=f"sum {by_tenant} (increase(kueue_admitted_workloads_total{{{KUEUE_LEADER}}}[1h]))",
                        legend=_TENANT,
                    ),
                ),
            ),
        ),
    )
