"""Offline expansion of ``kubernetes.yaml.v2.ConfigGroup``/``ConfigFile`` into the children the provider
would register, so ``gpuplane plan`` and the policy pack see what ``pulumi preview`` sees.

What: :func:`children` takes one recorded ``kubernetes:yaml/v2:ConfigGroup`` or ``ConfigFile``
registration and returns a :class:`~gpuplane.recording.RecordedResource` per Kubernetes object in it,
parented to the component, named and typed as the provider names and types them.

Why: both are *remote* components: the Kubernetes provider's ``Construct`` parses the manifests and
registers the objects. Under the SDK's mock runtime nothing constructs them, so without this a
privileged DaemonSet in a ConfigGroup passed ``gpuplane plan`` while ``pulumi preview --policy-pack``
flagged it (issue 10, offline parity).

How the provider does it (pulumi/pulumi-kubernetes provider/pkg/provider/yaml/v2, read at
v4.32.0-27-g94977969d; the SDK here is 4.34.2): ``files`` (globbed for ConfigGroup) and the ``yaml``
literal are decoded as a stream of YAML or JSON documents, empty documents skipped, ``objs`` appended;
``*List`` objects are flattened into their items; each object is named ``<prefix>:<namespace>/<name>``
(``<prefix>:<name>`` without a namespace), the prefix defaulting to the component's name
(``resourcePrefix: ""`` turns it off); ``v1/Secret`` ``data``/``stringData`` are marked secret; the
type token is ``kubernetes:<group>/<version>:<Kind>`` (``core/v1`` for ``v1``).

Gotchas: files are read relative to the working directory, as the provider does. Remote URLs are not
fetched (no network offline): such a file contributes nothing here (policies/README.md, known limits).
Unreadable or invalid YAML raises, as the provider's Construct fails the deployment.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from gpuplane.recording import RecordedResource

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
EXPANDED = (CONFIG_GROUP, CONFIG_FILE)
_GLOB = re.compile(r"(?:^|[^\\])[*?\[]")


class ExpansionError(ValueError):
    """A manifest the provider would refuse (missing file, invalid YAML, object without kind or name)."""


def _documents(text: str, where: str) -> list[dict[str, Any]]:
    import yaml

    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise ExpansionError(f"{where}: invalid YAML: {error}") from None
    found: list[dict[str, Any]] = []
    for document in loaded:
        if document is None or document == {}:
            continue
        if not isinstance(document, dict):
            raise ExpansionError(f"{where}: a manifest document is not a mapping")
        found.append(cast(dict[str, Any], document))
    return found


def _files(patterns: list[str], globbing: bool) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", pattern):
            continue  # fetched over the network by the provider; not offline
        paths = sorted(glob.glob(pattern)) if globbing and _GLOB.search(pattern) else [pattern]
        for path in paths:
            try:
                yield path, Path(path).read_text()
            except OSError as error:
                raise ExpansionError(f"{path}: cannot read the manifest: {error.strerror}") from None


def _objects(inputs: Mapping[str, Any], type_: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    if type_ == CONFIG_FILE:
        file = inputs.get("file")
        sources = list(_files([file], globbing=False)) if isinstance(file, str) else []
    else:
        files = inputs.get("files")
        patterns = (
            [files] if isinstance(files, str) else [f for f in cast(list[Any], files or []) if isinstance(f, str)]
        )
        sources = list(_files(patterns, globbing=True))
    for where, text in sources:
        objects += _documents(text, where)
    literal: Any = inputs.get("yaml")
    texts: list[Any] = [literal] if isinstance(literal, str) else list(literal or [])
    for index, text in enumerate(texts):
        if isinstance(text, str):
            objects += _documents(text, f"yaml[{index}]")
    objects += [cast(dict[str, Any], o) for o in cast(list[Any], inputs.get("objs") or []) if isinstance(o, dict)]
    return objects


def _flatten(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in cast(list[Any], obj["items"]):
            if isinstance(item, dict):
                yield from _flatten(cast(dict[str, Any], item))
        return
    yield obj


def type_token(api_version: str, kind: str) -> str:
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def children(component: RecordedResource) -> list[RecordedResource]:
    """The resources the Kubernetes provider registers for a yaml.v2 ConfigGroup/ConfigFile."""
    from dataclasses import replace

    from gpuplane.recording import SECRET_SIG, SIG_KEY, unwrap_secrets

    if component.type not in EXPANDED:
        return []
    inputs = unwrap_secrets(component.wire_inputs)
    prefix = inputs.get("resourcePrefix")
    prefix = component.name if prefix is None else str(prefix)
    prefix_urn, _, rest = component.urn.partition("::")
    project, _, rest = rest.partition("::")
    qualified = rest.rsplit("::", 1)[0]
    found: list[RecordedResource] = []
    for top in _objects(inputs, component.type):
        for obj in _flatten(top):
            api_version, kind = obj.get("apiVersion"), obj.get("kind")
            metadata = cast(dict[str, Any], obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {})
            name, namespace = metadata.get("name"), metadata.get("namespace")
            if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
                raise ExpansionError(f"{component.name}: Kubernetes resources require a kind and apiVersion")
            if not isinstance(name, str) or not name:
                raise ExpansionError(f"{component.name}: a {kind} has no metadata.name")
            resource_name = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
            if prefix:
                resource_name = f"{prefix}:{resource_name}"
            wire = dict(obj)
            if f"{api_version}/{kind}" == "v1/Secret":
                for key in ("data", "stringData"):
                    if key in wire:
                        wire[key] = {SIG_KEY: SECRET_SIG, "value": wire[key]}
            token = type_token(api_version, kind)
            found.append(
                replace(
                    component,
                    urn=f"{prefix_urn}::{project}::{qualified}${token}::{resource_name}",
                    type=token,
                    name=resource_name,
                    custom=True,
                    parent=component.urn,
                    dependencies=[],
                    property_dependencies={},
                    wire_inputs=wire,
                    outputs=unwrap_secrets(wire),
                    id=f"{resource_name}-id",
                )
            )
    return found
