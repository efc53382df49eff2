"""Every compute resource of each cloud as node pools, beyond the shapes gpuplane itself registers.

``_support.node_pools`` reads EKS managed node groups, Karpenter NodePools, GKE node pools and LKE
pools; this module adds what a hand-written program can use to buy GPUs (and CPUs) as well:

- AWS: node groups whose instance type comes from a **launch template** (``amiType: CUSTOM``, no
  ``instanceTypes``), **self-managed auto scaling groups** (``launchTemplate``, ``mixedInstancesPolicy``
  overrides), the **launch templates** themselves (``instanceType``, kubelet taints in ``userData``) and
  plain **EC2 instances**. EKS node groups with neither ``instanceTypes`` nor a launch template get
  EKS's default ``t3.medium``.
- GCP: the cluster's **default node pool** (``nodeConfig`` + ``initialNodeCount`` on the Cluster, unless
  ``removeDefaultNodePool``), its **inline** ``nodePools``, node auto-provisioning
  (``clusterAutoscaling.resourceLimits`` for ``nvidia-*``) and plain **Compute Engine instances**.
- Linode: plain **Linode instances** of GPU plans (LKE pools are read in ``_support``).

Stack policies resolve a node group's or group's launch template by name or id among the stack's
resources (:func:`stack_node_pools`); what cannot be resolved keeps ``gpu=None`` semantics through
``unreadable`` and is reported by the policies (fail closed).

Non-GPU instance prices (the cost cap prices the system pool too) are in :data:`CPU_PRICES`: on-demand
list prices, USD per hour, recorded from the providers' public price pages (AWS us-east-1 Linux,
GCP us-central1, Linode/Akamai plans) as of 2026-12 -- from memory of those pages, not re-fetched
offline here (docs/decisions/policy-pack-properties.md). Unknown types are reported, not guessed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ._support import (
    EKS_CLUSTER,
    GKE_CLUSTER,
    NODE_GROUP,
    NodePool,
    Resource,
    _gke_node_pool,  # pyright: ignore[reportPrivateUsage]
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    dig,
    gcp_accelerator_model,
    is_gpu_instance_type,
    node_pools,
    offering,
    str_list,
    str_map,
    taints_of,
)

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
EC2_INSTANCE = "aws:ec2/instance:Instance"
GCE_INSTANCE = "gcp:compute/instance:Instance"
LINODE_INSTANCE = "linode:index/instance:Instance"
EKS_DEFAULT_INSTANCE_TYPE = "t3.medium"
"""What EKS launches for a managed node group without instanceTypes or a launch template (AWS EKS API
reference, CreateNodegroup ``instanceTypes``)."""

CPU_PRICES: Mapping[str, Mapping[str, float]] = {
    "aws": {
        "t3.medium": 0.0416,
        "t3.large": 0.0832,
        "m5.large": 0.096,
        "m5.xlarge": 0.192,
        "m6i.large": 0.096,
        "m6i.xlarge": 0.192,
        "m6i.2xlarge": 0.384,
        "m7i.large": 0.1008,
        "m7i.xlarge": 0.2016,
        "u-24tb1.metal": 218.4,
    },
    "gcp": {
        "e2-standard-4": 0.134012,
        "e2-standard-8": 0.268024,
        "e2-standard-16": 0.536048,
        "n2-standard-4": 0.194236,
    },
    "linode": {
        "g6-standard-4": 0.072,
        "g6-dedicated-4": 0.108,
        "g6-dedicated-8": 0.216,
        "g6-dedicated-16": 0.432,
    },
}


def hourly_price(cloud: str, instance_type: str) -> float | None:
    """The list price of any instance type the pack knows (GPU catalog first)."""
    known = offering(cloud, instance_type)
    if known is not None and known.hourly_usd is not None:
        return known.hourly_usd
    return as_map(CPU_PRICES.get(cloud)).get(instance_type)  # type: ignore[return-value]


def _aws_pool(
    resource: Resource,
    title: str,
    types: Sequence[str],
    min_nodes: int | None,
    max_nodes: int | None,
    taints: tuple[Any, ...] = (),
    labels: Mapping[str, str] | None = None,
    unreadable: str = "",
) -> NodePool:
    types = tuple(t.strip().lower() for t in types if t)
    gpu = any(is_gpu_instance_type("aws", t) for t in types)
    gpus: int | None = 0
    price: float | None = None
    if types:
        offerings = [offering("aws", t) for t in types]
        gpus = max(
            (o.gpus if o else (None if is_gpu_instance_type("aws", t) else 0)) or 0
            for o, t in zip(offerings, types, strict=True)
        )
        if any(o is None and is_gpu_instance_type("aws", t) for o, t in zip(offerings, types, strict=True)):
            gpus = None
        prices = [hourly_price("aws", t) for t in types]
        price = None if any(p is None for p in prices) else max(p for p in prices if p is not None)
    return NodePool(
        urn=resource.urn,
        title=title,
        cloud="aws",
        instance_types=types,
        gpu=gpu,
        gpus_per_node=gpus,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        labels=labels or {},
        taints=taints,
        hourly_usd=price,
        unreadable=unreadable,
    )


# -- AWS launch templates ------------------------------------------------------------------------------

_KUBELET_TAINTS = re.compile(r"register-with-taints[=\s]+\"?([^\s\"']+)")
_NODEADM_TAINT = re.compile(r"key:\s*[\"']?([\w./-]+)[\"']?.{0,80}?effect:\s*[\"']?(\w+)", re.DOTALL)


def user_data_text(props: Mapping[str, Any]) -> str | None:
    """A launch template's user data as text (it is base64 on the wire); ``None`` when it is not base64."""
    raw = as_str(props.get("userData"))
    if not raw:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def user_data_taints(text: str) -> list[tuple[str, str]]:
    """(key, effect) of the kubelet taints user data registers (``--register-with-taints`` or nodeadm)."""
    found: list[tuple[str, str]] = []
    for group in _KUBELET_TAINTS.findall(text):
        for taint in str(group).split(","):
            key = taint.split("=", 1)[0].split(":", 1)[0]
            effect = taint.rsplit(":", 1)[-1] if ":" in taint else ""
            found.append((key, effect))
    for key, effect in _NODEADM_TAINT.findall(text):
        found.append((str(key), str(effect)))
    return found


