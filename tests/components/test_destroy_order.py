"""``pulumi destroy`` order, read from the recorded dependency graph of the real example stacks.

What: the engine deletes a resource before everything it depends on (``dependencies``, property
dependencies, its provider, its parent) and *skips* the delete call of a resource whose
``deleted_with`` target is deleted in the same operation (pulumi/pulumi ``pkg/resource/deploy/step.go``,
``DeleteStep.Apply``/``isDeletedWith``; ``deleted_with`` is inherited from the parent when unset,
``source_eval.go``). So an object that owns a cloud resource must (a) have no ``deleted_with`` on it or
any ancestor, and (b) reach, through the graph, the things that must still exist while it is deleted:
the system node group (its controllers run there), the CSI driver and StorageClass (volumes), the
cluster and the VPC. Otherwise its LoadBalancer or PersistentVolume outlives the cluster and, on EKS,
the VPC deletion fails (DependencyViolation).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gpuplane.plan import StackPlan
from gpuplane.recording import RecordedResource, Recording
from tests.support import example_plan

K8S_RELEASE = "kubernetes:helm.sh/v3:Release"
OWNERS = {
    # (type, name): what it owns in the cloud
    ("kubernetes:core/v1:Service", "gpuplane-gateway-load-balancer"): "LoadBalancer",
    (K8S_RELEASE, "gpuplane-observability-stack"): "Prometheus PersistentVolume",
    ("kubernetes:apps/v1:StatefulSet", "gpuplane-openfga-postgres"): "Postgres PersistentVolume",
}
VOLUME_OWNERS = {k for k, v in OWNERS.items() if "PersistentVolume" in v}


@pytest.fixture(scope="module")
def aws() -> StackPlan:
    plan = example_plan("aws-dev")
    assert not plan.errors
    return plan


def _edges(rec: Recording, resource: RecordedResource) -> Iterator[str]:
    yield from resource.dependencies
    for deps in resource.property_dependencies.values():
        yield from deps
    if resource.provider:
        yield resource.provider.rsplit("::", 1)[0]
    if resource.parent:
        yield resource.parent


def _by_urn(rec: Recording) -> dict[str, RecordedResource]:
    return {r.urn: r for r in rec.resources}


def deleted_before(rec: Recording, first: RecordedResource, then: RecordedResource) -> bool:
    """Whether destroy deletes ``first`` before ``then`` (``then`` is reachable from ``first``)."""
    seen: set[str] = set()
    todo = [first.urn]
    while todo:
        urn = todo.pop()
        if urn == then.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        resource = _by_urn(rec).get(urn)
        if resource is not None:  # the stack itself and default providers are not recorded
            todo.extend(u for u in _edges(rec, resource) if u not in seen)
    return False


def effective_deleted_with(rec: Recording, resource: RecordedResource) -> str:
    """``deleted_with`` as the engine applies it: the resource's own, else the nearest ancestor's."""
    current: RecordedResource | None = resource
    while current is not None:
        if current.deleted_with:
            return current.deleted_with
        current = _by_urn(rec).get(current.parent)
    return ""


def _owner(rec: Recording, type_: str, name: str) -> RecordedResource:
    (found,) = [r for r in rec.of_type(type_) if r.name == name]
    return found


@pytest.mark.parametrize(("type_", "name"), sorted(OWNERS))
def test_cloud_resource_owners_are_really_deleted(aws: StackPlan, type_: str, name: str) -> None:
    rec = aws.recording
    owner = _owner(rec, type_, name)
    assert effective_deleted_with(rec, owner) == "", f"{name} ({OWNERS[type_, name]}) would be skipped on destroy"


@pytest.mark.parametrize(("type_", "name"), sorted(OWNERS))
def test_cloud_resource_owners_are_deleted_before_nodes_cluster_and_vpc(aws: StackPlan, type_: str, name: str) -> None:
    rec = aws.recording
    owner = _owner(rec, type_, name)
    for later in ("gpuplane-cluster-system-nodes", "gpuplane-cluster-cluster", "gpuplane-cluster-vpc"):
        assert deleted_before(rec, owner, rec.named(later)), f"{name} is not deleted before {later}"


@pytest.mark.parametrize(("type_", "name"), sorted(VOLUME_OWNERS))
def test_volume_owners_go_before_the_storage_class_and_the_csi_driver(aws: StackPlan, type_: str, name: str) -> None:
    rec = aws.recording
    owner = _owner(rec, type_, name)
    for later in ("gpuplane-cluster-gp3", "gpuplane-cluster-ebs-csi"):
        assert deleted_before(rec, owner, rec.named(later)), f"{name} is not deleted before {later}"


def test_volume_owners_delete_their_claims_with_them(aws: StackPlan) -> None:
    rec = aws.recording
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    postgres = _owner(rec, "kubernetes:apps/v1:StatefulSet", "gpuplane-openfga-postgres")
    assert postgres.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == policy
    stack = _owner(rec, K8S_RELEASE, "gpuplane-observability-stack")
    assert stack.inputs["values"]["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == policy
    # helm uninstall waits for the release's objects (pulumi-kubernetes helm_release.go: Atomic -> Wait)
    assert stack.inputs["atomic"] is True


def test_storage_class_outlives_its_claims_but_not_the_csi_driver(aws: StackPlan) -> None:
    rec = aws.recording
    storage_class = rec.named("gpuplane-cluster-gp3")
    assert effective_deleted_with(rec, storage_class) == ""
    assert deleted_before(rec, storage_class, rec.named("gpuplane-cluster-ebs-csi"))


def test_everything_else_in_the_cluster_still_goes_with_it(aws: StackPlan) -> None:
    """Objects that own nothing outside the cluster keep ``deleted_with``: destroy stays fast."""
    rec = aws.recording
    cluster = rec.named("gpuplane-cluster-cluster").urn
    owners = {(r.type, r.name) for r in rec.resources} & set(OWNERS)
    in_cluster = [
        r
        for r in rec.resources
        if r.type.startswith("kubernetes:")
        and r.custom
        and (r.type, r.name) not in owners
        and r.name != "gpuplane-cluster-gp3"
    ]
    assert in_cluster
    assert all(effective_deleted_with(rec, r) == cluster for r in in_cluster), [
        r.name for r in in_cluster if effective_deleted_with(rec, r) != cluster
    ]


def test_the_load_balancer_is_the_stacks_and_envoy_gateway_makes_none(aws: StackPlan) -> None:
    """Envoy Gateway deletes its own Service without anyone waiting (no blocking owner reference, no
    finalizer on the Gateway), so the cloud load balancer hangs off a Service the stack owns."""
    rec = aws.recording
    service = _owner(rec, "kubernetes:core/v1:Service", "gpuplane-gateway-load-balancer")
    spec = service.inputs["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["selector"]["gateway.envoyproxy.io/owning-gateway-name"] == "gpuplane-ai"
    assert spec["ports"] == [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 10443}]
    (proxy,) = rec.of_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy")
    assert proxy.inputs["spec"]["provider"]["kubernetes"]["envoyService"] == {"type": "ClusterIP"}
    assert rec.named("gpuplane-gateway-gateway").urn in service.dependencies
    assert not [
        r.name
        for r in rec.of_type("kubernetes:core/v1:Service")
        if r.inputs["spec"].get("type") == "LoadBalancer" and r is not service
    ]


@pytest.mark.parametrize("stack", ["gcp-dev", "linode-dev"])
def test_other_clouds_really_delete_the_owners_too(stack: str) -> None:
    """GKE and LKE load balancers and disks outlive a skipped delete just the same."""
    plan = example_plan(stack)
    assert not plan.errors
    rec = plan.recording
    for type_, name in sorted(OWNERS):
        owner = _owner(rec, type_, name)
        assert effective_deleted_with(rec, owner) == "", (stack, name)
        assert deleted_before(rec, owner, rec.named("gpuplane-cluster-cluster")), (stack, name)
