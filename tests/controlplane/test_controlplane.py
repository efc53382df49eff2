"""The control plane fixture itself: real versions, isolation, authentication/authorization, admission, teardown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.controlplane import cluster, supervisor
from tests.controlplane.build import ETCD_VERSION, KUBERNETES_VERSION, ensure_binaries
from tests.controlplane.client import ApiError, KubeClient
from tests.controlplane.cluster import ControlPlane


def test_api_server_reports_the_release_it_was_built_from(kube: KubeClient) -> None:
    version = kube.request("GET", "/version")

    assert version["gitVersion"] == KUBERNETES_VERSION
    assert (version["major"], version["minor"]) == ("1", "36")


def test_binaries_report_their_versions() -> None:
    built = ensure_binaries()
    etcd = subprocess.run([str(built.path("etcd")), "--version"], capture_output=True, text=True, check=True)
    kcm = subprocess.run(
        [str(built.path("kube-controller-manager")), "--version"], capture_output=True, text=True, check=True
    )

    assert f"etcd Version: {ETCD_VERSION.lstrip('v')}" in etcd.stdout
    assert kcm.stdout.strip() == f"Kubernetes {KUBERNETES_VERSION}"


def test_the_namespace_has_only_loopback(control_plane: ControlPlane) -> None:
    links = subprocess.run(
        control_plane.in_netns(["ip", "-o", "link", "show"]), capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # A ClusterIP the API server would dial for a webhook Service: no route inside the namespace.
    probe = subprocess.run(
        control_plane.in_netns(
            [
                "python3", "-c",
                "import socket; s = socket.socket(); s.settimeout(2)\n"
                "try:\n s.connect(('10.96.0.10', 443)); print('connected')\n"
                "except OSError as e: print(e.errno)",
            ]
        ),
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    assert probe.stdout.strip() == "101"  # ENETUNREACH: nothing leaves the namespace


def test_in_namespace_clients_use_the_kubeconfig(control_plane: ControlPlane) -> None:
    config = json.loads(control_plane.kubeconfig.read_text())

    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    code = subprocess.run(
        control_plane.in_netns(
            [
                "python3", "-c",
                "import ssl, urllib.request, sys; c = ssl.create_default_context(cafile=sys.argv[1]);"
                "c.load_cert_chain(sys.argv[2], sys.argv[3]);"
                "print(urllib.request.urlopen('https://127.0.0.1:6443/readyz', context=c).status)",
                str(control_plane.pki.ca.cert), str(control_plane.admin.cert), str(control_plane.admin.key),
            ]
        ),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert code.stdout.strip() == "200"


def test_rbac_refuses_an_authenticated_user_without_bindings(control_plane: ControlPlane) -> None:
    nobody = control_plane.pki.issue("nobody", "nobody", client=True)
    client = KubeClient(control_plane.socket, control_plane.pki.ca.cert, nobody.cert, nobody.key)

    with pytest.raises(ApiError) as refused:
        client.list("v1", "Secret", "kube-system")

    assert refused.value.status == 403
    assert 'User "nobody" cannot list resource "secrets"' in refused.value.message


def test_an_unknown_client_certificate_is_not_accepted(control_plane: ControlPlane, tmp_path: Path) -> None:
    from tests.controlplane.pki import Pki

    foreign = Pki(tmp_path / "other")
    stranger = foreign.issue("admin", "gpuplane-admin", orgs=("system:masters",), client=True)
    client = KubeClient(control_plane.socket, control_plane.pki.ca.cert, stranger.cert, stranger.key)

    with pytest.raises(ApiError) as refused:
        client.list("v1", "Namespace")

    assert refused.value.status == 401


def test_strict_field_validation_names_the_unknown_field(kube: KubeClient) -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "strict-probe", "namespace": "default"},
        "data": {"a": "b"},
        "dta": {"typo": "x"},
    }
    with pytest.raises(ApiError) as applied:
        kube.apply(config_map)
    with pytest.raises(ApiError) as created:
        kube.create(config_map)

    # Server-side apply refuses any field the schema lacks; a create refuses it under fieldValidation=Strict.
    assert applied.value.what == "ConfigMap default/strict-probe"
    assert ".dta: field not declared in schema" in applied.value.message
    assert 'unknown field "dta"' in created.value.message


def test_controller_manager_gives_new_namespaces_a_service_account(kube: KubeClient) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sa-probe"}})

    account = kube.wait_for("default ServiceAccount", lambda: kube.get("v1", "ServiceAccount", "default", "sa-probe"))

    assert account["metadata"]["namespace"] == "sa-probe"
    kube.delete("v1", "Namespace", "sa-probe")


def test_pod_security_admission_is_on(kube: KubeClient) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "psa-probe", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
        }
    )
    kube.wait_for("default ServiceAccount", lambda: kube.get("v1", "ServiceAccount", "default", "psa-probe"))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": "psa-probe"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]},
    }
    with pytest.raises(ApiError) as refused:
        kube.create(pod, dry_run=True)

    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in refused.value.message
    kube.delete("v1", "Namespace", "psa-probe")


def test_stop_leaves_no_process_behind(make_control_plane: Callable[..., ControlPlane]) -> None:
    cp = make_control_plane("lifecycle", controller_manager=False)
    sleeper = cp.popen_in_netns(["sleep", "300"], name="sleeper")
    supervisor = cp.supervisor
    assert supervisor is not None
    children = _descendants(supervisor.pid)
    assert len(children) >= 2  # etcd and kube-apiserver

    cp.stop()

    for pid in [supervisor.pid, sleeper.pid, *children]:
        assert not _alive(pid), f"process {pid} survived stop()"
    assert json.loads((cp.workdir / "status.json").read_text())["state"] == "stopped"
    assert (cp.logs / "kube-apiserver.log").stat().st_size > 0  # logs are kept after stop


class _Launched(Exception):
    pass


def test_processes_are_launched_without_a_preexec_fn(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``preexec_fn`` makes subprocess fork() in a pytest worker, which has imported gRPC; gRPC's fork
    handlers can then abort the child before exec (SIGABRT, grpc/grpc#43157). The parent-death signal comes
    from the launcher instead, for the supervisor and for every process started in the namespace."""
    seen: list[tuple[list[str], dict[str, object]]] = []
    real_popen = subprocess.Popen

    def spy(argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        seen.append((list(argv), kwargs))
        if "unshare" in argv and "-n" in argv:
            raise _Launched  # the supervisor: what it was given is all this test needs
        return real_popen(argv, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(cluster.subprocess, "Popen", spy)
    with pytest.raises(_Launched):
        ControlPlane(tmp_path / "cp", controller_manager=False).start()
    sleeper = control_plane.popen_in_netns(["sleep", "30"], name="launch-probe")
    control_plane.stop_process(sleeper)

    assert all(kwargs.get("preexec_fn") is None for _, kwargs in seen)  # also openssl, go version, ...
    started = [argv for argv, kwargs in seen if kwargs.get("start_new_session")]
    assert len(started) == 2
    for argv in started:
        assert argv[:6] == [sys.executable, "-I", "-S", "-c", supervisor.LAUNCHER, str(os.getpid())]
    assert started[0][6:9] == ["unshare", "-n", "--"]
    assert started[1][6:] == control_plane.in_netns(["sleep", "30"])


def test_a_launched_process_dies_with_the_thread_that_started_it() -> None:
    parent = subprocess.Popen(
        [
            sys.executable, "-c",
            "import subprocess, sys, time\n"
            "from tests.controlplane.supervisor import die_with_parent\n"
            "print(subprocess.Popen(die_with_parent(['sleep', '60'])).pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)

    parent.kill()
    parent.wait()

    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"sleep {child} outlived the process that launched it"


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes only once reaped; check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
