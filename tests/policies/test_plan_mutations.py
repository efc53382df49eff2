"""``gpuplane plan`` refuses every broken security default, naming the policy (issue 5).

Every case runs the real command, ``gpuplane.cli.main(["plan", ...])``: the example stack's program
under the mock runtime, the policy pack over gRPC with the stack's default config
(``policies/config/dev.json`` for ``<cloud>-dev``), the text (or ``--json``) report and the exit code.
The pack is the test process's running one (``lent_pack`` in ``tests/support.py``): what is tested here
is the report and the exit code, not the pack's process (``tests/gpuplane/test_process.py`` and
``test_exit_codes.py`` start real ones).
The break is applied at one of two seams:

- **stack config**, where the spec can express the break: a copy of the example ``Pulumi.<stack>.yaml``
  with one key changed, planned by path (its name keeps the ``-dev`` policy config);
- **recorded resources**, where the spec refuses the break (public ``0.0.0.0/0``, in-memory OpenFGA,
  quotas above capacity... are config errors, but a hand-written program or a component bug can still
  register them): ``gpuplane.plan.run_program`` is wrapped so the real program runs and the target
  registration is edited (``tests/policies/builders.edit``), dropped or retyped before the pack sees it,
  both in what is streamed to the pack (``on_register``) and in the recording the report is built from.

Each case asserts exit code 1, the exact set of policies in the report's mandatory section (the break
trips its policy and nothing unrelated), and the message and resource the violation is reported at.
The baselines run the same seams without a break and exit 0, so a case cannot pass because the stack
was already failing. Exact messages for every policy are in ``cases.py``; this suite proves the CLI path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

import gpuplane.plan
from gpuplane import cli, stackfiles
from gpuplane.analyzer import PACK_DIR
from gpuplane.recording import RecordedResource, Recording
from tests.policies.builders import edit, plain
from tests.policies.cases import DELETE, chain, setting

ConfigEdit = Callable[[dict[str, Any]], None]

pytestmark = pytest.mark.usefixtures("lent_pack")  # cli.main plans use the process's running pack (tests/support.py)


@dataclass(frozen=True)
class Mutation:
    """A change to the registrations named ``names``: a new version of one, or ``None`` to drop it.

    Applied per resource, so it works whether ``gpuplane plan`` hands the pack the finished recording
    or streams each registration to it as the engine does (``run_program(on_register=...)``)."""

    names: tuple[str, ...]
    apply: Callable[[RecordedResource], RecordedResource | None]


@dataclass(frozen=True)
class Break:
    id: str
    stack: str
    policy: str
    target: str
    """The resource the violation is reported at (its name; the URN must end with it)."""
    message: str
    """A distinctive part of the expected message (exact messages are asserted in cases.py)."""
    mutate: Mutation | None = None
    config: ConfigEdit | None = None


def on(name: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    """Edit ``name``'s wire inputs (and the outputs stack policies see) with builders.edit."""
    return Mutation((name,), lambda resource: edit(Recording(resources=[resource]), name, change).resources[0])


def without(*names: str) -> Mutation:
    return Mutation(names, lambda _resource: None)


def as_type(type_: str, name: str) -> Mutation:
    return Mutation((name,), lambda resource: replace(resource, type=type_))


def pool_setting(index: int, key: str, value: Any) -> ConfigEdit:
    def change(config: dict[str, Any]) -> None:
        config["gpuplane:gpuPools"][index][key] = value

    return change


