"""The series and labels gpuplane's dashboards and alerts select on, in one place.

DCGM exporter (GPU operator on EKS/LKE/existing, the standalone chart on GKE):
- ``Hostname`` is the node, ``gpu``/``UUID``/``modelName`` identify the GPU.
- With its Kubernetes mapping the exporter labels a GPU's series with the ``pod``, ``namespace`` and
  ``container`` holding it. Both charts' ServiceMonitors scrape with ``honorLabels: false`` (their
  default, :data:`DCGM_HONOR_LABELS`), so Prometheus keeps its own target labels (the exporter pod)
  and renames the exporter's to ``exported_pod``/``exported_namespace``/``exported_container``. A GPU
  no pod holds has no ``exported_pod`` label at all, which is how "allocated" is told apart.
- ``DCGM_FI_DEV_XID_ERRORS`` carries ``err_code``/``err_msg`` labels derived from its value (the last
  XID's number and NVIDIA's text for it), so every new XID is a new series: compare it over time only
  after aggregating by :data:`GPU_ID` (``components.addons.alerts.gpu``).
- ``DCGM_FI_DEV_GPU_UTIL`` is not reported for MIG instances (DCGM gives no per-instance engine
  utilisation there): the idle-GPU alert and the utilisation panels cover whole GPUs only.

Kueue (ClusterQueue per tenant, named after the tenant):
- ``cluster_queue`` is the tenant's ClusterQueue; ``replica_role`` tells leader/follower/standalone
  replicas apart. Followers are excluded so an HA controller is not counted twice.
- Quota series (``kueue_cluster_queue_resource_usage``/``_nominal_quota``) exist only with the Kueue
  configuration ``metrics.enableClusterQueueResources: true`` (set by the Kueue add-on).
"""

from __future__ import annotations

DCGM_HONOR_LABELS = False
"""What the DCGM ServiceMonitor's ``honorLabels`` must be for the label names below to hold."""
NODE = "Hostname"
POD = "exported_pod"
NAMESPACE = "exported_namespace"
GPU_ID = ("Hostname", "gpu", "UUID", "modelName")
ALLOCATED = f'{POD}!=""'

GPU_RESOURCE = "nvidia.com/gpu"
CLUSTER_QUEUE = "cluster_queue"
KUEUE_LEADER = 'replica_role!="follower"'
