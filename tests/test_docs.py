"""Docs stay true to the code: every spec key is documented, every policy is in the pack's README."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from components.spec import PlatformSpec
from stacks import settings

ROOT = Path(__file__).resolve().parents[1]


def _keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf key path (a field that is not itself a nested model)."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = [a for a in _flatten(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            yield key
        for sub in nested:
            annotation = str(field.annotation)
            if "Mapping" in annotation:
                joiner = ".<tenant>."
            elif "tuple" in annotation:
                joiner = "[]."
            else:
                joiner = "."
            yield from _keys(sub, key + joiner)


def _flatten(annotation: object) -> Iterator[object]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _flatten(arg)


def test_every_spec_key_is_in_docs_spec_md() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    documented = set(re.findall(r"`([A-Za-z][A-Za-z0-9.\[\]<>]*)`", text))
    keys = set(_keys(PlatformSpec))
    assert {"tenants[].members", "gpuPools[].sharing.migProfile", "models[].budgets.<tenant>.tokens"} <= keys
    missing = sorted(k for k in keys if k not in documented)
    assert missing == []


def test_secret_keys_are_documented() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    for key in {settings.KUBECONFIG_KEY, "modelCredentials", "openfgaDatastoreUri"}:
        assert f"`gpuplane:{key}`" in text
