"""The platform's authorization model and the tuples the spec implies, for OpenFGA.

What: ``model.fga`` (OpenFGA DSL, schema 1.1) declares ``user``, ``tenant`` (``member``), ``model``
(``invoker`` granted to ``tenant#member``, asked as ``can_invoke``) and ``queue`` (``submitter``
granted to ``tenant#member``, asked as ``can_submit``). ``model.json`` is the same model in the API's
JSON form (``fga model transform --file model.fga``; a test keeps the two identical), which the
in-cluster sync job writes. :func:`tuples` derives every relationship tuple from the spec: tenant
members, who may invoke which model, who may submit to which Kueue LocalQueue. :func:`test_file`
builds an ``fga model test`` file from the same tuples plus assertions.

Why: one generator feeds both the store (``components/addons/openfga.py``) and the tests, so the
model tests exercise exactly the tuples that production gets, and the gateway's route admission
(``components/addons/gateway.py``) can be checked against :func:`invokers` from the same spec.

Modules beside it: ``sync_store.py`` (the Job that writes model and tuples), ``ext_authz.py`` (the
per-request authorization service Envoy calls), ``service.py`` (its Kubernetes objects, alerts and
dashboard), ``rbac.py`` (the ``submitter`` tuples as namespace RoleBindings).

Object ids: ``tenant:<tenant>``, ``model:<models[].name>``, ``queue:<namespace>/<localqueue>``
(Kueue tenants' LocalQueues live in a namespace named after the tenant), ``user:<members[]>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.spec import PlatformSpec

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "model.fga"
MODEL_JSON_FILE = HERE / "model.json"
MODEL_TESTS_FILE = HERE / "model.fga.yaml"
SYNC_SCRIPT_FILE = HERE / "sync_store.py"

INVOKE = "can_invoke"
SUBMIT = "can_submit"


@dataclass(frozen=True, order=True)
class RelationshipTuple:
    """One OpenFGA tuple: ``user`` has ``relation`` on ``object``."""

    user: str
    relation: str
    object: str

    def to_json(self) -> dict[str, str]:
        return {"user": self.user, "relation": self.relation, "object": self.object}


def model_dsl() -> str:
    return MODEL_FILE.read_text()


def model_json() -> dict[str, Any]:
    """The authorization model as the OpenFGA API takes it (``WriteAuthorizationModel`` body)."""
    return json.loads(MODEL_JSON_FILE.read_text())


def queue_object(tenant: str, queue: str) -> str:
    return f"queue:{tenant}/{queue}"


def tuples(spec: PlatformSpec, local_queues: Mapping[str, str]) -> list[RelationshipTuple]:
    """Every tuple the spec implies, sorted (stable input for hashing and diffs).

    ``local_queues`` maps a tenant to the name of its Kueue LocalQueue (in the namespace named after
    the tenant); empty when Kueue is off.
    """
    found: set[RelationshipTuple] = set()
    for tenant in spec.tenants:
        for member in tenant.members:
            found.add(RelationshipTuple(f"user:{member}", "member", f"tenant:{tenant.name}"))
    for model in spec.models:
        for tenant in model.tenants:
            found.add(RelationshipTuple(f"tenant:{tenant}#member", "invoker", f"model:{model.name}"))
    for tenant, queue in local_queues.items():
        found.add(RelationshipTuple(f"tenant:{tenant}#member", "submitter", queue_object(tenant, queue)))
    return sorted(found)


def invokers(found: Iterable[RelationshipTuple], model: str) -> set[str]:
    """Tenants whose members the tuples let invoke ``model`` (OpenFGA's side of route admission)."""
    return {
        t.user.removeprefix("tenant:").removesuffix("#member")
        for t in found
        if t.relation == "invoker" and t.object == f"model:{model}" and t.user.endswith("#member")
    }


def tuples_json(found: Sequence[RelationshipTuple]) -> str:
    """The tuples as the sync job reads them (``tuples.json``)."""
    return json.dumps([t.to_json() for t in found], indent=1, sort_keys=True) + "\n"


def digest(found: Sequence[RelationshipTuple]) -> str:
    """A short, stable hash of the model, the tuples and the sync script: the job re-runs when it changes."""
    payload = json.dumps(
        {"model": model_json(), "tuples": [t.to_json() for t in found], "script": SYNC_SCRIPT_FILE.read_text()},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def fga_test_document(
    found: Sequence[RelationshipTuple],
    checks: Sequence[Mapping[str, Any]],
    list_objects: Sequence[Mapping[str, Any]] = (),
    *,
    name: str = "spec",
    model_file: str = "model.fga",
) -> dict[str, Any]:
    """An ``fga model test`` document: the model file, the tuples and one test with the assertions."""
    test: dict[str, Any] = {"name": name, "check": [dict(c) for c in checks]}
    if list_objects:
        test["list_objects"] = [dict(item) for item in list_objects]
    return {"model_file": model_file, "tuples": [t.to_json() for t in found], "tests": [test]}
