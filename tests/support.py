"""Shared test helpers: baseline specs per cloud, a shortcut to run code under the mock runtime, and per-process
shares of what many tests need (the example stacks' plans, one running policy pack)."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from components.spec import PlatformSpec, parse_spec
from gpuplane.recording import RecordedResource, Recording, run_program

if TYPE_CHECKING:
    from gpuplane.analyzer import PolicyPackServer
    from gpuplane.plan import StackPlan

REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "linode": "us-ord", "existing": "on-prem"}

GPUS = {
    "aws": ("nvidia-l4", "nvidia-h100-80gb"),
    "gcp": ("nvidia-l4", "nvidia-a100-80gb"),
    "linode": ("nvidia-rtx4000-ada", "nvidia-rtx-pro-6000"),
    "existing": ("nvidia-l4", "nvidia-a100-80gb"),
}


def raw_spec(cloud: str) -> dict[str, Any]:
    """A valid camelCase spec for ``cloud`` with two GPU pools of different models and two tenants."""
    small, big = GPUS[cloud]
    min_nodes = 1 if cloud == "linode" else 0
    return copy.deepcopy(
        {
            "cloud": cloud,
            "region": REGIONS[cloud],
            "kubernetesVersion": "1.35",
            "clusterName": f"gp-{cloud}",
            "apiAccess": {"mode": "public", "allowedCidrs": ["203.0.113.0/24"]},
            "gpuPools": [
                {"name": "inference", "gpu": small, "gpusPerNode": 1, "minNodes": min_nodes, "maxNodes": 4},
                {"name": "training", "gpu": big, "gpusPerNode": 1, "minNodes": min_nodes, "maxNodes": 2},
            ],
            "tenants": [
                {"name": "team-a", "quotas": {small: 2, big: 1}, "weight": 2},
                {"name": "team-b", "quotas": {small: 2}, "weight": 1},
            ],
            "tags": {"env": "test"},
        }
    )


def spec_for(cloud: str, **overrides: Any) -> PlatformSpec:
    raw = raw_spec(cloud)
    raw.update(overrides)
    return parse_spec(raw)


def record(build: Callable[[], object], region: str = "us-east-1", **config: str) -> Recording:
    """Run ``build`` under the mock runtime with ``preview=False`` and return the registrations."""
    return run_program(build, config=config, region=region)


@dataclass
class RegisteredOutputs:
    """What a component passed to ``register_outputs``: resolved values and secretness per key."""

    values: dict[str, Any] = field(default_factory=dict[str, Any])
    secret: dict[str, bool] = field(default_factory=dict[str, bool])
    _probes: list[Any] = field(default_factory=list[Any])


def capture_registered_outputs(monkeypatch: Any, component: type) -> RegisteredOutputs:
    """Record every ``component.register_outputs({...})`` of the next ``record`` run. The mock monitor
    drops component outputs, so they are taken at the call (``monkeypatch`` undoes the patch)."""
    import asyncio

    import pulumi

    seen = RegisteredOutputs()
    original = component.register_outputs

    def register(self: Any, outputs: dict[str, Any]) -> None:
        for key, value in outputs.items():
            output = pulumi.Output.from_input(value)

            async def probe(key: str = key, output: pulumi.Output[Any] = output) -> None:
                seen.secret[key] = await output.is_secret()
                seen.values[key] = await output.future()

            seen._probes.append(asyncio.ensure_future(probe()))  # keep a reference until the run settles
        original(self, outputs)

    monkeypatch.setattr(component, "register_outputs", register)
    return seen


def build_platform(spec: Any, kubeconfig: str | None = None, *, install_addons: bool = False) -> Any:
    """Build ``GpuPlatform`` for ``spec`` (inside a ``record`` call); by default the cluster alone, so an
    add-on test sees only its own add-on. ``existing`` gets a test kubeconfig."""
    import pulumi

    from components.gpu_platform import GpuPlatform, GpuPlatformArgs

    if spec.cloud == "existing" and kubeconfig is None:
        kubeconfig = (  # one usable context, as the existing-cluster component requires
            '{"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": {"server": "https://c"}}], '
            '"contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}'
        )
    secret = None if kubeconfig is None else pulumi.Output.secret(kubeconfig)
    return GpuPlatform("gp", GpuPlatformArgs(spec=spec, kubeconfig=secret, install_addons=install_addons))


def addon_scope(platform: Any) -> Any:
    """The ``AddonScope`` an add-on gets from a built platform."""
    from components.addons.base import AddonScope

    cluster = platform.cluster
    return AddonScope(spec=platform.spec, provider=cluster.provider, native=cluster.native, gpu_pools=cluster.gpu_pools)


SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
"""The labels the observability add-on's Prometheus selects monitors and rules by."""


def stand_in_monitoring(scope: Any, parent: Any) -> Any:
    """A ``MonitoringHook`` backed by a bare kube-prometheus-stack release named like the real one, for
    add-on tests that need monitors plugged in without building the whole observability add-on."""
    from components.addons.base import MonitoringHook, helm_release
    from components.versions import KUBE_PROMETHEUS_STACK

    crds = helm_release(
        "gp-observability-release",
        KUBE_PROMETHEUS_STACK,
        namespace="monitoring",
        values={},
        scope=scope,
        parent=parent,
    )
    return MonitoringHook(
        namespace="monitoring",
        selector_labels=SELECTOR_LABELS,
        dashboard_label=("grafana_dashboard", "1"),
        crds=crds,
    )


def fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter from the repository root (no ``PULUMI_*`` variables, the repo
    importable) and return its stdout; for import-cost checks that must not see this process's modules."""
    import os
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env["PYTHONPATH"] = str(root)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- shared per test process: the example stacks' plans and one policy pack ---------------------------
#
# Planning an example stack costs 0.3-1.5 s and starting the pack ~0.3 s of CPU (0.8 s wall with its stop);
# many tests need the same plan or a pack that is already running. Each pytest worker keeps one of each.

ROOT = Path(__file__).resolve().parents[1]
_EXAMPLE_PLANS: dict[str, StackPlan] = {}


def _plan_stack(stack_file: Any) -> StackPlan:
    """The real ``gpuplane.plan.plan_stack``, even while :func:`replay_example_plans` stands in for it."""
    import gpuplane.plan

    real: Callable[[Any], StackPlan] = getattr(gpuplane.plan.plan_stack, "replaces", gpuplane.plan.plan_stack)
    return real(stack_file)


def example_plan(name: str) -> StackPlan:
    """``gpuplane.plan.plan_stack`` of the bundled example stack ``name`` (no policies), planned once per
    process: every caller gets its own deep copy (~10 ms), so a test may change what it gets."""
    from gpuplane import stackfiles

    assert stackfiles.project().root == ROOT, "example plans are of this repository's project (URNs name it)"
    if name not in _EXAMPLE_PLANS:
        plan = _plan_stack(stackfiles.load(ROOT / "stacks" / f"Pulumi.{name}.yaml"))
        assert plan.errors == [], plan.errors
        _EXAMPLE_PLANS[name] = plan
    return copy.deepcopy(_EXAMPLE_PLANS[name])


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPackServer]:
    """One running policy pack (``gpuplane.analyzer.PolicyPackServer`` on ``policies/``) per test process
    (``tests/conftest.py`` registers this module as a plugin, so every package shares it)."""
    from gpuplane.analyzer import PolicyPackServer

    with PolicyPackServer() as server:
        yield server


@dataclass
class LentPack:
    """What ``gpuplane plan`` gets instead of a fresh ``PolicyPackServer`` under :func:`lend_pack`: the
    session's running pack, launched and stopped by the session (so ``launch``/``stop``/``kill_now`` do
    nothing); every analysis still goes over gRPC to the real pack with the stack's config."""

    server: PolicyPackServer
    pack_dir: Path

    def launch(self) -> None:
        pass

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """``gpuplane plan`` launches a pack before it builds its server; that one is not needed (it is
        killed within milliseconds of its start, before it has imported anything)."""
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def kill_now(self) -> None:
        pass

    def __enter__(self) -> LentPack:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


@dataclass
class Lending:
    """Which pack each ``PolicyPackServer(...)`` made under :func:`lend_pack` got."""

    lent: list[LentPack] = field(default_factory=list[LentPack])
    fresh: list[PolicyPackServer] = field(default_factory=lambda: [])


def lend_pack(monkeypatch: pytest.MonkeyPatch, server: PolicyPackServer) -> Lending:
    """Make ``gpuplane plan`` in this process (``cli.main``) use ``server`` instead of starting a pack of
    its own -- for tests about the report and exit code, not the pack's process (``tests/gpuplane/test_process``
    and the subprocess tests start real ones). A different pack directory still gets a fresh pack."""
    import gpuplane.analyzer

    real = gpuplane.analyzer.PolicyPackServer
    lending = Lending()

    def make(pack_dir: Path = gpuplane.analyzer.PACK_DIR, **options: Any) -> LentPack | PolicyPackServer:
        if Path(pack_dir).resolve() == server.pack_dir and not options:
            lending.lent.append(LentPack(server, server.pack_dir))
            return lending.lent[-1]
        lending.fresh.append(real(pack_dir, **options))
        return lending.fresh[-1]

    monkeypatch.setattr(gpuplane.analyzer, "PolicyPackServer", make)
    return lending


@pytest.fixture
def lent_pack(monkeypatch: pytest.MonkeyPatch, pack: PolicyPackServer) -> Lending:
    """:func:`lend_pack` with the process's ``pack``: ``pytestmark = pytest.mark.usefixtures("lent_pack")``
    in a module whose ``cli.main(["plan", ...])`` calls are about the report and the exit code."""
    return lend_pack(monkeypatch, pack)


def replay_example_plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make ``gpuplane.plan.plan_stack`` (what ``gpuplane plan`` and ``gpuplane render`` call) hand back
    :func:`example_plan` for a bundled example stack file, unchanged (path and loaded content) and at its
    place, instead of running its program again; ``on_register`` (the pack's stream) sees every recorded resource in registration
    order, as it would live. Any other stack file is planned for real. Returns the stacks replayed."""
    import gpuplane.plan
    from gpuplane import stackfiles

    real = gpuplane.plan.plan_stack
    replayed: list[str] = []

    def plan_stack(
        stack_file: stackfiles.StackFile, on_register: Callable[[RecordedResource], None] | None = None
    ) -> StackPlan:
        example = ROOT / "stacks" / f"Pulumi.{stack_file.name}.yaml"
        if stackfiles.project().root != ROOT or stack_file.path.resolve() != example.resolve():
            return real(stack_file, on_register)
        if stack_file != stackfiles.load(example):  # the file at the example's place, but changed in memory
            return real(stack_file, on_register)
        plan = example_plan(stack_file.name)
        if on_register is not None:
            for resource in plan.recording.resources:
                on_register(resource)
        replayed.append(stack_file.name)
        return plan

    plan_stack.replaces = real  # pyright: ignore[reportFunctionMemberAccess]
    monkeypatch.setattr(gpuplane.plan, "plan_stack", plan_stack)
    return replayed


@pytest.fixture
def replayed_examples(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """:func:`replay_example_plans`, for tests about what ``gpuplane plan``/``render`` make of a plan."""
    return replay_example_plans(monkeypatch)
