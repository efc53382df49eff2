"""Property-based fuzzing of everything ``gpuplane plan`` reads: stack files (bytes, YAML structure,
mutated examples, decrypted secrets), policy configs and stack names.

Properties: no exception escapes but the documented ones (so the CLI never prints a traceback and its
exit code is 0, 1 or 2); every problem names a key or file; a secret canary never appears in any
output (errors, report, JSON, rendered objects); every config the reader accepts and the spec
validates really plans (resources registered, the report and JSON build). Most examples run
in-process; a few go through the real ``gpuplane plan`` with a memory limit.

Deterministic and bounded: ``derandomize=True`` (the same examples every run, no example database),
modest ``max_examples`` so the module stays well under a minute on a quiet machine.
"""

from __future__ import annotations

import copy
import io
import json
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplane import cli, stackfiles
from gpuplane.analyzer import PolicyConfigError, PolicyPackServer, load_config
from gpuplane.plan import plan_stack, to_json
from gpuplane.render import kubernetes_objects
from gpuplane.report import write_report

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
CANARY = "CANARY-5e3f9b1d"
BASES = {
    name: yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"] for name in ("existing-dev", "aws-dev")
}
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["1.30", "2024-01-01", "on", "0x1F", "~", "!!set", "us-east-1", "nvidia-l4", CANARY]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
spec_keys = st.sampled_from(
    [
        "gpuplane:cloud",
        "gpuplane:region",
        "gpuplane:clusterName",
        "gpuplane:kubernetesVersion",
        "gpuplane:gpuPools",
        "gpuplane:tenants",
        "gpuplane:models",
        "gpuplane:tags",
        "gpuplane:systemPool",
        "gpuplane:kueue",
        "gpuplane:gateway",
        "gpuplane:openfga",
        "gpuplane:production",
        "gpuplane:unknownKey",
        "gpuplane:kubeconfig",
        "gpuplane:modelCredentials",
        "gpuplane:openfgaDatastoreUri",
        "gcp:project",
        "aws:region",
    ]
)
pool_fields = st.sampled_from(["name", "gpu", "gpusPerNode", "minNodes", "maxNodes", "capacity", "sharing", "labels"])


@st.composite
def mutated_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An example stack's config with one to three edits: set, delete, make secret, or edit a pool."""
    base = draw(st.sampled_from(sorted(BASES)))
    config = copy.deepcopy(BASES[base])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["set", "delete", "secure", "pool"]))
        key = draw(spec_keys)
        if action == "set":
            config[key] = draw(values)
        elif action == "delete":
            config.pop(key, None)
        elif action == "secure":
            config[key] = {"secure": draw(st.one_of(st.just(f"v1:{CANARY}"), values))}
        elif config.get("gpuplane:gpuPools"):
            pools = config["gpuplane:gpuPools"]
            if isinstance(pools, list) and pools and isinstance(pools[0], dict):
                pools[0][draw(pool_fields)] = draw(values)
    return base, config


def _load(path: Path) -> tuple[stackfiles.StackFile | None, str]:
    try:
        return stackfiles.load(path), ""
    except stackfiles.StackFileError as error:
        return None, str(error)


def _check_plan(stack: stackfiles.StackFile) -> None:
    plan = plan_stack(stack)
    if plan.errors:
        for problem in plan.errors:
            assert problem.key, problem
            assert CANARY not in str(problem)
        return
    # accepted: it planned for real, and nothing it prints or renders holds the canary
    assert plan.spec is not None
    assert plan.recording.resources
    report = io.StringIO()
    write_report(plan, report)
    outputs = report.getvalue() + json.dumps(to_json(plan)) + json.dumps(kubernetes_objects(plan.recording))
    assert CANARY not in outputs


@settings(FUZZ, max_examples=30)
@given(mutated_configs())
def test_mutated_example_stacks_plan_or_fail_cleanly(tmp_path_factory: pytest.TempPathFactory, case: Any) -> None:
    base, config = case
    path = tmp_path_factory.mktemp("fuzz") / f"Pulumi.{base}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, allow_unicode=True))
    stack, error = _load(path)
    if stack is None:
        assert CANARY not in error
        return
    _check_plan(stack)


@settings(FUZZ, max_examples=20)
@given(spec_keys, st.one_of(st.just(CANARY), st.text(max_size=20).map(lambda t: t + CANARY)))
def test_decrypted_secrets_never_reach_any_output(key: str, secret: str) -> None:
    """What the real runtime hands the program: a decrypted value under a key marked secret."""
    base = stackfiles.load(STACKS / "Pulumi.existing-dev.yaml")
    value = secret
    if key == "gpuplane:modelCredentials":
        value = json.dumps({"openai": secret})
    stack = stackfiles.StackFile(
        name=base.name,
        path=base.path,
        config=base.config | {key: value},
        secret_keys=sorted({*base.secret_keys, key}),
    )
    _check_plan(stack)


