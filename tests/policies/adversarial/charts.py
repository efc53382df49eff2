"""Unpinned charts by every route: Pulumi Helm resources (ranges, latest, OCI tags), Flux HelmRelease
(default ``*``, ranges, chartRef to OCIRepository/HelmChart), Argo CD Application/ApplicationSet."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from tests.policies.adversarial.corpus import compliant, insecure

PINNED = "platform-helm-version-pinned"
REPO = k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com")


def release(chart: str = "agent", version: str | None = "1.2.3", repo: Any = REPO) -> None:
    k8s.helm.v3.Release("agent", chart=chart, version=version, namespace="team-a", repository_opts=repo)


def cr(api_version: str, kind: str, name: str, spec: dict[str, Any], namespace: str = "flux-system") -> None:
    k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}",
        api_version=api_version,
        kind=kind,
        metadata={"name": name, "namespace": namespace},
        spec=spec,
    )


# -- Pulumi's Helm resources ---------------------------------------------------------------------------


@insecure(PINNED, "at '^1.2.0', which is not an exact version")
def release_caret_range() -> None:
    release(version="^1.2.0")


@insecure(PINNED, "at '~1.2', which is not an exact version")
def release_tilde_range() -> None:
    release(version="~1.2")


@insecure(PINNED, "at '>=1.0.0 <2.0.0', which is not an exact version")
def release_comparison_range() -> None:
    release(version=">=1.0.0 <2.0.0")


@insecure(PINNED, "at '1.x', which is not an exact version")
def release_x_range() -> None:
    release(version="1.x")


@insecure(PINNED, "at 'latest', which is not an exact version")
def release_latest() -> None:
    release(version="latest")


@insecure(PINNED, "without a version")
def release_no_version() -> None:
    release(version=None)


@insecure(PINNED, "at 'latest', which is not an exact version")
def release_oci_latest_tag() -> None:
    release(chart="oci://registry.example.com/charts/agent:latest", repo=None, version=None)


@insecure(PINNED, "without a version")
def release_oci_without_tag() -> None:
    release(chart="oci://registry.example.com/charts/agent", repo=None, version=None)


@compliant(PINNED)
def release_oci_exact_tag() -> None:
    release(chart="oci://registry.example.com/charts/agent:1.2.3", repo=None, version=None)


@compliant(PINNED)
def release_oci_digest() -> None:
    release(
        chart="oci://registry.example.com/charts/agent@sha256:" + "a" * 64,
        repo=None,
        version=None,
    )


@insecure(PINNED, "at '*', which is not an exact version")
def chart_v4_star() -> None:
    k8s.helm.v4.Chart("agent", chart="oci://registry.example.com/charts/agent", version="*", namespace="team-a")


@insecure(PINNED, "at '1.2', which is not an exact version")
def chart_v4_minor_only() -> None:
    k8s.helm.v4.Chart(
        "agent",
        chart="agent",
        version="1.2",
        namespace="team-a",
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo="https://charts.example.com"),
    )


@compliant(PINNED)
def release_exact_version() -> None:
    release(version="v1.2.3")


# -- Flux ------------------------------------------------------------------------------------------------


def flux_release(chart_spec: dict[str, Any] | None = None, chart_ref: dict[str, Any] | None = None) -> None:
    spec: dict[str, Any] = {"interval": "10m"}
    if chart_spec is not None:
        spec["chart"] = {"spec": chart_spec}
    if chart_ref is not None:
        spec["chartRef"] = chart_ref
    cr("helm.toolkit.fluxcd.io/v2", "HelmRelease", "agent", spec)


@insecure(PINNED, "Flux's default version is *, the latest")
def flux_release_without_version() -> None:
    flux_release({"chart": "agent", "sourceRef": {"kind": "HelmRepository", "name": "example"}})


@insecure(PINNED, "at '>=1.0.0', which is not an exact version")
def flux_release_range() -> None:
    flux_release({"chart": "agent", "version": ">=1.0.0", "sourceRef": {"kind": "HelmRepository", "name": "example"}})


@insecure(PINNED, "at '1.2.x'")
def flux_release_v2beta2_x_range() -> None:
    cr(
        "helm.toolkit.fluxcd.io/v2beta2",
        "HelmRelease",
        "agent",
        {
            "chart": {
                "spec": {
                    "chart": "agent",
                    "version": "1.2.x",
                    "sourceRef": {"kind": "HelmRepository", "name": "example"},
                }
            }
        },
    )


@compliant(PINNED)
def flux_release_exact() -> None:
    flux_release({"chart": "agent", "version": "1.2.3", "sourceRef": {"kind": "HelmRepository", "name": "example"}})


@insecure(PINNED, "OCIRepository agent at tag 'latest'")
def flux_chart_ref_oci_latest() -> None:
    cr(
        "source.toolkit.fluxcd.io/v1beta2",
        "OCIRepository",
        "agent",
        {"url": "oci://registry.example.com/charts/agent", "ref": {"tag": "latest"}},
    )
    flux_release(chart_ref={"kind": "OCIRepository", "name": "agent"})


@insecure(PINNED, "OCIRepository agent at tag 'latest'")
def flux_chart_ref_oci_without_ref() -> None:
    cr("source.toolkit.fluxcd.io/v1beta2", "OCIRepository", "agent", {"url": "oci://registry.example.com/charts/agent"})
    flux_release(chart_ref={"kind": "OCIRepository", "name": "agent"})


@insecure(PINNED, "OCIRepository agent at semver range '>=1.0.0'")
def flux_chart_ref_oci_semver_range() -> None:
    cr(
        "source.toolkit.fluxcd.io/v1",
        "OCIRepository",
        "agent",
        {"url": "oci://registry.example.com/charts/agent", "ref": {"semver": ">=1.0.0"}},
    )
    flux_release(chart_ref={"kind": "OCIRepository", "name": "agent"})


@compliant(PINNED)
def flux_chart_ref_oci_digest() -> None:
    cr(
        "source.toolkit.fluxcd.io/v1beta2",
        "OCIRepository",
        "agent",
        {"url": "oci://registry.example.com/charts/agent", "ref": {"digest": "sha256:" + "b" * 64}},
    )
    flux_release(chart_ref={"kind": "OCIRepository", "name": "agent"})


@insecure(PINNED, "which the stack does not declare, so its version cannot be checked")
def flux_chart_ref_outside_stack() -> None:
    flux_release(chart_ref={"kind": "OCIRepository", "name": "elsewhere"})


@insecure(PINNED, "Flux HelmChart agent installs chart agent at '*'")
def flux_helm_chart_source_star() -> None:
    cr(
        "source.toolkit.fluxcd.io/v1",
        "HelmChart",
        "agent",
        {"chart": "agent", "version": "*", "sourceRef": {"kind": "HelmRepository", "name": "example"}},
    )


# -- Argo CD -----------------------------------------------------------------------------------------


def application(source: dict[str, Any] | None = None, sources: list[dict[str, Any]] | None = None) -> None:
    spec: dict[str, Any] = {
        "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "team-a"},
    }
    if source is not None:
        spec["source"] = source
    if sources is not None:
        spec["sources"] = sources
    cr("argoproj.io/v1alpha1", "Application", "agent", spec, namespace="argocd")


@insecure(PINNED, "Argo CD Application agent (spec.source) installs chart agent without a version")
def argo_application_without_revision() -> None:
    application({"repoURL": "https://charts.example.com", "chart": "agent"})


@insecure(PINNED, "at 'HEAD'")
def argo_application_head() -> None:
    application({"repoURL": "https://charts.example.com", "chart": "agent", "targetRevision": "HEAD"})


@insecure(PINNED, "at '1.*'")
def argo_application_wildcard() -> None:
    application({"repoURL": "https://charts.example.com", "chart": "agent", "targetRevision": "1.*"})


@insecure(PINNED, "(spec.sources[1]) installs chart agent at '>=1.2.0'")
def argo_application_multi_source_range() -> None:
    application(
        sources=[
            {"repoURL": "https://github.com/example/values.git", "targetRevision": "main", "ref": "values"},
            {"repoURL": "registry.example.com/charts", "chart": "agent", "targetRevision": ">=1.2.0"},
        ]
    )


@insecure(PINNED, "Argo CD ApplicationSet agent (spec.source) installs chart agent at 'latest'")
def argo_application_set_latest() -> None:
    cr(
        "argoproj.io/v1alpha1",
        "ApplicationSet",
        "agent",
        {
            "generators": [{"list": {"elements": [{"cluster": "a"}]}}],
            "template": {
                "metadata": {"name": "agent-{{cluster}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://charts.example.com", "chart": "agent", "targetRevision": "latest"},
                },
            },
        },
        namespace="argocd",
    )


@compliant(PINNED)
def argo_application_exact_chart_and_git_branch() -> None:
    application(
        sources=[
            {"repoURL": "https://github.com/example/values.git", "targetRevision": "main", "ref": "values"},
            {"repoURL": "https://charts.example.com", "chart": "agent", "targetRevision": "1.2.3"},
        ]
    )
