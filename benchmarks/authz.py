"""Benchmark: latency the OpenFGA authorization adds per model request at the proxy (not a test).

Real processes on loopback (tests/authz/stack.py): Envoy 1.38.3 with the api_key_auth filter, the
authorization service (``components/addons/authz/ext_authz.py``) and the real OpenFGA server
(v1.18.3, memory datastore; ``--postgres`` for Debian's PostgreSQL) with the aws-dev stack's tuples,
in front of a stub backend. One client on one kept-alive connection sends ``--requests`` requests per
mode, modes interleaved in rounds so machine load hits all alike:

- ``baseline``: the same Envoy route without ext_authz (authentication only);
- ``warm``: ext_authz with the decision cache warm (TTL longer than the run);
- ``cold``: ext_authz with the cache off (TTL 0): every request is an OpenFGA Check.

Reported: p50/p99 of each mode and the added latency (mode minus baseline, per percentile).
Target: p99 added <= 2 ms warm. Bounded: at most ``--requests`` x 3 requests and ``--max-seconds``.

    python benchmarks/authz.py [--requests N] [--rounds R] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.addons import authz
from gpuplane import access, stackfiles
from tests.authz.stack import GatewayStack
from tests.openfga.server import OpenFga, Postgres

KEYS = {"search": "key-search-0123456789", "research": "key-research-0123456789"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(stack: GatewayStack, model_id: str, key: str, count: int, deadline: float) -> list[float]:
    body = json.dumps({"model": model_id, "messages": [{"role": "user", "content": "hi"}]})
    headers = {"Content-Type": "application/json", "x-ai-eg-model": model_id, "x-api-key": key}
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=5)
    samples: list[float] = []
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            samples.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"unexpected {response.status}")
    finally:
        conn.close()
    return samples


@contextlib.contextmanager
def openfga_server(postgres: bool) -> Iterator[OpenFga]:
    if postgres:
        with Postgres() as pg, OpenFga(pg.createdb("bench")) as server:
            yield server
    else:
        with OpenFga(None) as server:
            yield server


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "authz benchmark").splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per mode and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--postgres", action="store_true", help="OpenFGA on PostgreSQL instead of memory")
    args = parser.parse_args()

    spec = access.spec_from_stack(stackfiles.load(stackfiles.resolve("aws-dev")))
    models = {m.name: m.served_name for m in spec.models}
    grants = authz.tuples(spec, access.local_queues(spec))
    model_id = models["llama-8b"]
    deadline = time.monotonic() + args.max_seconds
    results: dict[str, list[float]] = {"baseline": [], "warm": [], "cold": []}
    with (
        openfga_server(args.postgres) as server,
        GatewayStack(server, models, KEYS, grants, with_ext_authz=False) as baseline,
        GatewayStack(server, models, KEYS, grants, allow_ttl=3600, deny_ttl=3600) as warm,
        GatewayStack(server, models, KEYS, grants, allow_ttl=0, deny_ttl=0) as cold,
    ):
        stacks = {"baseline": baseline, "warm": warm, "cold": cold}
        for stack in stacks.values():  # warm-up: connections, the decision cache, Envoy's first request
            measure(stack, model_id, KEYS["search"], 50, deadline)
        for _ in range(args.rounds):
            for mode, stack in stacks.items():
                results[mode] += measure(stack, model_id, KEYS["search"], args.requests, deadline)
    base50, base99 = percentile(results["baseline"], 0.5), percentile(results["baseline"], 0.99)
    print(
        f"OpenFGA datastore: {'postgres' if args.postgres else 'memory'}; requests per mode: "
        f"{ {k: len(v) for k, v in results.items()} }"
    )
    print(f"{'mode':<9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'added p50':>10} {'added p99':>10}")
    for mode, samples in results.items():
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        print(
            f"{mode:<9} {p50:8.3f} {p99:8.3f} {statistics.fmean(samples):8.3f} "
            f"{p50 - base50:10.3f} {p99 - base99:10.3f}"
        )
    added_warm_p99 = percentile(results["warm"], 0.99) - base99
    print(f"target: warm p99 added <= 2 ms: {'met' if added_warm_p99 <= 2.0 else 'MISSED'} ({added_warm_p99:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
