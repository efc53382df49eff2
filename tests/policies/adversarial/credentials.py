# pyright: reportArgumentType=false
# (Adversarial programs pass plain dicts where the SDK types ask for *Args, as a careless user does; the
# SDK accepts them at run time, which is the point of the case.)
"""Plaintext credentials: ConfigMaps (keys, URIs, DSNs, embedded YAML/JSON/env files), env literals in
every pod-bearing kind, libpq DSNs, JDBC query passwords, URLs with credentials and an empty user, Helm
values and YAML strings inside them."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from tests.policies.adversarial.corpus import compliant, insecure

PLAIN = "platform-workload-no-plaintext-secrets"


def config_map(data: dict[str, str], kind: str = "ConfigMap") -> None:
    metadata = {"name": "app", "namespace": "team-a"}
    if kind == "ConfigMap":
        k8s.core.v1.ConfigMap("app", metadata=metadata, data=data)
    else:
        k8s.core.v1.ConfigMapPatch("app", metadata=metadata, data=data)


def deployment(env: list[dict[str, Any]], args: list[str] | None = None) -> None:
    container: dict[str, Any] = {"name": "app", "image": "ghcr.io/example/app:1.0.0", "env": env}
    if args is not None:
        container["args"] = args
    k8s.apps.v1.Deployment(
        "app",
        metadata={"name": "app", "namespace": "team-a"},
        spec={
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [container]}},
        },
    )


# -- ConfigMaps ----------------------------------------------------------------------------------------


@insecure(PLAIN, "ConfigMap team-a/app data.DB_PASSWORD holds a plaintext credential")
def config_map_password_key() -> None:
    config_map({"DB_PASSWORD": "hunter2"})


@insecure(PLAIN, "data.hf-token holds a plaintext credential")
def config_map_token_key_kebab() -> None:
    config_map({"hf-token": "hf_abcdefghijklmnopqrstuvwxyz"})


@insecure(PLAIN, "data.DATABASE_URL holds a URI with embedded credentials")
def config_map_postgres_url() -> None:
    config_map({"DATABASE_URL": "postgres://app:hunter2@db:5432/app"})


@insecure(PLAIN, "data.REDIS_URL holds a URI with embedded credentials")
def config_map_redis_empty_user() -> None:
    config_map({"REDIS_URL": "redis://:hunter2@valkey:6379/0"})


@insecure(PLAIN, "data.DSN holds a connection string with password=")
def config_map_libpq_dsn() -> None:
    config_map({"DSN": "host=db port=5432 user=app password=hunter2 dbname=app sslmode=require"})


@insecure(PLAIN, "data.JDBC holds a connection string with a password parameter")
def config_map_jdbc_query_password() -> None:
    config_map({"JDBC": "jdbc:postgresql://db:5432/app?user=app&password=hunter2"})


@insecure(PLAIN, "data.application.yaml<document 0>.spring.datasource.password holds a plaintext credential")
def config_map_embedded_yaml() -> None:
    config_map(
        {
            "application.yaml": yaml.safe_dump(
                {"spring": {"datasource": {"url": "jdbc:postgresql://db/app", "password": "hunter2"}}}
            )
        }
    )


@insecure(PLAIN, "data.settings.json<document 0>.openai.apiKey holds a plaintext credential")
def config_map_embedded_json() -> None:
    config_map({"settings.json": json.dumps({"openai": {"apiKey": "sk-abcdefghijklmnop"}})})


@insecure(PLAIN, "data.app.env sets OPENAI_API_KEY to a plaintext credential")
def config_map_env_file() -> None:
    config_map({"app.env": "LOG_LEVEL=info\nOPENAI_API_KEY=sk-abcdefghijklmnop\n"})


@insecure(PLAIN, "data.db.properties sets url to a URI with embedded credentials")
def config_map_properties_file() -> None:
    config_map({"db.properties": "url=mysql://root:hunter2@db:3306/app\npool=10\n"})


@insecure(PLAIN, "ConfigMapPatch team-a/app data.ADMIN_PASSWORD holds a plaintext credential")
def config_map_patch_password() -> None:
    config_map({"ADMIN_PASSWORD": "hunter2"}, kind="ConfigMapPatch")


@compliant(PLAIN)
def config_map_without_credentials() -> None:
    config_map(
        {
            "LOG_LEVEL": "info",
            "DATABASE_URL": "postgres://db:5432/app",
            "password_file": "/var/run/secrets/db/password",
            "TOKEN": "${TOKEN}",
            "ext_authz.py": "token = request.headers.get('authorization')\n",
            "application.yaml": yaml.safe_dump({"spring": {"datasource": {"password": "${DB_PASSWORD}"}}}),
        }
    )


# -- env literals in every pod-bearing kind -------------------------------------------------------------


@insecure(PLAIN, "sets env HF_TOKEN as a literal value")
def deployment_env_token() -> None:
    deployment([{"name": "HF_TOKEN", "value": "hf_abcdefghijklmnop"}])


@insecure(PLAIN, "sets env DSN to a connection string with password=")
def deployment_env_libpq_dsn() -> None:
    deployment([{"name": "DSN", "value": "host=db user=app password=hunter2"}])


@insecure(PLAIN, "sets env CACHE to a URI with embedded credentials")
def deployment_env_redis_empty_user() -> None:
    deployment([{"name": "CACHE", "value": "rediss://:hunter2@valkey:6380"}])


@insecure(PLAIN, "sets env PASSWORD as a literal value")
def deployment_env_secret_in_pulumi_is_still_literal() -> None:
    deployment([{"name": "PASSWORD", "value": pulumi.Output.secret("hunter2")}])


@insecure(PLAIN, "sets env AWS_SECRET_ACCESS_KEY as a literal value")
def cronjob_env_aws_key() -> None:
    k8s.batch.v1.CronJob(
        "sync",
        metadata={"name": "sync", "namespace": "team-a"},
        spec={
            "schedule": "@daily",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "s",
                                    "image": "amazon/aws-cli:2",
                                    "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc/def"}],
                                }
                            ],
                        }
                    }
                }
            },
        },
    )


@insecure(PLAIN, "sets env WANDB_API_KEY as a literal value")
def jobset_env_api_key() -> None:
    k8s.apiextensions.CustomResource(
        "train",
        api_version="jobset.x-k8s.io/v1alpha2",
        kind="JobSet",
        metadata={"name": "train", "namespace": "team-a"},
        spec={
            "replicatedJobs": [
                {
                    "name": "w",
                    "template": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "t",
                                            "image": "t:1",
                                            "env": [{"name": "WANDB_API_KEY", "value": "abc"}],
                                        }
                                    ]
                                }
                            }
                        }
                    },
                }
            ]
        },
    )


@insecure(PLAIN, "sets env DB_PASSWORD as a literal value")
def deployment_patch_env_password() -> None:
    k8s.apps.v1.DeploymentPatch(
        "app",
        metadata={"name": "app", "namespace": "team-a"},
        spec={
            "template": {
                "spec": {"containers": [{"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}]}
            }
        },
    )


@insecure(PLAIN, "sets env MODEL_TOKEN as a literal value")
def pod_template_env_token() -> None:
    k8s.core.v1.PodTemplate(
        "app",
        metadata={"name": "app", "namespace": "team-a"},
        template={
            "spec": {
                "containers": [{"name": "app", "image": "a:1", "env": [{"name": "MODEL_TOKEN", "value": "t0k3n"}]}]
            }
        },
    )


@insecure(PLAIN, "passes a URI with embedded credentials in args[1]")
def deployment_args_url_with_credentials() -> None:
    deployment([], args=["--db", "mysql://root:hunter2@db/app"])


@compliant(PLAIN)
def deployment_env_from_secret_and_references() -> None:
    deployment(
        [
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            {"name": "DB_PASSWORD_FILE", "value": "/var/run/secrets/db/password"},
            {"name": "API_TOKEN", "value": "$(HF_TOKEN)"},
            {"name": "DATABASE_URL", "value": "postgres://db:5432/app?sslmode=require"},
        ],
        args=["--token=$(HF_TOKEN)"],
    )


# -- Helm values ---------------------------------------------------------------------------------------


def release(values: dict[str, Any]) -> None:
    k8s.helm.v3.Release(
        "app",
        chart="app",
        version="1.2.3",
        namespace="team-a",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
        values=values,
    )


@insecure(PLAIN, "sets values.cache.url to a plaintext credential")
def helm_redis_url_empty_user() -> None:
    release({"cache": {"url": "redis://:hunter2@valkey:6379"}})


@insecure(PLAIN, "sets values.db.dsn to a plaintext credential")
def helm_libpq_dsn() -> None:
    release({"db": {"dsn": "host=db user=app password=hunter2"}})


@insecure(PLAIN, "sets values.config<document 0>.auth.clientSecret to a plaintext credential")
def helm_yaml_string_with_client_secret() -> None:
    release({"config": yaml.safe_dump({"auth": {"clientId": "gpuplane", "clientSecret": "s3cr3t"}})})


@insecure(PLAIN, "sets values.extraManifests[0]<document 0>.data.PASSWORD to a plaintext credential")
def helm_extra_manifest_config_map() -> None:
    release(
        {
            "extraManifests": [
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "c"},
                        "data": {"PASSWORD": "hunter2"},
                    }
                )
            ]
        }
    )


@compliant(PLAIN)
def helm_secret_values_and_references() -> None:
    release(
        {
            "db": {"password": pulumi.Output.secret("hunter2"), "existingSecret": "db"},
            "cache": {"url": "redis://valkey:6379"},
            "config": yaml.safe_dump({"auth": {"clientId": "gpuplane", "clientSecret": "${CLIENT_SECRET}"}}),
        }
    )
