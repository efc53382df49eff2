"""The offline analyzer driver: how it starts and stops the pack, and exactly what it sends.

A probe pack (written to a temporary directory) reports back everything the engine side sent it:
properties, options, provider, parents, dependencies, config, stack tags, argv, working directory,
environment and which values arrived as secrets. That pins the wire format ``gpuplane plan`` uses to
what the Pulumi CLI sends (pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

import policies
from gpuplane import analyzer
from gpuplane.analyzer import ENGINE_ADDRESS, PACK_DIR, AnalyzerError, PolicyConfigError, PolicyPackServer, Violation
from gpuplane.recording import Recording
from tests.support import record

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import json, os, sys
    from collections.abc import Mapping, Sequence

    sys.path.insert(0, {repo!r})
    from policies._secrets import install, is_secret

    from pulumi_policy import (
        EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy, StackValidationPolicy,
    )

    install()

    def plain(value):
        if isinstance(value, Mapping):
            return {{k: plain(value[k]) for k in value}}
        if isinstance(value, Sequence) and not isinstance(value, str):
            return [plain(v) for v in value]
        return value

    def secrets(props):
        return sorted(k for k in props if is_secret(props[k]) or (isinstance(props[k], Mapping) and any(
            is_secret(v) for v in props[k].values())))

    def resource(args, report):
        provider = args.provider
        report(json.dumps({{
            "type": args.resource_type, "name": args.name, "urn": args.urn, "props": plain(args.props),
            "secrets": secrets(args.props), "parent": args.opts.parent, "protect": args.opts.protect,
            "ignoreChanges": list(args.opts.ignore_changes),
            "provider": None if provider is None else {{
                "type": provider.resource_type, "name": provider.name, "urn": provider.urn,
                "secrets": secrets(provider.props)}},
            "config": dict(args.get_config() or {{}}), "tags": dict(args.stack_tags),
            "argv": sys.argv[1:3], "cwd": os.getcwd(), "project": os.environ.get("PULUMI_PROJECT"),
        }}))

    def stack(args, report):
        report(json.dumps([{{
            "type": r.resource_type, "name": r.name, "urn": r.urn, "props": plain(r.props),
            "secrets": secrets(r.props), "parent": None if r.parent is None else r.parent.urn,
            "dependencies": [d.urn for d in r.dependencies],
            "propertyDependencies": {{k: [d.urn for d in v] for k, v in r.property_dependencies.items()}},
            "provider": None if r.provider is None else r.provider.name,
        }} for r in args.resources]), "urn:probe")

    PolicyPack(
        name="probe",
        enforcement_level=EnforcementLevel.ADVISORY,
        policies=[
            ResourceValidationPolicy(
                name="probe-resource", description="Reports what it was sent.", validate=resource,
                config_schema=PolicyConfigSchema(properties={{"knob": {{"type": "integer", "default": 3}}}}),
            ),
            StackValidationPolicy(
                name="probe-stack", description="Reports the stack it was sent.", validate=stack,
                enforcement_level=EnforcementLevel.MANDATORY,
            ),
        ],
    )
    """
).format(repo=str(REPO))


def write_pack(directory: Path, main: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 0.0.1\n")
    (directory / "__main__.py").write_text(main)
    return directory


def probe_program() -> None:
    platform = pulumi.ComponentResource("gpuplane:test:Platform", "platform")
    provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("{}"), opts=pulumi.ResourceOptions(parent=platform))
    queue = aws.sqs.Queue("queue", name="jobs", opts=pulumi.ResourceOptions(parent=platform))
    config = k8s.core.v1.ConfigMap(
        "settings",
        metadata={"name": "settings", "namespace": "team-a"},
        data={"queueUrl": queue.url, "token": pulumi.Output.secret("t0ken")},
        opts=pulumi.ResourceOptions(
            provider=provider, parent=platform, protect=True, ignore_changes=["metadata.labels"]
        ),
    )
    k8s.apiextensions.CustomResource(
        "ref",
        api_version="example.com/v1",
        kind="Thing",
        metadata={"name": "ref"},
        spec={"settings": config, "owner": platform},
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[queue]),
    )


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, list[Violation], Path]:
    pack_dir = write_pack(tmp_path_factory.mktemp("probe") / "probe-pack", PROBE)
    recording = record(probe_program)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("PULUMI_PROJECT", "leaked-project")
    try:
        violations = analyzer.analyze(
            recording, project="gpuplane", stack="probe", pack_dir=pack_dir, config={"probe-resource": {"knob": 7}}
        )
    finally:
        monkeypatch.undo()
    return recording, violations, pack_dir


