"""The deploy path (issue 12, items 1-4) through the real Pulumi CLI, language host and policy pack.

What: in a copy of the repository with the README's deploy venv (``pip install -e .``: no test extras, so
no pyright) and the policy pack's own venv, ``pulumi stack init`` + ``pulumi preview --policy-pack policies``
run the real program (``main: stacks/``, ``stackConfigDir: stacks``, ``toolchain: pip``,
``virtualenv: .venv``) for an existing-cluster stack whose add-ons install no Helm chart (no chart
repository is reachable here; the full platform runs in test_existing_cluster.py from vendored charts).

Why: the mock runtime never reads Pulumi.yaml and never starts a language host, so a Pulumi.yaml option
that stops every real ``pulumi up`` (``typechecker: pyright`` without pyright in the deploy venv) passed
1,054 tests. The first test runs Pulumi.yaml as it was before the fix and must see the host refuse it.

Gotchas: every command runs in a loopback-only network namespace. The kubeconfig points at 127.0.0.1:9
(nothing listens): pulumi-kubernetes previews against an unreachable cluster with a warning. The GPU
operator is a Helm release on every existing cluster, and the provider's Release.Check loads the chart
from its repository even in a preview, which no machine here reaches: that Check is the one error the
preview may end with (the whole platform previews green from vendored charts in
test_existing_cluster.py). ``pulumi install`` is the Pulumi-native install (Pulumi Deployments): it must
accept stacks/requirements.txt from the program directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine import venvs
from tests.engine.harness import PulumiCli, Result, has_distribution, loopback_only
from tests.engine.stackfile import existing_stack_config, write_stack_file

pytestmark = pytest.mark.engine

#: Pulumi.yaml as it was before commit 1f857bc (issue 12 item 1): the option that stops every real run.
PULUMI_YAML_WITH_PYRIGHT = """\
name: gpuplane
description: Portable GPU Kubernetes platform for AI inference and training (EKS, GKE, LKE, existing clusters).
main: stacks/
stackConfigDir: stacks
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
    typechecker: pyright
"""

#: What pulumi-language-python says (sdk/python/cmd/pulumi-language-python/main.go, checkForPackage).
TYPECHECKER_REFUSED = "The typechecker option is set to pyright, but pyright is not installed"

UNREACHABLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:9
    insecure-skip-tls-verify: true
contexts:
- name: lab
  context: {cluster: lab, user: lab}
current-context: lab
users:
- name: lab
  user: {token: not-a-real-token}
"""


@contextlib.contextmanager
def replaced(path: Path, text: str) -> Iterator[None]:
    original = path.read_text()
    path.write_text(text)
    try:
        yield
    finally:
        path.write_text(original)


def init_stack(cli: PulumiCli, repo: Path, stack: str) -> None:
    """The README's steps: a stack, its config file, the kubeconfig as a secret."""
    write_stack_file(repo, stack, existing_stack_config(repo, charts=False))
    cli.ok("stack", "init", stack)
    cli.ok("config", "set", "--secret", "gpuplane:kubeconfig", "--stack", stack, stdin=UNREACHABLE_KUBECONFIG)


def preview(cli: PulumiCli, stack: str, *extra: str) -> Result:
    return cli.run("preview", "--stack", stack, "--policy-pack", "policies", *extra)


#: How the provider's Release.Check reports a chart repository it cannot reach (helm_release.go Check).
CHART_UNREACHABLE = "is not a valid chart repository or cannot be reached"


#: What the engine reports on the stack when the program registers a resource after the engine began to shut
#: down on another resource's error (a race: it appears only when the program is still running by then).
MONITOR_TERMINATED = "error: Resource monitor has terminated, shutting down"


def errors_of(result: Result) -> list[tuple[str, str]]:
    """``(resource header, error line)`` for every ``error:`` line of the Diagnostics section."""
    errors: list[tuple[str, str]] = []
    header = ""
    for line in result.stdout.split("Diagnostics:", 1)[-1].splitlines():
        if line.startswith("  ") and not line.startswith("    ") and line.rstrip().endswith(":"):
            header = line.strip()
        elif line.strip().startswith("error:"):
            errors.append((header, line.strip()))
        elif line and not line.startswith(" "):  # the next section (Outputs:, Resources:)
            break
    return errors


