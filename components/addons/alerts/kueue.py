"""Kueue alert: workloads waiting in a tenant's ClusterQueue for too long.

``KueueWorkloadsPendingTooLong`` fires when a ClusterQueue has had pending workloads (active or
inadmissible) without a break for ``spec.observability.pendingAlertMinutes``. Kueue 0.19.2 exports
no per-workload age, only the number pending per queue (``kueue_pending_workloads``), so the alert
reads "this queue has had someone waiting for N minutes": a queue stuck on quota, a flavor that
matches no node, or a workload asking for more than its tenant may ever borrow.
"""

from __future__ import annotations

from components.addons.alerts import AlertRule, RuleGroup
from components.addons.alerts.series import CLUSTER_QUEUE, KUEUE_LEADER


def kueue_rules(pending_minutes: int) -> RuleGroup:
    if pending_minutes < 1:
        raise ValueError(f"pending_minutes: {pending_minutes} must be at least 1")
    return RuleGroup(
        name="gpuplane.kueue",
        rules=(
            AlertRule(
                alert="KueueWorkloadsPendingTooLong",
                expr=f"sum by ({CLUSTER_QUEUE}) (kueue_pending_workloads{{{KUEUE_LEADER}}}) > 0",
                for_=f"{pending_minutes}m",
                severity="warning",
                summary="Workloads have been waiting in a Kueue ClusterQueue for too long",
                description=(
                    f"ClusterQueue {{{{ $labels.{CLUSTER_QUEUE} }}}} has had pending workloads for "
                    f"{pending_minutes} minutes ({{{{ $value }}}} now). Check its quota, borrowing and flavors."
                ),
            ),
        ),
    )