def sent(violations: list[Violation], name: str) -> dict[str, Any]:
    reports = [json.loads(v.message) for v in violations if v.policy == "probe-resource"]
    return next(r for r in reports if r["name"] == name)


def test_pack_runs_like_the_cli_starts_it(probed: tuple[Recording, list[Violation], Path]) -> None:
    _, violations, pack_dir = probed
    report = sent(violations, "settings")
    assert report["argv"] == [ENGINE_ADDRESS, str(pack_dir.resolve())]
    assert report["cwd"] == str(pack_dir.resolve())
    assert report["project"] is None  # PULUMI_PROJECT is not passed on
    assert report["tags"] == {"pulumi:project": "gpuplane", "pulumi:runtime": "python"}
    assert report["config"] == {"knob": 7}


def test_analyze_sends_inputs_options_and_provider(probed: tuple[Recording, list[Violation], Path]) -> None:
    recording, violations, _ = probed
    config_map = recording.named("settings")
    report = sent(violations, "settings")
    assert report["type"] == "kubernetes:core/v1:ConfigMap"
    assert report["urn"] == config_map.urn
    assert report["props"]["data"] == {
        "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/queue",
        "token": "t0ken",
    }
    assert report["secrets"] == ["data"]  # the secret token arrived as a secret
    assert report["parent"] == recording.named("platform").urn
    assert report["protect"] is True
    assert report["ignoreChanges"] == ["metadata.labels"]
    provider = recording.named("k8s")
    assert report["provider"] == {
        "type": "pulumi:providers:kubernetes",
        "name": "k8s",
        "urn": provider.urn,
        "secrets": ["kubeconfig"],
    }
    # Every registration is analysed (components, providers and the root stack too), in order.
    analysed = [json.loads(v.message)["name"] for v in violations if v.policy == "probe-resource"]
    assert analysed == ["gpuplane-test", *[r.name for r in recording.resources]]  # the recording's root stack
    assert all(v.level == "advisory" and v.severity == "" for v in violations if v.policy == "probe-resource")


def test_resource_references_become_ids(probed: tuple[Recording, list[Violation], Path]) -> None:
    recording, violations, _ = probed
    assert sent(violations, "ref")["props"]["spec"] == {
        "settings": "settings-id",  # a custom resource: its id
        "owner": recording.named("platform").urn,  # a component: its URN
    }


