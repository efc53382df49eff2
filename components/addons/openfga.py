"""OpenFGA on a durable Postgres, with the platform's authorization model and tuples written to it.

What it builds (children named ``f"{name}-{role}"``, every Kubernetes child through the cluster's
provider and ``deleted_with`` the native cluster):

- ``{name}-namespace``: ``openfga``, Pod Security *restricted*.
- The datastore, ``{name}-datastore-secret`` (Secret ``openfga-datastore``: ``uri``, and
  ``password`` for the in-cluster database; every value a Pulumi secret):
  - ``openfga.datastore: in-cluster``: ``{name}-postgres-password`` (``random.RandomPassword``),
    ``{name}-postgres`` (a one-replica StatefulSet of the pinned Postgres image, non-root, read-only
    root filesystem, a ``storageGb`` PVC), ``{name}-postgres-service`` and
    ``{name}-postgres-network-policy`` (only pods in ``openfga`` reach port 5432);
  - ``openfga.datastore: external``: the URI from the secret config ``gpuplane:openfgaDatastoreUri``.
- ``{name}-preshared-key`` + ``{name}-authn-secret`` (Secret ``openfga-authn``, key ``keys``): the
  API is not anonymous; OpenFGA reads the key through ``valueFrom.secretKeyRef``
  (``OPENFGA_AUTHN_PRESHARED_KEYS``), never a plain Helm value.
- ``{name}-release``: the chart (``helm.v3.Release``) with ``datastore.engine: postgres`` and
  ``datastore.uriSecret``, metrics on (a ServiceMonitor with the monitoring hook's labels when
  observability is on), the playground off, pods on the system pool.
- With the gateway on, ``{name}-authz*``: the authorization service Envoy asks per model request
  (``components/addons/authz/service.py``: ConfigMap, two-replica Deployment, Service, PDB,
  NetworkPolicy, ReferenceGrant; with monitoring a PodMonitor, alerts and a dashboard).
- ``{name}-submitter-role-<tenant>`` / ``{name}-submitter-binding-<tenant>``: per tenant with a
  LocalQueue and members, a Role and RoleBinding in the tenant namespace letting the members create
  workloads there (nothing cluster-wide), from the same inputs as the ``submitter`` tuples
  (``components/addons/authz/rbac.py``).
- ``{name}-sync-config`` (ConfigMap: ``sync_store.py``, ``model.json``, ``tuples.json``) and
  ``{name}-sync`` (a Job named ``openfga-sync-<digest>``): writes the model (``authz/model.fga``) and
  the tuples generated from the spec's tenants, models and Kueue LocalQueues, idempotently (see
  ``components/addons/authz/sync_store.py``). The digest covers model, tuples and script, so any
  change replaces the Job and ``pulumi up`` waits for it to succeed; nothing changed, nothing runs.

Why: the chart's default datastore is in-memory (every restart loses every tuple) and its bundled
Bitnami Postgres sub-chart is gone since 0.3.0, so the stack brings a Postgres; policy
platform-openfga-durable-datastore enforces it.

Upstream gotchas:
- Migrations: the chart's default runs them in a ``post-install`` hook Job that the OpenFGA pods
  wait for; with ``helm install --wait`` (what ``helm.v3.Release`` does unless ``skipAwait``) Helm
  waits for the pods before it runs post-install hooks, so the install deadlocks
  (openfga/helm-charts#120, #131). ``datastore.migrationType: initContainer`` runs ``openfga migrate``
  in every pod before the server starts instead: migrations really run, on install and upgrade,
  without a hook. The release is still a ``helm.v3.Release`` (docs/decisions/gateway-and-authz.md).
- ``authn.preshared.keys`` would put the key into the Deployment's env in plain text; it is passed
  with ``extraEnvVars`` from the Secret instead.
- The OpenFGA chart pins app v1.18.3; the metric list under third_party comes from v1.18.1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.addons import authz
from components.addons.base import (
    MANAGED_BY,
    PVC_DELETED_WITH_STATEFULSET,
    SYSTEM_NODE_SELECTOR,
    AddonScope,
    MonitoringHook,
    NamespaceSpec,
    helm_release,
    namespace,
)
from components.spec import PlatformSpec
from components.versions import OPENFGA, OPENFGA_SYNC_PYTHON, POSTGRES

NAMESPACE = "openfga"
SERVICE = "openfga"
"""The chart's fullname for release ``openfga`` (the release name contains the chart name)."""
HTTP_PORT = 8080
API_URL = f"http://{SERVICE}.{NAMESPACE}.svc.cluster.local:{HTTP_PORT}"
STORE_NAME = "gpuplane"
DATASTORE_SECRET = "openfga-datastore"
AUTHN_SECRET = "openfga-authn"
SYNC_CONFIG = "openfga-sync"
POSTGRES_NAME = "openfga-postgres"
POSTGRES_PORT = 5432
POSTGRES_USER = "openfga"
POSTGRES_DB = "openfga"
POSTGRES_UID = 70
"""The ``postgres`` user of the official Alpine image."""
NOBODY = 65534


