"""Why every route's extAuth is identical and the model comes from ``x-ai-eg-model``: measured on the real
Envoy 1.38.3 (issue 14's "the model per route" design question; docs/decisions/gateway-and-authz.md).

Envoy decides which per-route-enabled filters run when it creates the filter chain, from the route the
*initial* headers match. The AI Gateway's ext_proc later sets ``x-ai-eg-model`` from the body and clears
the route cache, so the request ends on another route. Here a Lua filter plays the ext_proc's part
(replace the header, clear the route cache); two ext_authz instances, enabled on route A and route B
with different paths, stand for two models' SecurityPolicies. The request is routed to B, but the
instance that runs is A's: a per-route path naming the model would have named the wrong one, while the
header it forwards names the right one.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.authz.stack import Backend, Envoy, _static_cluster, _typed  # pyright: ignore[reportPrivateUsage]
from tests.openfga.server import free_port

SWITCH = """
function envoy_on_request(handle)
  local target = handle:headers():get("x-switch")
  if target ~= nil then
    handle:headers():replace("x-ai-eg-model", target)
    handle:clearRouteCache()
  end
end
"""


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                outer.seen.append((self.path, self.headers.get("x-ai-eg-model")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ext_authz(model: str) -> dict[str, Any]:
    return {
        "name": f"envoy.filters.http.ext_authz/{model}",
        "disabled": True,
        "typed_config": _typed(
            "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            transport_api_version="V3",
            failure_mode_allow=False,
            allowed_headers={"patterns": [{"exact": "x-ai-eg-model", "ignore_case": True}]},
            http_service={
                "path_prefix": f"/authorize-{model}",
                "server_uri": {"uri": "http://authz", "cluster": "authz", "timeout": "1s"},
            },
        ),
    }


def _route(model: str) -> dict[str, Any]:
    return {
        "match": {"prefix": "/", "headers": [{"name": "x-ai-eg-model", "string_match": {"exact": model}}]},
        "route": {"cluster": model},
        "typed_per_filter_config": {
            f"envoy.filters.http.ext_authz/{model}": _typed(
                "envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", check_settings={}
            )
        },
    }


@pytest.fixture(scope="module")
def envoy() -> Iterator[tuple[int, Recorder, dict[str, Backend]]]:
    recorder = Recorder()
    backends = {"A": Backend(), "B": Backend()}
    for backend in backends.values():
        backend.start()
    listen, admin = free_port(), free_port()
    hcm = _typed(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="t",
        http_filters=[
            {
                "name": "envoy.filters.http.lua",
                "typed_config": _typed(
                    "envoy.extensions.filters.http.lua.v3.Lua", default_source_code={"inline_string": SWITCH}
                ),
            },
            _ext_authz("A"),
            _ext_authz("B"),
            {
                "name": "envoy.filters.http.router",
                "typed_config": _typed("envoy.extensions.filters.http.router.v3.Router"),
            },
        ],
        route_config={"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [_route("A"), _route("B")]}]},
    )
    bootstrap = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
                    ],
                }
            ],
            "clusters": [
                _static_cluster("A", backends["A"].port),
                _static_cluster("B", backends["B"].port),
                _static_cluster("authz", recorder.port),
            ],
        },
    }
    proxy = Envoy(bootstrap, admin)
    proxy.start()
    try:
        yield listen, recorder, backends
    finally:
        proxy.stop()
        recorder.stop()
        for backend in backends.values():
            backend.stop()


def _post(port: int, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat", data=b"{}", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def test_the_route_changes_but_the_initial_routes_ext_authz_runs_with_the_final_header(
    envoy: tuple[int, Recorder, dict[str, Backend]],
) -> None:
    port, recorder, backends = envoy
    assert _post(port, {"x-ai-eg-model": "A", "x-switch": "B"}) == 200
    assert (len(backends["A"].requests), len(backends["B"].requests)) == (0, 1), "the request ended on route B"
    assert recorder.seen == [("/authorize-A/v1/chat", "B")], "route A's instance ran, seeing model B"


def test_without_a_route_change_the_routes_own_instance_runs(envoy: tuple[int, Recorder, dict[str, Backend]]) -> None:
    port, recorder, _ = envoy
    recorder.seen.clear()
    assert _post(port, {"x-ai-eg-model": "B"}) == 200
    assert recorder.seen == [("/authorize-B/v1/chat", "B")]
