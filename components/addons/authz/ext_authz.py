"""Envoy HTTP external-authorization service that asks OpenFGA whether a tenant may invoke a model.

What: Envoy's ``ext_authz`` filter (HTTP service mode) forwards each request's headers here. The
authenticated tenant is in ``$AUTHZ_TENANT_HEADER`` (``x-gpuplane-tenant``, set by Envoy Gateway's
``apiKeyAuth`` ``forwardClientIDHeader`` or ``jwt`` ``claimToHeaders`` after authentication) and the
model id in ``$AUTHZ_MODEL_HEADER`` (``x-ai-eg-model``, set from the request body by the AI Gateway's
ext_proc). The model id maps to the spec's model name through ``$AUTHZ_MODELS_FILE``; the service
then asks OpenFGA ``Check(user=tenant:<t>#member, relation=can_invoke, object=model:<name>)`` and
answers 200 (allow) or 403 (deny). Answers are cached per (tenant, model): allows for
``$AUTHZ_ALLOW_TTL_SECONDS``, denies for ``$AUTHZ_DENY_TTL_SECONDS``. Anything that goes wrong
(OpenFGA unreachable or slow, an unknown model, a missing header, a malformed answer) is a deny and
is never cached. Prometheus metrics on ``$AUTHZ_METRICS_PORT`` at ``/metrics``; ``/healthz`` there too.

Why stdlib only: it runs in the pinned public ``python`` image from a ConfigMap (no image of our own
to build or publish), like the tuple-sync script.

Environment: ``OPENFGA_API_URL``, ``OPENFGA_STORE_NAME`` (looked up once, paging through stores with
the continuation token URL-escaped) or ``OPENFGA_STORE_ID``, ``OPENFGA_API_TOKEN`` (preshared key),
``AUTHZ_PORT`` (9000), ``AUTHZ_METRICS_PORT`` (9100), ``AUTHZ_BIND`` (``0.0.0.0``),
``AUTHZ_OPENFGA_TIMEOUT_SECONDS`` (0.5), ``AUTHZ_ALLOW_TTL_SECONDS`` (10), ``AUTHZ_DENY_TTL_SECONDS`` (5),
``AUTHZ_DRAIN_SECONDS`` (5: after SIGTERM, /healthz answers 503 and decisions go on that long).

Gotchas: TCP_NODELAY on both connections (Nagle + delayed ACK otherwise add ~40 ms per call). Envoy sends the check as the original method with the configured path prefix plus the
original path, without the body; any 2xx allows and any other status is returned to the client.
HTTP/1.1 keep-alive on both sides (Envoy -> here, here -> OpenFGA) keeps the added latency low.
"""

from __future__ import annotations

