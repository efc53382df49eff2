"""platform-workload-no-plaintext-secrets: no credentials in plaintext in Helm values or container env.

Helm values: a credential-named key (``password``, ``*Token``, ``apiKey``...) or a URI with embedded
user:password must be a Pulumi secret (then it is encrypted in state; Helm keeps release values in a
Kubernetes Secret) or come from an existing Kubernetes Secret; a list entry ``--password=...`` counts as
a credential-named key too. Container env: a credential-named variable, or any variable whose literal
value is a URI with embedded user:password (``postgres://u:p@db/app``), must use
``valueFrom.secretKeyRef``; a literal ``value`` is readable by anyone who can read the workload, secret
in Pulumi or not. Container ``args`` and ``command``: the same holds for a credential flag with a literal
value (``--password=hunter2``, ``--token hunter2``, also inside an ``sh -c`` string) and for a URI with
embedded credentials. Not reported: values that reference a variable (``--token=$(HF_TOKEN)``, which
Kubernetes fills from the env, ``$TOKEN`` in a shell) or a file (``--token=/var/run/secrets/token``).

Property: no credential the stack deploys is readable as plaintext by whoever reads a workload, a
ConfigMap or Helm values. Also read: every pod spec at any depth of any Kubernetes resource (``_pods``:
CronJob, JobSet, ``*Patch``, custom resources...), ConfigMaps (``data``: credential-named keys,
credentials inside values -- URIs with ``user:password@`` or an empty user ``:password@``, libpq/ODBC
``password=``, JDBC ``?password=`` -- and inside embedded YAML/JSON documents and ``.env``/``.properties``
files), and YAML strings inside Helm values (``extraManifests``). References are not credentials:
``${VAR}``, ``$(VAR)``, ``{{ ... }}``, file paths.

Reads:
    kubernetes:helm.sh/v3:Release: values (any depth, YAML/JSON strings)
    kubernetes:core/v1:ConfigMap: data
    kubernetes:core/v1:ConfigMapPatch: data
    kubernetes:apps/v1:Deployment: spec.template.spec.containers[].env, args, command
    kubernetes:batch/v1:CronJob: spec.jobTemplate.spec.template.spec.containers[].env
    kubernetes:apps/v1:DeploymentPatch: spec.template.spec.containers[].env
    kubernetes:core/v1:PodTemplate: template.spec.containers[].env
    kubernetes:jobset.x-k8s.io/v1alpha2:JobSet: spec.replicatedJobs[].template.spec.template.spec.containers[].env
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from pulumi_policy import EnforcementLevel, Severity

from ._pods import embedded_documents, find_pod_specs
from ._secrets import is_secret
from ._support import (
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    containers,
    credential_in_text,
    has_embedded_credentials,
    helm_chart,
    is_credential_key,
    k8s_kind,
    namespace_of,
    normalized_key,
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


_FLAG = re.compile(r"^(--?)([A-Za-z][A-Za-z0-9_.-]*)(?:=(.*))?$", re.DOTALL)
_NOT_A_LITERAL = ("$", "/", "./", "../", "~/")
"""Flag values that reference a variable (``$(VAR)``, ``${VAR}``, ``$VAR``) or a file, not a credential."""
_QUOTES = "'\""


def _literal(value: str) -> bool:
    return bool(value) and not value.startswith(_NOT_A_LITERAL)


def _argument_findings(entries: Sequence[str], config: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """``(index, what)`` for every credential ``entries`` (a container's ``args``/``command``, or a
    string list in Helm values) carry literally: ``--password=x`` and ``--token x`` (the value in the
    next entry), whitespace-separated inside one entry too (``sh -c "run --token=x"``), and URIs with
    embedded credentials (alone or as a flag's value)."""
    for index, entry in enumerate(entries):
        words = [word.strip(_QUOTES) for word in entry.split()]
        for position, word in enumerate(words):
            flag = _FLAG.match(word)
            value = word if flag is None else flag.group(3)
            if value is not None and has_embedded_credentials(value.strip(_QUOTES)):
                yield index, "a URI with embedded credentials"
                continue
            if flag is None or not _credential(flag.group(2), config):
                continue
            if value is None:  # --token VALUE: the next word, or the next entry
                if position + 1 < len(words):
                    value = words[position + 1]
                elif len(words) == 1 and index + 1 < len(entries):
                    value = entries[index + 1]
                else:
                    value = ""
                if value.startswith("-"):
                    value = ""
            if _literal(value.strip().strip(_QUOTES)):
                yield index, flag.group(1) + flag.group(2)


def _documents(text: str, path: str, config: Mapping[str, Any]) -> Iterator[str]:
    """Findings inside a string that holds YAML/JSON documents (an embedded manifest or config file)."""
    if is_secret(text):
        return
    for number, document in enumerate(embedded_documents(text)):
        yield from _values(document, f"{path}<document {number}>", config)


def _values(value: object, path: str, config: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield from _map_values(cast(Mapping[str, object], value), path, config)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        # The engine's lists arrive as pulumi-policy proxies: Sequences, not lists.
        items = cast(Sequence[object], value)
        strings = [item if isinstance(item, str) and not is_secret(item) else "" for item in items]
        flagged = {index for index, _ in _argument_findings(strings, config)}
        for index, item in enumerate(items):
            if index in flagged:
                yield f"{path}[{index}]"
            elif isinstance(item, str):
                yield from _documents(item, f"{path}[{index}]", config)
            else:
                yield from _values(item, f"{path}[{index}]", config)


def _map_values(mapping: Mapping[str, object], path: str, config: Mapping[str, Any]) -> Iterator[str]:
    env_name = as_str(mapping.get("name"))
    literal = mapping.get("value")
    credential = bool(env_name) and _credential(env_name or "", config)
    if credential and isinstance(literal, str) and literal and not is_secret(literal):
        yield f"{path}.value (env {env_name})"
    for key, item in mapping.items():
        child = f"{path}.{key}"
        if isinstance(item, str) and item and not is_secret(item):
            if (_credential(key, config) and not _placeholder(item)) or has_embedded_credentials(item):
                yield child
            else:
                yield from _documents(item, child, config)
        else:
            yield from _values(item, child, config)


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
    if not kind:
        return
    title = f"{kind} {namespace_of(resource)}/{resource.name}"
    if kind in ("ConfigMap", "ConfigMapPatch"):
        yield from _config_map(resource, title, config)
        return
    if kind in ("Secret", "SecretPatch"):
        return  # the provider keeps Secret data secret in state
    props = {k: v for k, v in resource.props.items() if k != "metadata"}
    yield from _pod_findings(props, title, config)


def _pod_findings(props: Mapping[str, Any], title: str, config: Mapping[str, Any]) -> Iterator[str]:
    """Literal credentials in the env, args and command of every container of every pod spec."""
    for template in find_pod_specs(props, ""):
        for container_name, container in containers(template.spec):
            for index, entry in enumerate(as_map(e) for e in as_list(container.get("env"))):
                name = as_str(entry.get("name")) or f"env[{index}]"
                value = entry.get("value")
                if not isinstance(value, str) or not value:
                    continue
                if _credential(name, config) and not _placeholder(value):
                    yield (
                        f"{title} container {container_name} sets env {name} as a literal value; "
                        "use valueFrom.secretKeyRef"
                    )
                elif what := credential_in_text(value):
                    yield f"{title} container {container_name} sets env {name} to {what}; use valueFrom.secretKeyRef"
            for field_name in ("command", "args"):
                entries = [e if isinstance(e, str) else "" for e in as_list(container.get(field_name))]
                for index, what in dict.fromkeys(_argument_findings(entries, config)):
                    yield (
                        f"{title} container {container_name} passes {what} in {field_name}[{index}] as a literal "
                        "value; read it from a Secret (env valueFrom.secretKeyRef, referenced as $(VAR))"
                    )


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*([^\s()\[\]{}]+)\s*$")
_ENV_FILES = (".env", ".properties", ".ini", ".conf", ".cfg", ".toml")
"""ConfigMap keys read line by line as ``KEY=value`` files (keys without an extension are too)."""


def _placeholder(value: str) -> bool:
    """A reference to a value kept elsewhere (``${VAR}``, ``$(VAR)``, ``{{ .Values.x }}``), not a credential."""
    text = value.strip().strip(_QUOTES)
    return (
        not text or text.startswith(("$", "{{", "<")) or text.lower() in ("changeme", "none", "null", "true", "false")
    )


def _config_map(resource: Resource, title: str, config: Mapping[str, Any]) -> Iterator[str]:
    """Credential-named keys with literal values, credentials inside values (URIs, DSNs), and inside
    embedded YAML/JSON/env files: a ConfigMap is readable by anyone who can read the namespace."""
    advice = "move it to a Secret (a Pulumi secret in state)"
    for key, item in as_map(resource.props.get("data")).items():
        if not isinstance(item, str) or not item or is_secret(item):
            continue
        if _credential(key, config) and not _placeholder(item):
            yield f"{title} data.{key} holds a plaintext credential; {advice}"
            continue
        if what := credential_in_text(item):
            yield f"{title} data.{key} holds {what}; {advice}"
            continue
        documents = embedded_documents(item)
        for number, document in enumerate(documents):
            for path in _values(document, f"data.{key}<document {number}>", config):
                yield f"{title} {path} holds a plaintext credential; {advice}"
        if documents or (not key.lower().endswith(_ENV_FILES) and "." in key):
            continue
        for line in item.splitlines():
            found = _ENV_LINE.match(line)
            if found and _credential(found.group(1), config) and not _placeholder(found.group(2)):
                yield f"{title} data.{key} sets {found.group(1)} to a plaintext credential; {advice}"
            elif found and (what := credential_in_text(found.group(2).strip(_QUOTES))):
                yield f"{title} data.{key} sets {found.group(1)} to {what}; {advice}"


POLICY = resource_policy(META, check)
