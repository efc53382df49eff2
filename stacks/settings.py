"""The only reader of ``pulumi.Config``: turns a stack's ``gpuplane:*`` keys into a validated spec.

Every top-level spec field is one config key in the ``gpuplane`` namespace (``gpuplane:gpuPools``,
``gpuplane:tenants`` ...), so users can change a single value with
``pulumi config set --path 'gpuplane:gpuPools[0].maxNodes' 4``. Unknown ``gpuplane:`` keys, values
that are not valid JSON where structure is expected, a provider region that disagrees with
``gpuplane:region`` and a kubeconfig stored in plain text are all reported together, each naming
its key, before any resource exists.

Secrets besides the kubeconfig: ``gpuplane:modelCredentials`` is one secret structured key whose
entries are the external model providers' credentials (``pulumi config set --secret --path
'gpuplane:modelCredentials.openai' sk-...``); ``models[].backend.credential`` names an entry. A model
naming a missing entry, or the key stored in plain text, is an error naming the key. With
``openfga.datastore: external`` the Postgres URI is the secret ``gpuplane:openfgaDatastoreUri``. Both
reach the program only as ``pulumi.Output.secret`` values.

Every leaf is secret or plain text by its key's kind: the three keys above are secret (read with
``require_secret``), every spec key is plain text. A spec key stored as a secret
(``pulumi config set --secret gpuplane:tags ...``) is an error naming it, because its value becomes
plain fields of the spec and would be stored and rendered unredacted; the value of a secret key is
never part of a message, even when it does not parse. ``gcp:project`` is required (a string) on GCP
stacks: the Google provider would otherwise fall back to ambient credentials' project.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
from pulumi.runtime import config as runtime_config

from components.spec import PlatformSpec, Problem, SpecError, parse_spec

NAMESPACE = "gpuplane"
KUBECONFIG_KEY = "kubeconfig"
MODEL_CREDENTIALS_KEY = "modelCredentials"
OPENFGA_DATASTORE_URI_KEY = "openfgaDatastoreUri"
_STRING_KEYS = frozenset({"cloud", "region", "kubernetesVersion", "clusterName", "kubeconfigContext"})
_PROVIDER_REGION_KEYS = {"aws": "aws:region", "gcp": "gcp:region"}
_GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


def spec_keys() -> tuple[str, ...]:
    """The ``gpuplane:`` config keys that map onto spec fields (camelCase)."""
    return tuple(field.alias or name for name, field in PlatformSpec.model_fields.items())


class ConfigError(Exception):
    """The stack's config cannot be deployed; ``problems`` name full config keys."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid gpuplane config:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    spec: PlatformSpec
    kubeconfig: pulumi.Output[str] | None
    model_credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict[str, pulumi.Output[str]])
    """Credential entry name -> its value as a Pulumi secret (only the entries models reference)."""
    openfga_datastore_uri: pulumi.Output[str] | None = None
    """The external OpenFGA Postgres URI (secret); ``None`` unless ``openfga.datastore: external``."""


def load() -> Settings:
    """Read and validate the stack config; raise :class:`ConfigError` listing every problem."""
    config = pulumi.Config(NAMESPACE)
    problems = list(_unknown_keys())
    raw: dict[str, Any] = {}
    for key in spec_keys():
        value = config.get(key)
        if value is None:
            continue
        if runtime_config.is_config_secret(_full_key(key)):
            problems.append(
                Problem(
                    _full_key(key),
                    "stored as a secret, but it is a plain setting (its value ends up in plain resource "
                    f"fields); set it again without --secret: pulumi config set {_full_key(key)} ...",
                )
            )
            continue
        parsed = _parse_value(key, value)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            raw[key] = parsed
    spec: PlatformSpec | None = None
    try:
        spec = parse_spec(raw)
    except SpecError as exc:
        problems.extend(Problem(_full_key(p.key), p.message) for p in exc.problems)
    problems.extend(_provider_region_problems(raw))
    problems.extend(_gcp_project_problems(raw))
    problems.extend(_foreign_provider_problems(raw))
    kubeconfig = _kubeconfig(config, raw.get("cloud"), problems, raw.get("kubeconfigContext"))
    credentials = _model_credentials(spec, problems)
    datastore_uri = _openfga_datastore_uri(config, spec, problems)
    if problems or spec is None:
        raise ConfigError(problems)
    return Settings(
        spec=spec,
        kubeconfig=kubeconfig,
        model_credentials=credentials,
        openfga_datastore_uri=datastore_uri,
    )


