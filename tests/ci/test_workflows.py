"""The GitHub workflows and the Renovate config: upstream validators, then the security and behaviour
rules docs/ci.md promises (pins, least privilege, no secrets for forks, README commands, derived
stack matrix, Renovate coverage of every pin).

Every rule is a small function run on the real files and, where a rule could pass vacuously, on a
bad example that it must reject.
"""

from __future__ import annotations

import json
import operator
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from components.versions import CHARTS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ("checks.yml", "preview.yml", "deploy.yml", "manifest-comment.yml")
RENOVATE = ROOT / "renovate.json"
DOCS = ROOT / "docs" / "ci.md"

GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials", "google-github-actions/auth")
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
TAG_PIN = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@v?\d+\.\d+\.\d+$")
VERSION_COMMENT = re.compile(r"^v?\d+\.\d+\.\d+$")


# --------------------------------------------------------------------------------------------------
# helpers


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict), on
    return on


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in _steps(job) if "uses" in step]


def _runs(workflow: dict[str, Any]) -> list[str]:
    return [str(step["run"]) for job in workflow["jobs"].values() for step in _steps(job) if "run" in step]


def _pulumi_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in _steps(job):
            if str(step.get("uses", "")).startswith("pulumi/actions@"):
                yield job_id, job, step


def _pin_problems(text: str) -> list[str]:
    """Every `uses:` in a workflow's text that is not pinned to a commit SHA + exact-version comment
    or to an exact version tag (local actions and digest-pinned docker images are fine)."""
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        found = re.match(r"^\s*(?:-\s+)?uses:\s*[\"']?([^\s\"'#]+)[\"']?\s*(?:#\s*(\S+))?", line)
        if not found:
            continue
        ref, comment = found.group(1), found.group(2)
        if ref.startswith("./") or re.match(r"^docker://\S+@sha256:[0-9a-f]{64}$", ref):
            continue
        if SHA_PIN.match(ref):
            if not (comment and VERSION_COMMENT.match(comment)):
                problems.append(f"line {number}: {ref} needs a '# vX.Y.Z' comment naming its release")
        elif not TAG_PIN.match(ref):
            problems.append(f"line {number}: {ref} is not pinned to a commit SHA or an exact version")
    return problems


def _permission_problems(workflow: dict[str, Any]) -> list[str]:
    """Least privilege: a top-level `permissions` that grants no write scope, every job's scopes read
    or one of the justified writes (`id-token` only beside an OIDC login step, `pull-requests` only
    beside a PR-commenting pulumi step)."""
    problems: list[str] = []
    if "permissions" not in workflow:
        problems.append("no top-level permissions (the repository default may be write-all)")
    top = workflow.get("permissions") or {}
    if not isinstance(top, dict):
        problems.append(f"top-level permissions {top!r} is not a map of scopes")
        top = {}
    problems += [f"top-level grants {scope}: write" for scope, level in top.items() if level == "write"]
    for job_id, job in workflow["jobs"].items():
        scopes = job.get("permissions", top)
        if not isinstance(scopes, dict):
            problems.append(f"{job_id}: permissions {scopes!r} is not a map of scopes")
            continue
        oidc = any(uses.startswith(OIDC_ACTIONS) for uses in _uses(job))
        comments = any(
            uses.startswith("pulumi/actions@") and str(step.get("with", {}).get("comment-on-pr")).lower() == "true"
            for step in _steps(job)
            if (uses := str(step.get("uses", "")))
        ) or any(  # a `gh api` call that posts or edits an issue comment (manifest-comment.yml)
            re.search(r"gh api --method (POST|PATCH) \S*issues/\S*comments", str(step.get("run", "")))
            for step in _steps(job)
        )
        for scope, level in scopes.items():
            if level not in ("read", "write", "none"):
                problems.append(f"{job_id}: {scope}: {level!r}")
            elif level != "write":
                continue
            elif scope == "id-token" and not oidc:
                problems.append(f"{job_id}: id-token: write without an OIDC login step")
            elif scope == "pull-requests" and not comments:
                problems.append(f"{job_id}: pull-requests: write without a PR comment")
            elif scope not in ("id-token", "pull-requests"):
                problems.append(f"{job_id}: {scope}: write")
        if oidc and scopes.get("id-token") != "write":
            problems.append(f"{job_id}: OIDC login step without id-token: write")
    return problems


