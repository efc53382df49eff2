"""The authorization service between Envoy and OpenFGA, as Kubernetes objects (pure specs + one builder).

What: ``gpuplane-authz`` in namespace ``openfga``: a ConfigMap carrying ``ext_authz.py`` (stdlib
only) and ``models.json`` (model id -> spec model name), a Deployment of two replicas of the pinned
public ``python`` image (``components/versions.py`` ``OPENFGA_SYNC_PYTHON``, the same image as the
tuple-sync Job; no image of our own) on the system pool, non-root, read-only root filesystem, no
service-account token, the OpenFGA preshared key from the ``openfga-authn`` Secret; a Service
(``authz`` 9000, ``metrics`` 9100), a PodDisruptionBudget (one pod always up), a NetworkPolicy (the
decision port only from the Envoy proxies' namespace), a ReferenceGrant letting the route
SecurityPolicies in ``gpuplane-gateway`` name the Service, and with monitoring a PodMonitor, a
PrometheusRule (errors, no answers) and a dashboard.
Why: Envoy Gateway's ``extAuth`` needs an HTTP or gRPC endpoint; OpenFGA's own API is neither shape.
Gotchas: the ConfigMap's digest is a pod-template annotation so a changed script or model list
rolls the pods; ``ext_authz.py`` never allows on error, so pods that are not ready yet (or an
OpenFGA outage) refuse requests rather than admit them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.addons.alerts import AlertRule, RuleGroup
from components.addons.base import MANAGED_BY, SYSTEM_NODE_SELECTOR, AddonScope, MonitoringHook
from components.addons.dashboards import Dashboard, Panel, Query
from components.spec import PlatformSpec
from components.versions import OPENFGA_SYNC_PYTHON

SCRIPT_FILE = Path(__file__).resolve().parent / "ext_authz.py"
NAME = "gpuplane-authz"
AUTHZ_PORT = 9000
METRICS_PORT = 9100
REPLICAS = 2
ALLOW_TTL_SECONDS = 10
DENY_TTL_SECONDS = 5
OPENFGA_TIMEOUT_SECONDS = 0.5
DRAIN_SECONDS = 5
"""After SIGTERM: out of the Service (/healthz 503) but still answering, within the 30 s grace period."""
EXT_AUTH_TIMEOUT = "1s"
"""Envoy's bound on one decision (SecurityPolicy ``extAuth.timeout``): above the OpenFGA timeout."""
NOBODY = 65534
LABELS: Mapping[str, str] = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "authorization"}
GATEWAY_ROUTES_NAMESPACE = "gpuplane-gateway"
"""Where the route SecurityPolicies live (``components.addons.gateway.GATEWAY_NAMESPACE``)."""
PROXY_NAMESPACE = "envoy-gateway-system"
"""Where Envoy Gateway runs the proxies that call the service."""


def models_json(spec: PlatformSpec) -> str:
    """Model id (what ``x-ai-eg-model`` carries) -> the spec's model name (the OpenFGA object id)."""
    return json.dumps({m.served_name: m.name for m in spec.models}, indent=1, sort_keys=True) + "\n"


def config_data(spec: PlatformSpec) -> dict[str, str]:
    return {"ext_authz.py": SCRIPT_FILE.read_text(), "models.json": models_json(spec)}


