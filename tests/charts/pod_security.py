"""Pod Security Standards (baseline and restricted, "latest" version) as checks over pod templates.

What: :func:`violations` returns what the API server's PodSecurity admission would refuse for a pod
spec under an enforce level; :func:`enforce_level` reads a namespace's ``pod-security.kubernetes.io/enforce``
label. The checks follow k8s.io/pod-security-admission/policy (check_*.go) for the fields this platform's
charts set; a field the checks do not know is not silently allowed where the standard forbids it.
Why: every pod the platform runs must be admissible in its namespace; a chart default that is not
(hostPath, a missing seccomp profile) would only fail at ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
LEVELS = ("privileged", "baseline", "restricted")


def enforce_level(namespace: Mapping[str, Any] | None) -> str:
    """The namespace's enforce level; a namespace nobody labels is ``privileged`` (the API server's default)."""
    if namespace is None:
        return "privileged"
    labels = cast(Mapping[str, str], cast(Mapping[str, Any], namespace.get("metadata") or {}).get("labels") or {})
    return labels.get("pod-security.kubernetes.io/enforce", "privileged")


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from cast(list[Mapping[str, Any]], spec.get(key) or [])


def _baseline(spec: Mapping[str, Any]) -> Iterator[str]:  # noqa: PLR0912 (one branch per control)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            yield f"{key}: true"
    pod_sc = cast(Mapping[str, Any], spec.get("securityContext") or {})
    for sysctl in cast(list[Mapping[str, Any]], pod_sc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')}"
    if cast(Mapping[str, Any], pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield "pod seccompProfile Unconfined"
    if cast(Mapping[str, Any], pod_sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        yield "pod appArmorProfile Unconfined"
    yield from _selinux(cast(Mapping[str, Any], pod_sc.get("seLinuxOptions") or {}), "pod")
    for volume in cast(list[Mapping[str, Any]], spec.get("volumes") or []):
        if "hostPath" in volume:
            yield f"hostPath volume {volume.get('name')}"
    for container in _containers(spec):
        name = container.get("name")
        sc = cast(Mapping[str, Any], container.get("securityContext") or {})
        if sc.get("privileged"):
            yield f"container {name}: privileged"
        added = set(cast(list[str], cast(Mapping[str, Any], sc.get("capabilities") or {}).get("add") or []))
        if added - BASELINE_CAPABILITIES:
            yield f"container {name}: capabilities {sorted(added - BASELINE_CAPABILITIES)}"
        if sc.get("procMount") not in (None, "Default"):
            yield f"container {name}: procMount {sc.get('procMount')}"
        if cast(Mapping[str, Any], sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            yield f"container {name}: seccompProfile Unconfined"
        if cast(Mapping[str, Any], sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            yield f"container {name}: appArmorProfile Unconfined"
        yield from _selinux(cast(Mapping[str, Any], sc.get("seLinuxOptions") or {}), f"container {name}")
        for port in cast(list[Mapping[str, Any]], container.get("ports") or []):
            if port.get("hostPort"):
                yield f"container {name}: hostPort {port.get('hostPort')}"


def _selinux(options: Mapping[str, Any], where: str) -> Iterator[str]:
    if options.get("type") not in (
        None,
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
        "container_engine_t",
    ):
        yield f"{where}: seLinuxOptions.type {options.get('type')}"
    if options.get("user") or options.get("role"):
        yield f"{where}: seLinuxOptions user/role"


def _restricted(spec: Mapping[str, Any]) -> Iterator[str]:
    for volume in cast(list[Mapping[str, Any]], spec.get("volumes") or []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name')}: {sorted(kinds - RESTRICTED_VOLUMES)}"
    pod_sc = cast(Mapping[str, Any], spec.get("securityContext") or {})
    if pod_sc.get("runAsUser") == 0:
        yield "pod runAsUser 0"
    pod_seccomp = cast(Mapping[str, Any], pod_sc.get("seccompProfile") or {}).get("type")
    for container in _containers(spec):
        name = container.get("name")
        sc = cast(Mapping[str, Any], container.get("securityContext") or {})
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation is not false"
        run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if run_as_non_root is not True:
            yield f"container {name}: runAsNonRoot is not true"
        if sc.get("runAsUser") == 0:
            yield f"container {name}: runAsUser 0"
        seccomp = cast(Mapping[str, Any], sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name}: seccompProfile is not RuntimeDefault/Localhost"
        capabilities = cast(Mapping[str, Any], sc.get("capabilities") or {})
        if "ALL" not in cast(list[str], capabilities.get("drop") or []):
            yield f"container {name}: capabilities do not drop ALL"
        if set(cast(list[str], capabilities.get("add") or [])) - {"NET_BIND_SERVICE"}:
            yield f"container {name}: capabilities add more than NET_BIND_SERVICE"


def violations(spec: Mapping[str, Any], level: str) -> list[str]:
    """What PodSecurity admission at ``level`` refuses in pod ``spec`` (empty: admissible)."""
    if level not in LEVELS:
        return [f"unknown Pod Security level {level!r}"]
    if level == "privileged":
        return []
    found = list(_baseline(spec))
    if level == "restricted":
        found += list(_restricted(spec))
    return found
