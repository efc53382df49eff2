"""Shared plumbing for gpuplane's policies: tolerant property access, the policy factories, config
handling, and the cross-cloud readers (node pools, Helm charts, pod specs) the rules are written with.

Every reader tolerates missing keys and wrong shapes (a policy must never crash on a resource it only
half understands) and reads the engine's camelCase input names. Numbers arrive as floats.

Config: each policy declares its properties as JSON Schemas with a ``default``; the factories add
``excludeResources`` to every policy and enforce ``additionalProperties: false`` at run time (the
engine's ``PolicyConfigSchema`` cannot express it for the top level), so a typo in
``--policy-pack-config`` fails loudly instead of silently doing nothing.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
GPU_MODEL_LABEL = "gpuplane.io/gpu"

JsonSchema = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------------
# Tolerant access


def as_map(value: object) -> Mapping[str, object]:
    """``value`` if it is a mapping, else an empty one."""
    if isinstance(value, Mapping):
        return cast(Mapping[str, object], value)
    return {}


def as_list(value: object) -> list[object]:
    """``value`` as a list if it is a sequence (not a string), a one-item list for a mapping (some
    providers flatten single-element blocks), else empty."""
    if isinstance(value, str | bytes):
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(cast(Sequence[object], value))
    return []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: object) -> float | None:
    """A number from a float, int or numeric string (Kueue quotas are often strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_int(value: object) -> int | None:
    number = as_number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def dig(value: object, *path: str | int) -> object:
    """Follow ``path`` through maps (str keys) and lists (int indexes); ``None`` when anything is missing."""
    current = value
    for step in path:
        if isinstance(step, int):
            items = as_list(current)
            if not -len(items) <= step < len(items):
                return None
            current = items[step]
        else:
            mapping = as_map(current)
            if step not in mapping:
                return None
            current = mapping[step]
    return current


def str_list(value: object) -> list[str]:
    return [s for s in as_list(value) if isinstance(s, str)]


def str_map(value: object) -> dict[str, str]:
    return {k: str(v) for k, v in as_map(value).items() if isinstance(v, str | int | float | bool)}


MIN_IPV4_PREFIX = 8
"""IPv4 prefixes shorter than this (``/0``-``/7``, 33 million addresses and up) count as open."""
MIN_IPV6_PREFIX = 16
"""IPv6 prefixes shorter than this count as open."""

CIDR_CONFIG: Mapping[str, JsonSchema] = {
    "minIpv4PrefixLength": {
        "type": "integer",
        "minimum": 0,
        "default": MIN_IPV4_PREFIX,
        "description": (
            "IPv4 CIDRs with a shorter prefix than this (a wider range) count as open to the internet, like 0.0.0.0/0."
        ),
    },
    "minIpv6PrefixLength": {
        "type": "integer",
        "minimum": 0,
        "default": MIN_IPV6_PREFIX,
        "description": (
            "IPv6 CIDRs with a shorter prefix than this (a wider range) count as open to the internet, like ::/0."
        ),
    },
}
"""The config properties of the policies that judge CIDRs (with :func:`open_cidr_config`)."""


def open_cidr_reason(cidr: str, min_ipv4: int = MIN_IPV4_PREFIX, min_ipv6: int = MIN_IPV6_PREFIX) -> str | None:
    """Why ``cidr`` is open to the internet (to follow ``contains <cidr>, ``), or ``None`` when it is not.

    ``/0`` admits the whole internet; any IPv4 prefix shorter than ``min_ipv4`` (IPv6: ``min_ipv6``)
    admits so much of it (``1.0.0.0/7`` is 33 million addresses) that it is treated as open too.
    Unparsable values are not judged here.
    """
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None
    if network.prefixlen == 0:
        return "which admits the whole internet"
    key, minimum = ("minIpv4PrefixLength", min_ipv4) if network.version == 4 else ("minIpv6PrefixLength", min_ipv6)
    if network.prefixlen < minimum:
        return f"a /{network.prefixlen} range wider than the /{minimum} limit ({key}), so it counts as open to the internet"
    return None


_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_IPV4_TRANSLATED = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))
"""IPv6 prefixes that embed an IPv4 address in their last 32 bits (RFC 4291 mapped, RFC 6052 NAT64,
RFC 2765 translated): ``::ffff:0:0/96`` admits every IPv4 address, so it is judged as IPv4."""


