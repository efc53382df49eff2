"""Recordings for the policy tests, produced by real Pulumi programs under the mock runtime.

- :func:`baseline` runs the cloud's cluster component (``EksGpuCluster``, ``GkeGpuCluster``,
  ``LkeGpuCluster``, ``ExistingCluster``) for ``tests.support.spec_for(cloud)`` plus :func:`platform_addons`
  (Kueue, the GPU operator, observability, Envoy Gateway + AI Gateway with a rate limit and an
  authentication policy, KubeRay, OpenFGA on Postgres, a queued GPU job...), so every policy has a
  compliant resource to look at. (Not ``GpuPlatform``: its own add-ons would duplicate these; the
  example stacks, which run the whole program, are tested separately.) The add-ons are registered with the real SDK classes
  (``helm.v3.Release``, ``apiextensions.CustomResource``...), giving the exact wire shapes the real
  program produces; ``test_fixture_schemas`` checks the custom resources against upstream CRD schemas.
- :func:`edit`, :func:`drop`, :func:`retype` and :func:`extend` derive mutated recordings from a
  baseline: they change the recorded wire inputs (and the matching mock outputs, which stack
  policies see), as if the program had registered something else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.clusters.contract import GpuCluster, GpuPoolScheduling
from components.spec import PlatformSpec
from gpuplane.recording import SECRET_SIG, SIG_KEY, RecordedResource, Recording, unwrap_secrets
from tests.support import REGIONS, record, spec_for

PROJECT = "gpuplane"
AI_NAMESPACE = "ai-gateway"
TOKEN_KEY = "llm_total_token"
EXISTING_KUBECONFIG = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://c.example"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
    }
)


@dataclass(frozen=True, kw_only=True)
class AddonOptions:
    """Switches that make :func:`platform_addons` register something non-compliant on purpose."""

    hooks_chart_via_v4: bool = False
    device_plugin_configs: bool = True
    extra: Callable[[pulumi.ResourceOptions], None] | None = None
    tenants: Mapping[str, Mapping[str, int]] = field(default_factory=dict[str, Mapping[str, int]])


def secret(value: Any) -> pulumi.Output[Any]:
    return pulumi.Output.secret(value)


def _release(
    name: str,
    chart: str,
    repo: str,
    version: str,
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> None:
    k8s.helm.v3.Release(
        name,
        name=name,
        chart=chart,
        version=version,
        namespace=namespace,
        create_namespace=True,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
        values=dict(values),
        opts=opts,
    )


def _cr(
    name: str,
    api_version: str,
    kind: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
) -> None:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}", api_version=api_version, kind=kind, metadata=metadata, spec=dict(spec), opts=opts
    )


def time_slicing_config(replicas: int) -> str:
    return json.dumps(
        {"version": "v1", "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": replicas}]}}}
    )


def platform_addons(
    spec: PlatformSpec, pools: Sequence[GpuPoolScheduling], provider: k8s.Provider, options: AddonOptions
) -> None:
    """Register a compliant AI platform on ``provider`` for ``pools`` (labels/taints declared once)."""
    opts = pulumi.ResourceOptions(provider=provider)

    _release("kueue", "kueue", "oci://registry.k8s.io/kueue/charts", "0.19.2", "kueue-system", {}, opts)
    _release(
        "gpu-operator",
        "gpu-operator",
        "https://helm.ngc.nvidia.com/nvidia",
        "v26.7.0",
        "gpu-operator",
        {
            "driver": {"enabled": False},
            "toolkit": {"enabled": False},
            "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": True}},
            "devicePlugin": {"config": {"name": "gpuplane-device-plugin-config", "default": ""}},
        },
        opts,
    )
    sliced = {p.name: p for p in spec.gpu_pools if p.sharing.mode == "time-slicing"}
    if options.device_plugin_configs and sliced:
        k8s.core.v1.ConfigMap(
            "device-plugin-config",
            metadata={"name": "gpuplane-device-plugin-config", "namespace": "gpu-operator"},
            data={name: time_slicing_config(p.sharing.replicas or 1) for name, p in sliced.items()},
            opts=opts,
        )
    # Wired as conformance-stack-ai-requirements needs: Prometheus keeps data on a volume of a named class.
    prometheus_values = {
        "grafana": {"admin": {"existingSecret": "grafana-admin"}},
        "prometheus": {
            "prometheusSpec": {
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "50Gi"}}}
                    }
                }
            }
        },
    }
    if options.hooks_chart_via_v4:
        k8s.helm.v4.Chart(
            "kube-prometheus-stack",
            chart="kube-prometheus-stack",
            version="88.5.3",
            namespace="monitoring",
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo="https://prometheus-community.github.io/helm-charts"),
            values=prometheus_values,
            opts=opts,
        )
    else:
        _release(
            "kube-prometheus-stack",
            "kube-prometheus-stack",
            "https://prometheus-community.github.io/helm-charts",
            "88.5.3",
            "monitoring",
            prometheus_values,
            opts,
        )
    _release(
        "prometheus-adapter",
        "prometheus-adapter",
        "https://prometheus-community.github.io/helm-charts",
        "5.3.0",
        "monitoring",
        {
            "prometheus": {"url": "http://kube-prometheus-stack-prometheus.monitoring.svc"},
            "rules": {"default": False, "custom": [{"seriesQuery": "DCGM_FI_DEV_GPU_UTIL", "metricsQuery": "x"}]},
        },
        opts,
    )
    _release("envoy-gateway", "gateway-helm", "oci://docker.io/envoyproxy", "v1.8.3", "envoy-gateway-system", {}, opts)
    _release(
        "ai-gateway-crds",
        "ai-gateway-crds-helm",
        "oci://docker.io/envoyproxy",
        "v1.1.0",
        "envoy-ai-gateway-system",
        {},
        opts,
    )
    _release(
        "ai-gateway", "ai-gateway-helm", "oci://docker.io/envoyproxy", "v1.1.0", "envoy-ai-gateway-system", {}, opts
    )
    _release(
        "kuberay-operator",
        "kuberay-operator",
        "https://ray-project.github.io/kuberay-helm",
        "1.4.2",
        "kuberay",
        {},
        opts,
    )
    _release(
        "openfga",
        "openfga",
        "https://openfga.github.io/helm-charts",
        "0.3.12",
        "openfga",
        {"datastore": {"engine": "postgres", "uri": secret("postgres://openfga:s3cret@postgres:5432/openfga")}},
        opts,
    )

    # Kueue: one flavor per GPU pool from the pool's own labels and taints, one queue per tenant.
    for pool in pools:
        _cr(
            pool.name,
            "kueue.x-k8s.io/v1beta2",
            "ResourceFlavor",
            None,
            {"nodeLabels": dict(pool.labels), "tolerations": pool.tolerations()},
            opts,
        )
    tenants = options.tenants or {
        t.name: {p.name: t.quotas.get(p.gpu, 0) for p in spec.gpu_pools if p.gpu in t.quotas} for t in spec.tenants
    }
    for tenant, quotas in tenants.items():
        _cr(
            tenant,
            "kueue.x-k8s.io/v1beta2",
            "ClusterQueue",
            None,
            {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["nvidia.com/gpu"],
                        "flavors": [
                            {"name": pool, "resources": [{"name": "nvidia.com/gpu", "nominalQuota": quota}]}
                            for pool, quota in quotas.items()
                        ],
                    }
                ],
            },
            opts,
        )
        _cr(tenant, "kueue.x-k8s.io/v1beta2", "LocalQueue", tenant, {"clusterQueue": tenant}, opts)

    # The AI gateway: one route, rate-limited on its token count and behind API keys.
    gateway_ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ai-gateway"}
    _cr(
        "ai-gateway",
        "gateway.networking.k8s.io/v1",
        "Gateway",
        AI_NAMESPACE,
        {"gatewayClassName": "envoy-ai-gateway", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]},
        opts,
    )
    _cr(
        "llama",
        "aigateway.envoyproxy.io/v1beta1",
        "AIGatewayRoute",
        AI_NAMESPACE,
        {
            "parentRefs": [gateway_ref],
            "rules": [
                {
                    "matches": [{"headers": [{"type": "Exact", "name": "x-ai-eg-model", "value": "llama-3.1-8b"}]}],
                    "backendRefs": [{"name": "llama"}],
                }
            ],
            "llmRequestCosts": [{"metadataKey": TOKEN_KEY, "type": "TotalToken"}],
        },
        opts,
    )
    _cr(
        "token-limit",
        "gateway.envoyproxy.io/v1alpha1",
        "BackendTrafficPolicy",
        AI_NAMESPACE,
        {
            "targetRefs": [gateway_ref],
            "rateLimit": {
                "type": "Global",
                "global": {
                    "rules": [
                        {
                            "clientSelectors": [{"headers": [{"name": "x-user-id", "type": "Distinct"}]}],
                            "limit": {"requests": 100000, "unit": "Hour"},
                            "cost": {
                                "request": {"from": "Number", "number": 0},
                                "response": {
                                    "from": "Metadata",
                                    "metadata": {"namespace": "io.envoy.ai_gateway", "key": TOKEN_KEY},
                                },
                            },
                        }
                    ]
                },
            },
        },
        opts,
    )
    _cr(
        "api-keys",
        "gateway.envoyproxy.io/v1alpha1",
        "SecurityPolicy",
        AI_NAMESPACE,
        {
            "targetRefs": [gateway_ref],
            "apiKeyAuth": {"credentialRefs": [{"name": "api-keys"}], "extractFrom": [{"headers": ["x-api-key"]}]},
        },
        opts,
    )

    # Workloads: a queued GPU job whose token comes from a Secret, an unprivileged helper DaemonSet (a privileged
    # one is not exempt in the gpu-operator namespace: only the GPU operator's and DCGM's charts are).
    first = pools[0] if pools else None
    job_spec: Any = {
        "suspend": True,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "tolerations": first.tolerations() if first else [],
                "containers": [
                    {
                        "name": "trainer",
                        "image": "ghcr.io/example/trainer:1.0.0",
                        "resources": {"limits": {"nvidia.com/gpu": 1}},
                        "env": [
                            {"name": "EPOCHS", "value": "3"},
                            {
                                "name": "HF_TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}},
                            },
                        ],
                    }
                ],
            }
        },
    }
    k8s.batch.v1.Job(
        "finetune",
        metadata={"name": "finetune", "namespace": "team-a", "labels": {"kueue.x-k8s.io/queue-name": "team-a"}},
        spec=job_spec,
        opts=opts,
    )
    tuner_spec: Any = {
        "selector": {"matchLabels": {"app": "gpu-node-tuner"}},
        "template": {
            "metadata": {"labels": {"app": "gpu-node-tuner"}},
            "spec": {
                "tolerations": first.tolerations() if first else [],
                "containers": [
                    {
                        "name": "tuner",
                        "image": "ghcr.io/example/tuner:1.0.0",
                        "securityContext": {"allowPrivilegeEscalation": False},
                    }
                ],
            },
        },
    }
    k8s.apps.v1.DaemonSet(
        "gpu-node-tuner",
        metadata={"name": "gpu-node-tuner", "namespace": "gpu-operator"},
        spec=tuner_spec,
        opts=opts,
    )
    k8s.core.v1.Secret(
        "hf-token",
        metadata={"name": "hf", "namespace": "team-a"},
        string_data={"token": secret("hf_example_token")},
        opts=opts,
    )
    if options.extra is not None:
        options.extra(opts)


def cluster_for(spec: PlatformSpec, name: str = "gpuplane-cluster") -> GpuCluster:
    """The cloud's cluster component, as ``components.gpu_platform`` picks it."""
    if spec.cloud == "aws":
        from components.clusters.eks import EksGpuCluster, EksGpuClusterArgs

        return EksGpuCluster(name, EksGpuClusterArgs(spec=spec))
    if spec.cloud == "gcp":
        from components.clusters.gke import GkeGpuCluster, GkeGpuClusterArgs

        return GkeGpuCluster(name, GkeGpuClusterArgs(spec=spec))
    if spec.cloud == "linode":
        from components.clusters.lke import LkeGpuCluster, LkeGpuClusterArgs

        return LkeGpuCluster(name, LkeGpuClusterArgs(spec=spec))
    from components.clusters.existing import ExistingCluster, ExistingClusterArgs

    return ExistingCluster(name, ExistingClusterArgs(spec=spec, kubeconfig=pulumi.Output.secret(EXISTING_KUBECONFIG)))


