"""gpu-stack-max-gpus: the stack's GPU pools cannot scale past a configured number of GPUs.

Counts every GPU pool at its maximum size (GPUs per node from the catalog, or the accelerators a GKE
pool attaches; a Karpenter ``NodePool``'s ``spec.limits["nvidia.com/gpu"]``). A pool whose maximum
cannot be counted is reported too: an unbounded pool defeats the cap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import Finding, Meta, Resource, all_node_pools, stack_policy

META = Meta(
    name="gpu-stack-max-gpus",
    description="The GPU pools of one stack must not be able to scale past the configured number of GPUs.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("gpu", "capacity", "cost", "governance"),
    remediation="Lower maxNodes of the GPU pools or raise maxGpus in the policy config after approval.",
    rationale="A runaway autoscaler or a typo in maxNodes can buy hundreds of GPUs in minutes.",
    config={
        "maxGpus": {
            "type": "integer",
            "minimum": 0,
            "default": 64,
            "description": "The most GPUs all GPU pools of the stack may reach together.",
        }
    },
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    cap = int(config["maxGpus"])
    total = 0
    parts: list[str] = []
    for pool in sorted(all_node_pools(resources), key=lambda p: p.title):
        if not pool.gpu:
            continue
        if pool.max_gpus is None:
            reason = (
                "has no spec.limits for nvidia.com/gpu"
                if pool.max_nodes is None and not pool.instance_types
                else "has an unknown maximum size or GPU count"
            )
            yield Finding(f"{pool.title} {reason}, so the stack's GPU count is unbounded", pool.urn)
            continue
        total += pool.max_gpus
        parts.append(f"{pool.title}: {pool.max_gpus}")
    if total > cap:
        yield Finding(f"the GPU pools can scale to {total} GPUs ({'; '.join(parts)}), above the cap of {cap}")


POLICY = stack_policy(META, check)