def _launch_template_pool(resource: Resource) -> NodePool:
    props = resource.props
    itype = as_str(props.get("instanceType")) or ""
    text = user_data_text(props)
    taints = tuple(_taint(key, effect) for key, effect in (user_data_taints(text) if text else []))
    unreadable = "its userData is not base64, so its kubelet taints cannot be read" if text is None else ""
    return _aws_pool(
        resource, f"EC2 launch template {resource.name}", [itype] if itype else [], 0, 0, taints, unreadable=unreadable
    )


def _taint(key: str, effect: str) -> Any:
    return taints_of([{"key": key, "effect": effect}])[0]


def _template_ref(spec: object) -> tuple[str, str]:
    ref = as_map(spec)
    return as_str(ref.get("id")) or "", as_str(ref.get("name")) or ""


def _eks_node_group(resource: Resource) -> list[NodePool]:
    """Managed node groups with a launch template and no instanceTypes (or none at all: t3.medium)."""
    props = resource.props
    types = str_list(props.get("instanceTypes"))
    template = props.get("launchTemplate")
    if types or not as_map(template):
        pools = node_pools(resource)
        if not types and not any(pool.gpu for pool in pools):  # a GPU AMI without types stays unknown (reported)
            scaling = as_map(props.get("scalingConfig"))
            pools = [
                _aws_pool(
                    resource,
                    f"EKS node group {resource.name}",
                    [EKS_DEFAULT_INSTANCE_TYPE],
                    as_int(scaling.get("minSize")),
                    as_int(scaling.get("maxSize")),
                    taints_of(props.get("taints")),
                    str_map(props.get("labels")),
                )
            ]
        return pools
    scaling = as_map(props.get("scalingConfig"))
    ident, name = _template_ref(template)
    return [
        _aws_pool(
            resource,
            f"EKS node group {resource.name}",
            [],
            as_int(scaling.get("minSize")),
            as_int(scaling.get("maxSize")),
            taints_of(props.get("taints")),
            str_map(props.get("labels")),
            unreadable=f"its instance type comes from launch template {name or ident or '(unnamed)'}",
        )
    ]


