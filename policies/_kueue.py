"""Readers for Kueue objects and for how many ``nvidia.com/gpu`` units a node pool advertises."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ._support import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_MODEL_LABEL,
    GPU_RESOURCE,
    MIG_CONFIG_LABEL,
    NodePool,
    Resource,
    Taint,
    as_int,
    as_list,
    as_map,
    as_str,
    dig,
    helm_charts,
    k8s_kind,
    mig_slices,
    normalize_effect,
    offering,
    str_map,
    taints_of,
)


def is_kueue(resource: Resource, kind: str) -> bool:
    group_version, found = k8s_kind(resource.type)
    return group_version.startswith("kueue.x-k8s.io/") and found == kind


def uses_kueue(resources: Sequence[Resource]) -> bool:
    """Whether the stack installs Kueue or declares any Kueue object."""
    if any(k8s_kind(r.type)[0].startswith("kueue.x-k8s.io/") for r in resources):
        return True
    return any(chart.name == "kueue" for chart in helm_charts(resources))


@dataclass(frozen=True)
class Toleration:
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True)
class Flavor:
    resource: Resource
    name: str
    node_labels: Mapping[str, str]
    node_taints: tuple[Taint, ...]
    tolerations: tuple[Toleration, ...]

    def selects(self, pool: NodePool) -> bool:
        return all(pool.labels.get(k) == v for k, v in self.node_labels.items())

    def handles(self, taint: Taint) -> bool:
        declared = any(t.key == taint.key and t.effect == taint.effect for t in self.node_taints)
        return declared or any(t.tolerates(taint) for t in self.tolerations)


def flavors(resources: Sequence[Resource]) -> list[Flavor]:
    found: list[Flavor] = []
    for resource in resources:
        if not is_kueue(resource, "ResourceFlavor"):
            continue
        spec = as_map(resource.props.get("spec"))
        tolerations = tuple(
            Toleration(
                key=as_str(entry.get("key")) or "",
                operator=as_str(entry.get("operator")) or "Equal",
                value=str(entry.get("value") or ""),
                effect=normalize_effect(entry.get("effect")),
            )
            for entry in (as_map(t) for t in as_list(spec.get("tolerations")))
        )
        found.append(
            Flavor(
                resource=resource,
                name=as_str(dig(resource.props, "metadata", "name")) or resource.name,
                node_labels=str_map(spec.get("nodeLabels")),
                node_taints=taints_of(spec.get("nodeTaints")),
                tolerations=tolerations,
            )
        )
    return found


def _load_document(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # PyYAML ships with the pulumi SDK

        return cast(object, yaml.safe_load(text))  # pyright: ignore[reportUnknownMemberType]
    except Exception:
        return None


def _replicas(document: object) -> int | None:
    sharing = as_map(as_map(document).get("sharing"))
    for mode in ("timeSlicing", "mps"):
        for entry in as_list(dig(sharing, mode, "resources")):
            if as_str(as_map(entry).get("name")) == GPU_RESOURCE:
                return as_int(as_map(entry).get("replicas"))
    return None


def _device_plugin_configs(resources: Sequence[Resource]) -> tuple[dict[str, object], str]:
    """The GPU operator's device-plugin configs (key -> parsed document) and the default key."""
    configs: dict[str, object] = {}
    default = ""
    name = ""
    for chart in helm_charts(resources):
        if chart.name != "gpu-operator":
            continue
        config = as_map(dig(chart.values, "devicePlugin", "config"))
        name = as_str(config.get("name")) or name
        default = as_str(config.get("default")) or default
        for key, text in as_map(config.get("data")).items():
            if isinstance(text, str):
                configs[key] = _load_document(text)
    for resource in resources:
        if k8s_kind(resource.type) != ("core/v1", "ConfigMap"):
            continue
        if name and as_str(dig(resource.props, "metadata", "name")) != name:
            continue
        for key, text in as_map(resource.props.get("data")).items():
            if isinstance(text, str):
                document = _load_document(text)
                if _replicas(document) is not None or name:
                    configs.setdefault(key, document)
    return configs, default


def _gpu_model(pool: NodePool) -> str:
    """The pool's GPU model: gpuplane's node label, else what its instance type carries."""
    labelled = pool.labels.get(GPU_MODEL_LABEL)
    if labelled:
        return labelled
    for instance_type in pool.instance_types:
        known = offering(pool.cloud, instance_type)
        if known is not None:
            return known.gpu
    return ""


def units_per_gpu(pool: NodePool, resources: Sequence[Resource]) -> int:
    """``nvidia.com/gpu`` units one physical GPU of ``pool`` advertises (time-slicing, MPS or MIG)."""
    if pool.units_per_gpu:
        return pool.units_per_gpu
    mig = pool.labels.get(MIG_CONFIG_LABEL, "")
    if mig.startswith("all-"):
        slices = mig_slices(_gpu_model(pool), mig.removeprefix("all-"))
        if slices:
            return slices
    configs, default = _device_plugin_configs(resources)
    key = pool.labels.get(DEVICE_PLUGIN_CONFIG_LABEL) or default
    replicas = _replicas(configs.get(key)) if key else None
    return replicas if replicas and replicas > 0 else 1


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity for countable resources: 4, "4", "4.0" (suffixes are not GPUs)."""
    text = str(value).strip() if value is not None else ""
    try:
        return float(text)
    except ValueError:
        return None
