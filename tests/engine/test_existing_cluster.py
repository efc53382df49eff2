"""The existing-cluster target, deployed for real: Pulumi engine + Kubernetes provider + a real kube-apiserver.

What: the example stack ``existing-dev``, its kubeconfig pointed at a private test control plane
(tests/controlplane, loopback-only netns), goes through ``pulumi preview --policy-pack policies``,
``pulumi up`` and ``pulumi destroy``; what the API server holds is compared by discovery before and after
(tests/engine/inventory.py), not against a list of expected objects.

Why: the provider's Check/Create against a real API server (CRDs from the charts, server-side validation,
Helm installs of the vendored charts) is what no mock or schema proves.

Deviations (docs/decisions/real-engine.md): charts come from third_party/charts and nothing waits for pods
(tests/engine/local_charts/__main__.py); add-ons that need pulumi-random (not built here) are off; Kueue
is in the preview but not in ``up`` (its webhooks need its controller pod, and no kubelet runs pods).
``destroy`` cannot finish: Helm runs the GPU operator's pre-delete hook Jobs on uninstall and waits for
them without a timeout (pulumi-kubernetes 4.25's Release.Delete passes no DisableHooks and, with
skipAwait, no timeout), so destroy is stopped as soon as Helm's own release record shows it inside that
hook with the hook's Job unfinished (no fixed wait), and it must be waiting on exactly that. Helm never deletes a chart's ``crds/``; if destroy ever finishes, only those
may remain.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.controlplane.client import ApiError
from tests.controlplane.cluster import ControlPlane
from tests.engine.harness import PulumiCli, Result
from tests.engine.inventory import Key, Requester, describe, inventory
from tests.engine.stackfile import NO_KUEUE, existing_stack_config, write_stack_file
from tests.engine.test_deploy_path import replaced

pytestmark = pytest.mark.engine

HERE = Path(__file__).resolve().parent
STACK = "existing-engine"


def flattened_kubeconfig(path: Path) -> str:
    """The control plane's kubeconfig with its file references inlined (``kubectl config view --flatten``)."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    for entry in doc["clusters"]:
        ca = entry["cluster"].pop("certificate-authority")
        entry["cluster"]["certificate-authority-data"] = base64.b64encode(Path(ca).read_bytes()).decode()
    for entry in doc["users"]:
        for key in ("client-certificate", "client-key"):
            entry["user"][f"{key}-data"] = base64.b64encode(Path(entry["user"].pop(key)).read_bytes()).decode()
    return yaml.safe_dump(doc)