def config_digest(data: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()[:12]


def deployment_spec(
    spec: PlatformSpec, *, api_url: str, store_name: str, token_secret: str, token_key: str, digest: str
) -> dict[str, Any]:
    del spec  # one shape for every stack; the model list is in the ConfigMap
    return {
        "replicas": REPLICAS,
        "selector": {"matchLabels": dict(LABELS)},
        "template": {
            "metadata": {"labels": dict(LABELS), "annotations": {"gpuplane.io/config-digest": digest}},
            "spec": {
                "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": NOBODY,
                    "runAsGroup": NOBODY,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": dict(LABELS)},
                    }
                ],
                "containers": [
                    {
                        "name": "authz",
                        "image": OPENFGA_SYNC_PYTHON.ref,
                        "command": ["python3", "/app/ext_authz.py"],
                        "env": [
                            {"name": "OPENFGA_API_URL", "value": api_url},
                            {"name": "OPENFGA_STORE_NAME", "value": store_name},
                            {
                                "name": "OPENFGA_API_TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": token_secret, "key": token_key}},
                            },
                            {"name": "AUTHZ_MODELS_FILE", "value": "/app/models.json"},
                            {"name": "AUTHZ_PORT", "value": str(AUTHZ_PORT)},
                            {"name": "AUTHZ_METRICS_PORT", "value": str(METRICS_PORT)},
                            {"name": "AUTHZ_ALLOW_TTL_SECONDS", "value": str(ALLOW_TTL_SECONDS)},
                            {"name": "AUTHZ_DENY_TTL_SECONDS", "value": str(DENY_TTL_SECONDS)},
                            {"name": "AUTHZ_OPENFGA_TIMEOUT_SECONDS", "value": str(OPENFGA_TIMEOUT_SECONDS)},
                            {"name": "AUTHZ_DRAIN_SECONDS", "value": str(DRAIN_SECONDS)},
                            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                            {"name": "PYTHONUNBUFFERED", "value": "1"},
                        ],
                        "ports": [
                            {"name": "authz", "containerPort": AUTHZ_PORT},
                            {"name": "metrics", "containerPort": METRICS_PORT},
                        ],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 5},
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 20},
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "app", "mountPath": "/app", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "app", "configMap": {"name": NAME}}],
            },
        },
    }


def service_spec() -> dict[str, Any]:
    return {
        "selector": dict(LABELS),
        "ports": [
            {"name": "authz", "port": AUTHZ_PORT, "targetPort": "authz"},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
        ],
    }


def pdb_spec() -> dict[str, Any]:
    return {"minAvailable": 1, "selector": {"matchLabels": dict(LABELS)}}


def network_policy_spec() -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": dict(LABELS)},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": PROXY_NAMESPACE}}}],
                "ports": [{"protocol": "TCP", "port": AUTHZ_PORT}],
            },
            {"ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
        ],
    }


def reference_grant_spec() -> dict[str, Any]:
    return {
        "from": [{"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy", "namespace": GATEWAY_ROUTES_NAMESPACE}],
        "to": [{"group": "", "kind": "Service", "name": NAME}],
    }


def ext_auth(namespace: str, headers: Sequence[str]) -> dict[str, Any]:
    """The SecurityPolicy ``extAuth`` block every model route carries (identical on every route)."""
    return {
        "http": {
            "backendRefs": [{"group": "", "kind": "Service", "name": NAME, "namespace": namespace, "port": AUTHZ_PORT}],
            "path": "/authorize",
        },
        "headersToExtAuth": list(headers),
        "failOpen": False,
        "timeout": EXT_AUTH_TIMEOUT,
    }


def pod_monitor_spec(namespace: str) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(LABELS)},
        "namespaceSelector": {"matchNames": [namespace]},
        "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
    }


def alert_group() -> RuleGroup:
    return RuleGroup(
        name="gpuplane-authz",
        rules=(
            AlertRule(
                alert="GpuplaneAuthzErrors",
                expr='sum by (reason) (rate(gpuplane_authz_errors_total{reason="openfga"}[5m])) > 0',
                for_="5m",
                severity="critical",
                summary="The gateway's authorization service cannot get answers from OpenFGA",
                description=(
                    "Model requests are refused (fail closed) because OpenFGA Check calls fail: "
                    "{{ $value | humanize }} errors/s. Check the openfga pods, their datastore and the "
                    "openfga-authn Secret."
                ),
            ),
            AlertRule(
                alert="GpuplaneAuthzBadRequests",
                expr='sum by (reason) (rate(gpuplane_authz_errors_total{reason!="openfga"}[10m])) > 0.1',
                for_="15m",
                severity="warning",
                summary="Requests reach the authorization service without a tenant or with an unknown model",
                description=(
                    "{{ $labels.reason }}: {{ $value | humanize }}/s refused. A route may miss its authentication "
                    "or the model list (ConfigMap gpuplane-authz) is stale."
                ),
            ),
        ),
    )