def build_platform(spec: PlatformSpec, options: AddonOptions | None = None) -> Callable[[], None]:
    def program() -> None:
        cluster = cluster_for(spec)
        platform_addons(spec, cluster.gpu_pools, cluster.provider, options or AddonOptions())

    return program


def baseline(cloud: str, options: AddonOptions | None = None, **overrides: Any) -> Recording:
    """A compliant platform on ``cloud`` (``overrides`` are camelCase spec keys)."""
    spec = spec_for(cloud, **overrides)
    return record(build_platform(spec, options), region=REGIONS[cloud])


def stack_name(cloud: str) -> str:
    return f"{cloud}-test"


# ---------------------------------------------------------------------------------------------------
# Mutations of recordings


def _copy(recording: Recording) -> Recording:
    return Recording(resources=[copy.deepcopy(r) for r in recording.resources], invokes=list(recording.invokes))


def _with_inputs(resource: RecordedResource, wire: dict[str, Any]) -> RecordedResource:
    computed = {k: v for k, v in resource.outputs.items() if k not in resource.wire_inputs}
    return replace(resource, wire_inputs=wire, outputs={**computed, **unwrap_secrets(wire)})


def edit(recording: Recording, name: str, change: Callable[[dict[str, Any]], None]) -> Recording:
    """A copy of ``recording`` whose resource ``name`` had ``change`` applied to its wire inputs."""
    result = _copy(recording)
    for index, resource in enumerate(result.resources):
        if resource.name == name:
            wire = copy.deepcopy(resource.wire_inputs)
            change(wire)
            result.resources[index] = _with_inputs(resource, wire)
            return result
    raise KeyError(f"no resource named {name!r}; have {sorted(r.name for r in recording.resources)}")


