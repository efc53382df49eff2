"""The output contract every cluster component honours, whatever the cloud.

What: a ``Protocol`` (:class:`GpuCluster`) that ``EksGpuCluster``, ``GkeGpuCluster``,
``LkeGpuCluster`` and ``ExistingCluster`` satisfy (pyright checks it in ``gpu_platform.py``), and
:class:`GpuPoolScheduling`, the plain-value description of how to reach one GPU pool's nodes.

Why: add-ons (GPU operator, Kueue flavors, DCGM, dashboards) must not care which cloud they run on.
They get the Kubernetes provider, the native cluster resource for ``deleted_with``, and each GPU
pool's labels and taints as plain values known at construction time, so a Kueue ResourceFlavor and
the node pool it describes come from the same declaration and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_kubernetes as k8s

from components.spec import GpuPool, Taint


@dataclass(frozen=True, kw_only=True)
class GpuPoolScheduling:
    """How workloads reach one GPU pool: node labels to select and taints to tolerate."""

    name: str
    gpu: str
    gpus_per_node: int
    instance_type: str
    labels: Mapping[str, str]
    taints: Sequence[Taint]

    @staticmethod
    def of(pool: GpuPool, instance_type: str) -> GpuPoolScheduling:
        return GpuPoolScheduling(
            name=pool.name,
            gpu=pool.gpu,
            gpus_per_node=pool.gpus_per_node,
            instance_type=instance_type,
            labels=dict(pool.node_labels),
            taints=tuple(pool.node_taints),
        )

    def tolerations(self) -> list[dict[str, str]]:
        return [t.toleration() for t in self.taints]


class GpuCluster(Protocol):
    """What a cluster component gives the platform built on it."""

    @property
    def cluster_name(self) -> pulumi.Output[str]: ...

    @property
    def kubeconfig(self) -> pulumi.Output[str]:
        """The kubeconfig, always a Pulumi secret."""
        ...

    @property
    def provider(self) -> k8s.Provider: ...

    @property
    def native(self) -> pulumi.Resource | None:
        """The cloud's cluster resource (add-ons are ``deleted_with`` it); ``None`` for an adopted
        cluster, whose add-ons must really be deleted when the stack is destroyed."""
        ...

    @property
    def gpu_pools(self) -> Sequence[GpuPoolScheduling]: ...