def _as_ipv4(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv4Network | None:
    """The IPv4 range an IPv4-mapped/translated IPv6 network stands for (``None`` for other IPv6)."""
    if not isinstance(network, ipaddress.IPv6Network):
        return None
    for embedding in (_IPV4_MAPPED, *_IPV4_TRANSLATED):
        if isinstance(embedding, ipaddress.IPv6Network) and network.subnet_of(embedding):
            host = int(network.network_address) & 0xFFFFFFFF
            return ipaddress.IPv4Network((host, max(0, network.prefixlen - 96)), strict=False)
    return None


def open_cidr_findings(
    cidrs: Sequence[str], where: str, min_ipv4: int = MIN_IPV4_PREFIX, min_ipv6: int = MIN_IPV6_PREFIX
) -> list[str]:
    """Why the allow-list ``cidrs`` (read from ``where``) is open to the internet: empty when it is not.

    Judged on each entry *and on their union*: 256 ``/8`` blocks are ``0.0.0.0/0`` without a single
    wide entry, so adjacent blocks are collapsed first and every collapsed range wider than the limit
    counts. IPv4-mapped IPv6 (``::ffff:0:0/96``) is the IPv4 range it embeds. An entry that is not a
    CIDR cannot be judged, so it is reported (fail closed) rather than skipped.
    """
    findings: list[str] = []
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for cidr in cidrs:
        text = cidr.strip()
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            findings.append(f"{where} contains {cidr!r}, which is not a CIDR, so the allow-list cannot be checked")
            continue
        mapped = _as_ipv4(network)
        if mapped is not None:
            if reason := open_cidr_reason(str(mapped), min_ipv4, min_ipv6):
                findings.append(f"{where} contains {cidr}, the IPv4-mapped form of {mapped}, {reason}")
            v4.append(mapped)
            continue
        if reason := open_cidr_reason(text, min_ipv4, min_ipv6):
            findings.append(f"{where} contains {cidr}, {reason}")
        if isinstance(network, ipaddress.IPv4Network):
            v4.append(network)
        else:
            v6.append(network)
    if findings:
        return findings
    for family, minimum, key in ((v4, min_ipv4, "minIpv4PrefixLength"), (v6, min_ipv6, "minIpv6PrefixLength")):
        collapsed = list(ipaddress.collapse_addresses(family))  # pyright: ignore[reportArgumentType]
        for network in collapsed:
            if network.prefixlen < minimum or network.prefixlen == 0:
                findings.append(
                    f"{where} together cover {network} (a /{network.prefixlen}, wider than the /{minimum} "
                    f"limit of {key}), so the allow-list is open to the internet"
                )
    return findings


def is_open_cidr(cidr: str, min_ipv4: int = MIN_IPV4_PREFIX, min_ipv6: int = MIN_IPV6_PREFIX) -> bool:
    """Whether ``cidr`` admits the whole internet (``0.0.0.0/0``, ``::/0``) or a range that wide
    (IPv4 prefixes shorter than ``min_ipv4``, IPv6 shorter than ``min_ipv6``)."""
    return open_cidr_reason(cidr, min_ipv4, min_ipv6) is not None


def open_cidr_config(config: Mapping[str, Any]) -> tuple[int, int]:
    """``(min_ipv4, min_ipv6)`` from a policy config built with :data:`CIDR_CONFIG`."""
    min_ipv4 = as_int(config.get("minIpv4PrefixLength"))
    min_ipv6 = as_int(config.get("minIpv6PrefixLength"))
    return (
        MIN_IPV4_PREFIX if min_ipv4 is None else min_ipv4,
        MIN_IPV6_PREFIX if min_ipv6 is None else min_ipv6,
    )


def fmt_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------------
# Resources and policies


@dataclass(frozen=True)
class Resource:
    """What a check sees of one resource: type token, name, URN and camelCase properties."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    """URNs this resource depends on (stack policies only; resource policies do not see them)."""


@dataclass(frozen=True)
class Finding:
    """One violation of a stack policy, reported against ``urn`` (empty: the stack as a whole)."""

    message: str
    urn: str = ""


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[Finding]]

EXCLUDE_KEY = "excludeResources"
EXCLUDE_SCHEMA: JsonSchema = {
    "type": "array",
    "items": {"type": "string"},
    "default": [],
    "description": "Resource names (or full URNs) this policy skips, for documented exceptions.",
}


@dataclass(frozen=True, kw_only=True)
class Meta:
    """Everything a policy publishes about itself (also rendered into ``policies/README.md``)."""

    name: str
    description: str
    severity: Severity
    enforcement: EnforcementLevel
    tags: tuple[str, ...]
    remediation: str
    rationale: str
    config: Mapping[str, JsonSchema] = field(default_factory=dict[str, JsonSchema])
    framework: PolicyComplianceFramework | None = None

    @property
    def schema(self) -> dict[str, JsonSchema]:
        return {**self.config, EXCLUDE_KEY: EXCLUDE_SCHEMA}

    def defaults(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v["default"]) for k, v in self.schema.items() if "default" in v}


class PolicyConfigError(ValueError):
    """A policy configuration the pack refuses (unknown key or wrong type)."""


_checked_configs: dict[str, tuple[Meta, str, dict[str, Any]]] = {}
"""Per policy name: its Meta, the ``repr`` of the last config given, and the effective config made from it."""


def effective_config(meta: Meta, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Schema defaults overlaid with ``given``; unknown keys and wrongly typed values raise.

    The servicer hands every policy a fresh copy of the same config for every resource, so the
    result for the same ``given`` is remembered per policy (one slot: a new ``Configure`` replaces
    it): checking the schema again per resource was a third of the pack's ``Analyze`` time (issue 15).
    "The same" is the same ``repr``, not ``==``: ``True == 1 == 1.0``, but only ``1`` is a number to
    the schema. Each call still returns its own top-level dict; checks only read their config."""
    key = repr(given)
    last = _checked_configs.get(meta.name)
    if last is not None and last[0] is meta and last[1] == key:
        return dict(last[2])
    config = _check_config(meta, given)
    _checked_configs[meta.name] = (meta, key, copy.deepcopy(config))
    return config


def _check_config(meta: Meta, given: Mapping[str, Any] | None) -> dict[str, Any]:
    schema = meta.schema
    given = dict(given or {})
    given.pop("enforcementLevel", None)
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise PolicyConfigError(
            f"{meta.name}: unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(schema))}"
        )
    config = meta.defaults()
    for key, value in given.items():
        problem = schema_problem(schema[key], value, key)
        if problem is not None:
            raise PolicyConfigError(f"{meta.name}: {problem}")
        config[key] = value
    return config


_JSON_TYPES: Mapping[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: as_int(v) is not None and not isinstance(v, bool | str),
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: isinstance(v, Mapping),
    "null": lambda v: v is None,
}


def schema_problem(schema: JsonSchema, value: object, path: str) -> str | None:
    """The first way ``value`` violates the small JSON Schema subset policy configs use, or ``None``.

    Supports type, enum, minimum, items, properties, required and additionalProperties.
    """
    return (
        _scalar_problem(schema, value, path) or _items_problem(schema, value, path) or _map_problem(schema, value, path)
    )


def _scalar_problem(schema: JsonSchema, value: object, path: str) -> str | None:
    expected = schema.get("type")
    if isinstance(expected, str) and not _JSON_TYPES[expected](value):
        return f"{path} must be of type {expected}, got {json.dumps(value, default=str)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{path} must be one of {json.dumps(enum)}, got {json.dumps(value, default=str)}"
    minimum = schema.get("minimum")
    number = as_number(value) if not isinstance(value, str) else None
    if isinstance(minimum, int | float) and number is not None and number < minimum:
        return f"{path} must be >= {minimum}, got {json.dumps(value)}"
    return None


def _items_problem(schema: JsonSchema, value: object, path: str) -> str | None:
    if not isinstance(value, list | tuple):
        return None
    item_schema = as_map(schema.get("items"))
    for index, item in enumerate(cast(Sequence[object], value)):
        problem = schema_problem(item_schema, item, f"{path}[{index}]")
        if problem is not None:
            return problem
    return None


def _map_problem(schema: JsonSchema, value: object, path: str) -> str | None:
    if not isinstance(value, Mapping):
        return None
    mapping = cast(Mapping[str, object], value)
    properties = as_map(schema.get("properties"))
    for required in str_list(schema.get("required")):
        if required not in mapping:
            return f"{path}.{required} is required"
    additional = schema.get("additionalProperties", True)
    for key, item in mapping.items():
        if key in properties:
            problem = schema_problem(as_map(properties[key]), item, f"{path}.{key}")
        elif additional is False:
            problem = f"{path} has unknown key {key!r}; known keys: {', '.join(sorted(properties))}"
        elif isinstance(additional, Mapping):
            problem = schema_problem(cast(JsonSchema, additional), item, f"{path}.{key}")
        else:
            problem = None
        if problem is not None:
            return problem
    return None


def excluded(resource_name: str, urn: str, config: Mapping[str, Any]) -> bool:
    names = set(str_list(config.get(EXCLUDE_KEY)))
    return bool(names) and (resource_name in names or urn in names)


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if "::" in urn else urn


def _policy_kwargs(meta: Meta) -> dict[str, Any]:
    return {
        "name": meta.name,
        "description": meta.description,
        "enforcement_level": meta.enforcement,
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in meta.schema.items()}),
        "severity": meta.severity,
        "tags": list(meta.tags),
        "remediation_steps": meta.remediation,
        "framework": meta.framework,
    }