def test_analyze_stack_sends_outputs_parents_and_dependencies(
    probed: tuple[Recording, list[Violation], Path],
) -> None:
    recording, violations, _ = probed
    [stack_report] = [v for v in violations if v.policy == "probe-stack"]
    assert (stack_report.level, stack_report.urn) == ("mandatory", "urn:probe")
    resources = {r["name"]: r for r in json.loads(stack_report.message)}
    assert set(resources) == {"gpuplane-test", *(r.name for r in recording.resources)}
    queue = resources["queue"]
    assert queue["props"]["url"] == "https://sqs.us-east-1.amazonaws.com/123456789012/queue"  # an output
    assert queue["parent"] == recording.named("platform").urn
    assert resources["platform"]["parent"] == resources["gpuplane-test"]["urn"]
    ref = resources["ref"]
    assert ref["dependencies"] == recording.named("ref").dependencies
    assert recording.named("queue").urn in ref["dependencies"]  # depends_on
    assert ref["provider"] == "k8s"
    settings = resources["settings"]
    assert settings["propertyDependencies"] == {"data": [recording.named("queue").urn]}
    assert settings["secrets"] == ["data"]
    assert resources["k8s"]["secrets"] == ["kubeconfig"]


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[Any]]:
    started: list[subprocess.Popen[Any]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        process = real(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(analyzer.subprocess, "Popen", popen)
    return started


def test_only_the_started_process_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = _spy(monkeypatch)
    try:
        assert analyzer.analyze(Recording(), project="gpuplane", stack="empty", config={"all": "disabled"}) == []
        assert len(started) == 1
        # The pack command is last (on Linux behind the parent-death launcher, which execs it in place).
        assert list(cast(list[str], started[0].args))[-6:-1] == [
            sys.executable,
            "-u",
            "-m",
            "pulumi.policy",
            ENGINE_ADDRESS,
        ]
        assert started[0].poll() is not None
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_pack_is_stopped_when_analysis_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spy(monkeypatch)
    with pytest.raises(PolicyConfigError, match="unknown policy 'no-such-policy'"):
        analyzer.analyze(Recording(), project="gpuplane", stack="x", config={"no-such-policy": "mandatory"})
    assert len(started) == 1
    assert started[0].poll() is not None


def test_a_crashing_pack_is_reported_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spy(monkeypatch)
    pack_dir = write_pack(tmp_path / "broken", "raise RuntimeError('policy pack exploded')\n")
    with pytest.raises(AnalyzerError) as raised:
        analyzer.analyze(Recording(), project="gpuplane", stack="x", pack_dir=pack_dir)
    assert "exited with code 1" in str(raised.value)
    assert "policy pack exploded" in str(raised.value)
    assert started[0].poll() is not None


def test_a_silent_pack_times_out_and_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = _spy(monkeypatch)
    pack_dir = write_pack(tmp_path / "silent", "import time\ntime.sleep(120)\n")
    server = PolicyPackServer(pack_dir, startup_timeout=1)
    with pytest.raises(AnalyzerError, match="did not print its port within 1s"):
        server.start()
    assert started[0].poll() is not None


def test_a_validator_error_surfaces_as_analyzer_error(tmp_path: Path) -> None:
    main = textwrap.dedent(
        """
        from pulumi_policy import PolicyPack, ResourceValidationPolicy
        def boom(args, report):
            raise ValueError("validator bug for " + args.name)
        PolicyPack(name="boom", policies=[ResourceValidationPolicy(name="boom", description="d", validate=boom)])
        """
    )
    pack_dir = write_pack(tmp_path / "boom", main)
    recording = record(lambda: k8s.core.v1.Namespace("ns"))
    with pytest.raises(
        AnalyzerError, match=r"policy pack Analyze for .*gpuplane-test failed: .*validator bug for gpuplane-test"
    ):
        analyzer.analyze(recording, project="gpuplane", stack="x", pack_dir=pack_dir)


def test_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(AnalyzerError, match="is not a policy pack"):
        analyzer.analyze(Recording(), project="gpuplane", stack="x", pack_dir=tmp_path)


def test_server_lifecycle() -> None:
    server = PolicyPackServer(PACK_DIR)
    with pytest.raises(AnalyzerError, match="not running"):
        server.info()
    with server:
        with pytest.raises(AnalyzerError, match="already running"):
            server.start()
        assert len(server.info()) == len(policies.MODULES)
    server.stop()  # idempotent


def test_the_pack_runs_from_a_copy_without_the_repository(tmp_path: Path) -> None:
    """A published pack is unpacked into a directory with another name and no gpuplane around it."""
    import shutil

    copy = tmp_path / "gpuplane_v0.1.0"
    shutil.copytree(PACK_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    recording = record(lambda: k8s.Provider("k8s", kubeconfig="{}"))
    violations = analyzer.analyze(recording, project="gpuplane", stack="x", pack_dir=copy, config={"all": "mandatory"})
    assert [(v.policy, v.message) for v in violations if v.policy != "conformance-stack-ai-requirements"] == [
        (
            "platform-credentials-secret",
            "provider k8s has kubeconfig in plaintext; make it a Pulumi secret so state stores it encrypted",
        )
    ]


def test_remediate_is_called_only_when_a_policy_remediates(
    pack: PolicyPackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skipping Remediate is only allowed when no policy's level is "remediate" (the pack would do nothing)."""
    from gpuplane.recording import run_program

    recording = run_program(lambda: k8s.core.v1.Namespace("ns", metadata={"name": "a"}))
    calls: list[str] = []
    original = pack._send  # pyright: ignore[reportPrivateUsage]

    def counting(method: str, request: object) -> object:
        calls.append(method)
        return original(method, request)

    monkeypatch.setattr(pack, "_send", counting)  # every call to the pack is sent through _send
    pack.analyze(recording, project="gpuplane", stack="test")
    assert "Remediate" not in calls
    assert calls.count("Analyze") == 2  # the root stack and the namespace
    calls.clear()
    pack.analyze(recording, project="gpuplane", stack="test", config={"platform-helm-version-pinned": "remediate"})
    assert calls.count("Remediate") == 2


def test_the_pack_is_launched_without_a_preexec_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``preexec_fn`` makes subprocess fork() in a process where gRPC runs; gRPC's fork handlers then
    restart its poller in the child after ``close_fds`` closed the epoll fd, and the child aborts before
    exec ("exited with code -6", grpc/grpc#43157; seen twice in full suite runs). The parent-death
    signal comes from a launcher that execs the pack in place instead."""
    seen: list[dict[str, Any]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(analyzer.subprocess, "Popen", popen)
    assert analyzer.analyze(Recording(), project="gpuplane", stack="empty", config={"all": "disabled"}) == []
    assert seen
    assert all(kwargs.get("preexec_fn") is None for kwargs in seen)