def chart_crds(repo: Path) -> set[str]:
    """Names of the CRDs the vendored charts ship in ``crds/`` folders (Helm installs, never deletes them)."""
    names: set[str] = set()
    for path in (repo / "third_party" / "charts").glob("**/crds/**/*.y*ml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                names.add(str(doc["metadata"]["name"]))
    return names


@pytest.fixture(scope="module")
def local_chart_project(deploy_copy: Path) -> Iterator[Path]:
    """The deploy copy with Pulumi.yaml's ``main`` on the local-chart entry point (module-scoped)."""
    (deploy_copy / "enginetest").mkdir(exist_ok=True)
    shutil.copyfile(HERE / "local_charts" / "__main__.py", deploy_copy / "enginetest" / "__main__.py")
    pulumi_yaml = deploy_copy / "Pulumi.yaml"
    text = pulumi_yaml.read_text()
    assert "main: stacks/" in text, text
    with replaced(pulumi_yaml, text.replace("main: stacks/", "main: enginetest/")):
        yield deploy_copy


@pytest.fixture(scope="module")
def engine_cluster(make_control_plane: Callable[..., ControlPlane]) -> ControlPlane:
    """A private control plane: a GPU operator whose uninstall cannot finish stays behind in it."""
    return make_control_plane("engine")


@pytest.fixture
def cluster_cli(
    local_chart_project: Path, engine_cluster: ControlPlane, make_cli: Callable[..., PulumiCli]
) -> PulumiCli:
    cli = make_cli(local_chart_project, wrap=engine_cluster.in_netns)
    write_stack_file(local_chart_project, STACK, existing_stack_config(local_chart_project, random_provider=False))
    cli.ok("stack", "init", STACK)
    cli.ok(
        "config", "set", "--secret", "gpuplane:kubeconfig", "--stack", STACK,
        stdin=flattened_kubeconfig(engine_cluster.kubeconfig),
    )  # fmt: skip
    return cli


def wait_until_gone(control_plane: ControlPlane, before: set[Key], allowed: set[Key], timeout: float) -> set[Key]:
    """Poll the inventory until only ``allowed`` extras remain (namespaces finalize asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        left = inventory(control_plane.client) - before - allowed
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


GPU_OPERATOR_RELEASE = "sh.helm.release.v1.gpu-operator.v1"
#: Both must be in destroy's output before it counts as blocked on the hook (they are not behind it).
DELETED_FIRST = ("gpuplane-workloads-jobset-release deleted", "gpuplane-workloads-lws-release deleted")
#: Upper bound for destroy to reach the hook (it takes seconds); reaching it is a failure.
DESTROY_CEILING_S = 300


def helm_release_record(client: Requester, namespace: str, secret: str) -> dict[str, Any] | None:
    """Helm's stored release (Secret driver: ``data.release`` = base64(gzip(JSON))), or None once deleted."""
    try:
        obj = client.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{secret}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    raw = base64.b64decode(base64.b64decode(obj["data"]["release"]))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def waiting_hook_jobs(client: Requester, record: dict[str, Any] | None) -> set[str]:
    """Jobs Helm is waiting on in a pre-delete hook, by its own record and the Jobs' state.

    Helm (v3.18.6 pkg/action/uninstall.go + hooks.go ``execHook``) stores the release as ``uninstalling``
    and the hook's ``last_run.phase`` as ``Running`` before it creates the hook's resources and watches
    them; it sets the phase again only after the watch returns. A ``Running`` pre-delete Job that exists
    and has neither a Complete nor a Failed condition is therefore exactly what the uninstall waits on.
    """
    if record is None or record.get("info", {}).get("status") != "uninstalling":
        return set()
    waiting: set[str] = set()
    for hook in record.get("hooks") or []:
        running = (hook.get("last_run") or {}).get("phase") == "Running"
        if "pre-delete" not in (hook.get("events") or []) or not running or hook.get("kind") != "Job":
            continue
        try:
            job = client.request("GET", f"/apis/batch/v1/namespaces/gpu-operator/jobs/{hook['name']}")
        except ApiError as exc:
            if exc.status == 404:  # recorded as Running a moment before Helm creates it
                continue
            raise
        finished = {c["type"] for c in job.get("status", {}).get("conditions") or [] if c.get("status") == "True"}
        if not finished & {"Complete", "Failed"}:
            waiting.add(str(hook["name"]))
    return waiting


def destroy_until_blocked_on_hook(cli: PulumiCli, client: Requester, *, logs: Path) -> tuple[Result, set[str]]:
    """Run ``pulumi destroy`` until it ends or is blocked on the GPU operator's pre-delete hook; then stop it.

    Returns destroy's result and the hook Jobs it was blocked on (empty if it ended by itself). Blocked
    means: the JobSet and LWS releases are deleted (destroy's output), Helm's record of the GPU operator
    release says it is inside a pre-delete hook whose Job has not finished, and destroy is still running.
    The ceiling is a failure, never a pass.
    """
    running = cli.start("destroy", "--yes", "--skip-preview", "--stack", STACK, logs=logs)
    deadline = time.monotonic() + DESTROY_CEILING_S
    try:
        while running.returncode() is None:
            if all(line in running.stdout() for line in DELETED_FIRST):
                blocked = waiting_hook_jobs(client, helm_release_record(client, "gpu-operator", GPU_OPERATOR_RELEASE))
                if blocked and running.returncode() is None:
                    return running.stop(), blocked
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"destroy neither ended nor blocked on a pre-delete hook in {DESTROY_CEILING_S}s\n"
                    f"{running.stop().describe()}"
                )
            time.sleep(0.5)
        return running.stop(), set()
    finally:
        running.stop()  # never left running (an API error above)