def unknown_message(meta: Meta, error: UnknownValueError) -> str:
    """Fail closed on a value only known after deployment: report it at the policy's own level (the
    stock pulumi-policy behaviour downgrades the policy to advisory for the resource and passes)."""
    return (
        f"cannot be checked yet: {error.message}, and {meta.name} needs it; the same policy runs again "
        "with the real value during pulumi up"
    )


def resource_policy(meta: Meta, check: ResourceCheck) -> ResourceValidationPolicy:
    """A ``ResourceValidationPolicy`` running ``check`` on every resource with the effective config."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = effective_config(meta, cast(Mapping[str, Any] | None, args.get_config()))
        if excluded(args.name, args.urn, config):
            return
        resource = Resource(args.resource_type, args.name, args.urn, args.props)
        try:
            for message in check(resource, config):
                report_violation(message, None)
        except UnknownValueError as error:
            report_violation(unknown_message(meta, error), None)

    return ResourceValidationPolicy(validate=validate, **_policy_kwargs(meta))


def stack_policy(meta: Meta, check: StackCheck) -> StackValidationPolicy:
    """A ``StackValidationPolicy`` running ``check`` over every resource of the stack."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = effective_config(meta, cast(Mapping[str, Any] | None, args.get_config()))
        resources = [
            Resource(r.resource_type, r.name, r.urn, r.props, tuple(d.urn for d in r.dependencies))
            for r in args.resources
        ]
        try:
            for finding in check(resources, config):
                if finding.urn and excluded(urn_name(finding.urn), finding.urn, config):
                    continue
                report_violation(finding.message, finding.urn or None)
        except UnknownValueError as error:
            report_violation(unknown_message(meta, error), None)

    return StackValidationPolicy(validate=validate, **_policy_kwargs(meta))


