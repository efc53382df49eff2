"""The GPU dashboard: utilisation and memory per node and per pod, temperature, power and XID errors.

All queries read DCGM exporter counters that its default counters file collects (tested); node is
the exporter's ``Hostname`` label, pod/namespace the ``exported_*`` labels of the pod holding a GPU
(see ``components.addons.alerts.series``). DCGM reports frame-buffer memory in MiB (``mbytes``).
"""

from __future__ import annotations

from components.addons.alerts.series import ALLOCATED, NAMESPACE, NODE, POD
from components.addons.dashboards import Dashboard, Panel, Query

_POD_LEGEND = f"{{{{{NAMESPACE}}}}}/{{{{{POD}}}}}"
_NODE_LEGEND = f"{{{{{NODE}}}}}"


def gpu_dashboard() -> Dashboard:
    by_node = f"by ({NODE})"
    by_pod = f"by ({NAMESPACE}, {POD})"
    return Dashboard(
        uid="gpuplane-gpus",
        title="gpuplane / GPUs",
        description="GPU utilisation and memory per node and per pod (DCGM exporter).",
        tags=("gpuplane", "gpu", "dcgm"),
        panels=(
            Panel(
                title="GPU utilisation per node",
                unit="percent",
                min=0,
                max=100,
                queries=(Query(expr=f"avg {by_node} (DCGM_FI_DEV_GPU_UTIL)", legend=_NODE_LEGEND),),
            ),
            Panel(
                title="GPU utilisation per pod",
                unit="percent",
                min=0,
                max=100,
                queries=(Query(expr=f"avg {by_pod} (DCGM_FI_DEV_GPU_UTIL{{{ALLOCATED}}})", legend=_POD_LEGEND),),
            ),
            Panel(
                title="GPU memory used per node",
                unit="mbytes",
                min=0,
                queries=(Query(expr=f"sum {by_node} (DCGM_FI_DEV_FB_USED)", legend=_NODE_LEGEND),),
            ),
            Panel(
                title="GPU memory used per pod",
                unit="mbytes",
                min=0,
                queries=(Query(expr=f"sum {by_pod} (DCGM_FI_DEV_FB_USED{{{ALLOCATED}}})", legend=_POD_LEGEND),),
            ),
            Panel(
                title="GPU memory use per node (%)",
                unit="percent",
                min=0,
                max=100,
                queries=(
                    Query(
                        expr=(
                            f"100 * sum {by_node} (DCGM_FI_DEV_FB_USED) / "
                            f"(sum {by_node} (DCGM_FI_DEV_FB_USED) + sum {by_node} (DCGM_FI_DEV_FB_FREE))"
                        ),
                        legend=_NODE_LEGEND,
                    ),
                ),
            ),
            Panel(
                title="GPUs allocated but idle",
                kind="stat",
                description="GPUs held by a pod whose utilisation is 0% right now.",
                queries=(
                    Query(
                        expr=(
                            f"count(max by ({NODE}, gpu, {NAMESPACE}, {POD}) "
                            f"(DCGM_FI_DEV_GPU_UTIL{{{ALLOCATED}}}) == 0) or vector(0)"
                        ),
                        legend="idle GPUs",
                    ),
                ),
            ),
            Panel(
                title="GPU temperature",
                unit="celsius",
                queries=(
                    Query(
                        expr=f"max by ({NODE}, gpu) (DCGM_FI_DEV_GPU_TEMP)", legend=f"{_NODE_LEGEND} GPU {{{{gpu}}}}"
                    ),
                ),
            ),
            Panel(
                title="GPU power draw per node",
                unit="watt",
                min=0,
                queries=(Query(expr=f"sum {by_node} (DCGM_FI_DEV_POWER_USAGE)", legend=_NODE_LEGEND),),
            ),
            Panel(
                title="Last XID error per GPU",
                description="The number of the last XID the driver reported; 0 means none.",
                queries=(
                    Query(
                        expr=f"max by ({NODE}, gpu) (DCGM_FI_DEV_XID_ERRORS)", legend=f"{_NODE_LEGEND} GPU {{{{gpu}}}}"
                    ),
                ),
            ),
        ),
    )