def _pod_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


CONTAINER_SECURITY: Mapping[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def postgres_uri(password: str) -> str:
    """The in-cluster database's URI (TLS off: traffic stays in the namespace, see the NetworkPolicy)."""
    host = f"{POSTGRES_NAME}.{NAMESPACE}.svc.cluster.local"
    return f"postgres://{POSTGRES_USER}:{password}@{host}:{POSTGRES_PORT}/{POSTGRES_DB}?sslmode=disable"


def postgres_statefulset_spec(spec: PlatformSpec) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": POSTGRES_NAME}
    return {
        "serviceName": POSTGRES_NAME,
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
                "automountServiceAccountToken": False,
                "securityContext": _pod_security(POSTGRES_UID),
                "containers": [
                    {
                        "name": "postgres",
                        "image": POSTGRES.ref,
                        "env": [
                            {"name": "POSTGRES_USER", "value": POSTGRES_USER},
                            {"name": "POSTGRES_DB", "value": POSTGRES_DB},
                            {
                                "name": "POSTGRES_PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": DATASTORE_SECRET, "key": "password"}},
                            },
                            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                        ],
                        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
                        "readinessProbe": {
                            "exec": {"command": ["pg_isready", "-U", POSTGRES_USER, "-d", POSTGRES_DB]},
                            "periodSeconds": 10,
                        },
                        "livenessProbe": {
                            "exec": {"command": ["pg_isready", "-U", POSTGRES_USER, "-d", POSTGRES_DB]},
                            "periodSeconds": 30,
                            "initialDelaySeconds": 30,
                        },
                        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
                        "securityContext": dict(CONTAINER_SECURITY),
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                            {"name": "run", "mountPath": "/var/run/postgresql"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [{"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
            },
        },
        "persistentVolumeClaimRetentionPolicy": dict(PVC_DELETED_WITH_STATEFULSET),
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{spec.openfga.storage_gb}Gi"}},
                },
            }
        ],
    }


def postgres_network_policy_spec() -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": POSTGRES_NAME}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}],
    }


def chart_values(spec: PlatformSpec, monitoring: MonitoringHook | None) -> dict[str, Any]:
    """OpenFGA chart values: Postgres from a Secret, migrations as init containers, preshared-key authn."""
    return {
        "replicaCount": spec.openfga.replicas,
        "datastore": {
            "engine": "postgres",
            "uriSecret": DATASTORE_SECRET,
            "migrationType": "initContainer",
            "metrics": {"enabled": True},
        },
        "authn": {"method": "preshared"},
        "extraEnvVars": [
            {
                "name": "OPENFGA_AUTHN_PRESHARED_KEYS",
                "valueFrom": {"secretKeyRef": {"name": AUTHN_SECRET, "key": "keys"}},
            }
        ],
        "playground": {"enabled": False},
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {**CONTAINER_SECURITY, "runAsNonRoot": True, "runAsUser": NOBODY},
        "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
        "telemetry": {
            "metrics": {
                "enabled": True,
                "serviceMonitor": {
                    "enabled": monitoring is not None,
                    "additionalLabels": dict(monitoring.selector_labels) if monitoring else {},
                },
            }
        },
    }


def sync_job_spec(config_map: str) -> dict[str, Any]:
    return {
        "backoffLimit": 6,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "openfga-sync", **MANAGED_BY}},
            "spec": {
                "restartPolicy": "Never",
                "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
                "automountServiceAccountToken": False,
                "securityContext": _pod_security(NOBODY),
                "containers": [
                    {
                        "name": "sync",
                        "image": OPENFGA_SYNC_PYTHON.ref,
                        "command": ["python3", "/sync/sync_store.py"],
                        "env": [
                            {"name": "OPENFGA_API_URL", "value": API_URL},
                            {"name": "OPENFGA_STORE_NAME", "value": STORE_NAME},
                            {
                                "name": "OPENFGA_API_TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": AUTHN_SECRET, "key": "keys"}},
                            },
                            {"name": "SYNC_DIR", "value": "/sync"},
                            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                        ],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                        "securityContext": dict(CONTAINER_SECURITY),
                        "volumeMounts": [{"name": "sync", "mountPath": "/sync", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "sync", "configMap": {"name": config_map}}],
            },
        },
    }


