"""platform-helm-version-pinned: every Helm chart the stack installs, by any route, is pinned.

Property: the chart content deployed tomorrow is the chart reviewed today. An exact version is a
semver (``1.2.3``, ``v1.2.3-rc.1``) or an OCI digest (``@sha256:...``); ranges (``^1.2``, ``~1``,
``>=1.0.0``, ``1.x``, ``*``), ``latest``, ``HEAD`` and a missing version are not. Covered routes:

- Pulumi's ``helm.v3.Release``, ``helm.v4.Chart`` and ``helm.v3.Chart`` (``version``, or the tag or
  digest of an ``oci://`` reference). Local chart directories are versioned with the repository and
  skipped.
- Flux ``HelmRelease``: ``spec.chart.spec.version`` (Flux's default is ``*``, the latest), or
  ``spec.chartRef`` to an ``OCIRepository`` (``spec.ref.tag``/``semver``/``digest``; no ref means
  ``latest``) or ``HelmChart`` (``spec.version``) resolved in the stack; a reference the stack does not
  declare is reported (fail closed). Flux ``HelmChart`` sources are checked on their own too.
- Argo CD ``Application``/``ApplicationSet``: every Helm source (``spec.source``/``spec.sources[]``,
  ``spec.template.spec...``) with a ``chart`` needs an exact ``targetRevision``.

Reads:
    kubernetes:helm.sh/v3:Release: chart, version, repositoryOpts.repo, path
    kubernetes:helm.sh/v4:Chart: chart, version, repositoryOpts.repo
    kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease: spec.chart.spec.chart, spec.chart.spec.version, spec.chartRef
    kubernetes:source.toolkit.fluxcd.io/v1:HelmChart: spec.chart, spec.version
    kubernetes:source.toolkit.fluxcd.io/v1beta2:OCIRepository: spec.url, spec.ref.tag, spec.ref.semver, spec.ref.digest
    kubernetes:argoproj.io/v1alpha1:Application: spec.source.chart, spec.source.targetRevision, spec.sources[]
    kubernetes:argoproj.io/v1alpha1:ApplicationSet: spec.template.spec.source, spec.template.spec.sources[]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._support import (
    Finding,
    Meta,
    Resource,
    as_list,
    as_map,
    as_str,
    dig,
    helm_chart,
    is_exact_version,
    k8s_kind,
    stack_policy,
)

META = Meta(
    name="platform-helm-version-pinned",
    description="Every Helm chart must be pinned to an exact version (no ranges, no latest).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    tags=("platform", "helm", "supply-chain", "correctness"),
    remediation="Set version to an exact chart version (e.g. 0.19.2) from components/versions.py.",
    rationale="An unpinned chart changes under you on the next up; previews stop meaning anything.",
)


_DIGEST = "@sha256:"


def _pinned(version: str) -> bool:
    return is_exact_version(version) or version.strip().startswith("sha256:")


def _verdict(via: str, chart: str, version: str) -> str | None:
    if not version.strip():
        return f"{via} installs chart {chart} without a version; pin an exact version"
    if not _pinned(version):
        return f"{via} installs chart {chart} at {version!r}, which is not an exact version; pin one such as 1.2.3"
    return None


def _pulumi_chart(resource: Resource) -> Iterator[str]:
    chart = helm_chart(resource)
    if chart is None or chart.local:
        return
    if _DIGEST in chart.reference:
        return
    verdict = _verdict(f"{chart.via} {resource.name}", chart.name, chart.version)
    if verdict:
        yield verdict


def _kind(resource: Resource) -> tuple[str, str]:
    group_version, kind = k8s_kind(resource.type)
    return group_version.split("/", 1)[0], kind


def _named(resources: Sequence[Resource], group: str, kind: str, namespace: str, name: str) -> Resource | None:
    for resource in resources:
        if (
            _kind(resource) == (group, kind)
            and (as_str(dig(resource.props, "metadata", "name")) or resource.name) == name
        ):
            found_ns = as_str(dig(resource.props, "metadata", "namespace")) or "default"
            if found_ns == namespace:
                return resource
    return None


def _oci_repository(resource: Resource) -> str | None:
    ref = as_map(dig(resource.props, "spec", "ref"))
    if as_str(ref.get("digest")):
        return None
    semver = as_str(ref.get("semver"))
    if semver:
        return None if is_exact_version(semver) else f"semver range {semver!r}"
    tag = as_str(ref.get("tag")) or "latest"
    return None if is_exact_version(tag) else f"tag {tag!r}"


def _flux_release(resource: Resource, resources: Sequence[Resource]) -> Iterator[str]:
    spec = as_map(resource.props.get("spec"))
    namespace = as_str(dig(resource.props, "metadata", "namespace")) or "default"
    title = f"Flux HelmRelease {namespace}/{as_str(dig(resource.props, 'metadata', 'name')) or resource.name}"
    chart_spec = as_map(dig(spec, "chart", "spec"))
    if chart_spec:
        version = as_str(chart_spec.get("version"))
        verdict = _verdict(title, as_str(chart_spec.get("chart")) or "?", "*" if version is None else version)
        if verdict:
            yield verdict + (" (Flux's default version is *, the latest)" if version is None else "")
        return
    ref = as_map(spec.get("chartRef"))
    if not ref:
        yield f"{title} names no chart (spec.chart or spec.chartRef), so its version cannot be checked"
        return
    kind, name = as_str(ref.get("kind")) or "", as_str(ref.get("name")) or ""
    source = _named(resources, "source.toolkit.fluxcd.io", kind, as_str(ref.get("namespace")) or namespace, name)
    if source is None:
        yield f"{title} takes its chart from {kind} {name}, which the stack does not declare, so its version cannot be checked"
    elif kind == "OCIRepository" and (problem := _oci_repository(source)):
        yield f"{title} takes its chart from OCIRepository {name} at {problem}, which is not an exact version; pin a tag or digest"
    elif kind == "HelmChart" and (
        verdict := _verdict(f"{title} (HelmChart {name})", name, as_str(dig(source.props, "spec", "version")) or "*")
    ):
        yield verdict


def _argo_sources(resource: Resource) -> list[tuple[str, dict[str, object]]]:
    spec = as_map(resource.props.get("spec"))
    _, kind = _kind(resource)
    if kind == "ApplicationSet":
        spec = as_map(dig(spec, "template", "spec"))
    sources: list[tuple[str, dict[str, object]]] = []
    if as_map(spec.get("source")):
        sources.append(("spec.source", dict(as_map(spec.get("source")))))
    for index, item in enumerate(as_list(spec.get("sources"))):
        sources.append((f"spec.sources[{index}]", dict(as_map(item))))
    return sources


def _argo(resource: Resource) -> Iterator[str]:
    _, kind = _kind(resource)
    title = f"Argo CD {kind} {as_str(dig(resource.props, 'metadata', 'name')) or resource.name}"
    for path, source in _argo_sources(resource):
        chart = as_str(source.get("chart"))
        if not chart:
            continue
        revision = as_str(source.get("targetRevision")) or ""
        verdict = _verdict(f"{title} ({path})", chart, revision)
        if verdict:
            yield verdict


def check(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Finding]:
    for resource in resources:
        group, kind = _kind(resource)
        if resource.type.startswith("kubernetes:helm.sh/"):
            messages = list(_pulumi_chart(resource))
        elif (group, kind) == ("helm.toolkit.fluxcd.io", "HelmRelease"):
            messages = list(_flux_release(resource, resources))
        elif (group, kind) == ("source.toolkit.fluxcd.io", "HelmChart"):
            version = as_str(dig(resource.props, "spec", "version"))
            verdict = _verdict(
                f"Flux HelmChart {as_str(dig(resource.props, 'metadata', 'name')) or resource.name}",
                as_str(dig(resource.props, "spec", "chart")) or "?",
                "*" if version is None else version,
            )
            messages = [verdict] if verdict else []
        elif group == "argoproj.io" and kind in ("Application", "ApplicationSet"):
            messages = list(_argo(resource))
        else:
            messages = []
        for message in messages:
            yield Finding(message, resource.urn)


POLICY = stack_policy(META, check)