def drop(recording: Recording, *names: str) -> Recording:
    missing = set(names) - {r.name for r in recording.resources}
    if missing:
        raise KeyError(f"no resources named {sorted(missing)}")
    result = _copy(recording)
    result.resources = [r for r in result.resources if r.name not in names]
    return result


def retype(recording: Recording, type_: str, *names: str) -> Recording:
    result = _copy(recording)
    result.resources = [replace(r, type=type_) if r.name in names else r for r in result.resources]
    return result


def extend(recording: Recording, extra: Recording) -> Recording:
    result = _copy(recording)
    result.resources.extend(copy.deepcopy(extra.resources))
    return result


def bare(type_: str, name: str, wire: Mapping[str, Any] | None = None, *, custom: bool = True) -> RecordedResource:
    """A hand-made registration (for shapes no SDK class would produce: missing or mistyped keys)."""
    return RecordedResource(
        urn=f"urn:pulumi:test::{PROJECT}::{type_}::{name}",
        type=type_,
        name=name,
        custom=custom,
        parent=f"urn:pulumi:test::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-test",
        provider="",
        dependencies=[],
        property_dependencies={},
        deleted_with="",
        wire_inputs=dict(wire or {}),
        outputs=unwrap_secrets(dict(wire or {})),
    )


def plain(value: Any) -> Any:
    """A wire value with its secret markers removed (the program forgot ``Output.secret``)."""
    return unwrap_secrets(value)


def as_secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}
