"""GPU alerts from DCGM exporter metrics: allocated-but-idle GPUs, XID errors, high temperature.

- ``GpuAllocatedButIdle``: a pod holds a GPU (the series carries ``exported_pod``) and the GPU's
  utilisation has been 0 % for :data:`IDLE_MINUTES` minutes: money spent on nothing, or a hung job.
- ``GpuXidError``: the driver reported an XID error (``DCGM_FI_DEV_XID_ERRORS`` is the number of the
  last XID, 0 when none). Fires while the exporter reports it; most XIDs (48 double-bit ECC, 79 fell
  off the bus, 94/95 contained/uncontained ECC) need the node drained and the GPU reset.
- ``GpuTemperatureHigh``: above :data:`TEMPERATURE_CELSIUS` °C for 5 minutes, i.e. below the
  slowdown temperatures of the data-centre GPUs in the catalog but high enough to mean a cooling
  problem.

All three select only counters the DCGM exporter collects with its default counters file (tested).
"""

from __future__ import annotations

from components.addons.alerts import AlertRule, RuleGroup
from components.addons.alerts.series import ALLOCATED, GPU_ID, NAMESPACE, NODE, POD

IDLE_MINUTES = 30
TEMPERATURE_CELSIUS = 85

_GPU_BY = ", ".join(GPU_ID)


def gpu_rules() -> RuleGroup:
    return RuleGroup(
        name="gpuplane.gpu",
        rules=(
            AlertRule(
                alert="GpuAllocatedButIdle",
                expr=(f"max by ({_GPU_BY}, {NAMESPACE}, {POD}) (DCGM_FI_DEV_GPU_UTIL{{{ALLOCATED}}}) == 0"),
                for_=f"{IDLE_MINUTES}m",
                severity="warning",
                summary="A GPU is allocated to a pod but idle",
                description=(
                    f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.{NODE} }}}} is held by pod "
                    f"{{{{ $labels.{NAMESPACE} }}}}/{{{{ $labels.{POD} }}}} and has been 0% busy for "
                    f"{IDLE_MINUTES} minutes."
                ),
            ),
            AlertRule(
                alert="GpuXidError",
                expr=f"max by ({_GPU_BY}) (DCGM_FI_DEV_XID_ERRORS) > 0",
                for_="0",
                severity="critical",
                summary="A GPU reported an XID error",
                description=(
                    f"GPU {{{{ $labels.gpu }}}} ({{{{ $labels.modelName }}}}) on {{{{ $labels.{NODE} }}}} "
                    "reported XID {{ $value }}. Check the driver log; drain the node if the XID needs a GPU reset."
                ),
            ),
            AlertRule(
                alert="GpuTemperatureHigh",
                expr=f"max by ({_GPU_BY}) (DCGM_FI_DEV_GPU_TEMP) > {TEMPERATURE_CELSIUS}",
                for_="5m",
                severity="warning",
                summary="A GPU is running hot",
                description=(
                    f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.{NODE} }}}} has been above "
                    f"{TEMPERATURE_CELSIUS}°C for 5 minutes ({{{{ $value }}}}°C)."
                ),
            ),
        ),
    )
