# pyright: reportArgumentType=false
# (Adversarial programs pass plain dicts where the SDK types ask for *Args, as a careless user does; the
# SDK accepts them at run time, which is the point of the case.)
"""Durable OpenFGA: memory through env overrides (the last entry wins), flags, OCI chart refs,
extraObjects, or OpenFGA as a plain Deployment/StatefulSet/Pod (the server's default is memory)."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from tests.policies.adversarial.corpus import compliant, insecure

DURABLE = "platform-openfga-durable-datastore"
IMAGE = "openfga/openfga:v1.8.16"
POSTGRES = {"engine": "postgres", "uriSecret": "openfga-datastore"}


def chart(values: dict[str, Any], reference: str = "openfga") -> None:
    repo = (
        None
        if reference.startswith("oci://")
        else k8s.helm.v3.RepositoryOptsArgs(repo="https://openfga.github.io/helm-charts")
    )
    k8s.helm.v3.Release(
        "openfga", chart=reference, version="0.3.12", namespace="openfga", repository_opts=repo, values=values
    )


def env(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


@insecure(DURABLE, "OPENFGA_DATASTORE_ENGINE in extraEnvVars (the last entry wins) memory")
def chart_postgres_overridden_by_extra_env() -> None:
    chart({"datastore": POSTGRES, "extraEnvVars": [env("OPENFGA_DATASTORE_ENGINE", "memory")]})


@insecure(DURABLE, "extraEnvVars (the last entry wins) memory")
def chart_extra_env_last_entry_wins() -> None:
    chart(
        {
            "datastore": POSTGRES,
            "extraEnvVars": [env("OPENFGA_DATASTORE_ENGINE", "postgres"), env("OPENFGA_DATASTORE_ENGINE", "memory")],
        }
    )


@compliant(DURABLE)
def chart_memory_overridden_back_to_postgres() -> None:
    chart(
        {
            "datastore": POSTGRES,
            "extraEnvVars": [env("OPENFGA_DATASTORE_ENGINE", "memory"), env("OPENFGA_DATASTORE_ENGINE", "postgres")],
        }
    )


@insecure(DURABLE, "sets OPENFGA_DATASTORE_ENGINE from valueFrom")
def chart_engine_from_config_map() -> None:
    chart(
        {
            "datastore": POSTGRES,
            "extraEnvVars": [
                {"name": "OPENFGA_DATASTORE_ENGINE", "valueFrom": {"configMapKeyRef": {"name": "fga", "key": "engine"}}}
            ],
        }
    )


@insecure(DURABLE, "with datastore.engine memory")
def chart_oci_reference_default_engine() -> None:
    chart({}, reference="oci://ghcr.io/openfga/helm-charts/openfga:0.3.12")


@insecure(DURABLE, "with datastore.engine memory")
def chart_explicit_memory() -> None:
    chart({"datastore": {"engine": "memory"}})


@insecure(
    DURABLE, "runs OpenFGA (values.extraObjects[0].spec.template.spec container fga) with datastore engine memory"
)
def chart_extra_objects_second_server() -> None:
    second = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fga-2"},
        "spec": {"template": {"spec": {"containers": [{"name": "fga", "image": IMAGE, "args": ["run"]}]}}},
    }
    chart({"datastore": POSTGRES, "extraObjects": [second]})


@compliant(DURABLE)
def chart_postgres_with_unrelated_extra_env() -> None:
    chart(
        {
            "datastore": POSTGRES,
            "extraEnvVars": [
                {
                    "name": "OPENFGA_AUTHN_PRESHARED_KEYS",
                    "valueFrom": {"secretKeyRef": {"name": "authn", "key": "keys"}},
                }
            ],
        }
    )


def deployment(container: dict[str, Any], kind: str = "Deployment") -> None:
    spec = {
        "selector": {"matchLabels": {"app": "fga"}},
        "template": {
            "metadata": {"labels": {"app": "fga"}},
            "spec": {"containers": [{"name": "fga", "image": IMAGE, **container}]},
        },
    }
    if kind == "Deployment":
        k8s.apps.v1.Deployment("fga", metadata={"name": "fga", "namespace": "authz"}, spec=spec)
    else:
        k8s.apps.v1.StatefulSet(
            "fga", metadata={"name": "fga", "namespace": "authz"}, spec={**spec, "serviceName": "fga"}
        )


@insecure(DURABLE, "Deployment authz/fga runs OpenFGA (spec.template.spec container fga) with datastore engine memory")
def plain_deployment_default_engine() -> None:
    deployment({"args": ["run"]})


@insecure(DURABLE, "with datastore engine memory")
def plain_deployment_env_memory() -> None:
    deployment({"args": ["run"], "env": [env("OPENFGA_DATASTORE_ENGINE", "memory")]})


@insecure(DURABLE, "with datastore engine memory")
def plain_deployment_flag_beats_env() -> None:
    deployment({"args": ["run", "--datastore-engine", "memory"], "env": [env("OPENFGA_DATASTORE_ENGINE", "postgres")]})


@insecure(DURABLE, "with datastore engine sqlite")
def plain_statefulset_sqlite_flag() -> None:
    deployment({"args": ["run", "--datastore-engine=sqlite"]}, kind="StatefulSet")


@insecure(DURABLE, "takes its environment from envFrom")
def plain_deployment_env_from_config_map() -> None:
    deployment({"args": ["run"], "envFrom": [{"configMapRef": {"name": "fga"}}]})


@insecure(DURABLE, "Pod authz/fga runs OpenFGA")
def plain_pod_registry_prefixed_image() -> None:
    k8s.core.v1.Pod(
        "fga",
        metadata={"name": "fga", "namespace": "authz"},
        spec={
            "containers": [
                {"name": "fga", "image": "docker.io/openfga/openfga@sha256:" + "c" * 64, "command": ["openfga", "run"]}
            ]
        },
    )


@compliant(DURABLE)
def plain_deployment_postgres() -> None:
    deployment(
        {
            "args": ["run"],
            "env": [
                env("OPENFGA_DATASTORE_ENGINE", "postgres"),
                {"name": "OPENFGA_DATASTORE_URI", "valueFrom": {"secretKeyRef": {"name": "fga", "key": "uri"}}},
            ],
        }
    )


@compliant(DURABLE)
def plain_migration_job() -> None:
    k8s.batch.v1.Job(
        "fga-migrate",
        metadata={"name": "fga-migrate", "namespace": "authz"},
        spec={
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": IMAGE, "args": ["migrate"]}]}
            }
        },
    )
