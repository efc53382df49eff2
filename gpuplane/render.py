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
import shutil
import tempfile
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


MARKER = ".gpuplane-render"
"""Marks a directory ``render`` wrote, so a re-render may replace it (and nothing else)."""


class RenderTargetError(Exception):
    """``--out`` names a directory ``render`` must not overwrite."""


def write(recording: Recording, out: Path) -> list[Path]:
    """Write the rendered tree to ``out`` and return the files written.

    Everything is written to a fresh directory next to ``out`` first and moved into place only when
    complete, so a failure leaves no partial tree and a re-render leaves no stale file. ``out`` must
    be missing, empty, or a previous render (it has the marker file).
    """
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise RenderTargetError(f"{out} is not empty and was not written by gpuplane render; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        relative = _write_tree(recording, staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / r for r in relative]


def _write_tree(recording: Recording, root: Path) -> list[Path]:
    written: list[Path] = []
    for obj in kubernetes_objects(recording):
        path = Path(object_filename(obj))
        if path in written:
            raise ValueError(f"two objects render to {path}")
        (root / path).write_text(yaml.safe_dump(obj, sort_keys=False))
        written.append(path)
    releases = sorted(helm_releases(recording), key=lambda r: chart_entry(r)["release"])
    charts = [chart_entry(r) for r in releases]
    (root / "charts.json").write_text(json.dumps(charts, indent=2) + "\n")
    written.append(Path("charts.json"))
    (root / "values").mkdir()
    for release, entry in zip(releases, charts, strict=True):
        path = Path("values") / f"{entry['release']}.yaml"
        (root / path).write_text(yaml.safe_dump(redact(release.wire_inputs.get("values") or {}), sort_keys=False))
        written.append(path)
    (root / MARKER).write_text("written by gpuplane render; the next render replaces this directory\n")
    return written