def _fork_secret_problems(workflow: dict[str, Any]) -> list[str]:
    """Jobs of a pull-request workflow that could run for a fork PR while reading secrets or minting
    an OIDC token. `pull_request_target` (which hands secrets to fork code) is refused outright."""
    triggers = _triggers(workflow)
    problems = [f"trigger {t} runs with secrets for fork code" for t in ("pull_request_target",) if t in triggers]
    if "pull_request" not in triggers:
        return problems
    for job_id, job in workflow["jobs"].items():
        text = json.dumps(job)
        privileged = "secrets." in text or (job.get("permissions") or {}).get("id-token") == "write"
        if privileged and GUARD not in str(job.get("if", "")):
            problems.append(f"{job_id}: reads secrets or OIDC on pull_request without the same-repository guard")
    return problems


def _readme_blocks(section: str) -> list[str]:
    """The commands of the ```bash blocks in a README section (comments stripped)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(section)}\b.*?$(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert found, f"README.md has no '## {section}' section"
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", found.group(1), re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def _matrix_script(workflow: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for job in workflow["jobs"].values():
        for step in _steps(job):
            if step.get("id") == "matrix":
                return str(step["run"]), dict(step.get("env", {}))
    raise AssertionError("no step with id: matrix")


def _run_matrix(workdir: Path, only: str = "") -> subprocess.CompletedProcess[str]:
    script, _ = _matrix_script(_load("preview.yml"))
    output = workdir / "github-output"
    output.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "GITHUB_OUTPUT": str(output),
        "ONLY_STACK": only,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, check=False
    )


def _matrix_rows(workdir: Path, only: str = "") -> list[dict[str, str]]:
    result = _run_matrix(workdir, only)
    assert result.returncode == 0, result.stderr
    lines = (workdir / "github-output").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("matrix="), lines
    return json.loads(lines[0].removeprefix("matrix="))


def _js_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) regex as a Python one: named groups are spelt (?P<name>...)."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def _manager_files(manager: dict[str, Any]) -> list[Path]:
    files: list[Path] = []
    for pattern in manager["managerFilePatterns"]:
        assert pattern.startswith("/"), f"{pattern}: expected a /regex/"
        assert pattern.endswith("/"), f"{pattern}: expected a /regex/"
        regex = _js_regex(pattern[1:-1])
        files += [p for p in sorted(ROOT.rglob("*")) if p.is_file() and regex.search(p.relative_to(ROOT).as_posix())]
    return [f for f in files if ".venv" not in f.parts and ".git" not in f.parts]


def _renovate_matches(manager: dict[str, Any]) -> list[tuple[Path, dict[str, str]]]:
    found: list[tuple[Path, dict[str, str]]] = []
    for path in _manager_files(manager):
        text = path.read_text(encoding="utf-8")
        for pattern in manager["matchStrings"]:
            found += [(path, m.groupdict()) for m in _js_regex(pattern).finditer(text)]
    return found


def _renovate() -> dict[str, Any]:
    return json.loads(RENOVATE.read_text(encoding="utf-8"))


def _pulumi_sdk_pin() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d.split("==", 1)[1] for d in project["dependencies"] if re.match(r"^pulumi==", d)]
    assert len(pins) == 1, project["dependencies"]
    return pins[0]


# --------------------------------------------------------------------------------------------------
# upstream validators


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_actionlint_passes(name: str) -> None:
    result = subprocess.run(
        [str(BIN / "actionlint"), "-no-color", str(WORKFLOWS / name)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.nope.title }}\n        if: matrix.x\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(BIN / "actionlint"), "-no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "matrix" in result.stdout


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_matches_the_github_workflow_schema(name: str) -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n", encoding="utf-8")
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr


def test_renovate_config_matches_renovate_schema() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.renovate", str(RENOVATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_renovate_config_uses_only_known_options() -> None:
    # Renovate's schema allows unknown keys, so a misspelt option would pass it and do nothing.
    import check_jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "renovate.json"
    options = set(json.loads(schema_path.read_text(encoding="utf-8"))["definitions"])
    config = _renovate()
    used = set(config) - {"$schema"}
    for item in [*config.get("customManagers", []), *config.get("packageRules", [])]:
        used |= set(item)
    assert used <= options, sorted(used - options)
    assert "fileMatch" not in options  # the schema is the one whose key is managerFilePatterns


# --------------------------------------------------------------------------------------------------
# pins


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_action_is_pinned_to_a_commit_or_exact_version(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert _pin_problems(text) == []
    # The line scan saw every `uses:` the YAML holds.
    workflow = _load(name)
    declared = {uses for job in workflow["jobs"].values() for uses in _uses(job)}
    scanned = set(re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", text, re.MULTILINE))
    assert declared or name == "manifest-comment.yml"  # that one only runs `gh` (on the runner image)
    assert declared == scanned


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("- uses: actions/checkout@df4cb1c069e1874edd31b4311f1884172cec0e10 # v6.0.3", True),
        ("  uses: pulumi/actions@v7.0.0", True),
        ("- uses: ./.github/actions/local", True),
        ("- uses: actions/checkout@v6", False),
        ("- uses: actions/checkout@v6.0", False),
        ("- uses: actions/checkout@main", False),
        ("- uses: actions/checkout@df4cb1c", False),
        ("- uses: actions/checkout@df4cb1c069e1874edd31b4311f1884172cec0e10", False),
        ("- uses: actions/checkout@df4cb1c069e1874edd31b4311f1884172cec0e10 # v6", False),
        ("- uses: docker://alpine:3", False),
    ],
)
def test_pin_rule_accepts_only_exact_pins(line: str, ok: bool) -> None:
    assert (_pin_problems(line) == []) is ok


def test_each_action_has_one_pin_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            found = re.match(r"^\s*(?:-\s+)?uses:\s*([^@\s]+)@(\S+)\s*(?:#\s*(\S+))?", line)
            if found:
                pins.setdefault(found.group(1), set()).add(f"{found.group(2)} {found.group(3)}")
    assert len(pins) >= 6, pins
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_pulumi_cli_matches_the_pinned_sdk() -> None:
    sdk = _pulumi_sdk_pin()
    for name in ("preview.yml", "deploy.yml"):
        workflow = _load(name)
        assert workflow["env"]["PULUMI_VERSION"] == sdk, name
        for _, _, step in _pulumi_steps(workflow):
            assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}"


# --------------------------------------------------------------------------------------------------
# permissions and secrets


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_permissions_are_least_privilege(name: str) -> None:
    assert _permission_problems(_load(name)) == []


def test_permission_rule_rejects_excess() -> None:
    oidc_step = {"uses": "aws-actions/configure-aws-credentials@x"}
    assert _permission_problems({"jobs": {"a": {"steps": []}}}) != []  # no top-level block
    assert _permission_problems({"permissions": "write-all", "jobs": {"a": {"steps": []}}}) != []
    assert _permission_problems({"permissions": {"contents": "write"}, "jobs": {"a": {"steps": []}}}) != []
    # id-token without OIDC, and OIDC without id-token
    assert _permission_problems({"permissions": {}, "jobs": {"a": {"permissions": {"id-token": "write"}}}}) != []
    assert _permission_problems({"permissions": {}, "jobs": {"a": {"steps": [oidc_step]}}}) != []
    assert _permission_problems({"permissions": {"id-token": "write"}, "jobs": {"a": {"steps": [oidc_step]}}}) != []
    assert (
        _permission_problems(
            {"permissions": {}, "jobs": {"a": {"permissions": {"id-token": "write"}, "steps": [oidc_step]}}}
        )
        == []
    )


def test_pull_request_write_needs_a_step_that_posts_a_comment() -> None:
    def job(run: str) -> dict[str, Any]:
        return {"permissions": {}, "jobs": {"a": {"permissions": {"pull-requests": "write"}, "steps": [{"run": run}]}}}

    assert _permission_problems(job('gh api --method POST "repos/o/r/issues/1/comments" -F body=@c.md')) == []
    assert _permission_problems(job('gh api "repos/o/r/issues/1/comments"')) != []
    assert _permission_problems(job("gh pr merge 1")) != []


def test_only_oidc_jobs_get_id_tokens() -> None:
    granted = {
        (name, job_id)
        for name in WORKFLOW_NAMES
        for job_id, job in _load(name)["jobs"].items()
        if (job.get("permissions") or {}).get("id-token") == "write"
    }
    assert granted == {("preview.yml", "preview"), ("deploy.yml", "deploy")}


def test_checks_runs_for_every_pull_request_without_secrets() -> None:
    text = (WORKFLOWS / "checks.yml").read_text(encoding="utf-8")
    workflow = _load("checks.yml")
    triggers = _triggers(workflow)
    assert "pull_request" in triggers
    assert "pull_request_target" not in triggers
    assert triggers["pull_request"] is None  # no branch/path filter: every PR, forks included
    assert "secrets." not in text
    assert "id-token" not in text
    assert "environment" not in json.dumps(workflow["jobs"])
    assert workflow["permissions"] == {"contents": "read"}
    assert not any("if" in job for job in workflow["jobs"].values())  # nothing skips fork PRs


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_no_job_a_fork_can_trigger_reads_secrets(name: str) -> None:
    assert _fork_secret_problems(_load(name)) == []


def test_fork_rule_rejects_unguarded_secret_jobs() -> None:
    job = {"steps": [{"run": "x", "env": {"T": "${{ secrets.T }}"}}]}
    assert _fork_secret_problems({"on": {"pull_request": None}, "jobs": {"a": job}}) != []
    assert _fork_secret_problems({"on": {"pull_request_target": None}, "jobs": {"a": {"steps": []}}}) != []
    oidc = {"permissions": {"id-token": "write"}, "steps": []}
    assert _fork_secret_problems({"on": {"pull_request": None}, "jobs": {"a": oidc}}) != []
    assert _fork_secret_problems({"on": {"pull_request": None}, "jobs": {"a": {**job, "if": GUARD}}}) == []


def test_every_preview_job_is_guarded_against_forks() -> None:
    workflow = _load("preview.yml")
    assert set(_triggers(workflow)) == {"pull_request"}
    assert workflow["jobs"]
    for job_id, job in workflow["jobs"].items():
        assert GUARD in str(job.get("if", "")), job_id


def test_every_secret_and_variable_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    names: set[str] = set()
    for name in WORKFLOW_NAMES:
        names |= set(
            re.findall(r"\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)", (WORKFLOWS / name).read_text(encoding="utf-8"))
        )
    assert {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "LINODE_TOKEN", "AWS_ROLE_ARN"} <= names
    assert sorted(n for n in names if f"`{n}`" not in docs) == []


# --------------------------------------------------------------------------------------------------
# previews and deploys


def test_preview_runs_pulumi_preview_with_the_policy_pack_and_comments() -> None:
    steps = list(_pulumi_steps(_load("preview.yml")))
    assert len(steps) == 1
    _, job, step = steps[0]
    options = step["with"]
    assert options["command"] == "preview"
    assert options["policyPacks"] == "policies"
    assert options["policyPackConfigs"] == "${{ matrix.policy_config }}"
    assert options["comment-on-pr"] is True
    assert job["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"


def test_deploy_runs_pulumi_up_gated_by_an_environment() -> None:
    workflow = _load("deploy.yml")
    triggers = _triggers(workflow)
    assert triggers["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in triggers
    steps = list(_pulumi_steps(workflow))
    assert len(steps) == 1
    job_id, job, step = steps[0]
    assert step["with"]["command"] == "up"
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "${{ matrix.policy_config }}"
    assert job["environment"] == {"name": "${{ matrix.stack }}"}
    assert job["needs"] == "plan"  # the offline gate runs first
    # Only the job bound to an environment can reach a cloud.
    for other_id, other in workflow["jobs"].items():
        if other_id != job_id:
            assert "secrets." not in json.dumps(other)
            assert "environment" not in other


@pytest.mark.parametrize(("name", "cancel"), [("preview.yml", True), ("deploy.yml", False)])
def test_one_concurrency_group_per_stack(name: str, cancel: bool) -> None:
    for job_id, job, _ in _pulumi_steps(_load(name)):
        concurrency = job["concurrency"]
        assert "${{ matrix.stack }}" in concurrency["group"], job_id
        assert concurrency["cancel-in-progress"] is cancel, job_id


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_credentials_follow_the_stack_cloud(name: str) -> None:
    job = next(job for _, job, _ in _pulumi_steps(_load(name)))
    by_action = {str(s["uses"]).split("@")[0]: s for s in _steps(job) if "uses" in s}
    assert "matrix.cloud == 'aws'" in by_action["aws-actions/configure-aws-credentials"]["if"]
    assert "matrix.cloud == 'gcp'" in by_action["google-github-actions/auth"]["if"]
    assert by_action["google-github-actions/setup-gcloud"]["with"]["install_components"] == "gke-gcloud-auth-plugin"
    env = by_action["pulumi/actions"]["env"]
    assert "matrix.cloud == 'linode'" in env["LINODE_TOKEN"]
    # No long-lived cloud keys anywhere: AWS and GCP by OIDC only.
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert not re.search(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|credentials_json", text)


# --------------------------------------------------------------------------------------------------
# the README's commands


def test_checks_runs_the_readme_quickstart_commands() -> None:
    commands = _readme_blocks("Quickstart")
    assert len(commands) >= 2, commands
    assert any("gpuplane plan" in c for c in commands)
    assert any("pytest" in c for c in commands)
    runs = _runs(_load("checks.yml"))
    assert [c for c in commands if not any(c in run for run in runs)] == []
    assert any(".venv/bin/ruff check" in run for run in runs)
    assert any(".venv/bin/pyright" in run for run in runs)


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_previews_and_deploys_install_with_the_readme_command(name: str) -> None:
    # The README deploys with `pulumi install` (stacks/requirements.txt: `-e ..`) and names the plain pip
    # command that gives the same venv; the workflows run that pip command.
    assert any(c.startswith("pulumi install") for c in _readme_blocks("Deploying for real"))
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Deploying for real", 1)[1].split("\n## ", 1)[0]
    prose = re.sub(r"^```.*?^```", "", section, flags=re.MULTILINE | re.DOTALL)
    install = [c for c in re.findall(r"`([^`]+)`", prose) if "pip install" in c]
    assert len(install) == 1, install
    job = next(job for _, job, _ in _pulumi_steps(_load(name)))
    assert any(install[0] in str(step.get("run", "")) for step in _steps(job))


def test_deploy_gate_runs_the_readme_plan_command() -> None:
    plan = [c for c in _readme_blocks("Quickstart") if "gpuplane plan" in c]
    assert len(plan) == 1
    assert any(plan[0] in run for run in _runs(_load("deploy.yml")))


def test_plan_step_fails_the_job_on_the_plan_exit_code() -> None:
    for name in ("checks.yml", "deploy.yml"):
        script = next(run for run in _runs(_load(name)) if "gpuplane plan" in run)
        assert "status=$?" in script, name
        assert script.rstrip().endswith('exit "$status"'), name
        assert "$GITHUB_STEP_SUMMARY" in script


def _install_step(name: str) -> str:
    job = next(job for _, job, _ in _pulumi_steps(_load(name)))
    runs = [str(step["run"]) for step in _steps(job) if "pip install" in str(step.get("run", ""))]
    assert len(runs) == 1, runs
    return runs[0]


def _pack_venv_script() -> str:
    script = _install_step("preview.yml")
    found = re.search(r"<<'PY'\n(.*?)^PY$", script, re.MULTILINE | re.DOTALL)
    assert found, script
    return found.group(1)


def test_preview_and_deploy_install_the_same_way() -> None:
    assert _install_step("preview.yml") == _install_step("deploy.yml")
    assert "policies/requirements.txt" in _install_step("preview.yml")


@pytest.mark.parametrize(
    ("runtime", "linked"),
    [
        ("runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n", "venv"),
        ("runtime:\n  name: python\n  options:\n    virtualenv: ../.venv\n", None),
        ("runtime: python\n", None),
    ],
)
def test_policy_pack_runs_in_the_project_virtualenv(tmp_path: Path, runtime: str, linked: str | None) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "PulumiPolicy.yaml").write_text(runtime + "version: 0.1.0\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", _pack_venv_script()], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    links = [p.name for p in (tmp_path / "policies").iterdir() if p.is_symlink()]
    if linked is None:
        assert links == []
    else:
        assert links == [linked]
        assert (tmp_path / "policies" / linked / "bin").resolve() == (tmp_path / ".venv" / "bin").resolve()


def test_the_real_policy_pack_gets_a_virtualenv(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    (tmp_path / "policies").mkdir()
    shutil.copy(ROOT / "policies" / "PulumiPolicy.yaml", tmp_path / "policies")
    result = subprocess.run(
        [sys.executable, "-c", _pack_venv_script()], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    runtime = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))["runtime"]
    name = (runtime.get("options") or {}).get("virtualenv") if isinstance(runtime, dict) else None
    if name:
        assert (tmp_path / "policies" / name).resolve() == (tmp_path / ".venv").resolve()


# --------------------------------------------------------------------------------------------------
# the stack matrix


def test_preview_and_deploy_derive_the_matrix_with_the_same_script() -> None:
    preview, preview_env = _matrix_script(_load("preview.yml"))
    deploy, deploy_env = _matrix_script(_load("deploy.yml"))
    assert preview == deploy
    assert preview_env == {"ONLY_STACK": ""}
    assert deploy_env == {"ONLY_STACK": "${{ inputs.stack }}"}


def test_matrix_lists_every_stack_with_its_cloud(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rows = _matrix_rows(tmp_path)
    expected = {}
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))["config"]
        expected[path.name[len("Pulumi.") : -len(".yaml")]] = config["gpuplane:cloud"]
    assert len(expected) >= 4
    assert {row["stack"]: row["cloud"] for row in rows} == expected
    aws = [row for row in rows if row["cloud"] == "aws"]
    assert aws
    assert all(row["aws_region"] for row in aws)
    assert all(row["aws_region"] == "" for row in rows if row["cloud"] != "aws")


def test_matrix_derives_policy_config_and_region(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.aws-production.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  gpuplane:cloud: aws\n  gpuplane:region: eu-west-1\n", encoding="utf-8"
    )
    (stacks / "Pulumi.gcp-dev.yaml").write_text(
        'config:\n  gpuplane:cloud: "gcp"\n  gpuplane:region: us-central1\n', encoding="utf-8"
    )
    (stacks / "Pulumi.linode-staging.yaml").write_text("config:\n  gpuplane:cloud: linode\n", encoding="utf-8")
    (tmp_path / "policies" / "config").mkdir(parents=True)
    (tmp_path / "policies" / "config" / "dev.json").write_text("{}", encoding="utf-8")
    (tmp_path / "policies" / "config" / "production.json").write_text("{}", encoding="utf-8")
    assert _matrix_rows(tmp_path) == [
        {
            "stack": "aws-production",
            "cloud": "aws",
            "aws_region": "eu-west-1",
            "policy_config": "policies/config/production.json",
        },
        {"stack": "gcp-dev", "cloud": "gcp", "aws_region": "", "policy_config": "policies/config/dev.json"},
        {"stack": "linode-staging", "cloud": "linode", "aws_region": "", "policy_config": ""},
    ]
    assert [row["stack"] for row in _matrix_rows(tmp_path, only="gcp-dev")] == ["gcp-dev"]


def test_matrix_refuses_unknown_clouds_and_stacks(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.aws-dev.yaml").write_text("config:\n  gpuplane:cloud: aws\n", encoding="utf-8")
    missing = _run_matrix(tmp_path, only="azure-dev")
    assert missing.returncode != 0
    assert "no stack named 'azure-dev'" in missing.stderr
    (stacks / "Pulumi.odd-dev.yaml").write_text("config:\n  gpuplane:region: x\n", encoding="utf-8")
    odd = _run_matrix(tmp_path)
    assert odd.returncode != 0
    assert "Pulumi.odd-dev.yaml: gpuplane:cloud is ''" in odd.stderr


# --------------------------------------------------------------------------------------------------
# Renovate coverage


def test_renovate_updates_python_packages_actions_and_charts() -> None:
    config = _renovate()
    assert {"pep621", "github-actions", "custom.regex"} <= set(config["enabledManagers"])
    assert "helpers:pinGitHubActionDigestsToSemver" in config["extends"]


def test_renovate_finds_every_chart_and_image_pin() -> None:
    managers = [m for m in _renovate()["customManagers"] if "components/versions.py" in json.dumps(m)]
    assert len(managers) == 1
    matches = [m for _, m in _renovate_matches(managers[0])]
    versions_py = ROOT / "components" / "versions.py"
    comments = re.findall(r"^\s*# renovate:", versions_py.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(matches) == len(comments)  # no `# renovate:` comment the manager cannot read
    expected: list[dict[str, str | None]] = []
    charts = [value for value in vars(versions).values() if isinstance(value, versions.ChartPin)]
    assert set(CHARTS.values()) <= set(charts)
    for pin in charts:
        if pin.is_oci:
            dep = f"{pin.repository.removeprefix('oci://')}/{pin.chart}"
            expected.append({"datasource": "docker", "depName": dep, "registryUrl": None, "currentValue": pin.version})
        else:
            expected.append(
                {"datasource": "helm", "depName": pin.chart, "registryUrl": pin.repository, "currentValue": pin.version}
            )
    images = [value for value in vars(versions).values() if isinstance(value, versions.ImagePin)]
    expected += [
        {"datasource": "docker", "depName": image.repository, "registryUrl": None, "currentValue": image.tag}
        for image in images
        if f"depName={image.repository}\n" in versions_py.read_text(encoding="utf-8")
    ]
    key = operator.itemgetter("depName")
    assert len(expected) >= len(CHARTS) >= 8
    assert sorted(matches, key=key) == sorted(expected, key=key)


def test_renovate_finds_the_pulumi_cli_version() -> None:
    managers = [m for m in _renovate()["customManagers"] if "workflows" in json.dumps(m)]
    assert len(managers) == 1
    matches = _renovate_matches(managers[0])
    assert sorted(path.name for path, _ in matches) == ["deploy.yml", "preview.yml"]
    for _, match in matches:
        assert match == {"datasource": "github-releases", "depName": "pulumi/pulumi", "currentValue": _pulumi_sdk_pin()}


def test_renovate_respects_the_tested_compatibility() -> None:
    rules = _renovate()["packageRules"]
    hold = [r for r in rules if r.get("matchPackageNames") == ["docker.io/envoyproxy/gateway-helm"]]
    assert len(hold) == 1
    allowed = hold[0]["allowedVersions"]
    assert allowed.startswith("/")
    assert allowed.endswith("/")
    tested = versions.COMPATIBILITY["ai-gateway"][versions.AI_GATEWAY.version]
    assert f"envoy-gateway:{versions.ENVOY_GATEWAY.version}" in tested
    assert _js_regex(allowed[1:-1]).search(versions.ENVOY_GATEWAY.version)
    assert not _js_regex(allowed[1:-1]).search("v1.9.0")
    groups = {
        r["groupName"]: set(r["matchPackageNames"]) for r in rules if "groupName" in r and "matchPackageNames" in r
    }
    assert groups["kueue"] == {"registry.k8s.io/kueue/charts/kueue", "registry.k8s.io/kueue/kueue"}
    assert groups["envoy ai gateway"] == {
        "docker.io/envoyproxy/ai-gateway-crds-helm",
        "docker.io/envoyproxy/ai-gateway-helm",
    }
    assert groups["pulumi cli and sdk"] == {"pulumi", "pulumi/pulumi"}
