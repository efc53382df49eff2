"""Every object a Kubernetes API server holds, by discovery — to prove ``pulumi destroy`` leaves nothing behind.

What: :func:`inventory` lists every listable resource of every served group (preferred versions only, so an
object is counted once) across all namespaces and returns ``{(group, kind, namespace, name)}``.

Why: checking the objects the test *expects* to go would miss what nobody expected (a hook's Job, a
ConfigMap a chart renders, a CRD Helm leaves). Only objects the control plane itself churns are left out:
Events and Leases.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

#: (group, kind) the control plane writes on its own, whatever Pulumi does.
CHURN = {("", "Event"), ("events.k8s.io", "Event"), ("coordination.k8s.io", "Lease")}

Key = tuple[str, str, str, str]


class Requester(Protocol):
    def request(self, method: str, path: str) -> dict[str, Any]: ...


def _get(client: Requester, path: str, attempts: int = 30) -> dict[str, Any]:
    """GET, retrying while the server answers 429/503 (a CRD installed a moment ago: "storage is (re)initializing")."""
    for attempt in range(attempts):
        try:
            return client.request("GET", path)
        except Exception as exc:  # tests.controlplane.client.ApiError; status checked below
            if getattr(exc, "status", None) not in (429, 503) or attempt == attempts - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _group_versions(client: Requester) -> list[tuple[str, str]]:
    """(group, path prefix) for the core group and each group's preferred version."""
    found = [("", "/api/v1")]
    for group in _get(client, "/apis").get("groups", []):
        found.append((group["name"], f"/apis/{group['preferredVersion']['groupVersion']}"))
    return found


def inventory(client: Requester) -> set[Key]:
    objects: set[Key] = set()
    for group, prefix in _group_versions(client):
        for res in _get(client, prefix).get("resources", []):
            if "/" in res["name"] or "list" not in res.get("verbs", []) or (group, res["kind"]) in CHURN:
                continue
            for item in _get(client, f"{prefix}/{res['name']}").get("items", []):
                meta = item.get("metadata", {})
                objects.add((group, res["kind"], meta.get("namespace", ""), meta["name"]))
    return objects


def describe(keys: set[Key]) -> str:
    return "\n".join(f"  {g or 'core'}/{k} {ns + '/' if ns else ''}{n}" for g, k, ns, n in sorted(keys))
