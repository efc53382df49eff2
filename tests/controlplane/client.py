"""A small Kubernetes API client for tests: HTTPS through the control plane's Unix socket, standard library only.

What: ``KubeClient.apply(obj)`` (server-side apply, ``fieldValidation=Strict``, ``force``), ``create``,
``get``, ``delete``, ``list``, ``request`` (any verb), with resource paths found by API discovery.

Why not the ``kubernetes`` package or kubectl: the API server runs in a network namespace the test process
is not in, so the connection is a Unix socket (see supervisor.py) carrying TLS to the API server; a few
lines of ``http.client`` do that with the real certificate checks (the serving certificate must name
``localhost``, and the admin client certificate authenticates). Nothing else is needed.

Errors: a non-2xx answer raises :class:`ApiError` with the object (``Kind ns/name``) and the server's own
``message`` (CEL rule messages, Pod Security violations, admission policy denials arrive there verbatim).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIELD_MANAGER = "gpuplane-tests"


class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP code, ``message`` the server's text."""

    def __init__(self, what: str, status: int, message: str, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{what}: HTTP {status}: {message}")
        self.what = what
        self.status = status
        self.message = message
        self.body = dict(body or {})


class _UnixHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, unix_path: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__("localhost", 443, context=context, timeout=timeout)
        self._unix_path = unix_path
        self._ctx = context

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._unix_path)
        self.sock = self._ctx.wrap_socket(sock, server_hostname="localhost")


@dataclass(frozen=True)
class Resource:
    group_version: str
    plural: str
    namespaced: bool


def describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


class KubeClient:
    """One connection per request (the socket proxy is cheap), so requests may run on several threads at once;
    the discovery cache is a plain dict (fill it before sharing the client, as ``manifests.apply_all`` does)."""

    def __init__(self, unix_path: Path, ca: Path, cert: Path, key: Path, timeout: float = 60.0) -> None:
        self.unix_path = str(unix_path)
        self.timeout = timeout
        self._ctx = ssl.create_default_context(cafile=str(ca))
        self._ctx.load_cert_chain(str(cert), str(key))
        self._resources: dict[tuple[str, str], Resource] = {}

    # -- raw -------------------------------------------------------------------------------------
    def raw(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        conn = _UnixHTTPSConnection(self.unix_path, self._ctx, self.timeout)
        try:
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        what: str = "",
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        data = None if body is None else json.dumps(body).encode()
        status, raw = self.raw(method, path, data, content_type)
        try:
            parsed: dict[str, Any] = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            parsed = {"message": raw.decode(errors="replace")}
        if status >= 300:
            raise ApiError(what or f"{method} {path}", status, str(parsed.get("message", parsed)), parsed)
        return parsed

    # -- discovery -------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources:
            self._discover(api_version)
        if key not in self._resources:
            raise ApiError(f"{kind} ({api_version})", 404, "the server does not serve this kind (CRD missing?)")
        return self._resources[key]

    def _discover(self, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            doc = self.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        for r in doc.get("resources", []):
            if "/" not in r["name"]:
                self._resources[(api_version, r["kind"])] = Resource(api_version, r["name"], r["namespaced"])

    def forget_discovery(self) -> None:
        self._resources.clear()

    def path(self, api_version: str, kind: str, name: str = "", namespace: str | None = None) -> str:
        res = self.resource(api_version, kind)
        prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if res.namespaced:
            prefix += f"/namespaces/{namespace or 'default'}"
        return f"{prefix}/{res.plural}" + (f"/{name}" if name else "")

    def obj_path(self, obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        return self.path(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    # -- verbs -----------------------------------------------------------------------------------
    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply with strict field validation; raises ApiError naming the object."""
        query = {"fieldManager": manager, "fieldValidation": "Strict", "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        return self.request(
            "PATCH", self.obj_path(obj), obj, content_type="application/apply-patch+yaml",
            what=describe(obj), query=query,
        )  # fmt: skip

    def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        query = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        path = self.path(obj["apiVersion"], obj["kind"], namespace=meta.get("namespace"))
        return self.request("POST", path, obj, what=describe(obj), query=query)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        what = f"{kind} {namespace + '/' if namespace else ''}{name}"
        return self.request("GET", self.path(api_version, kind, name, namespace), what=what)

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.request("GET", self.path(api_version, kind, namespace=namespace)).get("items", [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        try:
            self.request("DELETE", self.path(api_version, kind, name, namespace), {"propagationPolicy": "Background"})
        except ApiError as exc:
            if exc.status != 404:
                raise

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25) -> Any:
        """Poll ``probe`` until it returns a truthy value; raise TimeoutError naming ``what`` and the last value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = probe()
            except ApiError as exc:
                last = exc
            if last and not isinstance(last, ApiError):
                return last
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
