"""``models:``, ``gateway:`` and ``openfga:`` in the spec, their secrets in the stack config, and the
offline reading of nested ``secure:`` values.

Every config mistake is an error naming its key: unknown tenants, duplicate models, budgets for
tenants without access, incomplete backends; a model credential missing from, or stored in plain
text in, ``gpuplane:modelCredentials``; the OpenFGA datastore URI likewise.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi_kubernetes as k8s
import pytest
import yaml

from components.spec import SpecError, parse_spec
from gpuplane import stackfiles
from gpuplane.recording import SECRET_SIG, SIG_KEY, run_program
from stacks import settings
from tests.support import raw_spec

STACKS = Path(__file__).resolve().parents[2] / "stacks"
Raw = dict[str, Any]


def _in_cluster(**extra: Any) -> dict[str, Any]:
    return {"provider": "in-cluster", "service": "vllm", "namespace": "team-a", "port": 8000, **extra}


def with_models(cloud: str = "aws") -> Raw:
    raw = raw_spec(cloud)
    raw["tenants"][0]["members"] = ["alice", "dana@example.com"]
    raw["tenants"][1]["members"] = ["bob"]
    raw["models"] = [
        {
            "name": "llama",
            "modelId": "meta-llama/Llama-3.1-8B-Instruct",
            "backend": _in_cluster(),
            "tenants": ["team-a", "team-b"],
            "budgets": {"team-a": {"tokens": 50000, "per": "Minute"}},
        },
        {"name": "gpt", "backend": {"provider": "openai", "credential": "openai"}, "tenants": ["team-a"]},
    ]
    return raw


def test_models_parse_with_defaults() -> None:
    spec = parse_spec(with_models())
    llama, gpt = spec.models
    assert llama.served_name == "meta-llama/Llama-3.1-8B-Instruct"
    assert gpt.served_name == "gpt"
    assert llama.budgets["team-a"].tokens == 50000
    assert llama.budgets["team-a"].per == "Minute"
    assert spec.tenants[0].members == ("alice", "dana@example.com")
    assert spec.gateway.enabled
    assert spec.openfga.enabled
    assert spec.gateway.auth.mode == "api-key"
    assert spec.gateway.tls.mode == "self-signed"
    assert spec.gateway.rate_limit_fail_closed is True
    assert spec.openfga.datastore == "in-cluster"
    assert (spec.gateway.default_budget.tokens, spec.gateway.default_budget.per) == (100_000, "Hour")


def test_a_spec_without_models_still_validates_and_members_default_to_none() -> None:
    spec = parse_spec(raw_spec("linode"))
    assert spec.models == ()
    assert all(t.members == () for t in spec.tenants)


def _model(index: int) -> Callable[[Raw], dict[str, Any]]:
    return lambda raw: raw["models"][index]


def _mutate(path: list[Any], value: Any) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return apply


def _drop(path: list[Any]) -> Callable[[Raw], None]:
    def apply(raw: Raw) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return apply


def _add_model(model: dict[str, Any]) -> Callable[[Raw], None]:
    return lambda raw: raw["models"].append(model)


INVALID: list[tuple[str, Callable[[Raw], None], str, str]] = [
    (
        "unknown tenant",
        _mutate(["models", 0, "tenants"], ["team-a", "team-z"]),
        "models[0].tenants[1]",
        "unknown tenant 'team-z'",
    ),
    ("tenant listed twice", _mutate(["models", 1, "tenants"], ["team-a", "team-a"]), "models[1].tenants[1]", "twice"),
    ("no tenant", _mutate(["models", 1, "tenants"], []), "models[1].tenants", "at least one"),
    (
        "duplicate model",
        _add_model({"name": "gpt", "modelId": "gpt-x", "backend": _in_cluster(), "tenants": ["team-b"]}),
        "models[2].name",
        "duplicate name 'gpt'",
    ),
    (
        "duplicate model id",
        _add_model({"name": "gpt-two", "modelId": "gpt", "backend": _in_cluster(), "tenants": ["team-b"]}),
        "models[2].modelId",
        "already served by models[1]",
    ),
    (
        "budget without access",
        _mutate(["models", 1, "budgets"], {"team-b": {"tokens": 10}}),
        "models[1].budgets.team-b",
        "has no access to 'gpt'",
    ),
    (
        "budget for unknown tenant",
        _mutate(["models", 1, "budgets"], {"team-x": {"tokens": 10}}),
        "models[1].budgets.team-x",
        "unknown tenant 'team-x'",
    ),
    (
        "budget of zero tokens",
        _mutate(["models", 0, "budgets", "team-a", "tokens"], 0),
        "models[0].budgets.team-a.tokens",
        "greater than or equal to 1",
    ),
    (
        "budget unit",
        _mutate(["models", 0, "budgets", "team-a", "per"], "Week"),
        "models[0].budgets.team-a.per",
        "Minute",
    ),
    (
        "external without credential",
        _drop(["models", 1, "backend", "credential"]),
        "models[1].backend.credential",
        "gpuplane:modelCredentials",
    ),
    (
        "in-cluster with credential",
        _mutate(["models", 0, "backend", "credential"], "openai"),
        "models[0].backend.credential",
        "does not apply to provider in-cluster",
    ),
    ("in-cluster without port", _drop(["models", 0, "backend", "port"]), "models[0].backend.port", "needs port"),
    (
        "bedrock without region",
        _mutate(["models", 1, "backend"], {"provider": "bedrock", "credential": "aws"}),
        "models[1].backend.region",
        "needs region",
    ),
    (
        "vertex without project",
        _mutate(["models", 1, "backend"], {"provider": "vertex", "region": "us-central1", "credential": "gcp"}),
        "models[1].backend.project",
        "needs project",
    ),
    (
        "openai-compatible without hostname",
        _mutate(["models", 1, "backend"], {"provider": "openai-compatible", "credential": "x"}),
        "models[1].backend.hostname",
        "needs hostname",
    ),
    (
        "unknown provider",
        _mutate(["models", 1, "backend", "provider"], "azure"),
        "models[1].backend.provider",
        "in-cluster",
    ),
    ("model key typo", _mutate(["models", 1, "tenant"], ["team-a"]), "models[1].tenant", "unknown key"),
    (
        "models without the gateway",
        _mutate(["gateway"], {"enabled": False}),
        "gateway.enabled",
        "enable it or remove models",
    ),
    (
        "jwt without issuer",
        _mutate(["gateway"], {"auth": {"mode": "jwt", "jwksUri": "https://idp/jwks"}}),
        "gateway.auth.issuer",
        "issuer",
    ),
    (
        "jwt without jwks",
        _mutate(["gateway"], {"auth": {"mode": "jwt", "issuer": "https://idp"}}),
        "gateway.auth.jwksUri",
        "JWKS",
    ),
    (
        "jwks over http",
        _mutate(["gateway"], {"auth": {"mode": "jwt", "issuer": "i", "jwksUri": "http://idp/jwks"}}),
        "gateway.auth.jwksUri",
        "https",
    ),
    (
        "api-key with issuer",
        _mutate(["gateway"], {"auth": {"issuer": "https://idp"}}),
        "gateway.auth.issuer",
        "only to mode jwt",
    ),
    (
        "tls secret without name",
        _mutate(["gateway"], {"tls": {"mode": "secret"}}),
        "gateway.tls.secretName",
        "kubernetes.io/tls",
    ),
    (
        "self-signed with a secret name",
        _mutate(["gateway"], {"tls": {"secretName": "mine"}}),
        "gateway.tls.secretName",
        "only to mode secret",
    ),
    (
        "duplicate member",
        _mutate(["tenants", 1, "members"], ["bob", "bob"]),
        "tenants[1].members[1]",
        "duplicate member 'bob'",
    ),
    ("member id with a colon", _mutate(["tenants", 1, "members"], ["user:bob"]), "tenants[1].members[0]", "pattern"),
    ("in-memory openfga", _mutate(["openfga"], {"datastore": "memory"}), "openfga.datastore", "in-cluster"),
]


@pytest.mark.parametrize(("case", "mutate", "key", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_config_errors_name_the_key(case: str, mutate: Callable[[Raw], None], key: str, fragment: str) -> None:
    raw = with_models()
    mutate(raw)
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    matching = [p for p in caught.value.problems if p.key == key]
    assert matching, f"{case}: no problem for {key}: {caught.value.problems}"
    assert any(fragment in p.message for p in matching), matching


# --- stack config: credentials and the datastore URI --------------------------------------------------


def _stack(mutate: Callable[[dict[str, Any]], None]) -> stackfiles.StackFile:
    data = yaml.safe_load((STACKS / "Pulumi.aws-dev.yaml").read_text())
    config: dict[str, Any] = copy.deepcopy(data["config"])
    config.pop("gpuplane:models", None)
    config.pop("gpuplane:modelCredentials", None)
    config.pop("gpuplane:openfga", None)
    config.pop("gpuplane:openfgaDatastoreUri", None)
    config["gpuplane:tenants"][0]["members"] = ["alice"]
    config["gpuplane:models"] = [
        {"name": "gpt", "backend": {"provider": "openai", "credential": "openai"}, "tenants": ["search"]},
        {"name": "claude", "backend": {"provider": "anthropic", "credential": "anthropic"}, "tenants": ["research"]},
    ]
    config["gpuplane:modelCredentials"] = {"openai": {"secure": "v1:AAAA"}, "anthropic": {"secure": "v1:BBBB"}}
    mutate(config)
    path = Path(tempfile.mkdtemp()) / "Pulumi.t-dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return stackfiles.load(path)


def _load(stack: stackfiles.StackFile) -> tuple[settings.Settings | None, list[Any], Any]:
    got: dict[str, Any] = {}

    def program() -> None:
        try:
            loaded = settings.load()
        except settings.ConfigError as error:
            got["problems"] = error.problems
            return
        got["settings"] = loaded
        # Register the secrets as inputs, so the recording shows whether they stayed secret.
        k8s.core.v1.ConfigMap(
            "probe",
            data={
                **{f"credential-{k}": v for k, v in loaded.model_credentials.items()},
                **({"uri": loaded.openfga_datastore_uri} if loaded.openfga_datastore_uri is not None else {}),
            },
        )

    rec = run_program(program, config=stack.config, secret_keys=stack.secret_keys)
    return got.get("settings"), got.get("problems", []), rec


def test_nested_secure_values_become_placeholders_and_mark_the_key_secret() -> None:
    stack = _stack(lambda _c: None)
    assert "gpuplane:modelCredentials" in stack.secret_keys
    assert "gpuplane:models" not in stack.secret_keys
    assert yaml.safe_load(stack.config["gpuplane:modelCredentials"]) == {
        "openai": "offline-placeholder-for-gpuplane:modelCredentials.openai",
        "anthropic": "offline-placeholder-for-gpuplane:modelCredentials.anthropic",
    }


def test_nested_secure_values_inside_lists_are_found_too() -> None:
    plain, secret = stackfiles._without_secure([{"a": {"secure": "x"}}, "b"], "ns:k")  # pyright: ignore[reportPrivateUsage]
    assert secret is True
    assert plain == [{"a": "offline-placeholder-for-ns:k[0].a"}, "b"]
    assert stackfiles._without_secure({"a": 1}, "ns:k") == ({"a": 1}, False)  # pyright: ignore[reportPrivateUsage]


def test_credentials_reach_the_program_as_secrets_only() -> None:
    loaded, problems, rec = _load(_stack(lambda _c: None))
    assert problems == []
    assert loaded is not None
    assert sorted(loaded.model_credentials) == ["anthropic", "openai"]
    data = rec.named("probe").wire_inputs["data"]
    for key in ("credential-openai", "credential-anthropic"):
        assert data[key][SIG_KEY] == SECRET_SIG
    assert loaded.openfga_datastore_uri is None


def _problem_keys(mutate: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    _, problems, rec = _load(_stack(mutate))
    assert rec.resources == [], "nothing may be registered from an invalid config"
    return {p.key: p.message for p in problems}


def test_a_missing_credential_entry_is_an_error_naming_the_key() -> None:
    problems = _problem_keys(lambda c: c["gpuplane:modelCredentials"].pop("anthropic"))
    assert list(problems) == ["gpuplane:modelCredentials.anthropic"]
    assert "models[1].backend.credential names 'anthropic'" in problems["gpuplane:modelCredentials.anthropic"]
    assert "pulumi config set --secret --path" in problems["gpuplane:modelCredentials.anthropic"]


def test_no_credentials_key_at_all_reports_every_missing_entry() -> None:
    problems = _problem_keys(lambda c: c.pop("gpuplane:modelCredentials"))
    assert sorted(problems) == ["gpuplane:modelCredentials.anthropic", "gpuplane:modelCredentials.openai"]


def test_credentials_in_plain_text_are_an_error() -> None:
    def plain(config: dict[str, Any]) -> None:
        config["gpuplane:modelCredentials"] = {"openai": "sk-plain", "anthropic": "sk-ant-plain"}

    problems = _problem_keys(plain)
    assert list(problems) == ["gpuplane:modelCredentials"]
    assert "plain text" in problems["gpuplane:modelCredentials"]


def test_an_external_datastore_needs_its_uri_as_a_secret() -> None:
    def external(config: dict[str, Any]) -> None:
        config["gpuplane:openfga"] = {"datastore": "external"}

    assert list(_problem_keys(external)) == ["gpuplane:openfgaDatastoreUri"]

    def plain(config: dict[str, Any]) -> None:
        external(config)
        config["gpuplane:openfgaDatastoreUri"] = "postgres://u:p@db:5432/openfga"

    assert "plain text" in _problem_keys(plain)["gpuplane:openfgaDatastoreUri"]

    def secret(config: dict[str, Any]) -> None:
        external(config)
        config["gpuplane:openfgaDatastoreUri"] = {"secure": "v1:CCCC"}

    loaded, problems, rec = _load(_stack(secret))
    assert problems == []
    assert loaded is not None
    assert loaded.openfga_datastore_uri is not None
    assert rec.named("probe").wire_inputs["data"]["uri"][SIG_KEY] == SECRET_SIG


def test_a_datastore_uri_without_an_external_datastore_is_an_error() -> None:
    def stray(config: dict[str, Any]) -> None:
        config["gpuplane:openfgaDatastoreUri"] = {"secure": "v1:CCCC"}

    problems = _problem_keys(stray)
    assert list(problems) == ["gpuplane:openfgaDatastoreUri"]
    assert "only used with openfga.datastore: external" in problems["gpuplane:openfgaDatastoreUri"]


def test_the_example_stacks_still_load() -> None:
    for path in stackfiles.discover(STACKS):
        stack = stackfiles.load(path)
        loaded, problems, _ = _load(stack)
        assert problems == [], (path.name, problems)
        assert loaded is not None