def add_container(container: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        wire["spec"]["template"]["spec"]["containers"].append(container)

    return change


def add_env(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(wire: dict[str, Any]) -> None:
        container = wire["spec"]["template"]["spec"]["containers"][0]
        container.setdefault("env", []).append({"name": name, "value": value})

    return change


def unwrap(key: str) -> Callable[[dict[str, Any]], None]:
    """The program forgot ``Output.secret``: the value reaches the engine in plaintext."""

    def change(wire: dict[str, Any]) -> None:
        assert plain(wire[key]) != wire[key], "expected a secret-wrapped value"
        wire[key] = plain(wire[key])

    return change


# Resource names in the example stacks (tests/stacks/test_plan.py checks those stacks plan cleanly).
EKS = "gpuplane-cluster-cluster"
LKE = "gpuplane-cluster-cluster"
LKE_INFERENCE = "gpuplane-cluster-pool-inference-ada"
LKE_BATCH = "gpuplane-cluster-pool-batch-blackwell"
EKS_TRAINING = "gpuplane-cluster-gpu-training-h100"
FLAVOR = "gpuplane-kueue-flavor-inference-ada"
QUEUE = "gpuplane-kueue-cluster-queue-search"
LLAMA_ROUTE = "gpuplane-gateway-llama-70b-route"
VALKEY = "gpuplane-gateway-valkey"

BREAKS: list[Break] = [
    Break(
        "public-endpoint-eks",
        "aws-dev",
        "cloud-eks-endpoint-restricted",
        EKS,
        "vpcConfig.publicAccessCidrs contains 0.0.0.0/0, which admits the whole internet",
        mutate=on(
            EKS,
            chain(
                setting("vpcConfig.endpointPublicAccess", True), setting("vpcConfig.publicAccessCidrs", ["0.0.0.0/0"])
            ),
        ),
    ),
    Break(
        "public-endpoint-lke",
        "linode-dev",
        "cloud-lke-control-plane-acl",
        LKE,
        "controlPlane.acl.addresses contains 0.0.0.0/0, which admits the whole internet",
        mutate=on(LKE, setting("controlPlane.acl.addresses", [{"ipv4s": ["0.0.0.0/0"]}])),
    ),
    Break(
        "no-encryption",
        "aws-dev",
        "cloud-eks-secrets-encrypted",
        EKS,
        "encryptionConfig does not cover resources: [secrets]; Kubernetes Secrets are stored unencrypted",
        mutate=on(EKS, setting("encryptionConfig", DELETE)),
    ),
    Break(
        "untainted-gpu-pool",
        "linode-dev",
        "gpu-pool-tainted",
        LKE_BATCH,
        f"LKE node pool {LKE_BATCH} has GPUs but no nvidia.com/gpu taint with effect NoSchedule or NoExecute",
        mutate=on(LKE_BATCH, setting("taints", [])),
    ),
    Break(
        "no-scale-to-zero-eks",
        "aws-dev",
        "gpu-pool-scale-to-zero",
        EKS_TRAINING,
        f"EKS node group {EKS_TRAINING} keeps at least 1 GPU nodes running; set its minimum to 0",
        config=pool_setting(1, "minNodes", 1),
    ),
    Break(
        "no-scale-to-zero-lke",
        "linode-dev",
        "gpu-pool-scale-to-zero",
        LKE_INFERENCE,
        f"LKE node pool {LKE_INFERENCE} keeps at least 2 GPU nodes running; set its minimum to 1 "
        "(LKE cannot scale below 1)",
        config=pool_setting(0, "minNodes", 2),
    ),
    Break(
        "unpinned-chart",
        "existing-dev",
        "platform-helm-version-pinned",
        "gpuplane-kueue-release",
        "helm.v3.Release gpuplane-kueue-release installs chart kueue without a version; pin an exact version",
        mutate=on("gpuplane-kueue-release", setting("version", DELETE)),
    ),
    Break(
        "hook-chart-via-v4",
        "existing-dev",
        "platform-helm-hooks-supported",
        "gpuplane-observability-stack",
        "helm.v4.Chart gpuplane-observability-stack installs kube-prometheus-stack, which relies on Helm hooks "
        "that helm.v4.Chart skips (pulumi/pulumi-kubernetes#3284)",
        mutate=as_type("kubernetes:helm.sh/v4:Chart", "gpuplane-observability-stack"),
    ),
    Break(
        "flavor-pool-mismatch",
        "linode-dev",
        "platform-kueue-flavor-pool-match",
        FLAVOR,
        "ResourceFlavor inference-ada nodeLabels {gpuplane.io/gpu=nvidia-rtx4000-ada, gpuplane.io/pool=inference} "
        "match no node pool of this stack",
        mutate=on(FLAVOR, lambda wire: wire["spec"]["nodeLabels"].update({"gpuplane.io/pool": "inference"})),
    ),
    Break(
        "over-quota-queue",
        "linode-dev",
        "platform-kueue-quota-within-capacity",
        FLAVOR,
        "ClusterQueues guarantee 11 nvidia.com/gpu on flavor inference-ada (research: 1, search: 10) but its pools "
        "provide at most 3",
        mutate=on(QUEUE, setting("spec.resourceGroups.0.flavors.0.resources.0.nominalQuota", 10)),
    ),
    Break(
        "route-without-rate-limit",
        "existing-dev",
        "platform-aigateway-route-rate-limited",
        LLAMA_ROUTE,
        "AIGatewayRoute gpuplane-gateway/llama-70b has no BackendTrafficPolicy with a token-cost rate limit",
        mutate=without("gpuplane-gateway-llama-70b-token-limit"),
    ),
    Break(
        "route-without-authn",
        "existing-dev",
        "platform-aigateway-route-authenticated",
        LLAMA_ROUTE,
        "AIGatewayRoute gpuplane-gateway/llama-70b has no SecurityPolicy with jwt, apiKeyAuth, oidc, basicAuth or "
        "extAuth targeting it or its Gateway",
        # Both: the Gateway-wide JWT policy and the route's own access policy each authenticate.
        mutate=without("gpuplane-gateway-gateway-auth", "gpuplane-gateway-llama-70b-access"),
    ),
    Break(
        "openfga-in-memory",
        "existing-dev",
        "platform-openfga-durable-datastore",
        "gpuplane-openfga-release",
        "helm.v3.Release gpuplane-openfga-release runs OpenFGA with datastore.engine memory; authorization data "
        "is lost on every restart",
        mutate=on("gpuplane-openfga-release", setting("values.datastore.engine", "memory")),
    ),
    Break(
        "plaintext-env",
        "existing-dev",
        "platform-workload-no-plaintext-secrets",
        VALKEY,
        "Deployment gpuplane-ratelimit/gpuplane-gateway-valkey container valkey sets env VALKEY_PASSWORD as a literal "
        "value; use valueFrom.secretKeyRef",
        mutate=on(VALKEY, add_env("VALKEY_PASSWORD", "hunter2")),
    ),
    Break(
        "plaintext-helm-value",
        "existing-dev",
        "platform-workload-no-plaintext-secrets",
        "gpuplane-observability-stack",
        "helm.v3.Release gpuplane-observability-stack sets values.grafana.adminPassword to a plaintext credential",
        mutate=on("gpuplane-observability-stack", setting("values.grafana.adminPassword", "prom-operator")),
    ),
    Break(
        "plaintext-kubeconfig",
        "existing-dev",
        "platform-credentials-secret",
        "gpuplane-cluster-provider",
        "provider gpuplane-cluster-provider has kubeconfig in plaintext",
        mutate=on("gpuplane-cluster-provider", unwrap("kubeconfig")),
    ),
    Break(
        "privileged-pod",
        "existing-dev",
        "platform-container-not-privileged",
        VALKEY,
        "Deployment gpuplane-ratelimit/gpuplane-gateway-valkey: spec.template.spec container debug is privileged, "
        "which gives it control of its node",
        mutate=on(
            VALKEY,
            add_container({"name": "debug", "image": "busybox:1.36", "securityContext": {"privileged": True}}),
        ),
    ),
    Break(
        "privileged-helm-values",
        "existing-dev",
        "platform-container-not-privileged",
        "gpuplane-openfga-release",
        "helm.v3.Release gpuplane-openfga-release (chart openfga, namespace openfga) sets "
        "values.securityContext.privileged to true",
        mutate=on("gpuplane-openfga-release", setting("values.securityContext.privileged", True)),
    ),
]

JSON_CASES = ("public-endpoint-eks", "route-without-authn")


@dataclass(frozen=True)
class Finding:
    level: str
    policy: str
    message: str
    urn: str


_SECTION = re.compile(r"^   (mandatory|advisory|remediate) violations: (\d+)$")
_FINDING = re.compile(r"^     \[([a-z0-9-]+)\] (.*)$")
_AT = re.compile(r"^       at (.*)$")


def findings(report: str) -> list[Finding]:
    """The violations of the text report (``[policy] message`` then ``at <urn>``), by section."""
    found: list[Finding] = []
    level = ""
    counts: dict[str, int] = {}
    lines = report.splitlines()
    for index, line in enumerate(lines):
        if section := _SECTION.match(line):
            level = section.group(1)
            counts[level] = int(section.group(2))
        elif (finding := _FINDING.match(line)) and level:
            at = _AT.match(lines[index + 1])
            assert at, f"no 'at <urn>' line after {line!r}"
            found.append(Finding(level, finding.group(1), finding.group(2), at.group(1)))
    for section_level, count in counts.items():
        assert len([f for f in found if f.level == section_level]) == count, (section_level, report)
    return found


class Planner:
    """Runs ``gpuplane plan`` for one break through the real CLI, applying it at the right seam."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.tmp_path = tmp_path
        self.runs: list[str] = []

    def __call__(
        self,
        stack: str,
        *options: str,
        mutate: Mutation | None = None,
        config: ConfigEdit | None = None,
        copy: bool = False,
    ) -> tuple[int, str]:
        argument = stack
        if config is not None or copy:
            argument = str(self.stack_copy(stack, config))
        real = gpuplane.plan.run_program
        results: dict[str, RecordedResource | None] = {}
        seen: set[str] = set()
        failures: list[Exception] = []

        def transform(resource: RecordedResource) -> RecordedResource | None:
            if mutate is None or resource.name not in mutate.names:
                return resource
            if resource.urn not in results:  # once, whether streamed, returned or both
                seen.add(resource.name)
                results[resource.urn] = mutate.apply(resource)
            return results[resource.urn]

        def run_program(*args: Any, **kwargs: Any) -> Recording:
            downstream: Callable[[RecordedResource], None] | None = kwargs.get("on_register")
            if downstream is not None:

                def register(resource: RecordedResource) -> None:
                    try:
                        changed = transform(resource)
                    except Exception as error:  # raised below: failing inside the mock monitor
                        failures.append(error)  # would break later runs' event loop
                        changed = resource
                    if changed is not None:
                        downstream(changed)

                kwargs["on_register"] = register
            recording = real(*args, **kwargs)
            self.runs.append(kwargs["stack"])
            if failures:
                raise failures[0]
            kept = [changed for r in recording.resources if (changed := transform(r)) is not None]
            return Recording(resources=kept, invokes=recording.invokes)

        with self.monkeypatch.context() as patch:
            patch.setattr(gpuplane.plan, "run_program", run_program)
            code = cli.main(["plan", argument, *options])
        captured = self.capsys.readouterr()
        assert self.runs == [stack], "the program ran once, through the wrapped seam"
        if mutate is not None:
            assert seen == set(mutate.names), f"the stack registered none of {sorted(set(mutate.names) - seen)}"
        # The example stacks ship documented placeholders (the CLI warns about them); nothing else may go to stderr.
        noise = [line for line in captured.err.splitlines() if ": warning: placeholder " not in line]
        assert noise == []
        return code, captured.out

    def stack_copy(self, stack: str, change: ConfigEdit | None) -> Path:
        """The example stack file with ``change`` applied to its ``config:`` map, as Pulumi.<stack>.yaml."""
        data: Any = yaml.safe_load((stackfiles.STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())
        if change is not None:
            change(data["config"])
        path = self.tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


@pytest.fixture
def planner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Planner:
    return Planner(monkeypatch, capsys, tmp_path)


def stacks_of_breaks() -> list[str]:
    return sorted({b.stack for b in BREAKS})


@pytest.mark.parametrize("stack", stacks_of_breaks())
def test_unbroken_stacks_exit_0_through_both_seams(stack: str, planner: Planner) -> None:
    """A copied stack file and a wrapped-but-unchanged recording plan cleanly: the breaks alone fail."""
    code, report = planner(stack, copy=True, mutate=Mutation((), lambda resource: resource))
    assert code == cli.EXIT_OK, report
    assert f"== stack {stack} " in report
    assert [f for f in findings(report) if f.level == "mandatory"] == []
    assert "mandatory violations" not in report


def test_the_breaks_cover_the_issue() -> None:
    policies = {b.policy for b in BREAKS}
    assert policies == {
        "cloud-eks-endpoint-restricted",
        "cloud-lke-control-plane-acl",
        "cloud-eks-secrets-encrypted",
        "gpu-pool-tainted",
        "gpu-pool-scale-to-zero",
        "platform-helm-version-pinned",
        "platform-helm-hooks-supported",
        "platform-kueue-flavor-pool-match",
        "platform-kueue-quota-within-capacity",
        "platform-aigateway-route-rate-limited",
        "platform-aigateway-route-authenticated",
        "platform-openfga-durable-datastore",
        "platform-workload-no-plaintext-secrets",
        "platform-credentials-secret",
        "platform-container-not-privileged",
    }
    assert len({b.id for b in BREAKS}) == len(BREAKS)
    assert all((b.mutate is None) != (b.config is None) for b in BREAKS)
    assert set(JSON_CASES) <= {b.id for b in BREAKS}


@pytest.mark.parametrize("brk", BREAKS, ids=lambda b: b.id)
def test_plan_exits_1_naming_the_policy(brk: Break, planner: Planner) -> None:
    code, report = planner(brk.stack, mutate=brk.mutate, config=brk.config)

    assert code == cli.EXIT_POLICY, report
    mandatory = [f for f in findings(report) if f.level == "mandatory"]
    assert {f.policy for f in mandatory} == {brk.policy}, report
    named = [f for f in mandatory if f.policy == brk.policy and brk.message in f.message]
    assert named, [f.message for f in mandatory]
    assert all(f.urn.endswith(f"::{brk.target}") for f in named), [f.urn for f in named]
    # The report names the config and why it applies (the stack name's -dev suffix).
    assert f"policies ({PACK_DIR / 'config' / 'dev.json'}: the stack name ends in -dev):" in report


@pytest.mark.parametrize("brk", [b for b in BREAKS if b.id in JSON_CASES], ids=lambda b: b.id)
def test_plan_json_names_policy_level_and_urn(brk: Break, planner: Planner) -> None:
    code, out = planner(brk.stack, "--json", mutate=brk.mutate, config=brk.config)

    assert code == cli.EXIT_POLICY
    [stack] = json.loads(out)["stacks"]
    assert stack["stack"] == brk.stack
    assert stack["errors"] == []
    [target] = [r["urn"] for r in stack["resources"] if r["name"] == brk.target]
    mandatory = [v for v in stack["violations"] if v["level"] == "mandatory"]
    assert {v["policy"] for v in mandatory} == {brk.policy}
    [violation] = [v for v in mandatory if v["policy"] == brk.policy]
    assert brk.message in violation["message"]
    assert violation["urn"] == target
    assert violation["severity"] == "critical"


def test_the_level_is_the_configs_to_choose(planner: Planner, tmp_path: Path) -> None:
    """The same break under a config that makes its policy advisory is reported but exits 0."""
    brk = next(b for b in BREAKS if b.id == "no-scale-to-zero-eks")
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_text(json.dumps({brk.policy: "advisory"}))

    code, report = planner(brk.stack, "--policy-config", str(relaxed), config=brk.config)

    assert code == cli.EXIT_OK
    assert f"policies ({relaxed}" in report
    advisory = [f for f in findings(report) if f.policy == brk.policy]
    assert [(f.level, f.message) for f in advisory] == [("advisory", brk.message)]
    assert advisory[0].urn.endswith(f"::{brk.target}")


def test_linode_plan_shows_the_idle_floor_of_every_gpu_pool(planner: Planner) -> None:
    """gpu-lke-pool-idle-floor: LKE pools cannot scale to zero, so every plan prices the floor."""
    code, report = planner("linode-dev")

    assert code == cli.EXIT_OK
    floors = sorted(
        (f.level, f.message, f.urn.rsplit("::", 1)[-1])
        for f in findings(report)
        if f.policy == "gpu-lke-pool-idle-floor"
    )
    assert floors == [
        (
            "advisory",
            f"LKE node pool {LKE_BATCH} keeps at least 1 g3-gpu-rtxpro6000-blackwell-1 node running (LKE's autoscaler "
            "minimum is 1): an idle cost floor of $3.00/hour ($2,190/month) at list price",
            LKE_BATCH,
        ),
        (
            "advisory",
            f"LKE node pool {LKE_INFERENCE} keeps at least 1 g2-gpu-rtx4000a1-s node running (LKE's autoscaler "
            "minimum is 1): an idle cost floor of $0.52/hour ($380/month) at list price",
            LKE_INFERENCE,
        ),
    ]