@settings(FUZZ, max_examples=150)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_any_bytes_are_read_or_refused_with_a_stack_file_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("bytes") / "Pulumi.fuzz-dev.yaml"
    path.write_bytes(content)
    loaded, error = _load(path)
    if loaded is None:
        assert str(path) in error
        return
    for key, value in loaded.config.items():
        assert isinstance(key, str)
        json.loads(value) if value[:1] in "[{" else None  # structured values are valid JSON


yaml_fragments = st.sampled_from(
    ["&a ", "*a", "[", "]", "{", "}", "- ", ": ", "!!set ", "!!binary ", "? ", "<<: *a\n", "\n  ", "secure: ", "x"]
)


@settings(FUZZ, max_examples=150)
@given(st.lists(yaml_fragments, max_size=40).map("".join))
def test_yaml_shaped_text_is_read_or_refused(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("yaml") / "Pulumi.fuzz-dev.yaml"
    path.write_text("config:\n  gpuplane:tags: " + text + "\n")
    _load(path)  # a StackFileError is fine; anything else fails the test


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=40))
def test_stack_names_are_pulumi_names_or_one_clean_line(name: str) -> None:
    try:
        stackfiles.check_stack_name(name, name)
    except stackfiles.StackFileError as error:
        message = str(error)
        assert "\n" not in message
        assert "\x1b" not in message
        assert not stackfiles.STACK_NAME.match(name)
        return
    assert stackfiles.STACK_NAME.match(name)
    assert set(name) <= set(string.ascii_letters + string.digits + "_.-")


policy_levels = st.sampled_from(["advisory", "mandatory", "remediate", "disabled", "bogus", ""])


@settings(FUZZ, max_examples=60)
@given(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["all", "gpu-stack-max-gpus", "gpu-pool-scale-to-zero", "nope"]),
            st.one_of(policy_levels, values, st.fixed_dictionaries({"enforcementLevel": policy_levels})),
            max_size=3,
        ),
        values,
    ),
    st.sampled_from(["", " ", "NaN", "Infinity", "[" * 100]),
)
def test_policy_configs_are_accepted_or_refused_with_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, pack: PolicyPackServer, document: Any, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("policy") / "config.json"
    path.write_text(json.dumps(document) + suffix)
    try:
        config = load_config(path)
        pack.reconcile(config)
    except PolicyConfigError:
        return


MEMORY_LIMIT = 6 * 1024**3
_LIMIT_MEMORY_THEN_EXEC = (
    "import os, resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
"""The memory limit is set by a launcher that then execs the command, not by a ``preexec_fn``: in a
pytest worker where gRPC runs (the policy pack client) a ``preexec_fn`` makes subprocess fork() and
gRPC's fork handlers can abort the child before exec (grpc/grpc#43157)."""


def _with_memory_limit(argv: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", _LIMIT_MEMORY_THEN_EXEC, str(MEMORY_LIMIT), *argv]


@pytest.mark.parametrize(
    "content",
    [
        "config:\n  gpuplane:cloud: existing\n  gpuplane:tags: &a [" + ",".join(["*a"] * 5) + "]\n",
        "config:\n  gpuplane:modelCredentials:\n    a: " + CANARY + "\n    b: {secure: v1:x}\n",
        "config:\n  gpuplane:cloud: [" * 50 + "\n",
        "config: !!binary " + "A" * 500 + "\n",
    ],
)
def test_the_real_cli_on_hostile_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "Pulumi.fuzz-dev.yaml"
    path.write_text(content)
    for extra in ([], ["--json"]):
        result = subprocess.run(
            _with_memory_limit([sys.executable, "-m", "gpuplane", "plan", str(path), *extra]),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode in (cli.EXIT_OK, cli.EXIT_POLICY, cli.EXIT_CONFIG), result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert CANARY not in result.stdout + result.stderr


@settings(FUZZ, max_examples=5)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
        st.from_regex(r"[a-z0-9]{0,10}", fullmatch=True),
        max_size=3,
    )
)
def test_valid_edits_are_accepted_and_plan(tmp_path_factory: pytest.TempPathFactory, tags: dict[str, str]) -> None:
    """The accepting side of the properties above: a valid edit plans, and the plan is checked."""
    config = copy.deepcopy(BASES["existing-dev"]) | {"gpuplane:tags": tags}
    path = tmp_path_factory.mktemp("valid") / "Pulumi.existing-dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    stack, error = _load(path)
    assert stack is not None, error
    assert plan_stack(stack).errors == []
    _check_plan(stack)


def test_the_hostile_file_runs_get_the_memory_limit_without_a_preexec_fn() -> None:
    probe = [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"]
    result = subprocess.run(_with_memory_limit(probe), capture_output=True, text=True, timeout=60, check=True)
    assert int(result.stdout) == MEMORY_LIMIT
    assert "preexec_fn=" not in Path(__file__).read_text().replace('"preexec_fn="', "")
