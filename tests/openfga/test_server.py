"""The real OpenFGA server (v1.18.3, built from its Go module) on Debian's PostgreSQL.

- The platform's tuple-sync script (the file the in-cluster Job runs) writes the model and every
  example stack's tuples, twice: the second run changes nothing.
- ``Check`` answers match the spec for every tenant x model and tenant x queue of every example
  stack, for the tenant userset (what the gateway's authorization service asks) and for every member.
- The spec's answer as ``gpuplane access`` computes it equals the server's.
- Paging past 100 stores (issue 14 item 5): the sync script and the authorization service find a
  store on a later page. (v1.18.3 encodes tokens with URL-safe base64, so the unescaped token also
  worked here; tests/authz/test_continuation_tokens.py covers tokens with query-special characters.)
- The sync script's "model unchanged" check against what the server returns: the server fills in
  defaults (``module: ""``, ``source_info: null``...), and the second run wrote a new model every
  time before the comparison ignored them.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import uuid
from pathlib import Path
from typing import Any

import pytest

from components.addons import authz, gateway
from components.addons.authz import ext_authz, sync_store
from gpuplane import access, stackfiles
from tests.openfga.build import OPENFGA_VERSION, openfga_binary
from tests.openfga.server import OpenFga

pytestmark = pytest.mark.tier2
STACKS = stackfiles.discover()


def _sync(server: OpenFga, store_name: str, tmp: Path, found: list[authz.RelationshipTuple]) -> dict[str, object]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "model.json").write_text(json.dumps(authz.model_json()))
    (tmp / "tuples.json").write_text(authz.tuples_json(found))
    call = sync_store.http_transport(server.url, server.key)
    return sync_store.sync(call, store_name, tmp)


def test_the_server_is_the_pinned_release() -> None:
    result = subprocess.run([str(openfga_binary()), "version"], capture_output=True, text=True, check=True)
    assert OPENFGA_VERSION in (result.stdout + result.stderr)
    assert OPENFGA_VERSION == "v1.18.3", "the appVersion of openfga chart 0.3.12 (components/versions.py)"


def test_requests_without_the_preshared_key_are_refused(openfga: OpenFga) -> None:
    anonymous = OpenFga.__new__(OpenFga)
    anonymous.http_port, anonymous.key = openfga.http_port, "wrong-key"
    with pytest.raises(urllib.error.HTTPError) as info:
        anonymous.call("GET", "/stores")
    assert info.value.code == 401


@pytest.mark.parametrize("stack_path", STACKS, ids=[stackfiles.stack_name(p) for p in STACKS])
def test_sync_twice_then_check_matches_the_spec(openfga: OpenFga, tmp_path: Path, stack_path: Path) -> None:
    spec = access.spec_from_stack(stackfiles.load(stack_path))
    found = authz.tuples(spec, access.local_queues(spec))
    assert found, "every example stack has tenants"
    store_name = f"{stackfiles.stack_name(stack_path)}-{uuid.uuid4().hex[:8]}"

    first = _sync(openfga, store_name, tmp_path / "one", found)
    assert first["model_written"] is True
    assert first["tuples_written"] == len(found)
    assert first["tuples_deleted"] == 0
    second = _sync(openfga, store_name, tmp_path / "two", found)
    assert second["store_id"] == first["store_id"], "the store is found by name, not created again"
    assert second["authorization_model_id"] == first["authorization_model_id"]
    assert (second["model_written"], second["tuples_written"], second["tuples_deleted"]) == (False, 0, 0)

    store = str(first["store_id"])
    rows = {row.tenant: row for row in access.access(spec)}
    for tenant in spec.tenants:
        members = [f"user:{m}" for m in tenant.members]
        for model in spec.models:
            expected = tenant.name in model.tenants
            assert expected == (model.name in rows[tenant.name].models)
            for user in [f"tenant:{tenant.name}#member", *members]:
                got = openfga.check(store, user, authz.INVOKE, f"model:{model.name}")
                assert got is expected, (user, model.name)
        for owner, queue in access.local_queues(spec).items():
            expected = owner == tenant.name
            queue_id = f"{owner}/{queue}"
            assert expected == (queue_id in rows[tenant.name].queues)
            for user in [f"tenant:{tenant.name}#member", *members]:
                assert openfga.check(store, user, authz.SUBMIT, authz.queue_object(owner, queue)) is expected, user
    # The gateway's static allow-list (rendered route SecurityPolicy) admits exactly whom OpenFGA allows.
    if spec.gateway.enabled:
        for model in spec.models:
            admitted = gateway.admitted_tenants(gateway.route_access_spec(spec, model))
            allowed = {
                t.name
                for t in spec.tenants
                if openfga.check(store, f"tenant:{t.name}#member", authz.INVOKE, f"model:{model.name}")
            }
            assert admitted == allowed, model.name
    # Someone in no tenant reaches nothing.
    for model in spec.models:
        assert openfga.check(store, "user:mallory@example.com", authz.INVOKE, f"model:{model.name}") is False


def test_sync_deletes_what_the_spec_no_longer_grants(openfga: OpenFga, tmp_path: Path) -> None:
    spec = access.spec_from_stack(stackfiles.load(STACKS[0]))
    found = authz.tuples(spec, access.local_queues(spec))
    granted = next(t for t in found if t.relation == "invoker")
    store_name = f"shrink-{uuid.uuid4().hex[:8]}"
    first = _sync(openfga, store_name, tmp_path / "a", found)
    store = str(first["store_id"])
    assert openfga.check(store, granted.user, authz.INVOKE, granted.object) is True
    shrunk = [t for t in found if t != granted]
    again = _sync(openfga, store_name, tmp_path / "b", shrunk)
    assert (again["tuples_written"], again["tuples_deleted"]) == (0, 1)
    assert openfga.check(store, granted.user, authz.INVOKE, granted.object) is False


def test_paging_past_100_stores_finds_the_store_by_name(openfga: OpenFga, tmp_path: Path) -> None:
    prefix = f"filler-{uuid.uuid4().hex[:6]}"
    for index in range(101):
        openfga.call("POST", "/stores", {"name": f"{prefix}-{index}"})
    target = f"late-{uuid.uuid4().hex[:8]}"
    created = openfga.call("POST", "/stores", {"name": target})["id"]
    # The store is past the first page of 100, so its lookup needs the continuation token.
    first_page = openfga.call("GET", "/stores?page_size=100")
    assert target not in {s["name"] for s in first_page["stores"]}
    token = first_page["continuation_token"]
    assert token, "a second page exists"

    call = sync_store.http_transport(openfga.url, openfga.key)
    assert sync_store.find_or_create_store(call, target) == created
    names = [s["name"] for s in _all_stores(openfga)]
    assert names.count(target) == 1, "the lookup did not create a duplicate store"

    client = ext_authz.OpenFgaClient(openfga.url, openfga.key, 5.0, target, None)
    assert client.store() == created


def _all_stores(server: OpenFga) -> list[dict[str, str]]:
    import urllib.parse

    stores: list[dict[str, str]] = []
    token = ""
    while True:
        query = "/stores?page_size=100" + (f"&continuation_token={urllib.parse.quote(token, safe='')}" if token else "")
        page = server.call("GET", query)
        stores += page.get("stores") or []
        token = page.get("continuation_token") or ""
        if not token:
            return stores


def test_postgres_starts_without_a_preexec_fn_and_not_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``preexec_fn`` in a pytest worker where gRPC runs can abort the child before exec
    (grpc/grpc#43157): PostgreSQL drops root in a launcher instead; it must still not run as root."""
    from tests.openfga.server import Postgres

    seen: list[dict[str, object]] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    with Postgres() as postgres:
        assert postgres.proc is not None
        status = Path(f"/proc/{postgres.proc.pid}/status").read_text()
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        assert uid != 0 or os.geteuid() != 0, "PostgreSQL runs as root"
    assert seen, "Postgres started no process through subprocess.Popen"
    assert all(kwargs.get("preexec_fn") is None for kwargs in seen), seen
