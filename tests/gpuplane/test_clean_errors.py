"""Issue 11 regressions: every bad input ends in exit 2 with one line per problem naming the key or
file, no traceback, no secret in any output. Each case here crashed (exit 1), hung, was accepted or
leaked on the code before the fix. In-process through ``cli.main`` (the process boundary has its own
tests in test_process.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpuplane import cli, stackfiles
from gpuplane.plan import plan_stack

STACKS = Path(__file__).resolve().parents[2] / "stacks"

# cli.main plans use the process's running pack, and an unchanged example stack's plan made once per process
# (tests/support.py): what is tested here is what the CLI makes of input and plan, not the program or the pack.
pytestmark = pytest.mark.usefixtures("lent_pack", "replayed_examples")
AWS = (STACKS / "Pulumi.aws-dev.yaml").read_text()
GCP = (STACKS / "Pulumi.gcp-dev.yaml").read_text()
CANARY = "sk-CANARY-7c1e5d"


def _stack(tmp_path: Path, text: str | bytes, name: str = "t-dev") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["plan", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- unreadable or hostile files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"config:\n  gpuplane:region: \xff\xfe\n", "not UTF-8"),
        (b"config:\n  gpuplane:tags: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested deeper than"),
        (b"config:\n  gpuplane:tags: !!set {a, b}\n", "!!set values are not config values"),
        (b"config:\n  gpuplane:tags: !!binary aGVsbG8=\n", "!!binary values are not config values"),
        (b"config:\n  gpuplane:tags: !!python/name:os.system x\n", "is not allowed in config"),
        (b"config:\n  gpuplane:x: .nan\n", "not a finite number"),
        (b"config: {a: [\n", "not valid YAML"),
        (b"x" * (256 * 1024 + 1), "stack files may be at most"),
    ],
)
def test_hostile_stack_files_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    path = _stack(tmp_path, content)
    code, out, err = _plan(capsys, str(path))
    assert code == cli.EXIT_CONFIG
    assert expected in err
    assert str(path) in err
    assert "nothing planned" in out or out == ""


def test_a_yaml_date_stays_the_string_pulumi_passes_and_fails_as_a_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _replace(AWS, "gpuplane:region: us-east-1", "gpuplane:region: 2024-01-01")
    code, _, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "gpuplane:region: '2024-01-01' is not a aws region" in err


def test_a_key_given_twice_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = AWS + "  gpuplane:clusterName: second\n"
    code, _, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "key gpuplane:clusterName is given twice" in err


def test_an_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\nconfig:\n  gpuplane:tags: *x8\n"
    assert len(text) < 1000
    path = _stack(tmp_path, text)
    # A subprocess with a bound: the old reader expanded 9^9 values and never came back.
    result = subprocess.run(
        [sys.executable, "-m", "gpuplane", "plan", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == cli.EXIT_CONFIG
    assert "once aliases are expanded" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(stackfiles.StackFileError, match="refers to itself"):
        stackfiles.load(_stack(tmp_path, "config:\n  gpuplane:tags: &a [*a]\n"))


# --- stack names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "a::b", "a b", "gpu\N{ROCKET}", "x\n\x1b[31mFAKE line"])
def test_stack_names_outside_pulumis_charset_are_refused(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _plan(capsys, name)
    assert code == cli.EXIT_CONFIG
    assert "is not a Pulumi stack name" in err
    assert "\x1b" not in err  # no terminal escape reaches the output
    assert len(err.strip().splitlines()) == 1  # no injected line
    assert out == ""


def test_every_bad_argument_is_reported_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _plan(capsys, "a::b", "nope", "c d")
    assert code == cli.EXIT_CONFIG
    assert len(err.strip().splitlines()) == 3


# --- values the spec must refuse -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("gpuplane:region: us-east-1", "gpuplane:region: us-easst-1", "gpuplane:region", "did you mean us-east-1"),
        ("gpuplane:region: us-east-1", "gpuplane:region: mars-central-9", "gpuplane:region", "not a aws region"),
        ("    size: small\n", "    instanceType: m9.huge\n", "gpuplane:systemPool.instanceType", "not in the catalog"),
        (
            'gpuplane:kubernetesVersion: "1.35"',
            "gpuplane:kubernetesVersion: 1.30",
            "gpuplane:kubernetesVersion",
            "quote it",
        ),
        (
            "gpuplane:cloud: aws",
            "gpuplane:cloud: linode",
            "aws:region",
            "aws provider config on a linode stack",
        ),
    ],
)
def test_values_that_cannot_deploy_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, key: str, message: str
) -> None:
    code, _, err = _plan(capsys, str(_stack(tmp_path, _replace(AWS, old, new))))
    assert code == cli.EXIT_CONFIG
    assert any(line.startswith(f"t-dev: {key}: ") and message in line for line in err.splitlines()), err


def test_a_stack_moved_to_another_cloud_hears_every_problem_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _plan(capsys, str(_stack(tmp_path, _replace(AWS, "gpuplane:cloud: aws", "gpuplane:cloud: linode"))))
    assert code == cli.EXIT_CONFIG
    for expected in ("gpuPools[0].minNodes", "gpuPools[0].capacity", "gpuPools[0].gpu", "aws:region"):
        assert expected in err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  gcp:project: my-gpuplane-project # replace with your project id\n", "", "GCP stacks need the project id"),
        ("gcp:project: my-gpuplane-project", "gcp:project: [1, 2]", "must be a GCP project id"),
        ("gcp:project: my-gpuplane-project", "gcp:project: 42", "must be a GCP project id"),
    ],
)
def test_gcp_project_is_required_and_a_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    code, _, err = _plan(capsys, str(_stack(tmp_path, _replace(GCP, old, new))))
    assert code == cli.EXIT_CONFIG
    assert f"gcp:project: {message}" in err


def test_a_gpu_pool_in_a_region_without_that_gpu_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GCP.replace("us-central1", "us-west3")  # a GCP region with GPUs, but no L4 (g2) zone
    code, _, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "gpuPools[0].gpu" in err
    assert "not offered in any zone of us-west3" in err


# --- secrets ---------------------------------------------------------------------------------------


def test_secure_must_hold_one_string(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _replace(
        AWS,
        "      secure: v1:REPLACE-WITH-pulumi-config-set--secret # placeholder ciphertext, see above",
        "      secure: [1, 2]",
    )
    code, _, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "gpuplane:modelCredentials.openai.secure: must be the ciphertext string" in err


def test_a_plain_leaf_beside_a_secure_sibling_is_named_and_never_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _replace(AWS, "  gpuplane:modelCredentials:\n", f"  gpuplane:modelCredentials:\n    leaked: {CANARY}\n")
    code, out, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "gpuplane:modelCredentials.leaked: plain text beside secret values" in err
    assert CANARY not in out + err
    code, out, err = _plan(capsys, str(_stack(tmp_path, text)), "--json")
    assert CANARY not in out + err


def test_a_spec_key_set_with_secret_is_refused_not_unredacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = AWS + "  gpuplane:production:\n    secure: v1:abc\n"
    code, _, err = _plan(capsys, str(_stack(tmp_path, text)))
    assert code == cli.EXIT_CONFIG
    assert "gpuplane:production: stored as a secret, but it is a plain setting" in err


@pytest.mark.parametrize("key", ["gpuplane:gpuPools", "gpuplane:tags", "gpuplane:modelCredentials"])
def test_a_decrypted_secret_that_fails_to_parse_is_never_echoed(key: str) -> None:
    """What the real runtime hands the program: decrypted text, the key marked secret."""
    config = stackfiles.load(STACKS / "Pulumi.aws-dev.yaml").config | {key: f"{{not json {CANARY}"}
    stack = stackfiles.StackFile(name="aws-dev", path=STACKS / "Pulumi.aws-dev.yaml", config=config, secret_keys=[key])
    plan = plan_stack(stack)
    assert plan.errors
    assert any(p.key.startswith(key) for p in plan.errors)
    assert CANARY not in "\n".join(str(p) for p in plan.errors)


# --- policy configs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"all": NaN}', "NaN is not a JSON number"),
        ('{"all": "advisory", "gpu-stack-max-gpus": {"maxGpus": Infinity}}', "Infinity is not a JSON number"),
        ("[" * 3000 + "]" * 3000, "nested deeper than"),
        ('{"all": "advisory", "all": "mandatory"}', 'key "all" is given twice'),
        (b"\xff{}", "not UTF-8"),
        ("{", "not valid JSON"),
    ],
)
def test_bad_policy_configs_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    path = tmp_path / "policy.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    code, out, err = _plan(capsys, "aws-dev", "--policy-config", str(path))
    assert code == cli.EXIT_CONFIG
    assert expected in err
    assert out == ""


def test_the_policy_config_choice_is_explained_and_a_near_miss_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _plan(capsys, str(_stack(tmp_path, AWS, name="aws-prod")), "--json")
    assert code in (cli.EXIT_OK, cli.EXIT_POLICY)
    stack = json.loads(out)["stacks"][0]
    assert stack["policy_config"] is None
    assert "pack defaults" in stack["policy_config_reason"]
    assert "not config/production.json" in err
    code, out, _ = _plan(capsys, "aws-dev", "--json")
    assert json.loads(out)["stacks"][0]["policy_config_reason"] == "the stack name ends in -dev"


# --- output ----------------------------------------------------------------------------------------


def test_tenants_are_sorted_in_json_and_the_queue_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = AWS.replace("name: search", "name: zz-search").replace("[search, research]", "[zz-search, research]")
    text = text.replace("        search:\n", "        zz-search:\n").replace(
        "namespace: search", "namespace: zz-search"
    )
    code, out, err = _plan(capsys, str(_stack(tmp_path, text)), "--json")
    assert code in (cli.EXIT_OK, cli.EXIT_POLICY), err
    tenants = [t["tenant"] for t in json.loads(out)["stacks"][0]["tenants"]]
    assert tenants == sorted(tenants) == ["research", "zz-search"]
    _, out, _ = _plan(capsys, str(_stack(tmp_path, text)))
    queue_lines = [line for line in out.splitlines() if "cohort gpuplane <-" in line]
    assert [line.split()[0] for line in queue_lines] == ["research", "zz-search"]


def test_the_report_summarises_resources_and_lists_them_with_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _plan(capsys, "existing-dev")
    assert "--verbose lists every type" in out
    assert "kubernetes:core/v1:Namespace" not in out
    _, out, _ = _plan(capsys, "existing-dev", "--verbose")
    assert "kubernetes:core/v1:Namespace" in out


def test_violations_print_their_remediation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _plan(capsys, "existing-dev", "--policy-config", "policies/config/production.json", "--json")
    violations = [v for s in json.loads(out)["stacks"] for v in s["violations"]]
    assert violations, "production settings flag the dev stack"
    assert all(v["remediation"] for v in violations)
    _, text, _ = _plan(capsys, "existing-dev", "--policy-config", "policies/config/production.json")
    assert "       fix: " in text
    assert code in (cli.EXIT_OK, cli.EXIT_POLICY)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("gpuplane 0.")


# --- the project -----------------------------------------------------------------------------------


def test_the_project_is_found_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: other\nstackConfigDir: envs\n")
    (tmp_path / "envs").mkdir()
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    found = stackfiles.find_project(tmp_path / "sub" / "deeper")
    assert (found.root, found.name, found.stacks_dir) == (tmp_path, "other", tmp_path / "envs")


def test_no_project_is_a_usage_error_not_a_silent_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stackfiles, "PACKAGE_ROOT", tmp_path / "site-packages")  # a non-editable install
    monkeypatch.chdir(tmp_path)
    code, out, err = _plan(capsys)
    assert code == cli.EXIT_CONFIG
    assert "no Pulumi.yaml in" in err
    assert out == ""


def test_a_project_without_stacks_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: empty\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = _plan(capsys)
    assert code == cli.EXIT_CONFIG
    assert "no Pulumi.<stack>.yaml under" in err


def test_gitignore_covers_the_policy_venv() -> None:
    root = STACKS.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.fail("the checkout must be a git work tree with git installed")
    result = subprocess.run(
        ["git", "check-ignore", "-q", "policies/venv/bin/python"], cwd=root, check=False, capture_output=True
    )
    assert result.returncode == 0
