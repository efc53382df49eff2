"""The real Kueue controller (sigs.k8s.io/kueue/cmd/kueue, built from ``kueue/go.mod``) against a test control plane.

What: :func:`start_kueue` builds Kueue once (cached like the control plane, see build.py), writes its
configuration — the platform's own manager configuration, taken from the Kueue release's rendered values —
with the few changes a cluster without kubelets needs, registers Kueue's webhooks at a loopback URL, and runs
the controller inside the control plane's network namespace.

Changes to the platform's configuration (everything else is exactly what the chart would mount):
- ``internalCertManagement.enable: false`` and ``webhook.certDir``: there is no webhook Service or pod IP to
  issue a certificate for; the webhook server uses a certificate for ``127.0.0.1`` signed by the test CA.
- ``leaderElection.resourceNamespace: kueue-system``: out of a pod, controller-runtime cannot read its namespace.

Upstream gotchas:
- Kueue 0.19.2 hard-codes its metrics certificate directory (``/etc/kueue/metrics/certs``, cmd/kueue/main.go)
  when internal cert management is off, and exits if the files are missing. Kueue therefore runs in its own
  mount namespace (``unshare -m``) where an overlay on ``/etc`` adds that directory; the host's /etc is untouched.
- Webhook configurations come from Kueue's generated ``config/components/webhook/manifests.yaml`` at the same
  module version (what the chart's templates are generated from), with ``clientConfig.url`` at
  ``https://127.0.0.1:9443<path>`` instead of the Service, and — as the chart does when the manager
  configuration has ``managedJobsNamespaceSelector`` — that selector on the job-kind webhooks.
- The on-demand visibility API server (feature ``VisibilityOnDemand``) likewise reads a hard-coded
  ``/visibility/tls.crt`` (pkg/visibility/server.go ``certDir``) and exits Kueue when it is missing; ``/visibility``
  sits at the file-system root, which an overlay in a mount namespace cannot add to without a chroot, so the
  feature is switched off with ``--feature-gates=VisibilityOnDemand=false`` (a command-line flag: the
  configuration file stays the platform's). Admission does not use that API.
- Kueue runs with the test admin's credentials: the chart's RBAC objects are not part of ``gpuplane render``.
- It hangs on SIGTERM once the API server is gone, and its graceful shutdown takes ~1.5 s that no test needs:
  :meth:`Kueue.stop` SIGKILLs it (its state is all in the API server), before the control plane stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.controlplane.build import HERE, Built, _go_env, ensure_module_binaries
from tests.controlplane.cluster import ControlPlane

KUEUE_MODULE = HERE / "kueue"
KUEUE_VERSION = "v0.19.2"
WEBHOOK_PORT = 9443
HEALTH_PORT = 8081
METRICS_CERT_DIR = "/etc/kueue/metrics/certs"


def ensure_kueue() -> Built:
    return ensure_module_binaries(
        "kueue",
        KUEUE_MODULE,
        {"kueue": "sigs.k8s.io/kueue/cmd/kueue"},
        [
            f"-X sigs.k8s.io/kueue/pkg/version.GitVersion={KUEUE_VERSION}",
            "-X sigs.k8s.io/kueue/pkg/version.BuildDate=2026-08-20T14:33:19Z",
        ],
    )


def kueue_source_dir() -> Path:
    """The Kueue module's source tree in the Go module cache (the same version the binary is built from)."""
    out = subprocess.run(
        ["go", "list", "-m", "-json", "sigs.k8s.io/kueue"],
        cwd=KUEUE_MODULE, env=_go_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    info = json.loads(out.stdout)
    assert info["Version"] == KUEUE_VERSION, info
    return Path(info["Dir"])


def manager_config(values: dict[str, Any], cert_dir: Path) -> dict[str, Any]:
    """The platform's Kueue configuration (from the release values) with the test-only changes."""
    config: dict[str, Any] = yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])
    config["internalCertManagement"] = {"enable": False}
    config.setdefault("webhook", {})["certDir"] = str(cert_dir)
    config.setdefault("leaderElection", {})["resourceNamespace"] = "kueue-system"
    return config


