"""Kubernetes versions: what each service offers today, the default, and the schemas behind them (issue 12,
item 16)."""

from __future__ import annotations

import kubernetes_validate
import kubernetes_validate.utils
import pytest

from components import versions
from components.spec import SpecError
from tests.support import spec_for

MANAGED = ("aws", "gcp", "linode")


def test_every_accepted_version_has_strict_schemas_in_kubernetes_validate() -> None:
    available = set(kubernetes_validate.utils.all_versions())
    for minor in versions.KUBERNETES_VERSIONS:
        assert f"{minor}.0" in available, minor
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe"},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
        }
        kubernetes_validate.validate(pod, f"{minor}.0", strict=True)


def test_versions_past_upstream_support_are_gone() -> None:
    assert "1.32" in versions.KUBERNETES_VERSIONS  # still in EKS extended support until 2027-03-23
    assert not {"1.29", "1.30", "1.31"} & set(versions.KUBERNETES_VERSIONS)
    assert versions.DEFAULT_KUBERNETES_VERSION == "1.35"


@pytest.mark.parametrize("production", [False, True])
@pytest.mark.parametrize("cloud", MANAGED)
def test_the_default_is_offered_by_every_managed_cloud(cloud: str, production: bool) -> None:
    offered = versions.offered_kubernetes_versions(cloud, production=production)
    assert versions.DEFAULT_KUBERNETES_VERSION in offered
    assert set(offered) <= set(versions.KUBERNETES_VERSIONS)


def test_offers_are_sourced_and_dated() -> None:
    offers = [versions.EKS_STANDARD_SUPPORT, versions.EKS_EXTENDED_SUPPORT, versions.LKE_VERSIONS]
    offers += list(versions.GKE_RELEASE_CHANNELS.values())
    for offer in offers:
        assert offer.source
        assert offer.as_of == "2026-12-05"
        assert offer.versions


def test_gke_follows_the_release_channel_of_the_stack() -> None:
    assert versions.offered_kubernetes_versions("gcp", production=True) == ("1.34", "1.35")
    assert versions.offered_kubernetes_versions("gcp", production=False) == ("1.34", "1.35", "1.36")


@pytest.mark.parametrize(
    ("cloud", "overrides", "message"),
    [
        ("linode", {}, "LKE does not offer Kubernetes 1.34 today; choose one of: 1.35, 1.36"),
        ("gcp", {"production": True, "kubernetesVersion": "1.36"}, "GKE's STABLE release channel does not offer"),
        ("aws", {"kubernetesVersion": "1.31"}, "1.31 is not in the tested set"),
        ("existing", {"kubernetesVersion": "1.37"}, "1.37 is not in the tested set"),
    ],
)
def test_spec_accepts_only_versions_the_cloud_offers(cloud: str, overrides: dict[str, object], message: str) -> None:
    values = {"kubernetesVersion": "1.34", **overrides}
    with pytest.raises(SpecError) as error:
        spec_for(cloud, **values)
    (problem,) = [str(p) for p in error.value.problems]
    assert problem.startswith("kubernetesVersion: ")
    assert message in problem


@pytest.mark.parametrize("cloud", MANAGED)
def test_every_offered_version_builds_a_spec(cloud: str) -> None:
    for minor in versions.offered_kubernetes_versions(cloud, production=False):
        assert spec_for(cloud, kubernetesVersion=minor).kubernetes_version == minor


def test_a_spec_without_a_version_gets_the_default() -> None:
    from components.spec import parse_spec
    from tests.support import raw_spec

    raw = raw_spec("gcp")
    del raw["kubernetesVersion"]
    assert parse_spec(raw).kubernetes_version == versions.DEFAULT_KUBERNETES_VERSION


def test_every_eks_version_has_an_autoscaler_image() -> None:
    for minor in versions.offered_kubernetes_versions("aws", production=False):
        assert versions.CLUSTER_AUTOSCALER_IMAGE_TAGS[minor].startswith(f"v{minor}.")
