"""``gpuplane render``: write every Kubernetes object a stack creates directly, for review and validation.

Output layout (``--out DIR``):
- ``<kind>-<namespace>-<name>.yaml``, one file per object the stack registers itself (Namespaces,
  custom resources such as Kueue ClusterQueues, ConfigMaps holding dashboards ...);
- ``charts.json``: every Helm release as ``{"release", "namespace", "chart", "repository", "version"}``;
- ``values/<release>.yaml``: the values each release gets.
Secret values (Pulumi secrets) are written as ``[secret]``: a rendered tree can be shared in a pull
request without leaking a credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from gpuplane.recording import SECRET_SIG, SIG_KEY, RecordedResource, Recording

REDACTED = "[secret]"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_NOT_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:", "kubernetes:yaml/")


def redact(value: Any) -> Any:
    """The wire value with every secret leaf replaced by ``[secret]`` (a secret map keeps its keys, so
    a rendered Secret stays a valid object)."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if mapping.get(SIG_KEY) == SECRET_SIG:
            return _mask(mapping.get("value"))
        return {k: redact(v) for k, v in mapping.items()}
    if isinstance(value, list):
        return [redact(v) for v in cast(list[Any], value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double; the provider sends 8, not 8.0
    return value


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        return [_mask(v) for v in cast(list[Any], value)]
    return REDACTED


def is_kubernetes_object(resource: RecordedResource) -> bool:
    return resource.type.startswith("kubernetes:") and not resource.type.startswith(_NOT_OBJECTS)


def kubernetes_objects(recording: Recording) -> list[dict[str, Any]]:
    """Every Kubernetes object the program registers directly, secrets redacted."""
    return [redact(r.wire_inputs) for r in recording.resources if is_kubernetes_object(r)]


def helm_releases(recording: Recording) -> list[RecordedResource]:
    return recording.of_type(HELM_RELEASE)


def chart_entry(release: RecordedResource) -> dict[str, str]:
    inputs = release.inputs
    repository = cast(Mapping[str, Any], inputs.get("repositoryOpts") or {}).get("repo", "")
    chart = str(inputs.get("chart", ""))
    if not repository and chart.startswith("oci://"):
        repository, _, chart = chart.rpartition("/")
    return {
        "release": str(inputs.get("name", release.name)),
        "namespace": str(inputs.get("namespace", "default")),
        "chart": chart,
        "repository": str(repository),
        "version": str(inputs.get("version", "")),
    }


def object_filename(obj: Mapping[str, Any]) -> str:
    metadata = cast(Mapping[str, Any], obj.get("metadata") or {})
    parts = [str(obj.get("kind", "object")), str(metadata.get("namespace", "")), str(metadata.get("name", ""))]
    stem = "-".join(p for p in parts if p).lower()
    return re.sub(r"[^a-z0-9.-]+", "-", stem) + ".yaml"


def write(recording: Recording, out: Path) -> list[Path]:
    """Write the rendered tree; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for obj in kubernetes_objects(recording):
        path = out / object_filename(obj)
        if path in written:
            raise ValueError(f"two objects render to {path.name}")
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
        written.append(path)
    releases = helm_releases(recording)
    charts = [chart_entry(r) for r in releases]
    (out / "charts.json").write_text(json.dumps(charts, indent=2) + "\n")
    written.append(out / "charts.json")
    values_dir = out / "values"
    values_dir.mkdir(exist_ok=True)
    for release, entry in zip(releases, charts, strict=True):
        path = values_dir / f"{entry['release']}.yaml"
        path.write_text(yaml.safe_dump(redact(release.wire_inputs.get("values") or {}), sort_keys=False))
        written.append(path)
    return written
