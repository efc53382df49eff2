"""Pod specs wherever a resource or Helm values carry them, and the node-takeover findings in them.

A pod spec is found by shape, not by kind: any mapping with a ``containers`` (or ``initContainers``/
``ephemeralContainers``) list of container mappings, at any depth of a Kubernetes resource's inputs.
That covers Pod, every workload kind, ReplicationController, PodTemplate (``template`` at the top),
CronJob, JobSet, LeaderWorkerSet, every ``*Patch`` type (partial specs) and any custom resource that
embeds a pod template (Ray, Kubeflow, Argo Workflows...), without a list of kinds to fall behind.

Helm values are searched the same way (``extraObjects``/``extraManifests`` entries, sidecars) and,
because charts spell things their own way, also by key at any depth: ``privileged``, ``capabilities``,
``hostNetwork``/``hostPID``/``hostIPC`` (``true`` or ``{enabled: true}``), ``hostPath`` (a path or
``{path: ...}``) under any key spelling (``securityContext``, ``security_context``, ``securityContexts``
are all just parents). Strings holding YAML or JSON manifests (``extraManifests: |``) are parsed and
searched too.

Node takeover means: ``privileged: true``, a host namespace, a ``hostPath`` volume, a dangerous
capability (:data:`DANGEROUS_CAPABILITIES`), ``procMount: Unmasked`` or a Windows ``hostProcess``
container. The definitions are copies of ``components/guardrails.py`` (the pack is self-contained;
``tests/controlplane/test_guardrails_sync.py`` keeps them equal).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ._support import as_bool, as_list, as_map, as_str, dig, str_list, str_map

HOST_NAMESPACES: Mapping[str, str] = {
    "hostPID": "its containers see and can signal every process on the node",
    "hostNetwork": "it shares the node's network stack",
    "hostIPC": "it shares the node's IPC namespace",
}
"""Pod fields that share a node namespace, with what that gives the pod."""

DANGEROUS_CAPABILITIES: tuple[str, ...] = (
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "BPF",
    "PERFMON",
    "NET_ADMIN",
    "DAC_READ_SEARCH",
    "DAC_OVERRIDE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
)
"""``capabilities.add`` entries that give a container its node (compared upper-case, without ``CAP_``):
load kernel modules, trace other processes, raw I/O, eBPF, reconfigure the node's network, read or
write any file regardless of permissions, change the LSM policy."""

_POD_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True, eq=False)
class PodSpec:
    path: str
    spec: Mapping[str, Any]
    labels: Mapping[str, str]


def _is_pod_spec(value: Mapping[str, Any]) -> bool:
    for key in _POD_LISTS:
        items = as_list(value.get(key))
        if items and all(isinstance(i, Mapping) for i in items) and not isinstance(value.get(key), Mapping):
            return True
    return False


def find_pod_specs(value: object, path: str, labels: Mapping[str, str] | None = None) -> Iterator[PodSpec]:
    """Every pod spec at any depth of ``value`` (``path`` names it in messages)."""
    if isinstance(value, Mapping):
        mapping = cast(Mapping[str, Any], value)
        if _is_pod_spec(mapping):
            yield PodSpec(path, mapping, labels or {})
            return
        own = str_map(dig(mapping, "metadata", "labels"))
        for key, item in mapping.items():
            if key == "metadata":
                continue
            yield from find_pod_specs(item, f"{path}.{key}" if path else key, own or labels)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(cast(Sequence[object], value)):
            yield from find_pod_specs(item, f"{path}[{index}]", labels)


def _dangerous(capabilities: object) -> list[str]:
    return [c for c in str_list(capabilities) if c.strip().upper().removeprefix("CAP_") in DANGEROUS_CAPABILITIES]


@dataclass(frozen=True)
class Finding:
    need: str
    """What is granted: ``privileged``, ``hostPID``, ``hostPath:/path``, ``capability:SYS_ADMIN``..."""
    text: str


def _security_findings(security: Mapping[str, Any], where: str) -> Iterator[Finding]:
    if as_bool(security.get("privileged")) is True:
        yield Finding("privileged", f"{where} is privileged")
    for capability in _dangerous(dig(security, "capabilities", "add")):
        yield Finding(
            f"capability:{capability.strip().upper().removeprefix('CAP_')}",
            f"{where} adds capability {capability} (securityContext.capabilities.add)",
        )
    if as_str(security.get("procMount")) == "Unmasked":
        yield Finding("procMount", f"{where} mounts /proc unmasked (securityContext.procMount)")
    if as_bool(dig(security, "windowsOptions", "hostProcess")) is True:
        yield Finding("hostProcess", f"{where} is a Windows hostProcess container")


def pod_findings(pod: PodSpec) -> Iterator[Finding]:
    """Node-takeover grants in one pod spec."""
    spec = pod.spec
    for field_name, meaning in HOST_NAMESPACES.items():
        if as_bool(spec.get(field_name)) is True:
            yield Finding(field_name, f"{pod.path} sets {field_name}: true ({meaning})")
    for index, volume in enumerate(as_map(v) for v in as_list(spec.get("volumes"))):
        if "hostPath" in volume:
            host: object = volume.get("hostPath")
            target = as_str(as_map(host).get("path")) if as_map(host) else as_str(host)
            name = as_str(volume.get("name")) or f"volumes[{index}]"
            if target is None:
                yield Finding("hostPath:?", f"{pod.path} mounts a hostPath volume {name} whose path cannot be read")
            else:
                yield Finding(f"hostPath:{target}", f"{pod.path} mounts the node's {target} (hostPath volume {name})")
    yield from _security_findings(as_map(spec.get("securityContext")), f"{pod.path} pod securityContext")
    for key in _POD_LISTS:
        for index, item in enumerate(as_list(spec.get(key))):
            container = as_map(item)
            name = as_str(container.get("name")) or f"{key}[{index}]"
            yield from _security_findings(as_map(container.get("securityContext")), f"{pod.path} container {name}")


# ---------------------------------------------------------------------------------------------------
# Helm values


def _norm(key: str) -> str:
    return "".join(ch for ch in key.lower() if ch.isalnum())


_HOST_KEYS = {_norm(k): k for k in HOST_NAMESPACES}


def _enabled(value: object) -> bool:
    if as_bool(value) is True:
        return True
    return isinstance(value, Mapping) and as_bool(cast(Mapping[str, object], value).get("enabled")) is True


def embedded_documents(text: str) -> list[object]:
    """The YAML/JSON documents a string holds when it looks like a manifest or values, else nothing."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return [json.loads(stripped)]
        except ValueError:
            return []
    if "\n" not in stripped or ":" not in stripped:
        return []
    import yaml  # the pack's dependency via pulumi; imported only when a value needs it

    try:
        return [d for d in yaml.safe_load_all(stripped) if isinstance(d, Mapping | list)]
    except yaml.YAMLError:
        return []


