"""platform-credentials-secret: kubeconfigs and credentials are Pulumi secrets.

Checked on provider resources (``kubeconfig``, ``token``, ``credentials``...), on Kubernetes
``Secret`` data and on any resource's top-level credential-named input. A plaintext value is stored
unencrypted in the stack's state and shown by ``pulumi stack export``. Needs the secret markers that
``policies/__main__.py`` installs (pulumi-policy itself hides secretness: pulumi/pulumi-policy#241).
Helm values and container env are covered by platform-workload-no-plaintext-secrets.

Reads:
    kubernetes:core/v1:Secret: data, stringData
    pulumi:providers:kubernetes: kubeconfig
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._secrets import is_secret
from ._support import HELM_TYPES, Meta, Resource, as_map, is_credential_key, k8s_kind, namespace_of, resource_policy

META = Meta(
    name="platform-credentials-secret",
    description="Kubeconfigs, tokens and other credentials must be Pulumi secrets.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "secrets", "state", "security"),
    remediation=(
        "Wrap the value in pulumi.Output.secret (or read it with Config.require_secret); cluster components "
        "must return their kubeconfig as a secret."
    ),
    rationale="Unencrypted kubeconfigs in state files give cluster-admin to whoever reads the state backend.",
)


def check(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    if resource.type in HELM_TYPES:
        return
    if k8s_kind(resource.type) == ("core/v1", "Secret"):
        for field in ("stringData", "data"):
            for key, value in as_map(resource.props.get(field)).items():
                if isinstance(value, str) and value and not is_secret(value):
                    yield (
                        f"Secret {namespace_of(resource)}/{resource.name} has {field}.{key} in plaintext; "
                        "wrap it in pulumi.Output.secret"
                    )
        return
    what = f"provider {resource.name}" if resource.type.startswith("pulumi:providers:") else resource.name
    for key, value in resource.props.items():
        if isinstance(value, str) and value and is_credential_key(key) and not is_secret(value):
            yield f"{what} has {key} in plaintext; make it a Pulumi secret so state stores it encrypted"


POLICY = resource_policy(META, check)