def unexpected_errors(result: Result) -> list[str]:
    """Errors other than the GPU operator chart's unreachable repository and the engine's shutdown after it.

    Empty also requires at least one chart error: a preview that stopped on nothing is not this preview.
    """
    errors = errors_of(result)
    chart = [e for h, e in errors if h.startswith("kubernetes:helm.sh/v3:Release (") and CHART_UNREACHABLE in e]
    if not chart:
        return [e for _, e in errors] or ["no chart repository error at all"]
    follow_on = [e for h, e in errors if h.startswith("pulumi:pulumi:Stack (") and e == MONITOR_TERMINATED]
    return [e for _, e in errors if e not in chart and e not in follow_on]


def test_deploy_venv_has_no_pyright(deploy_copy: Path) -> None:
    """Precondition of the regression test below: the README's deploy install brings no type checker."""
    assert not has_distribution(deploy_copy / ".venv", "pyright")
    assert has_distribution(deploy_copy / ".venv", "pulumi")


def test_pyright_typechecker_option_is_refused_by_the_language_host(
    deploy_copy: Path, make_cli: Callable[..., PulumiCli]
) -> None:
    cli = make_cli(deploy_copy, wrap=loopback_only)
    with replaced(deploy_copy / "Pulumi.yaml", PULUMI_YAML_WITH_PYRIGHT):
        init_stack(cli, deploy_copy, "deploy-old")
        result = preview(cli, "deploy-old")
    assert result.returncode != 0, result.describe()
    assert TYPECHECKER_REFUSED in result.output, result.describe()


def test_preview_runs_the_program_and_the_policy_pack(deploy_copy: Path, make_cli: Callable[..., PulumiCli]) -> None:
    cli = make_cli(deploy_copy, wrap=loopback_only)
    init_stack(cli, deploy_copy, "deploy")
    result = preview(cli, "deploy")
    out = result.stdout
    # The host's pre-run checks passed and the program ran: its components and provider were registered.
    assert TYPECHECKER_REFUSED not in result.output, result.describe()
    for registered in ("gpuplane:index:GpuPlatform gpuplane", "pulumi:providers:kubernetes gpuplane-cluster-provider"):
        assert registered in out, result.describe()
    # The policy pack was started from policies/ through the language host and its venv.
    assert "Loading policy packs...: done" in out, result.describe()
    assert "gpuplane@v0.1.0 (local: policies)" in out, result.describe()
    # The only error: the GPU operator chart's repository is not reachable from here (plus, when the program
    # was still registering resources at that moment, the engine's own shutdown error on the stack).
    assert not unexpected_errors(result), result.describe()


def test_pulumi_install_reads_the_program_requirements(deploy_copy: Path, make_cli: Callable[..., PulumiCli]) -> None:
    """``pulumi install`` (toolchain pip) installs stacks/requirements.txt (``-e ..``) into the project venv.

    ``--no-plugins``: provider plugins come from PATH here; a download would leave the machine.
    """
    cli = make_cli(deploy_copy)  # pip needs the package registry: not in a loopback-only namespace
    result = cli.ok("install", "--no-plugins", timeout=900)
    # The host runs pip in the program directory (stacks/), so `-e ..` is the repository root.
    assert f"Obtaining file://{deploy_copy} (from -r requirements.txt" in result.stdout, result.describe()
    # It ran `python -m venv` and `pip install --upgrade pip setuptools wheel` in the copy's .venv: the
    # cached dependency venv under it (tests/engine/venvs.py) must come out untouched (pip leaves
    # distributions "outside environment" alone), or every later test would run on a changed one.
    deps = venvs.cached_venv_path(venvs.DEPLOY_DEPS, venvs.deploy_requirements(deploy_copy))
    assert venvs.is_intact(deps), deps