def _full_key(key: str) -> str:
    return f"{NAMESPACE}:{key}" if key else NAMESPACE


def _all_config() -> Mapping[str, Any]:
    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def _unknown_keys() -> Iterator[Problem]:
    known = {*spec_keys(), KUBECONFIG_KEY, MODEL_CREDENTIALS_KEY, OPENFGA_DATASTORE_URI_KEY}
    for full in sorted(_all_config()):
        namespace, _, key = full.partition(":")
        if namespace == NAMESPACE and key not in known:
            yield Problem(full, f"unknown key; gpuplane keys are: {', '.join(sorted(known))}")


def _parse_value(key: str, value: str) -> Any:
    if key in _STRING_KEYS:
        if key == "kubernetesVersion" and _looks_like_float_version(value):
            return Problem(
                _full_key(key),
                f"YAML read the unquoted version as the number {value} (1.30 becomes 1.3); "
                f'quote it: kubernetesVersion: "{value}0"',
            )
        return value
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        shown = value if len(value) <= 80 else value[:80] + "..."
        return Problem(_full_key(key), f"expected a structured value (YAML map/list/number/bool), got {shown!r}")


def _looks_like_float_version(value: str) -> bool:
    """``1.3``: what YAML makes of an unquoted ``1.30`` (a float, trailing zero lost)."""
    major, _, minor = value.partition(".")
    return major == "1" and minor.isdigit() and len(minor) == 1


_PROVIDER_NAMESPACES = {"aws": "aws", "gcp": "gcp", "linode": "linode"}


def _foreign_provider_problems(raw: Mapping[str, Any]) -> Iterator[Problem]:
    """``aws:region`` on a linode stack (a stack moved between clouds): the provider config of another
    cloud is left over; say so in the same run as everything else."""
    cloud = raw.get("cloud")
    if not isinstance(cloud, str) or cloud not in (*_PROVIDER_NAMESPACES, "existing"):
        return
    for key in sorted(_all_config()):
        namespace = key.partition(":")[0]
        if namespace in _PROVIDER_NAMESPACES and namespace != cloud:
            yield Problem(key, f"{namespace} provider config on a {cloud} stack; remove it")


def _gcp_project_problems(raw: Mapping[str, Any]) -> Iterator[Problem]:
    if raw.get("cloud") != "gcp":
        return
    project = _all_config().get("gcp:project")
    if project is None:
        yield Problem("gcp:project", "GCP stacks need the project id: pulumi config set gcp:project <project-id>")
        return
    try:
        decoded: Any = json.loads(project)
    except (json.JSONDecodeError, RecursionError):
        decoded = project  # a plain string
    if not isinstance(decoded, str) or not _GCP_PROJECT.match(decoded):
        yield Problem(
            "gcp:project",
            "must be a GCP project id (6-30 characters: lowercase letters, digits, '-', starting with a letter)",
        )


def _provider_region_problems(raw: Mapping[str, Any]) -> Iterator[Problem]:
    cloud, region = raw.get("cloud"), raw.get("region")
    provider_key = _PROVIDER_REGION_KEYS.get(str(cloud))
    if provider_key is None:
        return
    provider_region = _all_config().get(provider_key)
    if provider_region is not None and provider_region != region:
        shown = "its value" if runtime_config.is_config_secret(provider_key) else repr(provider_region)
        yield Problem(provider_key, f"{shown} differs from gpuplane:region {region!r}; set both to the same region")