def webhook_configurations(config: dict[str, Any], ca_bundle: bytes) -> list[dict[str, Any]]:
    source = kueue_source_dir() / "config" / "components" / "webhook" / "manifests.yaml"
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
    selector = config.get("managedJobsNamespaceSelector")
    names = {"MutatingWebhookConfiguration": "kueue-mutating-webhook-configuration",
             "ValidatingWebhookConfiguration": "kueue-validating-webhook-configuration"}  # fmt: skip
    for doc in docs:
        doc["metadata"]["name"] = names[doc["kind"]]
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{WEBHOOK_PORT}{path}",
                "caBundle": __import__("base64").b64encode(ca_bundle).decode(),
            }
            groups = {g for rule in hook.get("rules", []) for g in rule.get("apiGroups", [])}
            if selector and "kueue.x-k8s.io" not in groups:
                hook["namespaceSelector"] = selector
    return docs


@dataclass
class Kueue:
    cp: ControlPlane
    proc: subprocess.Popen[bytes]
    config: dict[str, Any]
    version: str

    def stop(self) -> int:
        return self.cp.stop_process(self.proc, timeout=0.0)  # SIGTERM, then SIGKILL at once


def start_kueue(cp: ControlPlane, values: dict[str, Any], timeout: float = 120.0) -> Kueue:
    built = ensure_kueue()
    work = cp.workdir / "kueue"
    certs = work / "webhook-certs"
    overlay = work / "etc-overlay"
    metrics = overlay / "upper" / METRICS_CERT_DIR.removeprefix("/etc/")
    for d in (certs, metrics, overlay / "work"):
        d.mkdir(parents=True, exist_ok=True)
    serving = cp.pki.issue("kueue-webhook", "kueue-webhook", dns=("localhost",), ips=("127.0.0.1",))
    for target in (certs, metrics):
        (target / "tls.crt").write_bytes(serving.cert.read_bytes())
        (target / "tls.key").write_bytes(serving.key.read_bytes())
    config = manager_config(values, certs)
    config_path = work / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    for hook in webhook_configurations(config, cp.pki.ca.cert.read_bytes()):
        cp.client.apply(hook)
    script = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={overlay / 'upper'},workdir={overlay / 'work'} /etc "
        f'&& exec "$0" --config="$1" --feature-gates=VisibilityOnDemand=false'
    )
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
    proc = cp.popen_in_netns(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            str(built.path("kueue")),
            str(config_path),
        ],
        name="kueue",
        env=env,
    )
    _wait_healthy(cp, proc, timeout)
    return Kueue(cp, proc, config, KUEUE_VERSION)


def _wait_healthy(cp: ControlPlane, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Kueue's ``/readyz`` (inside the namespace) answers 200. One probe process inside the namespace looks
    every 50 ms (a probe process per look, once a second, cost up to a second per start)."""
    probe = (
        "import sys, time, urllib.request\n"
        "deadline, last = time.monotonic() + float(sys.argv[1]), ''\n"
        "while time.monotonic() < deadline:\n"
        "    try:\n"
        f"        last = str(urllib.request.urlopen('http://127.0.0.1:{HEALTH_PORT}/readyz', timeout=2).status)\n"
        "    except Exception as e:\n"
        "        last = repr(e)\n"
        "    if last == '200':\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "print(last)\n"
    )
    waiter = subprocess.Popen(
        cp.in_netns(["python3", "-c", probe, str(timeout)]), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        while waiter.poll() is None:
            if proc.poll() is not None:
                raise RuntimeError(f"kueue exited with {proc.returncode}\n{cp.logs_tail(80)}")
            time.sleep(0.05)
    finally:
        if waiter.poll() is None:
            waiter.kill()
        out, _ = waiter.communicate()
    last = out.strip()
    if last != "200":
        raise RuntimeError(f"kueue not ready in {timeout}s ({last})\n{cp.logs_tail(80)}")