@dataclass(frozen=True, kw_only=True)
class OpenFgaArgs:
    """``datastore_uri`` is required with (and only used by) ``openfga.datastore: external``;
    ``local_queues`` maps a tenant to its Kueue LocalQueue name (``KueueAddon.local_queues``), empty
    when Kueue is off."""

    scope: AddonScope
    monitoring: MonitoringHook | None = None
    datastore_uri: pulumi.Input[str] | None = None
    local_queues: Mapping[str, str] = field(default_factory=dict[str, str])
    tenant_namespaces: Mapping[str, pulumi.Resource] = field(default_factory=dict[str, pulumi.Resource])
    """Tenant -> its namespace resource (``KueueAddon.tenant_namespaces``): the RoleBindings wait for it."""

    def __post_init__(self) -> None:
        spec = self.scope.spec
        if not spec.openfga.enabled:
            raise ValueError("scope.spec.openfga.enabled: OpenFGA is disabled; do not build OpenFga")
        external = spec.openfga.datastore == "external"
        if external and self.datastore_uri is None:
            raise ValueError("datastore_uri: required with openfga.datastore external (gpuplane:openfgaDatastoreUri)")
        if not external and self.datastore_uri is not None:
            raise ValueError("datastore_uri: only used with openfga.datastore external; the stack runs Postgres")
        tenants = {t.name for t in spec.tenants}
        for tenant in self.local_queues:
            if tenant not in tenants:
                raise ValueError(f"local_queues: {tenant!r} is not a tenant of the spec")
        if NAMESPACE in tenants:
            raise ValueError(f"scope.spec.tenants: {NAMESPACE!r} is OpenFGA's namespace; choose another tenant name")


