"""platform-workload-no-plaintext-secrets: no credentials in plaintext in Helm values or container env.

Helm values: a credential-named key (``password``, ``*Token``, ``apiKey``...) or a URI with embedded
user:password must be a Pulumi secret (then it is encrypted in state; Helm keeps release values in a
Kubernetes Secret) or come from an existing Kubernetes Secret. Container env: a credential-named
variable must use ``valueFrom.secretKeyRef``; a literal ``value`` is readable by anyone who can read the
workload, secret in Pulumi or not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from pulumi_policy import EnforcementLevel, Severity

from ._secrets import is_secret
from ._support import (
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    containers,
    has_embedded_credentials,
    helm_chart,
    is_credential_key,
    k8s_kind,
    namespace_of,
    normalized_key,
    pod_templates,
    resource_policy,
    str_list,
)

META = Meta(
    name="platform-workload-no-plaintext-secrets",
    description="Helm values and container env must not carry credentials in plaintext.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "secrets", "helm", "workloads", "security"),
    remediation=(
        "Pass Helm credentials as Pulumi secrets (config --secret, pulumi.Output.secret) or via the chart's "
        "existingSecret option; give containers credentials with env[].valueFrom.secretKeyRef."
    ),
    rationale="Plaintext credentials end up in state files, CI logs and every kubectl get -o yaml.",
    config={
        "extraCredentialKeys": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Additional key/variable name endings (case- and separator-insensitive) that denote credentials.",
        }
    },
)


def _credential(name: str, config: Mapping[str, Any]) -> bool:
    extra = [normalized_key(k) for k in str_list(config["extraCredentialKeys"])]
    key = normalized_key(name)
    return is_credential_key(name) or any(key.endswith(e) for e in extra if e)


def _values(value: object, path: str, config: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(value, Mapping):
        mapping = cast(Mapping[str, object], value)
        env_name = as_str(mapping.get("name"))
        literal = mapping.get("value")
        credential = bool(env_name) and _credential(env_name or "", config)
        if credential and isinstance(literal, str) and literal and not is_secret(literal):
            yield f"{path}.value (env {env_name})"
        for key, item in mapping.items():
            child = f"{path}.{key}"
            if isinstance(item, str) and item and not is_secret(item):
                if _credential(key, config) or has_embedded_credentials(item):
                    yield child
            else:
                yield from _values(item, child, config)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        # The engine's lists arrive as pulumi-policy proxies: Sequences, not lists.
        for index, item in enumerate(cast(Sequence[object], value)):
            if isinstance(item, str) and item and not is_secret(item) and has_embedded_credentials(item):
                yield f"{path}[{index}]"
            else:
                yield from _values(item, f"{path}[{index}]", config)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is not None:
        for path in _values(chart.values, "values", config):
            yield (
                f"{chart.via} {resource.name} sets {path} to a plaintext credential; make it a Pulumi secret "
                "or reference an existing Kubernetes Secret"
            )
        return
    _, kind = k8s_kind(resource.type)
    for template in pod_templates(resource):
        for container_name, container in containers(template.spec):
            for entry in (as_map(e) for e in as_list(container.get("env"))):
                name = as_str(entry.get("name")) or ""
                value = entry.get("value")
                if isinstance(value, str) and value and _credential(name, config):
                    yield (
                        f"{kind} {namespace_of(resource)}/{resource.name} container {container_name} sets env "
                        f"{name} as a literal value; use valueFrom.secretKeyRef"
                    )


POLICY = resource_policy(META, check)