def _asg(resource: Resource) -> list[NodePool]:
    props = resource.props
    mixed = as_map(props.get("mixedInstancesPolicy"))
    lt = as_map(dig(mixed, "launchTemplate"))
    overrides = [as_str(as_map(o).get("instanceType")) or "" for o in as_list(lt.get("overrides"))]
    overrides = [o for o in overrides if o]
    template = lt.get("launchTemplateSpecification") if lt else props.get("launchTemplate")
    ident, name = _template_ref(template)
    unreadable = ""
    if not overrides:
        if as_str(props.get("launchConfiguration")):
            unreadable = f"its instance type comes from launch configuration {props.get('launchConfiguration')}"
        else:
            unreadable = f"its instance type comes from launch template {name or ident or '(none given)'}"
    tags = {
        as_str(as_map(t).get("key")) or "": as_str(as_map(t).get("value")) or "" for t in as_list(props.get("tags"))
    }
    prefix = "k8s.io/cluster-autoscaler/node-template/taint/"
    taints = tuple(
        _taint(k.removeprefix(prefix), v.rsplit(":", 1)[-1]) for k, v in tags.items() if k.startswith(prefix)
    )
    return [
        _aws_pool(
            resource,
            f"auto scaling group {resource.name}",
            overrides,
            as_int(props.get("minSize")),
            as_int(props.get("maxSize")),
            taints,
            unreadable=unreadable,
        )
    ]


def _ec2_instance(resource: Resource) -> list[NodePool]:
    props = resource.props
    itype = as_str(props.get("instanceType")) or ""
    text = user_data_text({"userData": base64.b64encode((as_str(props.get("userData")) or "").encode()).decode()})
    taints = tuple(_taint(k, e) for k, e in user_data_taints(text or ""))
    return [
        _aws_pool(
            resource,
            f"EC2 instance {resource.name}",
            [itype] if itype else [],
            1,
            1,
            taints,
            unreadable="" if itype else "it has no instanceType",
        )
    ]


# -- GCP -------------------------------------------------------------------------------------------


def _gke_cluster(resource: Resource) -> list[NodePool]:
    props = resource.props
    location = as_str(props.get("location")) or ""
    pools: list[NodePool] = []
    if as_bool(props.get("removeDefaultNodePool")) is not True and (
        props.get("nodeConfig") is not None or props.get("initialNodeCount") is not None
    ):
        default: dict[str, Any] = {
            "nodeConfig": props.get("nodeConfig") or {},
            "initialNodeCount": props.get("initialNodeCount"),
            "location": location,
            "nodeLocations": props.get("nodeLocations"),
        }
        if "initialNodeCount" not in props:
            default["initialNodeCount"] = 1
        pool = _gke_node_pool(Resource(resource.type, resource.name, resource.urn, default))[0]
        pools.append(replace(pool, title=f"GKE cluster {resource.name} default node pool", autoscaled=False))
    for index, inline in enumerate(as_map(p) for p in as_list(props.get("nodePools"))):
        merged = {"location": location, "nodeLocations": props.get("nodeLocations"), **inline}
        pool = _gke_node_pool(Resource(resource.type, resource.name, resource.urn, merged))[0]
        name = as_str(inline.get("name")) or str(index)
        pools.append(replace(pool, title=f"GKE cluster {resource.name} nodePools[{name}]"))
    autoscaling = as_map(props.get("clusterAutoscaling"))
    if as_bool(autoscaling.get("enabled")) is True:
        limit = 0
        for item in as_list(autoscaling.get("resourceLimits")):
            entry = as_map(item)
            kind = as_str(entry.get("resourceType")) or ""
            if kind.startswith("nvidia-") or gcp_accelerator_model(kind):
                limit += as_int(entry.get("maximum")) or 0
        if limit:
            pools.append(
                NodePool(
                    urn=resource.urn,
                    title=f"GKE cluster {resource.name} node auto-provisioning",
                    cloud="gcp",
                    instance_types=(),
                    gpu=True,
                    gpus_per_node=None,
                    min_nodes=0,
                    max_nodes=None,
                    labels={},
                    taints=(_taint("nvidia.com/gpu", "NoSchedule"),),  # GKE taints auto-provisioned GPU nodes
                    hourly_usd=None,
                    max_gpus_limit=limit,
                )
            )
    return pools


