"""A real Kubernetes control plane for tests: etcd + kube-apiserver (+ kube-controller-manager) in a loopback-only netns.

Usage (the pytest fixtures in ``tests/controlplane/plugin.py`` wrap this)::

    cp = ControlPlane(workdir).start()      # builds the binaries on first use (cached, see build.py)
    cp.client.apply(obj)                    # tests.controlplane.client.KubeClient, from this process
    subprocess.run(cp.in_netns(["my-go-binary", "--kubeconfig", str(cp.kubeconfig)]))  # inside the netns
    proc = cp.popen_in_netns([...], name="kueue")   # stopped with the control plane
    cp.stop()

Design (docs/decisions/control-plane.md):
- The API server must never dial anything off the machine (webhook Services, ClusterIPs in 10.96.0.0/16), so
  everything runs in a network namespace made by ``unshare -n`` with only ``lo`` up. A supervisor
  (supervisor.py) is that namespace's first process; its PID names it (``/proc/<pid>/ns/net``).
- This process stays outside and reaches the API server through a Unix socket the supervisor forwards to
  ``127.0.0.1:6443`` (file-system sockets cross network namespaces); TLS is end to end.
- Programs that need the API server themselves (Kueue, OpenFGA sync, the Pulumi engine) run inside the same
  namespace via ``nsenter --net=/proc/<pid>/ns/net`` (``in_netns``/``popen_in_netns``) with ``kubeconfig``
  (server ``https://127.0.0.1:6443``, admin client certificate).
- Every process has a parent-death signal and its own logs under ``workdir/logs``; ``stop()`` sends SIGTERM,
  then SIGKILL to the supervisor's process group after a timeout. The supervisor SIGKILLs the controller
  manager and the API server (a graceful API server shutdown takes ~1.1 s; their state is all in etcd, whose
  writes are atomic) and SIGTERMs etcd last, so an etcd data directory is complete after ``stop()``. ``logs_tail()`` is what a failing test prints.
  The signal is set by a launcher that then execs the program (``supervisor.die_with_parent``), never by a
  ``preexec_fn``: pytest workers have imported gRPC, whose fork handlers abort a child that runs Python
  between fork() and exec (SIGABRT, grpc/grpc#43157).
- ``etcd_seed``: an etcd data directory copied in before start (a stopped control plane's, e.g. with a
  stack's CRDs already Established, see ``plugin.stack_control_plane``), so the ~15 CPU-seconds the API
  server spends storing 57 large CRDs are paid once per set of CRDs, not once per control plane.
- Fixed ports are safe: each control plane has its own namespace, so two pytest workers never collide.

Gotchas: ``--advertise-address`` must be given (there is no default route to derive it from) and the
``kubernetes`` Service endpoints reconciler is off (Endpoints refuse loopback addresses). ``--allow-privileged``
is on as in every real cluster, so that admission policies — not a global switch — are what refuse
privileged GPU pods. Pods need the namespace's ``default`` ServiceAccount, which only the controller manager
creates: without it every pod create fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.controlplane.build import KUBERNETES_VERSION, ensure_binaries
from tests.controlplane.client import ApiError, KubeClient
from tests.controlplane.pki import KeyPair, Pki
from tests.controlplane.supervisor import POLL_SECONDS, die_with_parent

APISERVER_PORT = 6443
ETCD_PORT = 2379
SERVICE_CIDR = "10.96.0.0/16"
ADMISSION_PLUGINS = (
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
)
CONTROLLERS = (
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "garbage-collector-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
    "validatingadmissionpolicy-status-controller",
)
"""Controllers that matter without nodes: namespace deletion, default ServiceAccounts (pods need them),
garbage collection of owned objects, aggregated ClusterRoles, and the type-checking of admission policies."""

HERE = Path(__file__).resolve().parent


class ControlPlaneError(RuntimeError):
    """The control plane did not start (or died); the message carries the tails of its logs."""


def _kubeconfig(path: Path, server: str, ca: Path, user: KeyPair) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "user", "user": {"client-certificate": str(user.cert), "client-key": str(user.key)}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
        "current-context": "test",
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


class ControlPlane:
    def __init__(
        self,
        workdir: Path,
        *,
        controller_manager: bool = True,
        start_timeout: float = 180.0,
        etcd_seed: Path | None = None,
        await_service_account: bool = True,
    ) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.controller_manager = controller_manager
        self.etcd_seed = etcd_seed
        self.await_service_account = await_service_account
        self.start_timeout = start_timeout
        self.version = KUBERNETES_VERSION
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.extra: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._client: KubeClient | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        binaries = ensure_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        pki = self.pki = Pki(self.workdir / "pki")
        serving = pki.issue(
            "apiserver", "kube-apiserver",
            dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local"),
            ips=("127.0.0.1", "10.96.0.1"),
        )  # fmt: skip
        self.admin = pki.issue("admin", "gpuplane-admin", orgs=("system:masters",), client=True)
        kcm = pki.issue("kcm", "system:kube-controller-manager", client=True)
        proxy = pki.issue("front-proxy-client", "front-proxy-client", client=True, ca=pki.front_proxy_ca)
        server = f"https://127.0.0.1:{APISERVER_PORT}"
        self.kubeconfig = _kubeconfig(self.workdir / "admin.kubeconfig", server, pki.ca.cert, self.admin)
        kcm_kubeconfig = _kubeconfig(self.workdir / "kcm.kubeconfig", server, pki.ca.cert, kcm)
        self.socket = self.workdir / "apiserver.sock"
        etcd_dir = self.workdir / "etcd"
        if self.etcd_seed is not None:
            shutil.copytree(self.etcd_seed, etcd_dir)
        processes: list[dict[str, Any]] = [
            {
                "name": "etcd",
                "argv": [
                    str(binaries.path("etcd")), "--name=default", f"--data-dir={etcd_dir}",
                    f"--listen-client-urls=http://127.0.0.1:{ETCD_PORT}",
                    f"--advertise-client-urls=http://127.0.0.1:{ETCD_PORT}",
                    "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                    "--initial-cluster=default=http://127.0.0.1:2380", "--unsafe-no-fsync",
                    "--listen-metrics-urls=http://127.0.0.1:2381", "--log-level=warn",
                ],
                "log": str(self.logs / "etcd.log"),
                "wait_tcp": ETCD_PORT,
            },
            {
                "name": "kube-apiserver",
                "argv": [
                    str(binaries.path("kube-apiserver")),
                    f"--etcd-servers=http://127.0.0.1:{ETCD_PORT}",
                    "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={APISERVER_PORT}",
                    f"--cert-dir={self.workdir / 'apiserver-certs'}",
                    f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
                    f"--client-ca-file={pki.ca.cert}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--authorization-mode=Node,RBAC",
                    f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
                    "--allow-privileged=true",
                    "--endpoint-reconciler-type=none",
                    f"--requestheader-client-ca-file={pki.front_proxy_ca.cert}",
                    "--requestheader-allowed-names=front-proxy-client",
                    "--requestheader-username-headers=X-Remote-User",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    f"--proxy-client-cert-file={proxy.cert}", f"--proxy-client-key-file={proxy.key}",
                    "--profiling=false",
                ],
                "log": str(self.logs / "kube-apiserver.log"),
                "wait_tcp": APISERVER_PORT,
                "stop_signal": "SIGKILL",  # a graceful shutdown takes ~1.1 s and nothing here needs it
                "wait_timeout": self.start_timeout,
            },
        ]  # fmt: skip
        if self.controller_manager:
            processes.append(
                {
                    "name": "kube-controller-manager",
                    "argv": [
                        str(binaries.path("kube-controller-manager")),
                        f"--kubeconfig={kcm_kubeconfig}",
                        f"--authentication-kubeconfig={kcm_kubeconfig}",
                        f"--authorization-kubeconfig={kcm_kubeconfig}",
                        "--bind-address=127.0.0.1",
                        "--secure-port=10257",
                        f"--cert-dir={self.workdir / 'kcm-certs'}",
                        f"--service-account-private-key-file={pki.sa_key}",
                        f"--root-ca-file={pki.ca.cert}",
                        "--use-service-account-credentials=true",
                        "--leader-elect=false",
                        f"--controllers={','.join(CONTROLLERS)}",
                    ],
                    "log": str(self.logs / "kube-controller-manager.log"),
                    "stop_signal": "SIGKILL",
                    "wait_url": f"{server}/readyz",
                    "wait_url_ca": str(pki.ca.cert),
                    "wait_timeout": self.start_timeout,
                }
            )
        config = {
            "status": str(self.workdir / "status.json"),
            "forward": {"unix": str(self.socket), "port": APISERVER_PORT},
            "processes": processes,
        }
        config_path = self.workdir / "supervisor.json"
        config_path.write_text(json.dumps(config, indent=2))
        supervisor_log = open(self.logs / "supervisor.log", "ab")  # noqa: SIM115
        try:
            self.supervisor = subprocess.Popen(
                die_with_parent(["unshare", "-n", "--", sys.executable, str(HERE / "supervisor.py"), str(config_path)]),
                stdout=supervisor_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise ControlPlaneError("`unshare` is not on PATH; .ci/run installs util-linux") from exc
        finally:
            supervisor_log.close()
        self._client = KubeClient(self.socket, pki.ca.cert, self.admin.cert, self.admin.key)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            assert self.supervisor is not None
            if self.supervisor.poll() is not None:
                raise ControlPlaneError(f"the control plane exited ({self.supervisor.returncode})\n{self.logs_tail()}")
            if self.socket.exists():
                try:
                    status, body = self.client.raw("GET", "/readyz")
                    last = body.decode(errors="replace")
                    if status == 200 and self._bootstrapped():
                        return
                except (OSError, ApiError) as exc:
                    last = repr(exc)
            time.sleep(POLL_SECONDS)
        raise ControlPlaneError(f"the API server was not ready in {self.start_timeout}s: {last}\n{self.logs_tail()}")

    def _bootstrapped(self) -> bool:
        """Ready means: default namespace exists and, with a controller manager, its ServiceAccount too (unless
        ``await_service_account`` is off: with 57 CRDs stored the controller manager takes ~2 s more to make
        it, and callers that need a namespace's ServiceAccount wait for it themselves)."""
        try:
            self.client.get("v1", "Namespace", "default")
            if self.controller_manager and self.await_service_account:
                self.client.get("v1", "ServiceAccount", "default", "default")
        except ApiError:
            return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        for _, proc in reversed(self.extra):
            _terminate(proc, timeout=15.0)
        self.extra.clear()
        if self.supervisor is not None and self.supervisor.poll() is None:
            # SIGTERM to the supervisor alone (it stops its children in order); SIGKILL to its group if late.
            _terminate(self.supervisor, timeout=timeout, group=False)
        self.supervisor = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access ----------------------------------------------------------------------------------
    @property
    def client(self) -> KubeClient:
        if self._client is None:
            raise ControlPlaneError("the control plane is not started")
        return self._client

    @property
    def netns_pid(self) -> int:
        if self.supervisor is None or self.supervisor.poll() is not None:
            raise ControlPlaneError(f"the control plane is not running\n{self.logs_tail()}")
        return self.supervisor.pid

    def in_netns(self, argv: list[str]) -> list[str]:
        """``argv`` prefixed so it runs inside the control plane's network namespace (as root)."""
        return ["nsenter", f"--net=/proc/{self.netns_pid}/ns/net", "--", *argv]

    def popen_in_netns(
        self, argv: list[str], *, name: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process inside the namespace; its log is ``logs/<name>.log``; stopped by stop()."""
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                die_with_parent(self.in_netns(argv)), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env, cwd=cwd,
            )  # fmt: skip
        finally:
            log.close()
        self.extra.append((name, proc))
        return proc

    def stop_process(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
        """Stop one process started with popen_in_netns: SIGTERM, then SIGKILL to its group after ``timeout``."""
        code = _terminate(proc, timeout=timeout, group=True)
        self.extra = [(n, p) for n, p in self.extra if p is not proc]
        return code

    def logs_tail(self, lines: int = 40) -> str:
        out: list[str] = []
        if not self.logs.is_dir():
            return "(no logs)"
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()
            out.append(f"----- {log} (last {min(lines, len(text))} of {len(text)} lines) -----")
            out.extend(text[-lines:])
        status = self.workdir / "status.json"
        if status.exists():
            out.append(f"----- supervisor status: {status.read_text()}")
        return "\n".join(out)


def _terminate(proc: subprocess.Popen[bytes], *, timeout: float, group: bool = True) -> int:
    """SIGTERM, wait, then SIGKILL (to the whole process group when ``group``); returns the exit code."""
    if proc.poll() is None:
        try:
            if group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