# ---------------------------------------------------------------------------------------------------
# The GPU catalog (a generated copy of components/catalog.py: the pack must stay self-contained)


@dataclass(frozen=True)
class Offering:
    gpu: str
    gpus: int
    hourly_usd: float | None


@cache
def _catalog() -> Mapping[str, Any]:
    return cast(Mapping[str, Any], json.loads((Path(__file__).parent / "gpu_catalog.json").read_text()))


def offering(cloud: str, instance_type: str) -> Offering | None:
    entry = as_map(dig(_catalog(), "instanceTypes", cloud, instance_type))
    if not entry:
        return None
    gpus = as_int(entry.get("gpus")) or 0
    return Offering(gpu=str(entry.get("gpu")), gpus=gpus, hourly_usd=as_number(entry.get("hourlyUsd")))


def catalog_instance_types() -> list[str]:
    types = as_map(_catalog().get("instanceTypes"))
    return sorted({t for cloud in types.values() for t in as_map(cloud)})


def catalog_accelerators() -> list[str]:
    return sorted(as_map(_catalog().get("gcpAccelerators")))


def mig_slices(gpu: str, profile: str) -> int | None:
    """Instances of MIG ``profile`` on one GPU of model ``gpu`` (the same profile name means different
    counts on different GPUs, e.g. 1g.10gb: 7 on A100 80GB, 4 on A100 40GB)."""
    return as_int(as_map(as_map(_catalog().get("migSlices")).get(gpu)).get(profile))


def gcp_accelerator_model(accelerator: str) -> str:
    """The cloud-neutral GPU model behind a GKE accelerator type ('' when unknown)."""
    return as_str(as_map(_catalog().get("gcpAccelerators")).get(accelerator)) or ""


_AWS_GPU_TYPE = re.compile(r"^(p\d+[a-z]*(-[a-z0-9]+)?|g\d+[a-z]*|gr\d+[a-z]*)\.")
_GCP_GPU_MACHINE = re.compile(r"^(a2|a3|a4|a4x|g2|g4)-")
_LINODE_GPU_PLAN = re.compile(r"^g\d+-gpu-")


def is_gpu_instance_type(cloud: str, instance_type: str) -> bool:
    """Whether ``instance_type`` carries GPUs, known to the catalog or not (by family)."""
    if offering(cloud, instance_type) is not None and cloud != "gcp":
        return True
    pattern = {"aws": _AWS_GPU_TYPE, "gcp": _GCP_GPU_MACHINE, "linode": _LINODE_GPU_PLAN}.get(cloud)
    return bool(pattern and pattern.match(instance_type))


# ---------------------------------------------------------------------------------------------------
# Node pools across clouds


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    "NO_EXECUTE": "NoExecute",
}


def normalize_effect(effect: object) -> str:
    text = as_str(effect) or ""
    return _EFFECTS.get(text.upper(), text)


def taints_of(value: object) -> tuple[Taint, ...]:
    taints: list[Taint] = []
    for item in as_list(value):
        entry = as_map(item)
        key = as_str(entry.get("key"))
        if key:
            taints.append(Taint(key, str(entry.get("value") or ""), normalize_effect(entry.get("effect"))))
    return tuple(taints)


NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LKE_CLUSTER = "linode:index/lkeCluster:LkeCluster"
LKE_NODE_POOL = "linode:index/lkeNodePool:LkeNodePool"


def is_karpenter_node_pool(type_: str) -> bool:
    return type_.startswith("kubernetes:karpenter.sh/") and type_.endswith(":NodePool")