def _kubeconfig(
    config: pulumi.Config, cloud: object, problems: list[Problem], context: object = None
) -> pulumi.Output[str] | None:
    full = _full_key(KUBECONFIG_KEY)
    present = config.get(KUBECONFIG_KEY) is not None
    if cloud != "existing":
        if present:
            problems.append(Problem(full, "only used with cloud: existing; remove it"))
        return None
    if not present:
        problems.append(
            Problem(
                full,
                "existing clusters need one: pulumi config set --secret gpuplane:kubeconfig < kubeconfig",
            )
        )
        return None
    if not runtime_config.is_config_secret(full):
        problems.append(Problem(full, "stored in plain text; set it again with pulumi config set --secret"))
        return None
    # One flattened context, checked here so a bad kubeconfig stops the run before anything is registered;
    # the messages name fields, never the secret's content (components/kubeconfig.py).
    from components.kubeconfig import kubeconfig_problems

    chosen = context if isinstance(context, str) else None
    found = kubeconfig_problems(config.get(KUBECONFIG_KEY) or "", chosen)
    if found:
        problems.extend(Problem(full, message) for message in found)
        return None
    return config.require_secret(KUBECONFIG_KEY)


def _model_credentials(spec: PlatformSpec | None, problems: list[Problem]) -> dict[str, pulumi.Output[str]]:
    """The credential entries the models reference, each as a Pulumi secret."""
    full = _full_key(MODEL_CREDENTIALS_KEY)
    raw = runtime_config.get_config(full)
    if raw is None:
        entries: dict[str, Any] = {}
    elif not runtime_config.is_config_secret(full):
        problems.append(
            Problem(
                full,
                "stored in plain text; set each entry again with "
                "pulumi config set --secret --path 'gpuplane:modelCredentials.<name>' <value>",
            )
        )
        return {}
    else:
        try:
            parsed: Any = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(Problem(full, "expected a map of credential name to secret value"))
            return {}
        entries = cast(dict[str, Any], parsed)
    found: dict[str, pulumi.Output[str]] = {}
    for name, value in entries.items():
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"{full}.{name}", "expected a non-empty secret string"))
    if spec is None:
        return {}
    for index, model in enumerate(spec.models):
        name = model.backend.credential
        if name is None:
            continue
        value = entries.get(name)
        if value is None:
            problems.append(
                Problem(
                    f"{full}.{name}",
                    f"models[{index}].backend.credential names {name!r}, which is not set: "
                    f"pulumi config set --secret --path 'gpuplane:modelCredentials.{name}' <value>",
                )
            )
        elif isinstance(value, str) and value:
            found[name] = pulumi.Output.secret(value)
    return found


def _openfga_datastore_uri(
    config: pulumi.Config, spec: PlatformSpec | None, problems: list[Problem]
) -> pulumi.Output[str] | None:
    full = _full_key(OPENFGA_DATASTORE_URI_KEY)
    present = config.get(OPENFGA_DATASTORE_URI_KEY) is not None
    if spec is None:
        return None
    wanted = spec.openfga.enabled and spec.openfga.datastore == "external"
    if not wanted:
        if present:
            problems.append(Problem(full, "only used with openfga.datastore: external; remove it"))
        return None
    if not present:
        problems.append(
            Problem(
                full,
                "openfga.datastore external needs the Postgres URI: "
                "pulumi config set --secret gpuplane:openfgaDatastoreUri 'postgres://user:password@host:5432/openfga'",
            )
        )
        return None
    if not runtime_config.is_config_secret(full):
        problems.append(Problem(full, "stored in plain text; set it again with pulumi config set --secret"))
        return None
    return config.require_secret(OPENFGA_DATASTORE_URI_KEY)