def dashboard() -> Dashboard:
    return Dashboard(
        uid="gpuplane-authz",
        title="gpuplane / authorization",
        description="OpenFGA decisions at the AI gateway: allows, denies, errors, latency and cache.",
        panels=(
            Panel(
                title="Decisions",
                unit="reqps",
                queries=(
                    Query(
                        expr="sum by (decision, source) (rate(gpuplane_authz_decisions_total[5m]))",
                        legend="{{decision}} ({{source}})",
                    ),
                ),
            ),
            Panel(
                title="Errors (requests refused without an answer)",
                unit="reqps",
                queries=(Query(expr="sum by (reason) (rate(gpuplane_authz_errors_total[5m]))", legend="{{reason}}"),),
            ),
            Panel(
                title="Decision latency p99",
                unit="s",
                queries=(
                    Query(
                        expr=(
                            "histogram_quantile(0.99, sum by (le) "
                            "(rate(gpuplane_authz_decision_duration_seconds_bucket[5m])))"
                        ),
                        legend="p99",
                    ),
                ),
            ),
            Panel(
                title="Cache hit ratio",
                unit="percentunit",
                queries=(
                    Query(
                        expr=(
                            'sum(rate(gpuplane_authz_cache_lookups_total{result="hit"}[5m])) '
                            "/ sum(rate(gpuplane_authz_cache_lookups_total[5m]))"
                        ),
                        legend="hits",
                    ),
                ),
            ),
        ),
    )


def build(
    name: str,
    *,
    spec: PlatformSpec,
    namespace: str,
    api_url: str,
    store_name: str,
    token_secret: str,
    token_key: str,
    scope: AddonScope,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    monitoring: MonitoringHook | None,
) -> k8s.apps.v1.Deployment:
    """Register the service's objects (children ``{name}-authz-*``); returns the Deployment."""
    meta = k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=namespace, labels={**MANAGED_BY, **LABELS})
    data = config_data(spec)
    config = k8s.core.v1.ConfigMap(
        f"{name}-authz-config", metadata=meta, data=data, opts=scope.opts(parent, depends_on)
    )
    deployment = k8s.apps.v1.Deployment(
        f"{name}-authz",
        metadata=meta,
        spec=deployment_spec(  # pyright: ignore[reportArgumentType]
            spec,
            api_url=api_url,
            store_name=store_name,
            token_secret=token_secret,
            token_key=token_key,
            digest=config_digest(data),
        ),
        opts=scope.opts(parent, [*depends_on, config]),
    )
    k8s.core.v1.Service(
        f"{name}-authz-service",
        metadata=meta,
        spec=service_spec(),  # pyright: ignore[reportArgumentType]
        opts=scope.opts(parent, depends_on),
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-authz-pdb",
        metadata=meta,
        spec=pdb_spec(),  # pyright: ignore[reportArgumentType]
        opts=scope.opts(parent, depends_on),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-authz-network-policy",
        metadata=meta,
        spec=network_policy_spec(),  # pyright: ignore[reportArgumentType]
        opts=scope.opts(parent, depends_on),
    )
    from components.addons.base import custom_resource

    custom_resource(
        f"{name}-authz-reference-grant",
        api_version="gateway.networking.k8s.io/v1",
        kind="ReferenceGrant",
        metadata={"name": NAME, "namespace": namespace, "labels": dict(MANAGED_BY)},
        spec=reference_grant_spec(),
        opts=scope.opts(parent, depends_on),
    )
    if monitoring is not None:
        from components.addons.observability import dashboard_config_map, pod_monitor, prometheus_rule

        pod_monitor(
            f"{name}-authz-monitor",
            name=NAME,
            namespace=namespace,
            spec=pod_monitor_spec(namespace),
            hook=monitoring,
            scope=scope,
            parent=parent,
            depends_on=[deployment],
        )
        prometheus_rule(
            f"{name}-authz-alerts", name=NAME, groups=[alert_group()], hook=monitoring, scope=scope, parent=parent
        )
        dashboard_config_map(f"{name}-authz-dashboard", dashboard(), hook=monitoring, scope=scope, parent=parent)
    return deployment