@dataclass(frozen=True)
class NodePool:
    """One group of identical nodes, whatever the cloud, as far as its inputs tell.

    ``min_nodes``/``max_nodes`` are ``None`` when unknown; ``gpus_per_node`` is ``None`` for an
    instance type the catalog does not know. ``max_gpus`` is set when the pool caps GPUs directly
    (a Karpenter ``NodePool``'s ``spec.limits``).
    """

    urn: str
    title: str
    cloud: str
    instance_types: tuple[str, ...]
    gpu: bool
    gpus_per_node: int | None
    min_nodes: int | None
    max_nodes: int | None
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    hourly_usd: float | None
    max_gpus_limit: int | None = None
    autoscaled: bool = True
    floor: int = 0
    units_per_gpu: int | None = None
    """``nvidia.com/gpu`` units per GPU when the cloud itself partitions or shares GPUs (GKE)."""
    unreadable: str = ""
    """Why the pool's instance type cannot be read from this resource (a launch template, a launch
    configuration): policies report such pools instead of passing them (fail closed)."""

    @property
    def max_gpus(self) -> int | None:
        if self.max_gpus_limit is not None:
            return self.max_gpus_limit
        if self.gpus_per_node is None or self.max_nodes is None:
            return None
        return self.gpus_per_node * self.max_nodes


def _priced(cloud: str, types: Sequence[str]) -> tuple[int | None, float | None]:
    """GPUs per node and hourly price: the largest over ``types`` (a node group may mix them)."""
    found = [offering(cloud, t) for t in types]
    if not types or any(o is None for o in found):
        return None, None
    offerings = [o for o in found if o is not None]
    prices = [o.hourly_usd for o in offerings]
    gpus = max(o.gpus for o in offerings)
    price = None if any(p is None for p in prices) else max(p for p in prices if p is not None)
    return gpus, price


def _eks_node_group(resource: Resource) -> list[NodePool]:
    props = resource.props
    types = tuple(str_list(props.get("instanceTypes")))
    ami = (as_str(props.get("amiType")) or "").upper()
    gpu = any(is_gpu_instance_type("aws", t) for t in types) or "NVIDIA" in ami or "GPU" in ami
    gpus, price = _priced("aws", types) if gpu else (0, None)
    scaling = as_map(props.get("scalingConfig"))
    return [
        NodePool(
            urn=resource.urn,
            title=f"EKS node group {resource.name}",
            cloud="aws",
            instance_types=types,
            gpu=gpu,
            gpus_per_node=gpus,
            min_nodes=as_int(scaling.get("minSize")),
            max_nodes=as_int(scaling.get("maxSize")),
            labels=str_map(props.get("labels")),
            taints=taints_of(props.get("taints")),
            hourly_usd=price,
        )
    ]


_KARPENTER_GPU_KEYS = (
    "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-gpu-manufacturer",
    "karpenter.k8s.aws/instance-gpu-memory",
)


def _karpenter_node_pool(resource: Resource) -> list[NodePool]:
    spec = as_map(resource.props.get("spec"))
    template = as_map(spec.get("template"))
    requirements = [as_map(r) for r in as_list(dig(template, "spec", "requirements"))]
    types: list[str] = []
    gpu = False
    for requirement in requirements:
        key = as_str(requirement.get("key")) or ""
        operator = as_str(requirement.get("operator")) or ""
        values = str_list(requirement.get("values"))
        if key in _KARPENTER_GPU_KEYS and operator in ("In", "Gt", "Exists"):
            gpu = True
        if key == "node.kubernetes.io/instance-type" and operator == "In":
            types.extend(values)
        if key == "karpenter.k8s.aws/instance-family" and operator == "In":
            gpu = gpu or any(_AWS_GPU_TYPE.match(f"{family}.") for family in values)
    gpu = gpu or any(is_gpu_instance_type("aws", t) for t in types)
    limit = as_int(as_map(spec.get("limits")).get(GPU_RESOURCE))
    gpu = gpu or limit is not None
    gpus, price = _priced("aws", types) if types and gpu else (None, None)
    return [
        NodePool(
            urn=resource.urn,
            title=f"Karpenter NodePool {resource.name}",
            cloud="aws",
            instance_types=tuple(types),
            gpu=gpu,
            gpus_per_node=gpus,
            min_nodes=0,
            max_nodes=None,
            labels=str_map(dig(template, "metadata", "labels")),
            taints=taints_of(dig(template, "spec", "taints")),
            hourly_usd=price,
            max_gpus_limit=limit,
        )
    ]


_GKE_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")  # us-central1
_GKE_CLUSTER_PATH = re.compile(r"(?:^|/)locations/([^/]+)/clusters/")
GKE_DEFAULT_REGIONAL_ZONES = 3
"""Zones a regional GKE cluster (and so its node pools) spans when nobody lists ``nodeLocations``."""


