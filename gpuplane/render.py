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

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
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
"""The manifest of a directory ``render`` wrote: every file it wrote with its SHA-256. A re-render
replaces exactly those files (if unchanged) and nothing else."""
MANIFEST_VERSION = 2


class RenderTargetError(Exception):
    """``--out`` names a directory ``render`` must not overwrite."""


def write(
    recording: Recording,
    out: Path,
    *,
    cleanups: list[Callable[[], None]] | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the rendered tree into ``out`` and return the files written.

    Never deletes what ``render`` did not write: ``out`` must be missing, empty, or a previous render
    whose manifest (:data:`MARKER`, a regular file) lists every file in it with its content hash.
    A file render did not write, or one changed since, is named and nothing is touched. The new tree
    is staged inside ``out`` and moved into place file by file (atomic per file; ``out`` itself is
    never removed, so ``--out .`` from inside a previous render is safe), then files of the previous
    render that are no longer produced are removed. A copied or symlinked marker authorizes nothing:
    the marker must be a regular file and each listed file must still hash to what render wrote.
    ``cleanups``: the staging directory's removal is registered there while it exists (so a signal
    handler can remove it). ``extra_files``: more files (relative path, at most one folder deep ->
    text) written with the tree, e.g. the chart-rendered manifests of ``render --charts``.
    """
    out = Path(os.path.abspath(out))
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise RenderTargetError(f"{out} is not a directory render can write into")
    previous = _previous_manifest(out) if out.exists() else {}
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gpuplane-render-staging-", dir=out))

    def remove_staging() -> None:
        shutil.rmtree(staging, ignore_errors=True)

    if cleanups is not None:
        cleanups.append(remove_staging)
    try:
        relative = _write_tree(recording, staging, extra_files or {})
        new = {str(r): _sha256(staging / r) for r in relative}
        # While files move, the marker covers both trees, so an interrupted render can be re-run.
        _write_marker(
            out,
            {
                **{k: [v] for k, v in previous.items()},
                **{k: [v, *([previous[k]] if k in previous else [])] for k, v in new.items()},
            },
        )
        for path in relative:
            target = out / path
            target.parent.mkdir(exist_ok=True)
            os.replace(staging / path, target)
        for stale in sorted(set(previous) - set(new)):
            (out / stale).unlink(missing_ok=True)
        values = out / "values"
        if values.is_dir() and not any(values.iterdir()):
            values.rmdir()
        _write_marker(out, {k: [v] for k, v in new.items()})
    finally:
        remove_staging()
        if cleanups is not None:
            cleanups.remove(remove_staging)
    return [out / r for r in relative]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_marker(out: Path, files: Mapping[str, list[str]]) -> None:
    document = {
        "written_by": "gpuplane render; the next render replaces exactly these files",
        "version": MANIFEST_VERSION,
        "files": dict(sorted(files.items())),
    }
    temporary = out / f"{MARKER}.tmp"
    temporary.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(temporary, out / MARKER)


def _previous_manifest(out: Path) -> dict[str, str]:
    """File -> hash of a previous render in ``out``; raises naming every file render did not write."""
    entries = sorted(_entries(out))
    if not entries:
        return {}
    marker = out / MARKER
    listed: dict[str, list[str]] = {}
    if marker.is_file() and not marker.is_symlink():
        try:
            document: Any = json.loads(marker.read_text())
            files: Any = cast(dict[str, Any], document).get("files") if isinstance(document, dict) else None
            if isinstance(files, dict):
                listed = {
                    str(k): [str(h) for h in cast(list[Any], v)]
                    for k, v in cast(dict[Any, Any], files).items()
                    if isinstance(v, list)
                }
        except (OSError, ValueError, UnicodeDecodeError):
            listed = {}
    foreign: list[str] = []
    current: dict[str, str] = {}
    for entry in entries:
        if entry in (MARKER, f"{MARKER}.tmp"):
            continue
        path = out / entry
        if entry not in listed or path.is_symlink() or not path.is_file():
            foreign.append(f"{entry} (not written by gpuplane render)")
            continue
        digest = _sha256(path)
        if digest not in listed[entry]:
            foreign.append(f"{entry} (changed since gpuplane render wrote it)")
            continue
        current[entry] = digest
    if foreign:
        shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise RenderTargetError(
            f"{out} holds files render would overwrite or leave behind: {shown}; "
            "move them away or choose another --out (nothing was changed)"
        )
    return current


def _entries(out: Path) -> list[str]:
    """Files under ``out`` (relative, ``/``-separated); directories only as containers, except
    leftover staging directories of an interrupted render, which are ignored."""
    found: list[str] = []
    for path in out.iterdir():
        if path.name.startswith(".gpuplane-render-staging-") and path.is_dir() and not path.is_symlink():
            continue
        if path.is_dir() and not path.is_symlink():
            children = list(path.iterdir())
            if not children:
                continue
            found.extend(f"{path.name}/{c.relative_to(path).as_posix()}" for c in children)
        else:
            found.append(path.name)
    return found


def _write_tree(recording: Recording, root: Path, extra_files: Mapping[str, str]) -> list[Path]:
    written: list[Path] = []
    for name, text in sorted(extra_files.items()):
        path = Path(name)
        if len(path.parts) > 2 or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"extra file {name} must be at most one folder deep")
        (root / path).parent.mkdir(exist_ok=True)
        (root / path).write_text(text)
        written.append(path)
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
    return written
