"""Offline parity: ``kubernetes.yaml.v2.ConfigGroup``/``ConfigFile`` children are expanded as the
provider would register them (``gpuplane/expand.py``), so the pack sees them under ``gpuplane plan``
exactly as under ``pulumi preview`` -- files, globs, YAML literals, ``objs``, ``*List`` kinds."""

from __future__ import annotations

from pathlib import Path

import pulumi_kubernetes as k8s
import yaml

from tests.policies.adversarial.corpus import compliant, insecure

MANIFESTS = Path(__file__).parent / "manifests"
TAKEOVER = "platform-container-not-privileged"
PLAIN = "platform-workload-no-plaintext-secrets"
DURABLE = "platform-openfga-durable-datastore"
PINNED = "platform-helm-version-pinned"
AUTH = "platform-aigateway-route-authenticated"


@insecure(TAKEOVER, "DaemonSet agent/agent-files:agent/agent: spec.template.spec sets hostPID: true")
def config_file_vendor_agent() -> None:
    k8s.yaml.v2.ConfigFile("agent-files", file=str(MANIFESTS / "privileged-agent.yaml"))


@insecure(TAKEOVER, "mounts the node's /run/containerd/containerd.sock")
def config_group_glob() -> None:
    k8s.yaml.v2.ConfigGroup("vendor", files=[str(MANIFESTS / "privileged-*.yaml")])


@insecure(TAKEOVER, "container debug is privileged")
def config_group_yaml_literal() -> None:
    k8s.yaml.v2.ConfigGroup(
        "debug",
        yaml=yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "debug", "namespace": "team-a"},
                "spec": {
                    "containers": [{"name": "debug", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
                },
            }
        ),
    )


@insecure(TAKEOVER, "adds capability SYS_PTRACE")
def config_group_objs() -> None:
    k8s.yaml.v2.ConfigGroup(
        "tracer",
        objs=[
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "trace", "namespace": "team-a"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "t",
                                    "image": "t:1",
                                    "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
                                }
                            ],
                        }
                    }
                },
            }
        ],
    )


@insecure(TAKEOVER, "sets hostNetwork: true")
def config_group_list_kind() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "net", "namespace": "team-a"},
        "spec": {"hostNetwork": True, "containers": [{"name": "n", "image": "n:1"}]},
    }
    k8s.yaml.v2.ConfigGroup("listed", yaml=yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [pod]}))


@insecure(TAKEOVER, "mounts the node's /")
def config_group_no_prefix_json() -> None:
    import json

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": "team-a"},
        "spec": {"containers": [{"name": "r", "image": "r:1"}], "volumes": [{"name": "r", "hostPath": {"path": "/"}}]},
    }
    k8s.yaml.v2.ConfigGroup("json", yaml=json.dumps(pod), resource_prefix="")


@compliant(TAKEOVER)
def config_file_benign_workload() -> None:
    k8s.yaml.v2.ConfigFile("benign", file=str(MANIFESTS / "benign.yaml"))


@insecure(PLAIN, "ConfigMap team-a/app-config:team-a/app data.DATABASE_URL holds a URI with embedded credentials")
def config_file_config_map_url() -> None:
    k8s.yaml.v2.ConfigFile("app-config", file=str(MANIFESTS / "app-config.yaml"))


@compliant(PLAIN)
def config_file_secret_stays_secret() -> None:
    k8s.yaml.v2.ConfigFile("benign", file=str(MANIFESTS / "benign.yaml"))


@insecure(DURABLE, "runs OpenFGA (spec.template.spec container openfga) with datastore engine memory")
def config_group_openfga_deployment() -> None:
    k8s.yaml.v2.ConfigGroup(
        "authz",
        objs=[
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "openfga", "namespace": "authz"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "openfga", "image": "openfga/openfga:v1.8.16", "args": ["run"]}]
                        }
                    }
                },
            }
        ],
    )


@insecure(PINNED, "Flux's default version is *, the latest")
def config_group_flux_release() -> None:
    k8s.yaml.v2.ConfigGroup(
        "flux",
        objs=[
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "agent", "namespace": "flux-system"},
                "spec": {"chart": {"spec": {"chart": "agent", "sourceRef": {"kind": "HelmRepository", "name": "x"}}}},
            }
        ],
    )


@insecure(AUTH, "which does not authenticate: it sets only cors")
def config_group_route_cors_policy() -> None:
    from tests.policies.adversarial.gateway import protected_gateway

    protected_gateway()
    k8s.yaml.v2.ConfigGroup(
        "cors",
        objs=[
            {
                "apiVersion": "gateway.envoyproxy.io/v1alpha1",
                "kind": "SecurityPolicy",
                "metadata": {"name": "cors", "namespace": "ai-gateway"},
                "spec": {
                    "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "llama"}],
                    "cors": {"allowOrigins": ["*"]},
                },
            }
        ],
    )
