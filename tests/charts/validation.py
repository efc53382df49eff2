"""Validate rendered custom resources against the CRD schema the same stack installs (when no pinned
upstream strict schema exists), with unknown fields refused as the API server's pruning would drop them."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import jsonschema

from tests import upstream


def crd_schemas(objects: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``group/version/Kind`` -> the openAPIV3Schema of every CRD among ``objects``, made strict."""
    schemas: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = cast(Mapping[str, Any], obj["spec"])
        kind = spec["names"]["kind"]
        for version in cast(list[Mapping[str, Any]], spec.get("versions") or []):
            schema = cast(Mapping[str, Any], (version.get("schema") or {}).get("openAPIV3Schema") or {})
            schemas[f"{spec['group']}/{version['name']}/{kind}"] = _strict(copy.deepcopy(dict(schema)), top=True)
    return schemas


def _strict(schema: dict[str, Any], *, top: bool = False) -> dict[str, Any]:
    for key in ("x-kubernetes-int-or-string",):
        if schema.pop(key, False):
            schema.pop("type", None)
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for key in list(schema):
        if key.startswith("x-kubernetes-"):
            schema.pop(key)
    properties = cast(dict[str, Any], schema.get("properties") or {})
    for name, sub in properties.items():
        properties[name] = _strict(sub)
    if isinstance(schema.get("items"), dict):
        schema["items"] = _strict(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _strict(schema["additionalProperties"])
    if properties and "additionalProperties" not in schema:
        if top:
            properties.setdefault("apiVersion", {"type": "string"})
            properties.setdefault("kind", {"type": "string"})
            properties.setdefault("metadata", {"type": "object"})
        schema["additionalProperties"] = False
    return schema


_VALID: set[str] = set()
"""Digests of (object, version, schema) already validated this session: stacks share most objects."""


def validate(obj: Mapping[str, Any], kubernetes_version: str, crds: Mapping[str, dict[str, Any]]) -> None:
    """Core objects: kubernetes-validate strict; custom resources: the pinned strict schema, else the
    stack's own CRD. A custom resource with neither is an error."""
    key = f"{obj.get('apiVersion')}/{obj.get('kind')}"
    material = json.dumps([obj, kubernetes_version, crds.get(key)], sort_keys=True, default=str)
    digest = hashlib.sha256(material.encode()).hexdigest()
    if digest in _VALID:
        return
    _validate(obj, kubernetes_version, crds)
    _VALID.add(digest)


def _validate(obj: Mapping[str, Any], kubernetes_version: str, crds: Mapping[str, dict[str, Any]]) -> None:
    api_version = str(obj["apiVersion"])
    key = f"{api_version}/{obj['kind']}"
    if upstream.is_custom(obj):
        try:
            upstream.validate_custom(obj)
            return
        except LookupError:
            pass
    if key in crds:
        jsonschema.Draft7Validator(crds[key]).validate(upstream.strip_nulls(dict(obj)))
        return
    group = api_version.rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        raise LookupError(f"no schema for custom resource {key}")
    upstream.validate_core(obj, kubernetes_version)