class OpenFga(pulumi.ComponentResource):
    """OpenFGA with a durable datastore and the platform's model and tuples written to its store."""

    release: k8s.helm.v3.Release
    sync_job: k8s.batch.v1.Job
    """Writes the model and tuples; replaced (and so re-run) whenever they change."""
    tuples: list[authz.RelationshipTuple]
    """The tuples written to the store."""
    api_token: pulumi.Output[str]
    """The preshared key clients (an ext_authz adapter, the sync job) present (a Pulumi secret)."""
    api_url: str
    store_name: str
    authz_service: k8s.apps.v1.Deployment | None
    role_bindings: dict[str, k8s.rbac.v1.RoleBinding]
    """Tenant -> the RoleBinding letting its members create workloads in its namespace."""
    """The gateway's authorization service (``gpuplane-authz``), with the gateway on."""

    def __init__(self, name: str, args: OpenFgaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpuplane:addons:OpenFga", name, None, opts)
        scope, spec, hook = args.scope, args.scope.spec, args.monitoring

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=NAMESPACE, labels=dict(MANAGED_BY))

        ns = namespace(f"{name}-namespace", NamespaceSpec(name=NAMESPACE), scope, self)
        release_deps: list[pulumi.Resource] = [ns]
        if spec.openfga.datastore == "in-cluster":
            password = pulumi.Output.secret(
                random.RandomPassword(
                    f"{name}-postgres-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
                ).result
            )
            datastore = k8s.core.v1.Secret(
                f"{name}-datastore-secret",
                metadata=meta(DATASTORE_SECRET),
                type="Opaque",
                string_data={"uri": pulumi.Output.secret(password.apply(postgres_uri)), "password": password},
                opts=scope.opts(self, [ns]),
            )
            postgres = k8s.apps.v1.StatefulSet(
                f"{name}-postgres",
                metadata=meta(POSTGRES_NAME),
                spec=postgres_statefulset_spec(spec),  # pyright: ignore[reportArgumentType]
                # Owns a PersistentVolume: deleted for real on destroy (not deleted_with the cluster).
                opts=scope.owner_opts(self, [ns, datastore]),
            )
            service = k8s.core.v1.Service(
                f"{name}-postgres-service",
                metadata=meta(POSTGRES_NAME),
                spec={
                    "selector": {"app.kubernetes.io/name": POSTGRES_NAME},
                    "ports": [{"name": "postgres", "port": POSTGRES_PORT, "targetPort": "postgres"}],
                },  # pyright: ignore[reportArgumentType]
                opts=scope.opts(self, [ns]),
            )
            k8s.networking.v1.NetworkPolicy(
                f"{name}-postgres-network-policy",
                metadata=meta(POSTGRES_NAME),
                spec=postgres_network_policy_spec(),  # pyright: ignore[reportArgumentType]
                opts=scope.opts(self, [ns]),
            )
            release_deps += [datastore, postgres, service]
        else:
            assert args.datastore_uri is not None, "checked in OpenFgaArgs"
            datastore = k8s.core.v1.Secret(
                f"{name}-datastore-secret",
                metadata=meta(DATASTORE_SECRET),
                type="Opaque",
                string_data={"uri": pulumi.Output.secret(args.datastore_uri)},
                opts=scope.opts(self, [ns]),
            )
            release_deps.append(datastore)

        self.api_token = pulumi.Output.secret(
            random.RandomPassword(
                f"{name}-preshared-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
            ).result
        )
        authn = k8s.core.v1.Secret(
            f"{name}-authn-secret",
            metadata=meta(AUTHN_SECRET),
            type="Opaque",
            string_data={"keys": self.api_token},
            opts=scope.opts(self, [ns]),
        )
        release_deps.append(authn)
        if hook is not None:
            release_deps.append(hook.crds)
        self.release = helm_release(
            f"{name}-release",
            OPENFGA,
            namespace=NAMESPACE,
            values=chart_values(spec, hook),
            scope=scope,
            parent=self,
            depends_on=release_deps,
        )

        self.authz_service = None
        if spec.gateway.enabled:
            from components.addons.authz import service

            self.authz_service = service.build(
                name,
                spec=spec,
                namespace=NAMESPACE,
                api_url=API_URL,
                store_name=STORE_NAME,
                token_secret=AUTHN_SECRET,
                token_key="keys",
                scope=scope,
                parent=self,
                depends_on=[ns, authn],
                monitoring=hook,
            )

        self.role_bindings = self._tenant_rbac(name, args)

        self.tuples = authz.tuples(spec, args.local_queues)
        digest = authz.digest(self.tuples)
        config = k8s.core.v1.ConfigMap(
            f"{name}-sync-config",
            metadata=meta(f"{SYNC_CONFIG}-{digest}"),
            data={
                "sync_store.py": authz.SYNC_SCRIPT_FILE.read_text(),
                "model.json": json.dumps(authz.model_json(), indent=1, sort_keys=True) + "\n",
                "tuples.json": authz.tuples_json(self.tuples),
            },
            opts=scope.opts(self, [ns]),
        )
        self.sync_job = k8s.batch.v1.Job(
            f"{name}-sync",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{SYNC_CONFIG}-{digest}",
                namespace=NAMESPACE,
                labels=dict(MANAGED_BY),
                annotations={"gpuplane.io/authz-digest": digest},
            ),
            spec=sync_job_spec(f"{SYNC_CONFIG}-{digest}"),  # pyright: ignore[reportArgumentType]
            opts=scope.opts(self, [self.release, config, authn]),
        )
        self.api_url = API_URL
        self.store_name = STORE_NAME
        self.register_outputs(
            {
                "apiUrl": API_URL,
                "storeName": STORE_NAME,
                "tuples": len(self.tuples),
                "digest": digest,
                "apiToken": self.api_token,
            }
        )

    def _tenant_rbac(self, name: str, args: OpenFgaArgs) -> dict[str, k8s.rbac.v1.RoleBinding]:
        """The ``submitter`` tuples as Kubernetes RBAC: a Role + RoleBinding per tenant namespace."""
        from components.addons.authz import rbac

        scope = args.scope
        made: dict[str, k8s.rbac.v1.RoleBinding] = {}
        for binding in rbac.bindings(scope.spec, args.local_queues):
            deps = [args.tenant_namespaces[binding.namespace]] if binding.namespace in args.tenant_namespaces else []
            meta = k8s.meta.v1.ObjectMetaArgs(name=rbac.ROLE, namespace=binding.namespace, labels=dict(MANAGED_BY))
            role = k8s.rbac.v1.Role(
                f"{name}-submitter-role-{binding.namespace}",
                metadata=meta,
                rules=rbac.role_spec()["rules"],
                opts=scope.opts(self, deps),
            )
            body = rbac.role_binding_body(binding)
            made[binding.namespace] = k8s.rbac.v1.RoleBinding(
                f"{name}-submitter-binding-{binding.namespace}",
                metadata=meta,
                role_ref=body["roleRef"],
                subjects=body["subjects"],
                opts=scope.opts(self, [*deps, role]),
            )
        return made
