"""The authorization service's decision logic: cache TTLs, fail-closed errors, input checks, metrics,
configuration errors. The OpenFGA side is a recording double here (the real server answers in
test_envoy_ext_authz.py and tests/openfga); what is under test is what the service does with answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.addons.authz import ext_authz
from components.addons.authz.ext_authz import Authorizer, CheckError, Metrics

MODELS = {"meta-llama/Llama-3.1-8B-Instruct": "llama-8b", "gpt-4o-mini": "gpt-4o-mini"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answers:
    """Answers ``check`` from a set of (user, object) pairs, or raises when ``down``."""

    def __init__(self, allowed: set[tuple[str, str]]) -> None:
        self.allowed = allowed
        self.calls: list[tuple[str, str, str]] = []
        self.down = False

    def check(self, user: str, relation: str, obj: str) -> bool:
        self.calls.append((user, relation, obj))
        if self.down:
            raise CheckError("connection refused")
        return (user, obj) in self.allowed


def make(allow_ttl: float = 10, deny_ttl: float = 5) -> tuple[Authorizer, Answers, Clock]:
    answers = Answers({("tenant:search#member", "model:llama-8b")})
    clock = Clock()
    authorizer = Authorizer(answers, MODELS, Metrics(), allow_ttl, deny_ttl, clock=clock)  # pyright: ignore[reportArgumentType]
    return authorizer, answers, clock


def test_asks_can_invoke_for_the_tenant_userset_and_the_model_name() -> None:
    authorizer, answers, _ = make()
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is True
    assert answers.calls == [("tenant:search#member", "can_invoke", "model:llama-8b")]
    assert authorizer.decide("search", "gpt-4o-mini") is False


def test_allows_and_denies_are_cached_for_their_own_ttl() -> None:
    authorizer, answers, clock = make(allow_ttl=10, deny_ttl=5)
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is True
    assert authorizer.decide("search", "gpt-4o-mini") is False
    answers.allowed = {("tenant:search#member", "model:gpt-4o-mini")}  # grant gpt, revoke llama
    clock.now += 4.9
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is True  # cached allow
    assert authorizer.decide("search", "gpt-4o-mini") is False  # cached deny
    assert len(answers.calls) == 2
    clock.now += 0.2  # past the deny TTL, inside the allow TTL
    assert authorizer.decide("search", "gpt-4o-mini") is True
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is True
    clock.now += 5  # past the allow TTL
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is False


def test_zero_ttl_disables_the_cache() -> None:
    authorizer, answers, _ = make(allow_ttl=0, deny_ttl=0)
    for _ in range(3):
        authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct")
    assert len(answers.calls) == 3


def test_errors_deny_are_counted_and_never_cached() -> None:
    authorizer, answers, _ = make()
    answers.down = True
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is False
    assert authorizer.metrics.errors == {"openfga": 1}
    answers.down = False
    assert authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct") is True, "the error was not cached"


@pytest.mark.parametrize(
    ("tenant", "model", "reason"),
    [
        (None, "gpt-4o-mini", "bad_request"),
        ("", "gpt-4o-mini", "bad_request"),
        ("search", None, "bad_request"),
        ("tenant:search", "gpt-4o-mini", "bad_request"),
        ("search#member", "gpt-4o-mini", "bad_request"),
        ("search", "not-served", "unknown_model"),
    ],
)
def test_missing_or_odd_input_denies_without_asking(tenant: str | None, model: str | None, reason: str) -> None:
    authorizer, answers, _ = make()
    assert authorizer.decide(tenant, model) is False
    assert answers.calls == []
    assert authorizer.metrics.errors == {reason: 1}


def test_metrics_render_in_the_prometheus_text_format() -> None:
    authorizer, answers, _ = make()
    authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct")
    authorizer.decide("search", "meta-llama/Llama-3.1-8B-Instruct")
    answers.down = True
    authorizer.decide("research", "gpt-4o-mini")
    text = authorizer.metrics.render()
    values = {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if not line.startswith("#")
    }
    assert values['gpuplane_authz_decisions_total{decision="allow",source="openfga"}'] == 1
    assert values['gpuplane_authz_decisions_total{decision="allow",source="cache"}'] == 1
    assert values['gpuplane_authz_decisions_total{decision="deny",source="error"}'] == 1
    assert values['gpuplane_authz_errors_total{reason="openfga"}'] == 1
    assert values['gpuplane_authz_cache_lookups_total{result="hit"}'] == 1
    assert values['gpuplane_authz_cache_lookups_total{result="miss"}'] == 2
    assert values['gpuplane_authz_decision_duration_seconds_bucket{le="+Inf"}'] == 3
    assert values["gpuplane_authz_openfga_check_duration_seconds_count"] == 2
    for family in ("decisions_total", "errors_total", "cache_lookups_total"):
        assert f"# TYPE gpuplane_authz_{family} counter" in text


def test_bad_configuration_names_every_problem(tmp_path: Path) -> None:
    env: dict[str, Any] = {
        "AUTHZ_ALLOW_TTL_SECONDS": "ten",
        "AUTHZ_DENY_TTL_SECONDS": "-1",
        "AUTHZ_MODELS_FILE": str(tmp_path / "missing.json"),
    }
    with pytest.raises(ValueError, match="OPENFGA_API_URL: required") as info:
        ext_authz.from_env(env)
    message = str(info.value)
    assert "AUTHZ_ALLOW_TTL_SECONDS: not a number" in message
    assert "AUTHZ_DENY_TTL_SECONDS: must be >= 0" in message
    assert "AUTHZ_MODELS_FILE: cannot read" in message
    (tmp_path / "models.json").write_text(json.dumps(["not", "a", "map"]))
    with pytest.raises(ValueError, match="must map model ids to model names"):
        ext_authz.from_env(
            {"OPENFGA_API_URL": "http://127.0.0.1:1", "AUTHZ_MODELS_FILE": str(tmp_path / "models.json")}
        )
    with pytest.raises(ValueError, match="OPENFGA_API_URL: not an http"):
        ext_authz.OpenFgaClient("ftp://x", None, 1, "s", None)


def test_an_unreachable_openfga_is_a_check_error_not_a_crash() -> None:
    from tests.openfga.server import free_port

    client = ext_authz.OpenFgaClient(f"http://127.0.0.1:{free_port()}", "k", 0.5, "gpuplane", "store")
    with pytest.raises(CheckError):
        client.check("tenant:a#member", "can_invoke", "model:m")
