"""cloud-eks-volumes-have-csi-driver: an EKS stack that asks for volumes can provision them.

EKS clusters (Kubernetes 1.30 and later) mark no StorageClass as default and ship no EBS CSI driver:
a PersistentVolumeClaim stays Pending forever, so a Postgres StatefulSet never starts (and ``up`` times
out waiting for it) and Prometheus runs without its volume. Checked on stacks with an
``aws:eks/cluster:Cluster``: when anything asks for a volume — a PersistentVolumeClaim, a StatefulSet
with ``volumeClaimTemplates``, a Helm release whose values hold a ``volumeClaimTemplate(s)`` or an
enabled ``persistence`` block — the stack must install the ``aws-ebs-csi-driver`` add-on
(``aws:eks/addon:Addon``) and a default StorageClass
(``storageclass.kubernetes.io/is-default-class: "true"``) provisioned by ``ebs.csi.aws.com``.
Each volume user is reported, so the message says what would stay Pending.

Reads:
    aws:eks/cluster:Cluster: (presence)
    aws:eks/addon:Addon: addonName
    kubernetes:storage.k8s.io/v1:StorageClass: metadata.annotations, provisioner
    kubernetes:core/v1:PersistentVolumeClaim, kubernetes:apps/v1:StatefulSet: spec.volumeClaimTemplates
    kubernetes:helm.sh/v3:Release, kubernetes:helm.sh/v4:Chart: values
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import EKS_CLUSTER, HELM_TYPES, Finding, Meta, Resource, as_bool, as_list, as_map, dig, stack_policy

EKS_ADDON = "aws:eks/addon:Addon"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"

META = Meta(
    name="cloud-eks-volumes-have-csi-driver",
    description=(
        "EKS stacks whose workloads request volumes must install the aws-ebs-csi-driver add-on and a default "
        "StorageClass it provisions."
    ),
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("cloud", "aws", "eks", "storage", "availability"),
    remediation=(
        "Install the aws-ebs-csi-driver EKS add-on (with its own Pod Identity role) and a StorageClass annotated "
        "storageclass.kubernetes.io/is-default-class: 'true' with provisioner ebs.csi.aws.com, created before "
        "anything that asks for a volume (gpuplane's EksGpuCluster does)."
    ),
    rationale="EKS ships no CSI driver and no default StorageClass: every PVC stays Pending and its pod never starts.",
)


def _asks_for_volumes(values: object) -> bool:
    """Whether Helm values anywhere declare a claim template or enabled persistence."""
    stack: list[object] = [values]
    while stack:
        node = stack.pop()
        mapping = as_map(node)
        for key, value in mapping.items():
            if key in {"volumeClaimTemplate", "volumeClaimTemplates"} and value:
                return True
            if key == "persistence" and as_bool(as_map(value).get("enabled")) is True:
                return True
            stack.append(value)
        if not isinstance(node, Mapping):  # as_list wraps a mapping in a list: descend into sequences only
            stack.extend(as_list(node))
    return False


def _volume_users(resources: Sequence[Resource]) -> Iterator[tuple[Resource, str]]:
    for resource in resources:
        if resource.type == PVC:
            yield resource, "PersistentVolumeClaim"
        elif resource.type == STATEFUL_SET and as_list(dig(resource.props, "spec", "volumeClaimTemplates")):
            yield resource, "StatefulSet volumeClaimTemplates"
        elif resource.type in HELM_TYPES and _asks_for_volumes(resource.props.get("values")):
            yield resource, "Helm values with a volume claim or persistence"


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    if not any(r.type == EKS_CLUSTER for r in resources):
        return
    users = list(_volume_users(resources))
    if not users:
        return
    missing: list[str] = []
    if not any(r.type == EKS_ADDON and r.props.get("addonName") == EBS_CSI_ADDON for r in resources):
        missing.append(f"no {EBS_CSI_ADDON} add-on")
    defaults = [
        r
        for r in resources
        if r.type == STORAGE_CLASS
        and str(as_map(dig(r.props, "metadata", "annotations")).get(DEFAULT_CLASS, "")).lower() == "true"
    ]
    if not defaults:
        missing.append("no default StorageClass")
    elif not any(r.props.get("provisioner") == EBS_CSI_PROVISIONER for r in defaults):
        missing.append(f"the default StorageClass is not provisioned by {EBS_CSI_PROVISIONER}")
    if not missing:
        return
    for resource, what in users:
        yield Finding(f"{what} on EKS with {' and '.join(missing)}: the volume stays Pending", resource.urn)


POLICY = stack_policy(META, check)
