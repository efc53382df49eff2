"""GPU alerts from DCGM exporter metrics: allocated-but-idle GPUs, new XID errors, high temperature.

- ``GpuAllocatedButIdle``: a pod holds a GPU (the series carries ``exported_pod``) and the GPU's
  utilisation has been 0 % for :data:`IDLE_MINUTES` minutes: money spent on nothing, or a hung job.
- ``GpuXidHardwareError`` (critical): the GPU's XID changed to one of :data:`HARDWARE_XIDS`, the
  hardware/driver faults that need the node drained and the GPU reset or replaced (48 double-bit ECC,
  63/64 row-remapping event/failure, 74 NVLink, 79 fell off the bus, 92 high single-bit ECC rate,
  94/95 contained/uncontained ECC, 119/120 GSP timeout/error).
- ``GpuXidApplicationError`` (warning): the XID changed to any other non-zero value, mostly faults
  of the application on the GPU (13 graphics engine exception, 31 MMU fault, 43 stopped channel,
  45 preemptive cleanup), which need its owner, not a GPU reset; XIDs not on the hardware list land here
  too, so a new hardware XID is never silent, only under-rated.
- ``GpuTemperatureHigh``: above :data:`TEMPERATURE_CELSIUS` °C for 5 minutes, i.e. below the
  slowdown temperatures of the data-centre GPUs in the catalog but high enough to mean a cooling
  problem.

XID gotchas (why the XID rules are built as they are):
- ``DCGM_FI_DEV_XID_ERRORS`` is not a count: its value is the number of the LAST XID (0 when none),
  and it keeps that value until the driver or the exporter restarts (NVIDIA/dcgm-exporter#500,
  NVIDIA/DCGM#277, NVIDIA/DCGM#112). Alerting on ``> 0`` fires forever after one XID, so both rules
  fire on a *change* of the value to a non-zero XID and stay active for :data:`XID_WINDOW_MINUTES`
  minutes after it, then resolve although the gauge still shows the XID. The resolution is not a
  repair; the descriptions say so. Hence no ``for``: the window is the duration, and a ``for`` would
  only delay and shorten it.
- The exporter labels the series with ``err_code``/``err_msg`` derived from the value, so each XID
  is a new series (and ``exported_pod`` changes with the pod holding the GPU): the value is taken
  ``max by`` the GPU's identity (:data:`~components.addons.alerts.series.GPU_ID`) before it is
  compared over time, and hardware XIDs are selected by value, not by label.
- A change is the value at one :data:`XID_STEP` differing from the step before, and both must
  exist: a GPU whose first sample is already non-zero (a gauge stuck since before Prometheus or the
  exporter saw it) does not alert, nor does a reset to 0 (exporter restart). The same XID twice in a
  row is one value and cannot be seen at all, nor can an XID replaced before the next scrape (e.g.
  79 followed within seconds by 45); the exporter's ``DCGM_EXP_XID_ERRORS_COUNT`` would, but it is
  not among its default counters.
- The last new XID in the window is the alert's value, so a hardware XID followed by an application
  one (48 then 45 cleanup) keeps the critical alert for the whole window and adds a warning.

All rules select only counters the DCGM exporter collects with its default counters file (tested).
"""

from __future__ import annotations

from components.addons.alerts import AlertRule, RuleGroup
from components.addons.alerts.series import ALLOCATED, GPU_ID, NAMESPACE, NODE, POD

IDLE_MINUTES = 30
TEMPERATURE_CELSIUS = 85
HARDWARE_XIDS = (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)
"""XIDs that mean a hardware or driver fault: critical. Every other non-zero XID is a warning."""
XID_WINDOW_MINUTES = 10
"""How long an XID alert stays active after the XID appeared."""
XID_STEP = "15s"
"""Resolution at which XID changes are looked for: the DCGM ServiceMonitors' scrape interval (both
charts default to 15s), so a value held for one scrape is seen."""

_GPU_BY = ", ".join(GPU_ID)
_XID = "DCGM_FI_DEV_XID_ERRORS"
_XID_HARDWARE = " or ".join(f"{_XID} == {xid}" for xid in HARDWARE_XIDS)
_XID_OTHER = f"{_XID} > 0" + "".join(f" != {xid}" for xid in HARDWARE_XIDS)


def _new_xid(selected: str) -> str:
    """The last XID in ``selected`` a GPU changed to during the window, per GPU (see the docstring)."""
    now = f"max by ({_GPU_BY}) ({selected})"
    before = f"max by ({_GPU_BY}) ({_XID} offset {XID_STEP})"
    return f"last_over_time(({now} != {before})[{XID_WINDOW_MINUTES}m:{XID_STEP}])"


def _xid_description(kind: str, action: str) -> str:
    return (
        f"GPU {{{{ $labels.gpu }}}} ({{{{ $labels.modelName }}}}) on {{{{ $labels.{NODE} }}}} reported "
        f"XID {{{{ $value }}}}, {kind}. {action} DCGM keeps showing the last XID until the driver or exporter "
        f"restarts, so this alert resolves {XID_WINDOW_MINUTES} minutes after the XID, not when it is fixed."
    )


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
                alert="GpuXidHardwareError",
                expr=_new_xid(_XID_HARDWARE),
                for_="0",
                severity="critical",
                summary="A GPU reported hardware/driver XID {{ $value }}",
                description=_xid_description(
                    "a hardware or driver fault",
                    "Drain the node and reset the GPU; replace it if the XID comes back.",
                ),
            ),
            AlertRule(
                alert="GpuXidApplicationError",
                expr=_new_xid(_XID_OTHER),
                for_="0",
                severity="warning",
                summary="A GPU reported XID {{ $value }}, most likely an application fault",
                description=_xid_description(
                    "not one of the hardware XIDs (usually an application fault)",
                    "Check the workload that held the GPU; look the XID up in NVIDIA's XID catalog if it is unfamiliar.",
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