def _gke_zones(props: Mapping[str, Any]) -> int:
    """How many zones a GKE node pool's per-zone counts (``nodeCount``, ``autoscaling.min/maxNodeCount``)
    are multiplied by.

    ``nodeLocations`` when listed. Otherwise the pool runs in its cluster's zones: one for a zonal
    cluster, and for a regional one GKE's default of three zones of the region -- an assumption: a
    cluster whose own ``nodeLocations`` lists other zones is not visible from the pool (GKE picks the
    region's zones; regions with fewer than three zones are rare). The location comes from the pool's
    ``location`` or a ``projects/.../locations/<location>/clusters/...`` ``cluster`` id; an unknown or
    unrecognised location counts as one zone (nothing to multiply by).
    """
    listed = str_list(props.get("nodeLocations"))
    if listed:
        return len(listed)
    location = as_str(props.get("location")) or ""
    if not location:
        found = _GKE_CLUSTER_PATH.search(as_str(props.get("cluster")) or "")
        location = found.group(1) if found else ""
    location = location.strip().lower()
    # A zone (us-central1-a) or anything unrecognised: one zone.
    return GKE_DEFAULT_REGIONAL_ZONES if _GKE_REGION.match(location) else 1


def _gke_node_pool(resource: Resource) -> list[NodePool]:
    props = resource.props
    node_config = as_map(props.get("nodeConfig"))
    machine = as_str(node_config.get("machineType")) or ""
    accelerators = [as_map(a) for a in as_list(node_config.get("guestAccelerators"))]
    attached = sum(as_int(a.get("count")) or 0 for a in accelerators)
    gpu = attached > 0 or bool(_GCP_GPU_MACHINE.match(machine))
    known = offering("gcp", machine) if gpu else None
    gpus = attached if attached > 0 else (known.gpus if known else (0 if not gpu else None))
    price = known.hourly_usd if known else None
    units: int | None = None
    for accelerator in accelerators:
        model = gcp_accelerator_model(as_str(accelerator.get("type")) or "")
        partition = mig_slices(model, as_str(accelerator.get("gpuPartitionSize")) or "") or 1
        shared = as_map(accelerator.get("gpuSharingConfig"))
        clients = as_int(shared.get("maxSharedClientsPerGpu")) if shared else None
        if partition > 1 or clients:
            units = partition * (clients or 1)
    autoscaling = as_map(props.get("autoscaling"))
    zones = _gke_zones(props)
    fixed = as_int(props.get("nodeCount"))
    if fixed is None:
        fixed = as_int(props.get("initialNodeCount"))
    min_nodes: int | None
    max_nodes: int | None
    if autoscaling:
        if "totalMinNodeCount" in autoscaling or "totalMaxNodeCount" in autoscaling:
            min_nodes = as_int(autoscaling.get("totalMinNodeCount"))
            max_nodes = as_int(autoscaling.get("totalMaxNodeCount"))
        else:
            per_zone_min = as_int(autoscaling.get("minNodeCount"))
            per_zone_max = as_int(autoscaling.get("maxNodeCount"))
            min_nodes = None if per_zone_min is None else per_zone_min * zones
            max_nodes = None if per_zone_max is None else per_zone_max * zones
        if min_nodes is None:
            min_nodes = 0
    else:
        min_nodes = max_nodes = None if fixed is None else fixed * zones
    return [
        NodePool(
            urn=resource.urn,
            title=f"GKE node pool {resource.name}",
            cloud="gcp",
            instance_types=(machine,) if machine else (),
            gpu=gpu,
            gpus_per_node=gpus,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            labels=str_map(node_config.get("labels")),
            taints=taints_of(node_config.get("taints")),
            hourly_usd=price,
            autoscaled=bool(autoscaling),
            units_per_gpu=units,
        )
    ]


def _lke_pool(resource: Resource, pool: Mapping[str, object], title: str) -> NodePool:
    plan = as_str(pool.get("type")) or ""
    gpu = is_gpu_instance_type("linode", plan)
    known = offering("linode", plan) if gpu else None
    autoscaler = as_map(pool.get("autoscaler"))
    enabled = as_bool(autoscaler.get("enabled"))
    count = as_int(pool.get("count"))  # LkeCluster pools
    if count is None:
        count = as_int(pool.get("nodeCount"))  # LkeNodePool resources
    autoscaled = bool(autoscaler) and enabled is not False
    return NodePool(
        urn=resource.urn,
        title=title,
        cloud="linode",
        instance_types=(plan,) if plan else (),
        gpu=gpu,
        gpus_per_node=(known.gpus if known else None) if gpu else 0,
        min_nodes=as_int(autoscaler.get("min")) if autoscaled else count,
        max_nodes=as_int(autoscaler.get("max")) if autoscaled else count,
        labels=str_map(pool.get("labels")),
        taints=taints_of(pool.get("taints")),
        hourly_usd=known.hourly_usd if known else None,
        autoscaled=autoscaled,
        floor=1,
    )