def _gce_instance(resource: Resource) -> list[NodePool]:
    props = resource.props
    machine = as_str(props.get("machineType")) or ""
    accelerators = [as_map(a) for a in as_list(props.get("guestAccelerators"))]
    attached = sum(as_int(a.get("count")) or 0 for a in accelerators)
    known = offering("gcp", machine)
    gpu = attached > 0 or is_gpu_instance_type("gcp", machine)
    return [
        NodePool(
            urn=resource.urn,
            title=f"Compute Engine instance {resource.name}",
            cloud="gcp",
            instance_types=(machine,) if machine else (),
            gpu=gpu,
            gpus_per_node=attached or (known.gpus if known else (None if gpu else 0)),
            min_nodes=1,
            max_nodes=1,
            labels=str_map(props.get("labels")),
            taints=(),
            hourly_usd=hourly_price("gcp", machine),
        )
    ]


def _linode_instance(resource: Resource) -> list[NodePool]:
    plan = as_str(resource.props.get("type")) or ""
    gpu = is_gpu_instance_type("linode", plan)
    known = offering("linode", plan)
    return [
        NodePool(
            urn=resource.urn,
            title=f"Linode instance {resource.name}",
            cloud="linode",
            instance_types=(plan,) if plan else (),
            gpu=gpu,
            gpus_per_node=(known.gpus if known else None) if gpu else 0,
            min_nodes=1,
            max_nodes=1,
            labels={},
            taints=(),
            hourly_usd=hourly_price("linode", plan),
            autoscaled=False,
        )
    ]


def _launch_templates(resource: Resource) -> list[NodePool]:
    return [_launch_template_pool(resource)]


_READERS: Mapping[str, Callable[[Resource], list[NodePool]]] = {
    NODE_GROUP: _eks_node_group,
    AUTOSCALING_GROUP: _asg,
    LAUNCH_TEMPLATE: _launch_templates,
    EC2_INSTANCE: _ec2_instance,
    GKE_CLUSTER: _gke_cluster,
    GCE_INSTANCE: _gce_instance,
    LINODE_INSTANCE: _linode_instance,
}


def compute_pools(resource: Resource) -> list[NodePool]:
    """The node pools ``resource`` declares, on its own (launch templates unresolved)."""
    reader = _READERS.get(resource.type)
    return reader(resource) if reader is not None else node_pools(resource)


def _templates(resources: Iterable[Resource]) -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for resource in resources:
        if resource.type != LAUNCH_TEMPLATE:
            continue
        for key in (
            as_str(resource.props.get("name")),
            as_str(resource.props.get("id")),
            f"{resource.name}-id",
            resource.name,
        ):
            if key:
                found[key] = resource
    return found


def stack_node_pools(resources: Sequence[Resource]) -> list[NodePool]:
    """Every node pool of the stack, launch templates resolved where the stack declares them; launch
    templates themselves are not pools (they are counted through the groups that use them)."""
    templates = _templates(resources)
    pools: list[NodePool] = []
    for resource in resources:
        if resource.type in (LAUNCH_TEMPLATE, EKS_CLUSTER):
            continue
        for pool in compute_pools(resource):
            if pool.unreadable.startswith("its instance type comes from launch template"):
                ref = resource.props.get("launchTemplate") or dig(
                    resource.props, "mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification"
                )
                ident, name = _template_ref(ref)
                template = templates.get(name) or templates.get(ident)
                itype = as_str(template.props.get("instanceType")) if template else None
                if template is not None and itype:
                    taints = pool.taints + _launch_template_pool(template).taints
                    pools.append(
                        _aws_pool(resource, pool.title, [itype], pool.min_nodes, pool.max_nodes, taints, pool.labels)
                    )
                    continue
            pools.append(pool)
    return pools
