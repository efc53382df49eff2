"""platform-container-not-privileged: no privileged containers outside the GPU operator's namespace.

The GPU operator's driver, toolkit and validator pods need privileged mode; nothing else on a shared
GPU platform does. Device access goes through the device plugin or DRA, not ``privileged: true``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    Meta,
    Resource,
    as_bool,
    containers,
    dig,
    k8s_kind,
    namespace_of,
    pod_templates,
    resource_policy,
    str_list,
)

META = Meta(
    name="platform-container-not-privileged",
    description="Containers must not run privileged outside the GPU operator's namespace.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "workloads", "isolation", "security"),
    remediation="Remove securityContext.privileged; request GPUs as nvidia.com/gpu resources instead.",
    rationale="A privileged container owns its node, and with it every other tenant's GPU job and credentials.",
    config={
        "allowedNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["gpu-operator"],
            "description": "Namespaces where privileged containers are allowed.",
        }
    },
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    namespace = namespace_of(resource)
    allowed = str_list(config["allowedNamespaces"])
    if namespace in allowed:
        return
    _, kind = k8s_kind(resource.type)
    for template in pod_templates(resource):
        for name, container in containers(template.spec):
            if as_bool(dig(container, "securityContext", "privileged")) is True:
                yield (
                    f"{kind} {namespace}/{resource.name} container {name} is privileged; only namespaces "
                    f"{', '.join(allowed) or '(none)'} may run privileged containers"
                )


POLICY = resource_policy(META, check)