import bisect
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Counters and histograms in the Prometheus text format (no client library in the base image)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decisions: dict[tuple[str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.cache: dict[str, int] = {"hit": 0, "miss": 0}
        self.decision_seconds = Histogram()
        self.check_seconds = Histogram()

    def decided(self, decision: str, source: str, seconds: float) -> None:
        with self.lock:
            key = (decision, source)
            self.decisions[key] = self.decisions.get(key, 0) + 1
            self.decision_seconds.observe(seconds)

    def error(self, reason: str) -> None:
        with self.lock:
            self.errors[reason] = self.errors.get(reason, 0) + 1

    def cache_lookup(self, hit: bool) -> None:
        with self.lock:
            self.cache["hit" if hit else "miss"] += 1

    def checked(self, seconds: float) -> None:
        with self.lock:
            self.check_seconds.observe(seconds)

    def render(self) -> str:
        lines: list[str] = []
        with self.lock:
            lines += [
                "# HELP gpuplane_authz_decisions_total Authorization decisions by outcome and source.",
                "# TYPE gpuplane_authz_decisions_total counter",
            ]
            for decision in ("allow", "deny"):
                for source in ("cache", "openfga", "error"):
                    count = self.decisions.get((decision, source), 0)
                    lines.append(f'gpuplane_authz_decisions_total{{decision="{decision}",source="{source}"}} {count}')
            lines += [
                "# HELP gpuplane_authz_errors_total Requests denied because no answer could be had.",
                "# TYPE gpuplane_authz_errors_total counter",
            ]
            for reason in sorted({"openfga", "bad_request", "unknown_model", *self.errors}):
                lines.append(f'gpuplane_authz_errors_total{{reason="{reason}"}} {self.errors.get(reason, 0)}')
            lines += [
                "# HELP gpuplane_authz_cache_lookups_total Decision cache lookups by result.",
                "# TYPE gpuplane_authz_cache_lookups_total counter",
                f'gpuplane_authz_cache_lookups_total{{result="hit"}} {self.cache["hit"]}',
                f'gpuplane_authz_cache_lookups_total{{result="miss"}} {self.cache["miss"]}',
            ]
            for name, help_text, hist in (
                ("gpuplane_authz_decision_duration_seconds", "Time to answer Envoy.", self.decision_seconds),
                ("gpuplane_authz_openfga_check_duration_seconds", "OpenFGA Check round trips.", self.check_seconds),
            ):
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
                running = 0
                for bound, count in zip(BUCKETS, hist.counts, strict=False):
                    running += count
                    lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
                running += hist.counts[-1]
                lines += [
                    f'{name}_bucket{{le="+Inf"}} {running}',
                    f"{name}_sum {hist.total}",
                    f"{name}_count {running}",
                ]
        return "\n".join(lines) + "\n"


class CheckError(Exception):
    """OpenFGA gave no usable answer."""


class OpenFgaClient:
    """A keep-alive JSON client for one OpenFGA store (one connection per thread)."""

    def __init__(self, base_url: str, token: str | None, timeout: float, store_name: str, store_id: str | None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"OPENFGA_API_URL: not an http(s) URL: {base_url!r}")
        self.scheme, self.host = parsed.scheme, parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.prefix = parsed.path.rstrip("/")
        self.token, self.timeout = token, timeout
        self.store_name, self.store_id = store_name, store_id
        self.local = threading.local()
        self.store_lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = cast(http.client.HTTPConnection | None, getattr(self.local, "conn", None))
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            conn.connect()
            # http.client writes headers and body in two sends: without TCP_NODELAY, Nagle + delayed
            # ACK hold the body back ~40 ms on a kept-alive connection.
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.local.conn = conn
        return conn

    def call(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            try:
                conn = self._connection()
                conn.request(method, self.prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                stale = cast(http.client.HTTPConnection | None, getattr(self.local, "conn", None))
                if stale is not None:
                    stale.close()
                self.local.conn = None
                # A kept-alive connection the server closed fails once; a fresh one is tried at most once.
                if attempt == 0 and isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                ):
                    continue
                raise CheckError(f"{method} {path}: {exc.__class__.__name__}: {exc}") from exc
            if response.status != 200:
                raise CheckError(f"{method} {path}: HTTP {response.status}: {raw[:200]!r}")
            try:
                return cast(dict[str, Any], json.loads(raw))
            except ValueError as exc:
                raise CheckError(f"{method} {path}: not JSON") from exc
        raise CheckError(f"{method} {path}: connection closed twice")

    def store(self) -> str:
        with self.store_lock:
            if self.store_id is None:
                token = ""
                while self.store_id is None:
                    query = "/stores?page_size=100"
                    if token:
                        query += "&continuation_token=" + urllib.parse.quote(token, safe="")
                    page = self.call("GET", query, None)
                    for store in cast(list[dict[str, Any]], page.get("stores") or []):
                        if store.get("name") == self.store_name:
                            self.store_id = str(store["id"])
                            break
                    token = str(page.get("continuation_token") or "")
                    if self.store_id is None and not token:
                        raise CheckError(f"store {self.store_name!r} not found")
            return self.store_id

    def check(self, user: str, relation: str, obj: str) -> bool:
        body = {"tuple_key": {"user": user, "relation": relation, "object": obj}}
        answer = self.call("POST", f"/stores/{self.store()}/check", body)
        allowed = answer.get("allowed")
        if not isinstance(allowed, bool):
            raise CheckError(f"check answer without 'allowed': {answer!r}")
        return allowed


class Authorizer:
    """Decides (tenant, model id) with a TTL cache in front of OpenFGA; errors deny and are not cached."""

    def __init__(
        self,
        client: OpenFgaClient,
        models: Mapping[str, str],
        metrics: Metrics,
        allow_ttl: float,
        deny_ttl: float,
        clock: Any = time.monotonic,
    ) -> None:
        self.client, self.models, self.metrics = client, dict(models), metrics
        self.allow_ttl, self.deny_ttl, self.clock = allow_ttl, deny_ttl, clock
        self.cache: dict[tuple[str, str], tuple[bool, float]] = {}
        self.lock = threading.Lock()

    def decide(self, tenant: str | None, model_id: str | None) -> bool:
        started = time.perf_counter()
        allowed, source = self._decide(tenant, model_id)
        self.metrics.decided("allow" if allowed else "deny", source, time.perf_counter() - started)
        return allowed

    def _decide(self, tenant: str | None, model_id: str | None) -> tuple[bool, str]:
        if not tenant or not model_id or "#" in tenant or ":" in tenant:
            self.metrics.error("bad_request")
            return False, "error"
        model = self.models.get(model_id)
        if model is None:
            self.metrics.error("unknown_model")
            return False, "error"
        key = (tenant, model)
        now = self.clock()
        with self.lock:
            cached = self.cache.get(key)
        if cached is not None and cached[1] > now:
            self.metrics.cache_lookup(True)
            return cached[0], "cache"
        self.metrics.cache_lookup(False)
        started = time.perf_counter()
        try:
            allowed = self.client.check(f"tenant:{tenant}#member", "can_invoke", f"model:{model}")
        except CheckError as exc:
            self.metrics.error("openfga")
            print(json.dumps({"level": "error", "msg": "openfga check failed", "error": str(exc)}), file=sys.stderr)
            return False, "error"
        finally:
            self.metrics.checked(time.perf_counter() - started)
        ttl = self.allow_ttl if allowed else self.deny_ttl
        if ttl > 0:
            with self.lock:
                self.cache[key] = (allowed, self.clock() + ttl)
        return allowed, "openfga"


def _handler(authorizer: Authorizer, tenant_header: str, model_header: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            allowed = authorizer.decide(self.headers.get(tenant_header), self.headers.get(model_header))
            self.send_response(200 if allowed else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _metrics_handler(metrics: Metrics, draining: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, ctype = metrics.render().encode(), "text/plain; version=0.0.4"
                self.send_response(200)
            elif self.path == "/healthz" and draining.is_set():
                body, ctype = b"draining\n", "text/plain"
                self.send_response(503)
            elif self.path == "/healthz":
                body, ctype = b"ok\n", "text/plain"
                self.send_response(200)
            else:
                body, ctype = b"not found\n", "text/plain"
                self.send_response(404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class Servers:
    """The decision server and the metrics server, each on its own thread."""

    def __init__(
        self, authorizer: Authorizer, bind: str, port: int, metrics_port: int, tenant: str, model: str
    ) -> None:
        ThreadingHTTPServer.daemon_threads = True
        self.draining = threading.Event()
        """Set on SIGTERM: /healthz answers 503 (out of the Service) while decisions are still served."""
        self.authz = ThreadingHTTPServer((bind, port), _handler(authorizer, tenant, model))
        self.metrics = ThreadingHTTPServer((bind, metrics_port), _metrics_handler(authorizer.metrics, self.draining))
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.authz, self.metrics)]

    @property
    def ports(self) -> tuple[int, int]:
        return self.authz.server_address[1], self.metrics.server_address[1]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for server in (self.authz, self.metrics):
            server.shutdown()
            server.server_close()


def _float(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name}: not a number: {raw!r}")
        return default
    if value < 0:
        problems.append(f"{name}: must be >= 0, got {raw!r}")
    return value


def from_env(env: Mapping[str, str]) -> Servers:
    """Build the servers from the environment; every problem is reported at once."""
    problems: list[str] = []
    url = env.get("OPENFGA_API_URL") or ""
    if not url:
        problems.append("OPENFGA_API_URL: required")
    store_name = env.get("OPENFGA_STORE_NAME") or "gpuplane"
    timeout = _float(env, "AUTHZ_OPENFGA_TIMEOUT_SECONDS", 0.5, problems)
    allow_ttl = _float(env, "AUTHZ_ALLOW_TTL_SECONDS", 10.0, problems)
    deny_ttl = _float(env, "AUTHZ_DENY_TTL_SECONDS", 5.0, problems)
    port = int(_float(env, "AUTHZ_PORT", 9000, problems))
    metrics_port = int(_float(env, "AUTHZ_METRICS_PORT", 9100, problems))
    models_file = Path(env.get("AUTHZ_MODELS_FILE") or Path(__file__).resolve().parent / "models.json")
    models: dict[str, str] = {}
    try:
        loaded = json.loads(models_file.read_text())
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in cast(dict[str, Any], loaded).values()):
            problems.append(f"AUTHZ_MODELS_FILE: {models_file} must map model ids to model names")
        else:
            models = cast(dict[str, str], loaded)
    except (OSError, ValueError) as exc:
        problems.append(f"AUTHZ_MODELS_FILE: cannot read {models_file}: {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    client = OpenFgaClient(url, env.get("OPENFGA_API_TOKEN"), timeout, store_name, env.get("OPENFGA_STORE_ID"))
    authorizer = Authorizer(client, models, Metrics(), allow_ttl, deny_ttl)
    return Servers(
        authorizer,
        env.get("AUTHZ_BIND") or "0.0.0.0",
        port,
        metrics_port,
        (env.get("AUTHZ_TENANT_HEADER") or "x-gpuplane-tenant"),
        (env.get("AUTHZ_MODEL_HEADER") or "x-ai-eg-model"),
    )


def main() -> int:
    try:
        servers = from_env(os.environ)
    except ValueError as exc:
        print(f"ext_authz: {exc}", file=sys.stderr)
        return 2
    drain = float(os.environ.get("AUTHZ_DRAIN_SECONDS") or 5)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A process-directed signal may land on any thread; CPython runs the handler only in the main thread,
    # and a main thread blocked in Event.wait() is not woken by a signal another thread took. So the
    # server threads (and every connection thread they spawn) start with SIGTERM/SIGINT blocked, and
    # the main thread also wakes twice a second.
    stopping = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    servers.start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)
    print(json.dumps({"level": "info", "msg": "serving", "ports": list(servers.ports)}), file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    # Kubernetes removes the pod from the Service's endpoints while it sends SIGTERM; keep answering
    # Envoy (whose connections may still point here) for a bounded drain, then stop.
    servers.draining.set()
    print(json.dumps({"level": "info", "msg": "draining", "seconds": drain}), file=sys.stderr, flush=True)
    time.sleep(max(0.0, drain))
    servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
