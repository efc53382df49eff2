"""platform-openfga-durable-datastore: OpenFGA keeps its authorization data in a real database,
however it is deployed.

Property: no OpenFGA server the stack runs uses the in-memory datastore. OpenFGA's own default engine
is ``memory`` (every restart loses every tuple and model), and so is the chart's ``datastore.engine``.
The engine a server ends up with is judged as Kubernetes and OpenFGA resolve it: the chart renders
``OPENFGA_DATASTORE_ENGINE`` from ``datastore.engine`` and appends ``extraEnvVars`` after it, and with
duplicate env names the last entry wins; a ``--datastore-engine`` flag beats the environment. Checked:

- OpenFGA charts (``charts``, default ``openfga``; ``helm.v3.Release``/``helm.v4.Chart``, OCI refs):
  ``datastore.engine`` then ``extraEnvVars``; and any pod spec in the values (``extraObjects``).
- Any pod spec in any Kubernetes resource (a plain Deployment, StatefulSet, ``*Patch``, custom
  resource...) with a container of the ``openfga/openfga`` image that is not a ``migrate`` job:
  ``args``/``command`` flags, then ``env`` (last wins), else the default ``memory``.

Fail closed: an engine read from a ConfigMap or Secret (``valueFrom``, ``envFrom``) cannot be checked
and is reported.

Reads:
    kubernetes:helm.sh/v3:Release: chart, values.datastore.engine, values.extraEnvVars, values.extraObjects
    kubernetes:helm.sh/v4:Chart: chart, values.datastore.engine, values.extraEnvVars
    kubernetes:apps/v1:Deployment: spec.template.spec.containers[].image, args, command, env, envFrom
    kubernetes:apps/v1:StatefulSet: spec.template.spec.containers[].image, args, command, env, envFrom
    kubernetes:core/v1:Pod: spec.containers[].image, args, command, env, envFrom
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._pods import find_pod_specs
from ._support import (
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    dig,
    helm_chart,
    k8s_kind,
    namespace_of,
    resource_policy,
    str_list,
)

META = Meta(
    name="platform-openfga-durable-datastore",
    description="OpenFGA must not run on the in-memory datastore.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "openfga", "authorization", "durability", "correctness"),
    remediation="Set values.datastore.engine to postgres (with datastore.uriSecret or existingSecret) on the OpenFGA release.",
    rationale="With the memory engine a pod restart silently deletes every permission the platform granted.",
    config={
        "allowedEngines": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["postgres", "mysql"],
            "description": "Durable datastore engines OpenFGA may use.",
        },
        "charts": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["openfga"],
            "description": "Chart names that install OpenFGA.",
        },
    },
)


ENGINE_ENV = "OPENFGA_DATASTORE_ENGINE"
_IMAGE = re.compile(r"(^|/)openfga/openfga([:@]|$)")


def _env_engine(env: object, engine: str, where: str) -> tuple[str, str]:
    """(engine, unreadable) after applying ``env`` entries in order (the last one wins)."""
    unreadable = ""
    for item in as_list(env):
        entry = as_map(item)
        if as_str(entry.get("name")) != ENGINE_ENV:
            continue
        value = as_str(entry.get("value"))
        if value is None:
            unreadable = (
                f"{where} sets {ENGINE_ENV} from {'valueFrom' if entry.get('valueFrom') else 'nothing readable'}"
            )
        else:
            engine, unreadable = value, ""
    return engine, unreadable


def _flag_engine(words: list[str]) -> str | None:
    found: str | None = None
    for index, word in enumerate(words):
        if word.startswith("--datastore-engine="):
            found = word.split("=", 1)[1]
        elif word == "--datastore-engine" and index + 1 < len(words):
            found = words[index + 1]
    return found


def _servers(value: object, path: str) -> Iterator[tuple[str, str, str]]:
    """(where, engine, unreadable) of every OpenFGA server container in the pod specs under ``value``."""
    for pod in find_pod_specs(value, path):
        for item in as_list(pod.spec.get("containers")):
            container = as_map(item)
            if not _IMAGE.search(as_str(container.get("image")) or ""):
                continue
            words = [w for part in ("command", "args") for w in str_list(container.get(part)) for w in w.split()]
            if "migrate" in words:
                continue
            where = f"{pod.path or 'spec'} container {as_str(container.get('name')) or '?'}"
            engine, unreadable = _env_engine(container.get("env"), "memory", where)
            flag = _flag_engine(words)
            if flag is not None:
                engine, unreadable = flag, ""
            elif (
                not unreadable
                and as_list(container.get("envFrom"))
                and not any(as_str(as_map(e).get("name")) == ENGINE_ENV for e in as_list(container.get("env")))
            ):
                unreadable = f"{where} takes its environment from envFrom"
            yield where, engine, unreadable


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    allowed = str_list(config["allowedEngines"])
    advice = f"authorization data is lost on every restart. Use one of: {', '.join(allowed)}"
    chart = helm_chart(resource)
    if chart is not None:
        if chart.name in str_list(config["charts"]):
            extra = as_list(chart.values.get("extraEnvVars"))
            engine = as_str(dig(chart.values, "datastore", "engine")) or "memory"
            engine, unreadable = _env_engine(extra, engine, "values.extraEnvVars")
            overridden = any(as_str(as_map(e).get("name")) == ENGINE_ENV for e in extra)
            via = f"{ENGINE_ENV} in extraEnvVars (the last entry wins)" if overridden else "datastore.engine"
            if unreadable:
                yield f"{chart.via} {resource.name}: {unreadable}, so the OpenFGA datastore engine cannot be checked"
            elif engine not in allowed:
                yield f"{chart.via} {resource.name} runs OpenFGA with {via} {engine}; {advice}"
        targets: Iterator[tuple[str, str, str]] = _servers(chart.values, "values")
        title = f"{chart.via} {resource.name}"
    else:
        _, kind = k8s_kind(resource.type)
        if not kind:
            return
        props = {k: v for k, v in resource.props.items() if k != "metadata"}
        targets = _servers(props, "")
        title = f"{kind} {namespace_of(resource)}/{resource.name}"
    for where, engine, unreadable in targets:
        if unreadable:
            yield f"{title} runs OpenFGA ({where}): {unreadable}, so its datastore engine cannot be checked"
        elif engine not in allowed:
            yield f"{title} runs OpenFGA ({where}) with datastore engine {engine}; {advice}"


POLICY = resource_policy(META, check)
