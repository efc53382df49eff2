"""Write the authorization model and the spec's tuples to OpenFGA, idempotently (runs in a Job).

What: finds the store named ``$OPENFGA_STORE_NAME`` (creates it if missing), writes ``model.json``
as a new authorization model only when it differs from the store's latest one, then makes the
store's tuples exactly ``tuples.json``: missing tuples are written, tuples no longer in the spec are
deleted, in batches under OpenFGA's default ``maxTuplesPerWrite`` (100). Running it twice changes
nothing the second time.

Why a script and not ``fga store import``: ``import`` without ``--store-id`` creates a new store on
every run, and the ``openfga/cli`` image has no shell to look a store up by name first. This file
needs only the Python standard library, so the Job runs it in a pinned ``python`` image, mounted
from a ConfigMap together with the model and tuples.

Environment: ``OPENFGA_API_URL`` (``http://openfga.openfga.svc.cluster.local:8080``),
``OPENFGA_STORE_NAME``, ``OPENFGA_API_TOKEN`` (a preshared key; sent as a bearer token),
``SYNC_DIR`` (where ``model.json`` and ``tuples.json`` are; defaults to this file's folder).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

BATCH = 50
"""Tuples per write request: writes plus deletes stay under OpenFGA's default limit of 100."""

Transport = Callable[[str, str, Mapping[str, Any] | None], dict[str, Any]]
TupleKey = tuple[str, str, str]


def http_transport(base_url: str, token: str | None, timeout: float = 30.0) -> Transport:
    """A JSON-over-HTTP caller for the OpenFGA API at ``base_url``."""

    def call(method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return cast(dict[str, Any], json.loads(raw)) if raw else {}

    return call


def find_or_create_store(call: Transport, name: str) -> str:
    token = ""
    while True:
        # The token is base64 ('+', '/', '='): sent raw, '+' arrives as a space and OpenFGA rejects it.
        query = "/stores?page_size=100" + (f"&continuation_token={urllib.parse.quote(token, safe='')}" if token else "")
        page = call("GET", query, None)
        for store in cast(list[dict[str, Any]], page.get("stores") or []):
            if store.get("name") == name:
                return str(store["id"])
        token = str(page.get("continuation_token") or "")
        if not token:
            break
    return str(call("POST", "/stores", {"name": name})["id"])


_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _pruned(value: Any, key: str = "") -> Any:
    """``value`` without null/empty fields: the server answers with every default filled in
    (``"module": ""``, ``"source_info": null``, ``"condition": ""``, ``"relations": {}``) where the
    model file omits them. ``this: {}`` (a directly assignable relation) is meaning, not a default."""
    if isinstance(value, dict):
        pruned: dict[str, Any] = {}
        for name, item in cast(dict[str, Any], value).items():
            kept = _pruned(item, name)
            if name == "this" or kept not in _EMPTY:
                pruned[name] = kept
        return pruned
    if isinstance(value, list):
        return [_pruned(item, key) for item in cast(list[Any], value)]
    return value


def _canonical(model: Mapping[str, Any]) -> str:
    keep = {"schema_version": model.get("schema_version"), "type_definitions": model.get("type_definitions")}
    conditions = model.get("conditions")
    if conditions:
        keep["conditions"] = conditions
    return json.dumps(_pruned(keep), sort_keys=True)


def ensure_model(call: Transport, store: str, model: Mapping[str, Any]) -> tuple[str, bool]:
    """The id of a model equal to ``model`` (the latest if it matches) and whether one was written."""
    latest = cast(
        list[dict[str, Any]],
        call("GET", f"/stores/{store}/authorization-models?page_size=1", None).get("authorization_models") or [],
    )
    if latest and _canonical(latest[0]) == _canonical(model):
        return str(latest[0]["id"]), False
    written = call("POST", f"/stores/{store}/authorization-models", dict(model))
    return str(written["authorization_model_id"]), True


def read_tuples(call: Transport, store: str) -> set[TupleKey]:
    found: set[TupleKey] = set()
    token = ""
    while True:
        body: dict[str, Any] = {"page_size": 100}
        if token:
            body["continuation_token"] = token
        page = call("POST", f"/stores/{store}/read", body)
        for item in cast(list[dict[str, Any]], page.get("tuples") or []):
            key = cast(dict[str, str], item["key"])
            found.add((key["user"], key["relation"], key["object"]))
        token = str(page.get("continuation_token") or "")
        if not token:
            return found


def _keys(batch: Sequence[TupleKey]) -> list[dict[str, str]]:
    return [{"user": u, "relation": r, "object": o} for u, r, o in batch]


def sync_tuples(call: Transport, store: str, model_id: str, desired: set[TupleKey]) -> tuple[int, int]:
    """Make the store's tuples exactly ``desired``; returns (written, deleted)."""
    current = read_tuples(call, store)
    writes = sorted(desired - current)
    deletes = sorted(current - desired)
    for start in range(0, len(deletes), BATCH):
        body = {"deletes": {"tuple_keys": _keys(deletes[start : start + BATCH])}, "authorization_model_id": model_id}
        call("POST", f"/stores/{store}/write", body)
    for start in range(0, len(writes), BATCH):
        body = {"writes": {"tuple_keys": _keys(writes[start : start + BATCH])}, "authorization_model_id": model_id}
        call("POST", f"/stores/{store}/write", body)
    return len(writes), len(deletes)


def load_desired(directory: Path) -> tuple[dict[str, Any], set[TupleKey]]:
    model = cast(dict[str, Any], json.loads((directory / "model.json").read_text()))
    rows = cast(list[dict[str, str]], json.loads((directory / "tuples.json").read_text()))
    return model, {(row["user"], row["relation"], row["object"]) for row in rows}


def sync(call: Transport, store_name: str, directory: Path) -> dict[str, Any]:
    """The whole run; returns what it did (printed as one JSON line by :func:`main`)."""
    model, desired = load_desired(directory)
    store = find_or_create_store(call, store_name)
    model_id, model_written = ensure_model(call, store, model)
    written, deleted = sync_tuples(call, store, model_id, desired)
    return {
        "store_id": store,
        "authorization_model_id": model_id,
        "model_written": model_written,
        "tuples_written": written,
        "tuples_deleted": deleted,
        "tuples": len(desired),
    }


def main() -> int:
    directory = Path(os.environ.get("SYNC_DIR") or Path(__file__).resolve().parent)
    call = http_transport(os.environ["OPENFGA_API_URL"], os.environ.get("OPENFGA_API_TOKEN"))
    result = sync(call, os.environ.get("OPENFGA_STORE_NAME", "gpuplane"), directory)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
