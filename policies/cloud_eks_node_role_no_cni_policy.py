"""cloud-eks-node-role-no-cni-policy: the EKS node role does not carry AmazonEKS_CNI_Policy.

``AmazonEKS_CNI_Policy`` lets its holder create, attach, detach and delete network interfaces and
assign IP addresses anywhere in the account. On the node role every process on every node has it
(and, without an IMDS hop limit, every pod). The VPC CNI's ``aws-node`` should get it through its own
role (EKS Pod Identity or IRSA) instead. Checked: every IAM role a node group uses (found among the
node group's dependencies or by its ARN) has no ``aws:iam/rolePolicyAttachment`` of the policy, and
no ``managedPolicyArns`` entry for it.

Reads:
    aws:eks/nodeGroup:NodeGroup: nodeRoleArn (and the node group's dependencies)
    aws:iam/role:Role: arn, name, managedPolicyArns
    aws:iam/rolePolicyAttachment:RolePolicyAttachment: role, policyArn (and its dependencies)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import NODE_GROUP, Finding, Meta, Resource, as_str, stack_policy, str_list

ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
CNI_POLICY = "AmazonEKS_CNI_Policy"

META = Meta(
    name="cloud-eks-node-role-no-cni-policy",
    description="EKS node roles must not carry AmazonEKS_CNI_Policy; aws-node gets it through its own role.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "identity", "security"),
    remediation=(
        "Attach AmazonEKS_CNI_Policy to a role only kube-system/aws-node can assume (the vpc-cni add-on's "
        "podIdentityAssociations, or IRSA) and remove it from the node role."
    ),
    rationale="On the node role, ENI create/delete account-wide is granted to every process on every node.",
)


def _is_cni_policy(arn: str | None) -> bool:
    return bool(arn) and str(arn).rsplit("/", 1)[-1] == CNI_POLICY


def _node_roles(resources: Sequence[Resource]) -> dict[str, Resource]:
    roles = [r for r in resources if r.type == ROLE]
    found: dict[str, Resource] = {}
    for node_group in (r for r in resources if r.type == NODE_GROUP):
        arn = as_str(node_group.props.get("nodeRoleArn"))
        for role in roles:
            if role.urn in node_group.dependencies or (arn and role.props.get("arn") == arn):
                found[role.urn] = role
    return found


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    node_roles = _node_roles(resources)
    for role in node_roles.values():
        if any(_is_cni_policy(arn) for arn in str_list(role.props.get("managedPolicyArns"))):
            yield Finding(f"node role {role.name} lists {CNI_POLICY} in managedPolicyArns", role.urn)
    names = {as_str(role.props.get("name")): urn for urn, role in node_roles.items() if role.props.get("name")}
    for attachment in (r for r in resources if r.type == ATTACHMENT):
        if not _is_cni_policy(as_str(attachment.props.get("policyArn"))):
            continue
        role_urn = next((u for u in attachment.dependencies if u in node_roles), None)
        role_urn = role_urn or names.get(as_str(attachment.props.get("role")))
        if role_urn is not None:
            yield Finding(
                f"attaches {CNI_POLICY} to node role {node_roles[role_urn].name}: every node may create and delete "
                "network interfaces account-wide",
                attachment.urn,
            )


POLICY = stack_policy(META, check)