def values_findings(value: object, path: str) -> Iterator[Finding]:
    """Node-takeover grants anywhere in Helm values (by key, by pod-spec shape, inside YAML strings)."""
    if isinstance(value, str):
        for number, document in enumerate(embedded_documents(value)):
            yield from values_findings(document, f"{path}<document {number}>")
        return
    if isinstance(value, Mapping):
        mapping = cast(Mapping[str, Any], value)
        if _is_pod_spec(mapping):
            yield from pod_findings(PodSpec(path, mapping, {}))
            return
        for key, value_item in mapping.items():
            item: object = value_item
            child = f"{path}.{key}"
            norm = _norm(key)
            if norm == "privileged" and as_bool(item) is True:
                yield Finding("privileged", f"sets {child} to true")
            elif norm in _HOST_KEYS and _enabled(item):
                yield Finding(_HOST_KEYS[norm], f"sets {child} ({HOST_NAMESPACES[_HOST_KEYS[norm]]})")
            elif norm == "capabilities":
                for capability in _dangerous(as_map(item).get("add")):
                    yield Finding(
                        f"capability:{capability.strip().upper().removeprefix('CAP_')}",
                        f"adds capability {capability} in {child}.add",
                    )
            elif norm == "hostpath" and item:
                entry: object = item
                target = as_str(as_map(entry).get("path")) if as_map(entry) else as_str(entry)
                yield Finding(
                    f"hostPath:{target or '?'}", f"mounts the node's {target or '(unreadable path)'} ({child})"
                )
            yield from values_findings(item, child)
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for index, item in enumerate(cast(Sequence[object], value)):
            yield from values_findings(item, f"{path}[{index}]")
