"""cloud-eks-node-imdsv2: EKS nodes answer instance-metadata requests only from the node itself.

A managed node group without a launch template gets EKS's defaults, and pods that reach the instance
metadata service (IMDS) read the node role's credentials: everything the node role may do (pull
images, attach ENIs with the CNI policy, ...) any pod may do. A launch template with
``metadataOptions.httpTokens: required`` (IMDSv2 only) and ``httpPutResponseHopLimit: 1`` stops that:
the IMDSv2 token response cannot travel the extra hop into a pod's network namespace (``hostNetwork``
pods, like aws-node, are on the host and still reach it). Checked on every ``aws:eks/nodeGroup``: it
names a launch template, the template is in this stack (found among the node group's dependencies or
by id; one that cannot be inspected is reported), and it requires tokens with a hop limit of 1. An
IMDS endpoint switched off (``httpEndpoint: disabled``) passes as well.

Reads:
    aws:eks/nodeGroup:NodeGroup: launchTemplate.id, launchTemplate.name (and the node group's dependencies)
    aws:ec2/launchTemplate:LaunchTemplate: metadataOptions.httpEndpoint, httpTokens, httpPutResponseHopLimit
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import NODE_GROUP, Finding, Meta, Resource, as_int, as_map, as_str, stack_policy

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
MAX_HOP_LIMIT = 1

META = Meta(
    name="cloud-eks-node-imdsv2",
    description=(
        "EKS node groups must use a launch template that requires IMDSv2 with a hop limit of 1, so pods cannot "
        "read the node role's credentials."
    ),
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "identity", "security"),
    remediation=(
        "Give every aws.eks.NodeGroup a launchTemplate whose aws.ec2.LaunchTemplate sets metadataOptions "
        "{httpEndpoint: enabled, httpTokens: required, httpPutResponseHopLimit: 1} (move diskSize into the "
        "template's block device mapping); give pods AWS access through EKS Pod Identity instead."
    ),
    rationale="Pods that reach IMDS act as the node role; hop limit 1 keeps the token on the node.",
)


def _template_for(node_group: Resource, templates: Sequence[Resource]) -> Resource | None:
    reference = as_map(node_group.props.get("launchTemplate"))
    wanted_id, wanted_name = as_str(reference.get("id")), as_str(reference.get("name"))
    for template in templates:
        if template.urn in node_group.dependencies:
            return template
        if wanted_id and template.props.get("id") == wanted_id:
            return template
        if wanted_name and template.props.get("name") == wanted_name:
            return template
    return None


def _metadata_problems(template: Resource) -> Iterator[str]:
    options = as_map(template.props.get("metadataOptions"))
    if str(options.get("httpEndpoint") or "enabled").lower() == "disabled":
        return
    if str(options.get("httpTokens") or "optional").lower() != "required":
        yield f"launch template {template.name} does not require IMDSv2 (metadataOptions.httpTokens is not required)"
    hop_limit = as_int(options.get("httpPutResponseHopLimit"))
    if hop_limit is None or hop_limit > MAX_HOP_LIMIT:
        shown = "unset" if hop_limit is None else str(hop_limit)
        yield (
            f"launch template {template.name} lets IMDS answers reach pods "
            f"(metadataOptions.httpPutResponseHopLimit is {shown}, not 1)"
        )


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    templates = [r for r in resources if r.type == LAUNCH_TEMPLATE]
    for node_group in (r for r in resources if r.type == NODE_GROUP):
        if not as_map(node_group.props.get("launchTemplate")):
            yield Finding(
                "no launchTemplate: nodes get EKS's metadata defaults and pods can read the node role's credentials "
                "from IMDS",
                node_group.urn,
            )
            continue
        template = _template_for(node_group, templates)
        if template is None:
            yield Finding(
                "its launch template is not in this stack, so IMDSv2 and the hop limit cannot be checked",
                node_group.urn,
            )
            continue
        for problem in _metadata_problems(template):
            yield Finding(problem, node_group.urn)


POLICY = stack_policy(META, check)
