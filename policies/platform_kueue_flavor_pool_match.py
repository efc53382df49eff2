"""platform-kueue-flavor-pool-match: Kueue ResourceFlavors and node pools describe the same nodes.

Drift between pool labels/taints and flavors is the most reported Kueue failure: workloads stay
Pending with "resource ... unavailable in ClusterQueue" (redhat-appstudio/infra-deployments#14074).
When the stack uses Kueue, every GPU pool needs a flavor whose ``nodeLabels`` select it and which
tolerates (or declares in ``nodeTaints``) the pool's taints, and every flavor must select at least
one pool. "Select" means every ``nodeLabels`` entry is a label of the pool with the same value (the
pool may carry more, e.g. ``nvidia.com/device-plugin.config``). On an adopted cluster (no node pool
resources in the stack) the pools are invisible and there is nothing to compare.

Reads:
    kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor: spec.nodeLabels, spec.nodeTaints, spec.tolerations
    aws:eks/nodeGroup:NodeGroup: instanceTypes, labels, taints
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._kueue import flavors, uses_kueue
from ._support import Finding, Meta, Resource, all_node_pools, fmt_labels, stack_policy

META = Meta(
    name="platform-kueue-flavor-pool-match",
    description="Every GPU pool needs a Kueue ResourceFlavor with its labels and tolerations, and every flavor a pool.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "kueue", "gpu", "scheduling", "correctness"),
    remediation=(
        "Derive flavors from the cluster's gpu_pools (labels and taints declared once): nodeLabels = the "
        "pool's labels, tolerations = the pool's taints as tolerations."
    ),
    rationale="A flavor that does not match its pool admits workloads that can never schedule.",
)


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    if not uses_kueue(resources):
        return
    pools = sorted(all_node_pools(resources), key=lambda p: p.title)
    declared = sorted(flavors(resources), key=lambda f: f.name)
    for pool in pools:
        if not pool.gpu:
            continue
        matching = [f for f in declared if f.node_labels and f.selects(pool)]
        if not matching:
            yield Finding(
                f"{pool.title} (labels {fmt_labels(pool.labels)}) has no Kueue ResourceFlavor whose nodeLabels "
                "select it; no ClusterQueue can admit workloads onto its GPUs",
                pool.urn,
            )
        for flavor in matching:
            for taint in pool.taints:
                if not flavor.handles(taint):
                    yield Finding(
                        f"ResourceFlavor {flavor.name} selects {pool.title} but does not tolerate its taint "
                        f"{taint.key}={taint.value}:{taint.effect}; admitted pods would stay Pending",
                        flavor.resource.urn,
                    )
    if not pools:
        return
    for flavor in declared:
        if not any(flavor.selects(pool) for pool in pools):
            yield Finding(
                f"ResourceFlavor {flavor.name} nodeLabels {fmt_labels(flavor.node_labels)} match no node pool of "
                "this stack; workloads admitted to it stay Pending",
                flavor.resource.urn,
            )


POLICY = stack_policy(META, check)
