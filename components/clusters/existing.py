"""Adopt a Kubernetes cluster gpuplane does not own, as a :class:`GpuCluster`.

What it builds: exactly one child, ``{name}-provider``, a ``pulumi_kubernetes.Provider`` configured
from the kubeconfig the stack passes in, reduced to one context (``spec.kubeconfig_context``, or the
file's only context) with its cluster and user (:func:`components.kubeconfig.minify`) and wrapped in
``Output.secret`` whatever its origin. No cloud resource is created, read or imported: the cluster, its
nodes and their GPU drivers are someone else's.

Why:

- ``native`` is ``None``. Add-ons of a managed cluster are ``deleted_with`` the cluster because
  deleting the cluster deletes them anyway; an adopted cluster outlives the stack, so its add-ons
  (GPU operator, Kueue, gateway, ...) must really be deleted on ``pulumi destroy``. Nothing may be
  ``deleted_with`` a cluster we don't own.
- ``gpu_pools`` comes from the pools declared in the spec, with labels and taints exactly as
  declared (``pool.node_labels`` / ``pool.node_taints``): the nodes already exist, so gpuplane cannot
  choose their taints. A spec may declare ``taints: []`` for untainted GPU nodes or list the taints
  the nodes really carry; Kueue flavors and GPU daemonset tolerations follow the declaration, which
  is the usual source of "GPUs invisible, pods Pending" when it is wrong (nebari-dev/nebari#3074,
  awslabs/ai-on-eks#237). The instance type is reported as ``"existing"``.
- ``cluster_name`` is ``spec.cluster_name``, not read from the cluster.

- One context only: a whole ``~/.kube/config`` would put every cluster's credentials into the provider's
  state and let the laptop's ``current-context`` decide which cluster gets the platform. A kubeconfig with
  several contexts is refused unless ``kubeconfigContext`` names one (the stack settings check it before
  anything is registered), and only that context reaches the provider. Certificates or keys read from
  files are refused too: they exist only where the file was exported (``kubectl config view --minify
  --flatten --context <name>`` inlines them). No message ever contains the kubeconfig.

Gotchas: a provider whose kubeconfig is unknown at preview skips the cluster
(pulumi/pulumi-kubernetes#3027) -- for an adopted cluster the kubeconfig is normally a known config
secret, so previews are real. Custom resources whose CRDs are installed in the same ``up`` can
still fail preview on an existing cluster (pulumi/pulumi-kubernetes#3035, #3247).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.clusters.contract import GpuPoolScheduling
from components.kubeconfig import kubeconfig_problems, minify
from components.spec import PlatformSpec

EXISTING_INSTANCE_TYPE = "existing"


@dataclass(frozen=True, kw_only=True)
class ExistingClusterArgs:
    """Arguments of :class:`ExistingCluster`: a spec whose ``cloud`` is ``existing`` and the
    cluster's kubeconfig (a secret config value, usually)."""

    spec: PlatformSpec
    kubeconfig: pulumi.Input[str]

    def __post_init__(self) -> None:
        if self.spec.cloud != "existing":
            raise ValueError(f"spec.cloud: ExistingCluster adopts an existing cluster; got cloud {self.spec.cloud!r}")
        if isinstance(self.kubeconfig, str):
            if not self.kubeconfig.strip():
                raise ValueError("kubeconfig: an existing cluster needs a kubeconfig; got an empty string")
            problems = kubeconfig_problems(self.kubeconfig, self.spec.kubeconfig_context)
            if problems:
                raise ValueError("kubeconfig: " + "; ".join(problems))


class ExistingCluster(pulumi.ComponentResource):
    """A Kubernetes provider for a cluster gpuplane adopts, plus the spec's declared GPU pools."""

    cluster_name: pulumi.Output[str]
    """``spec.cluster_name``."""
    kubeconfig: pulumi.Output[str]
    """The kubeconfig passed in, as a Pulumi secret."""
    provider: k8s.Provider
    """Kubernetes provider for the add-ons."""
    native: pulumi.Resource | None
    """Always ``None``: no add-on is ``deleted_with`` a cluster gpuplane does not own."""
    gpu_pools: Sequence[GpuPoolScheduling]
    """Labels/taints of each GPU pool, as declared in the spec."""

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:clusters:ExistingCluster", name, None, opts)
        spec = args.spec

        self.native = None
        self.cluster_name = pulumi.Output.from_input(spec.cluster_name)
        context = spec.kubeconfig_context
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.from_input(args.kubeconfig).apply(lambda text: minify(text, context))
        )
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        self.gpu_pools = tuple(GpuPoolScheduling.of(p, EXISTING_INSTANCE_TYPE) for p in spec.gpu_pools)

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "gpuPools": [p.name for p in self.gpu_pools],
            }
        )
