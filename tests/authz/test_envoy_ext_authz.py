"""The request path with real processes on loopback (issue 14 item 7).

Envoy 1.38.3 (the version Envoy Gateway v1.8.3 deploys) with the api_key_auth + ext_authz filters in
the shape Envoy Gateway generates for the route SecurityPolicy (tests/authz/stack.py says what is
hand-derived), the authorization service as its own process, a stub model backend and the real
OpenFGA server with the tuples the platform's sync script writes for the aws-dev example stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.addons import authz
from components.spec import PlatformSpec
from gpuplane import access, stackfiles
from tests.authz.stack import GatewayStack, poll_until
from tests.openfga.server import OpenFga

pytestmark = pytest.mark.tier2
STACK = stackfiles.STACKS_DIR / "Pulumi.aws-dev.yaml"
KEYS = {"search": "key-search-0123456789", "research": "key-research-0123456789"}
TTL = 1.5


def _spec() -> PlatformSpec:
    return access.spec_from_stack(stackfiles.load(STACK))


@pytest.fixture(scope="module")
def gateway(openfga_memory: OpenFga) -> Iterator[GatewayStack]:
    spec = _spec()
    assert {t.name for t in spec.tenants} == set(KEYS), "the example stack's tenants changed; update KEYS"
    models = {m.name: m.served_name for m in spec.models}
    grants = authz.tuples(spec, access.local_queues(spec))
    with GatewayStack(openfga_memory, models, KEYS, grants, allow_ttl=TTL, deny_ttl=TTL) as stack:
        yield stack


def _model_id(name: str) -> str:
    return next(m.served_name for m in _spec().models if m.name == name)


def test_every_tenant_gets_exactly_the_spec_answer(gateway: GatewayStack) -> None:
    spec = _spec()
    for tenant in spec.tenants:
        for model in spec.models:
            before = len(gateway.backend.requests) if gateway.backend else 0
            response = gateway.request(model.served_name, KEYS[tenant.name])
            allowed = tenant.name in model.tenants
            assert response.status == (200 if allowed else 403), (tenant.name, model.name, response)
            after = len(gateway.backend.requests) if gateway.backend else 0
            assert after - before == (1 if allowed else 0), "a denied request never reaches the backend"
            if allowed and gateway.backend:
                seen = gateway.backend.requests[-1]
                assert seen["x-gpuplane-tenant"] == tenant.name
                assert "x-api-key" not in seen, "the credential is hidden from the backend"


def test_a_spoofed_tenant_header_is_dropped_before_authorization(gateway: GatewayStack) -> None:
    # search may not call gpt-4o-mini; claiming to be research does not help.
    response = gateway.request(_model_id("gpt-4o-mini"), KEYS["search"], {"x-gpuplane-tenant": "research"})
    assert response.status == 403


def test_no_or_a_wrong_key_is_refused_before_the_authorization_service(gateway: GatewayStack) -> None:
    assert gateway.authz is not None
    before = gateway.authz.metrics()
    assert gateway.request(_model_id("llama-8b"), None).status == 401
    assert gateway.request(_model_id("llama-8b"), "not-a-key").status == 401
    after = gateway.authz.metrics()
    decisions = 'gpuplane_authz_decisions_total{decision="deny",source="error"}'
    assert after[decisions] == before[decisions], "unauthenticated requests never reach ext_authz"


def test_an_unknown_model_is_denied(gateway: GatewayStack) -> None:
    # A model id no route serves falls through to the route-not-found rule, which still carries the
    # route's policy: authorization runs first and denies the unknown model.
    assert gateway.request("no-such-model", KEYS["research"]).status == 403


def test_a_tuple_written_at_run_time_takes_effect_within_the_cache_ttl(gateway: GatewayStack) -> None:
    model = _model_id("gpt-4o-mini")
    grant = authz.RelationshipTuple("tenant:search#member", "invoker", "model:gpt-4o-mini")
    assert gateway.request(model, KEYS["search"]).status == 403  # denial now cached
    gateway.write_tuple(grant)
    try:
        took = poll_until(lambda: gateway.request(model, KEYS["search"]).status == 200, TTL + 2.0)
        assert took <= TTL + 0.5, f"the grant took {took:.2f} s, the deny TTL is {TTL} s"
    finally:
        gateway.write_tuple(grant, delete=True)
    took = poll_until(lambda: gateway.request(model, KEYS["search"]).status == 403, TTL + 2.0)
    assert took <= TTL + 0.5, f"the revocation took {took:.2f} s, the allow TTL is {TTL} s"


def test_metrics_count_decisions_and_cache_hits(gateway: GatewayStack) -> None:
    assert gateway.authz is not None
    model = _model_id("llama-8b")
    before = gateway.authz.metrics()
    for _ in range(3):
        assert gateway.request(model, KEYS["search"]).status == 200
    after = gateway.authz.metrics()
    hits = 'gpuplane_authz_cache_lookups_total{result="hit"}'
    assert after[hits] - before[hits] >= 2
    allows = sum(v for k, v in after.items() if k.startswith('gpuplane_authz_decisions_total{decision="allow"'))
    allows_before = sum(v for k, v in before.items() if k.startswith('gpuplane_authz_decisions_total{decision="allow"'))
    assert allows - allows_before == 3
    assert after["gpuplane_authz_decision_duration_seconds_count"] >= 3


def test_openfga_down_fails_closed_and_counts_the_error() -> None:
    spec = _spec()
    models = {m.name: m.served_name for m in spec.models}
    grants = authz.tuples(spec, access.local_queues(spec))
    with OpenFga(None) as server, GatewayStack(server, models, KEYS, grants, allow_ttl=0, deny_ttl=0) as stack:
        assert stack.authz is not None
        assert stack.backend is not None
        model = _model_id("llama-8b")
        assert stack.request(model, KEYS["search"]).status == 200
        server.stop()
        seen = len(stack.backend.requests)
        before = stack.authz.metrics()['gpuplane_authz_errors_total{reason="openfga"}']
        response = stack.request(model, KEYS["search"])
        assert response.status == 403, "an admitted tenant is refused while OpenFGA is down"
        assert len(stack.backend.requests) == seen
        after = stack.authz.metrics()['gpuplane_authz_errors_total{reason="openfga"}']
        assert after == before + 1