def node_pools(resource: Resource) -> list[NodePool]:
    """The node pools ``resource`` declares (LKE clusters may declare several inline)."""
    if resource.type == NODE_GROUP:
        return _eks_node_group(resource)
    if is_karpenter_node_pool(resource.type):
        return _karpenter_node_pool(resource)
    if resource.type == GKE_NODE_POOL:
        return _gke_node_pool(resource)
    if resource.type == LKE_NODE_POOL:
        return [_lke_pool(resource, resource.props, f"LKE node pool {resource.name}")]
    if resource.type == LKE_CLUSTER:
        return [
            _lke_pool(resource, as_map(pool), f"LKE cluster {resource.name} pools[{index}]")
            for index, pool in enumerate(as_list(resource.props.get("pools")))
        ]
    return []


def all_node_pools(resources: Iterable[Resource]) -> list[NodePool]:
    return [pool for resource in resources for pool in node_pools(resource)]


def fmt_labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


# ---------------------------------------------------------------------------------------------------
# Helm


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_CHART_V3 = "kubernetes:helm.sh/v3:Chart"
HELM_TYPES = (HELM_RELEASE, HELM_CHART_V4, HELM_CHART_V3)


@dataclass(frozen=True)
class HelmChart:
    """A chart installed by the stack: its bare name (``gateway-helm``), reference, version, values."""

    resource: Resource
    name: str
    reference: str
    version: str
    values: Mapping[str, object]
    local: bool

    @property
    def via(self) -> str:
        return {HELM_RELEASE: "helm.v3.Release", HELM_CHART_V4: "helm.v4.Chart"}.get(
            self.resource.type, "helm.v3.Chart"
        )


def helm_chart(resource: Resource) -> HelmChart | None:
    if resource.type not in HELM_TYPES:
        return None
    props = resource.props
    reference = as_str(props.get("chart")) or ""
    if not reference:
        return None  # nothing to judge (and not installable either)
    repo = as_str(dig(props, "repositoryOpts", "repo")) or as_str(dig(props, "fetchOpts", "repo")) or ""
    version = as_str(props.get("version")) or ""
    bare = reference
    if bare.startswith("oci://") or "/" in bare:
        bare = bare.rstrip("/").rsplit("/", 1)[-1]
    if ":" in bare and not bare.startswith("oci"):
        bare, tag = bare.split(":", 1)
        version = version or tag
    if bare.endswith(".tgz"):
        bare = re.sub(r"-v?\d+\.\d+\.\d+.*\.tgz$", "", bare)
    local = (
        not repo
        and not reference.startswith(("oci://", "http://", "https://"))
        and (reference.startswith((".", "/")) or bool(as_str(props.get("path"))))
    )
    return HelmChart(
        resource=resource,
        name=bare,
        reference=f"{repo.rstrip('/')}/{reference}" if repo and reference else reference,
        version=version,
        values=as_map(props.get("values")),
        local=local,
    )


def helm_charts(resources: Iterable[Resource]) -> list[HelmChart]:
    return [chart for r in resources if (chart := helm_chart(r)) is not None]


_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def is_exact_version(version: str) -> bool:
    return bool(_SEMVER.match(version.strip()))


def version_matches(version: str, pattern: str) -> bool:
    """``1.8.3`` matches ``v1.8.3``, ``1.8.x`` and ``1.8``; leading ``v`` is ignored on both sides."""
    have = version.strip().lstrip("v").split("+", 1)[0]
    want = pattern.strip().lstrip("v")
    if want.endswith((".x", ".*")):
        want = want[:-2]
    if want.count(".") >= 2:
        return have == want
    return have == want or have.startswith(want + ".")


# ---------------------------------------------------------------------------------------------------
# Workloads


def k8s_kind(type_: str) -> tuple[str, str]:
    """``kubernetes:apps/v1:Deployment`` -> (``apps/v1``, ``Deployment``); empty for other providers."""
    if not type_.startswith("kubernetes:"):
        return "", ""
    parts = type_.split(":")
    if len(parts) != 3:
        return "", ""
    group_version = parts[1]
    if "/" not in group_version and group_version.startswith("v"):
        # apiextensions.CustomResource(api_version="v1", kind="Secret") registers kubernetes:v1:Secret;
        # the provider handles it as the core/v1 kind it is.
        group_version = f"core/{group_version}"
    return group_version, parts[2]


@dataclass(frozen=True)
class PodTemplate:
    """One pod spec inside a workload, with the labels Kueue and admission would see."""

    path: str
    spec: Mapping[str, object]
    labels: Mapping[str, str]


def namespace_of(resource: Resource) -> str:
    return as_str(dig(resource.props, "metadata", "namespace")) or "default"


def _template(path: str, template: object) -> PodTemplate:
    return PodTemplate(path, as_map(dig(template, "spec")), str_map(dig(template, "metadata", "labels")))


