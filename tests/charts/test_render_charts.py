"""Every Helm release of every example stack rendered with its real chart, and every object validated:
kubernetes-validate strict for the stack's Kubernetes version, custom resources against their CRD
schemas, every pod admissible under its namespace's Pod Security enforce level."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import versions
from gpuplane import charts, wiring
from tests.charts import pod_security, validation
from tests.charts.conftest import RenderedStack, rendered_stack


def test_every_release_renders_from_the_vendored_chart_at_its_pin(stack: RenderedStack) -> None:
    pins = {(p.chart, p.version) for p in versions.CHARTS.values()}
    names = {r.release.name for r in stack.releases}
    assert names == {r.name for r in charts.releases(stack.recording)}
    assert "kube-prometheus-stack" in names
    for rendered in stack.releases:
        assert (rendered.release.chart, rendered.release.version) in pins
        assert rendered.objects, f"{rendered.release.name} rendered nothing"
        assert all(o.get("apiVersion") and o.get("kind") for o in rendered.objects)


def test_namespaced_objects_land_in_the_release_namespace_unless_the_chart_says_otherwise(
    stack: RenderedStack,
) -> None:
    kps = stack.release("kube-prometheus-stack")
    deployments = {o["metadata"]["name"]: o for o in kps.objects if o["kind"] == "Deployment"}
    assert deployments["kube-prometheus-stack-operator"]["metadata"]["namespace"] == "monitoring"
    crds = [o for o in kps.objects if o["kind"] == "CustomResourceDefinition"]
    assert crds, "--include-crds: the chart's crds/ are installed"
    assert all("namespace" not in o["metadata"] for o in crds)


def test_guarded_monitors_render_because_their_crds_are_installed(stack: RenderedStack) -> None:
    """Charts guard ServiceMonitors with .Capabilities.APIVersions.Has "monitoring.coreos.com/v1":
    the render passes the stack's CRD API versions, as the cluster would have them."""
    kinds = {o["kind"] for o in stack.objects}
    assert {"ServiceMonitor", "PrometheusRule", "Prometheus"} <= kinds


def test_every_object_validates_for_the_stacks_kubernetes_version(stack: RenderedStack) -> None:
    crds = validation.crd_schemas(stack.objects)
    failures: list[str] = []
    for obj in stack.objects:
        try:
            validation.validate(obj, stack.spec.kubernetes_version, crds)
        except Exception as error:  # collect every failure, not just the first
            failures.append(
                f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}: {error}"[:400]
            )
    assert not failures, "\n".join(failures)


def test_every_pod_is_admissible_under_its_namespaces_pod_security_level(stack: RenderedStack) -> None:
    namespaces = {o["metadata"]["name"]: o for o in stack.objects if o["kind"] == "Namespace"}
    problems: list[str] = []
    for pod in wiring.pod_templates(stack.objects):
        level = pod_security.enforce_level(namespaces.get(pod.namespace))
        problems += [f"{pod.owner} ({level}): {v}" for v in pod_security.violations(pod.spec, level)]
    assert not problems, "\n".join(problems)


def test_every_platform_namespace_sets_an_enforce_level(stack: RenderedStack) -> None:
    namespaces = {o["metadata"]["name"]: o for o in stack.objects if o["kind"] == "Namespace"}
    # kube-system is the cluster's own (the cluster autoscaler runs there on EKS, as the cloud expects).
    pods = {p.namespace for p in wiring.pod_templates(stack.objects)} - {"kube-system"}
    for namespace in pods:
        assert namespace in namespaces, f"pods in {namespace}, which the stack does not create"
        labels = namespaces[namespace]["metadata"].get("labels") or {}
        assert "pod-security.kubernetes.io/enforce" in labels, namespace


def test_helm4_renders_the_same_objects_as_helm3() -> None:
    """Helm 3 (what helm.v3.Release embeds) is the renderer; Helm 4 gives the same objects for a chart
    with CRDs, capabilities checks and helpers (Kueue), so either would do."""
    stack = rendered_stack("linode-dev")
    release = stack.release("kueue").release
    helm3 = charts.render_release(release, stack.spec.kubernetes_version)
    helm4 = charts.render_release(release, stack.spec.kubernetes_version, distribution=charts.HELM4)

    def canonical(objects: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(o, sort_keys=True) for o in objects)

    assert len(helm3) > 20
    assert canonical(helm3) == canonical(helm4)


def test_the_renderer_is_helm3() -> None:
    import subprocess

    out = subprocess.run([str(charts.helm_binary()), "version", "--short"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("v3."), out.stdout


def test_a_pin_without_a_vendored_chart_cannot_render() -> None:
    release = charts.Release("prometheus-adapter", "custom-metrics", "prometheus-adapter", "4.9.2", {})
    with pytest.raises(charts.ChartRenderError, match="not vendored"):
        charts.render_release(release, "1.34")


def test_a_template_error_is_reported_with_the_release() -> None:
    release = charts.Release("kueue", "kueue-system", "kueue", versions.KUEUE.version, {"controllerManager": "oops"})
    with pytest.raises(charts.ChartRenderError, match="helm template kueue"):
        charts.render_release(release, "1.34")