def set_stack_keys(repo: Path, values: dict[str, Any]) -> None:
    """Change plain keys of the stack file in place (its secrets and encryption salt stay)."""
    path = repo / "stacks" / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"].update(values)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_preview_with_the_policy_pack(cluster_cli: PulumiCli) -> None:
    """Every add-on the engine can run here (Kueue included) previews green against the real API server."""
    result = cluster_cli.run("preview", "--stack", STACK, "--policy-pack", "policies")
    assert result.returncode == 0, result.describe()
    assert "gpuplane@v0.1.0 (local: policies)" in result.stdout, result.describe()
    assert "kubernetes:helm.sh/v3:Release gpuplane-kueue" in result.stdout, result.describe()


def test_a_mandatory_violation_stops_the_preview(cluster_cli: PulumiCli, tmp_path: Path) -> None:
    """The pack analyses for real: escalating an advisory finding to mandatory fails the preview."""
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"conformance-stack-ai-requirements": "mandatory"}))
    result = cluster_cli.run(
        "preview", "--stack", STACK, "--policy-pack", "policies", "--policy-pack-config", str(config)
    )
    assert result.returncode != 0, result.describe()
    assert "[mandatory]" in result.stdout, result.describe()
    assert "conformance-stack-ai-requirements" in result.stdout, result.describe()


def test_up_then_destroy(
    cluster_cli: PulumiCli, engine_cluster: ControlPlane, local_chart_project: Path, tmp_path: Path
) -> None:
    client = engine_cluster.client
    before = inventory(client)
    set_stack_keys(local_chart_project, NO_KUEUE)

    up = cluster_cli.run("up", "--yes", "--skip-preview", "--stack", STACK, timeout=900)
    assert up.returncode == 0, up.describe()
    created = inventory(client) - before
    namespaces = {n for g, k, _, n in created if (g, k) == ("", "Namespace")}
    assert {"gpu-operator", "jobset-system", "lws-system"} <= namespaces, describe(created)
    releases = {n for _, k, _, n in created if k == "Secret" and n.startswith("sh.helm.release.v1.")}
    assert {
        "sh.helm.release.v1.gpu-operator.v1",
        "sh.helm.release.v1.jobset.v1",
        "sh.helm.release.v1.lws.v1",
    } <= releases

    # Helm runs the GPU operator's pre-delete hook Job on uninstall and waits for it; pulumi-kubernetes
    # 4.25's Release.Delete does not pass DisableHooks, and with skipAwait it sets no uninstall timeout, so
    # Helm waits without end (watchtools.ContextWithOptionalTimeout(ctx, 0)). Without a kubelet the Job never
    # completes, so destroy cannot finish here: stop it as soon as Helm's own release record says it is
    # inside that hook, and check that this, and only this, is what it waits for.
    destroy, blocked = destroy_until_blocked_on_hook(cluster_cli, client, logs=tmp_path / "destroy")
    left = inventory(client) - before
    left_releases = {n for _, k, _, n in left if k == "Secret" and n.startswith("sh.helm.release.v1.")}
    if destroy.returncode == 0:  # a kubelet-less cluster that finished the hook: then nothing may remain
        crds = chart_crds(local_chart_project)
        allowed = {k for k in created if k[:2] == ("apiextensions.k8s.io", "CustomResourceDefinition") and k[3] in crds}
        assert not wait_until_gone(engine_cluster, before, allowed, timeout=180)
        return
    assert blocked, f"destroy ended without waiting on a pre-delete hook:\n{destroy.describe()}"
    assert left_releases == {GPU_OPERATOR_RELEASE}, describe(left)
    hook_jobs = {n for g, k, ns, n in left if (g, k, ns) == ("batch", "Job", "gpu-operator")}
    assert hook_jobs, f"destroy stopped without a pending pre-delete hook Job:\n{destroy.describe()}"
    assert blocked <= hook_jobs, (blocked, describe(left))
    assert "gpuplane-workloads-jobset-release deleted" in destroy.stdout, destroy.describe()
    assert "gpuplane-workloads-lws-release deleted" in destroy.stdout, destroy.describe()