def pod_templates(resource: Resource) -> list[PodTemplate]:
    """Every pod spec a workload resource declares (Pods, apps/batch workloads, JobSet, LWS, Ray)."""
    group_version, kind = k8s_kind(resource.type)
    if not kind:
        return []
    spec = as_map(resource.props.get("spec"))
    if group_version == "core/v1" and kind == "Pod":
        return [PodTemplate("spec", spec, str_map(dig(resource.props, "metadata", "labels")))]
    if group_version.startswith(("apps/", "batch/")) and kind in (
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
    ):
        return [_template("spec.template", spec.get("template"))]
    if group_version.startswith("batch/") and kind == "CronJob":
        return [_template("spec.jobTemplate.spec.template", dig(spec, "jobTemplate", "spec", "template"))]
    if group_version.startswith("jobset.x-k8s.io/") and kind == "JobSet":
        return [
            _template(f"spec.replicatedJobs[{i}].template.spec.template", dig(job, "template", "spec", "template"))
            for i, job in enumerate(as_list(spec.get("replicatedJobs")))
        ]
    if group_version.startswith("leaderworkerset.x-k8s.io/") and kind == "LeaderWorkerSet":
        lws = as_map(spec.get("leaderWorkerTemplate"))
        return [
            _template(f"spec.leaderWorkerTemplate.{key}", lws[key])
            for key in ("leaderTemplate", "workerTemplate")
            if key in lws
        ]
    if group_version.startswith("ray.io/") and kind in ("RayJob", "RayCluster", "RayService"):
        cluster = as_map(spec.get("rayClusterSpec") or dig(spec, "rayClusterConfig") or spec)
        prefix = "spec.rayClusterSpec." if "rayClusterSpec" in spec else "spec."
        templates = [_template(prefix + "headGroupSpec.template", dig(cluster, "headGroupSpec", "template"))]
        templates += [
            _template(f"{prefix}workerGroupSpecs[{i}].template", dig(group, "template"))
            for i, group in enumerate(as_list(cluster.get("workerGroupSpecs")))
        ]
        return [t for t in templates if t.spec]
    return []


def containers(spec: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    found: list[tuple[str, Mapping[str, object]]] = []
    for field_name in ("initContainers", "containers", "ephemeralContainers"):
        for index, item in enumerate(as_list(spec.get(field_name))):
            container = as_map(item)
            found.append((as_str(container.get("name")) or f"{field_name}[{index}]", container))
    return found


def requests_gpu(spec: Mapping[str, object], resource_names: Sequence[str]) -> bool:
    for _, container in containers(spec):
        resources = as_map(container.get("resources"))
        for section in ("limits", "requests"):
            for name, amount in as_map(resources.get(section)).items():
                wanted = name in resource_names or name.startswith("nvidia.com/mig-")
                if wanted and (as_number(amount) or 0) > 0:
                    return True
    return False


# ---------------------------------------------------------------------------------------------------
# Credentials


_CREDENTIAL_SUFFIXES = (
    "password",
    "passwd",
    "token",
    "apikey",
    "clientsecret",
    "secretkey",
    "secretaccesskey",
    "privatekey",
    "clientkey",
    "clientkeydata",
    "presharedkey",
    "signingkey",
    "hmackey",
    "kubeconfig",
    "credentials",
)
_EMBEDDED_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.:-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)
"""``scheme://user:password@`` -- the user may be empty (``redis://:pw@host``), the scheme may nest
(``jdbc:postgresql://``)."""
_DSN_PASSWORD = re.compile(r"(?:^|\s)(?:password|passwd|pwd)\s*=\s*('[^']+'|[^\s'$][^\s]*)", re.IGNORECASE)
"""libpq/ODBC key=value connection strings: ``host=db user=app password=hunter2``."""
_QUERY_PASSWORD = re.compile(r"[?&;](?:password|passwd|pwd|secret|token|apikey|api_key)=[^&;\s$]+", re.IGNORECASE)
"""``jdbc:postgresql://db/app?user=app&password=hunter2`` and ``...;password=x`` (JDBC/ADO)."""


def credential_in_text(value: str) -> str | None:
    """What kind of credential a literal string carries (a URI with userinfo, a DSN ``password=``, a
    ``?password=`` query parameter), or ``None``."""
    text = value.strip()
    if _EMBEDDED_CREDENTIALS.match(text):
        return "a URI with embedded credentials"
    if (_QUERY_PASSWORD.search(text) and "://" in text) or (text.startswith("jdbc:") and _QUERY_PASSWORD.search(text)):
        return "a connection string with a password parameter"
    if _DSN_PASSWORD.search(text):
        return "a connection string with password="
    return None


def normalized_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def is_credential_key(key: str) -> bool:
    """Whether a property/env name denotes a credential (``DB_PASSWORD``, ``hfToken``, ``apiKey``)."""
    return normalized_key(key).endswith(_CREDENTIAL_SUFFIXES)


def has_embedded_credentials(value: str) -> bool:
    """``postgres://user:pass@host/db``, ``redis://:pass@host``, libpq ``password=...`` and friends."""
    return credential_in_text(value) is not None
