"""The wiring rules (gpuplane/wiring.py) hold on every example stack's fully rendered objects, and each
rule catches the break it exists for: the findings of issue 13 re-created with the real templates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gpuplane import charts, wiring
from tests.charts.conftest import RenderedStack, rendered_stack


def test_every_example_stack_is_wired(stack: RenderedStack) -> None:
    report = wiring.check(stack.objects, self_managed_control_plane=stack.spec.cloud == "existing")
    assert report.problems == {rule: [] for rule in wiring.RULES}


# --- each rule catches its break (on the real rendered linode-dev stack) -----------------------------


@pytest.fixture(scope="module")
def base() -> RenderedStack:
    return rendered_stack("linode-dev")


def _objects(base: RenderedStack) -> list[dict[str, Any]]:
    return copy.deepcopy(base.objects)


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _rerender(base: RenderedStack, release_name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The stack's objects with one release rendered from other values (what the old code set)."""
    old = base.release(release_name)
    release = charts.Release(old.release.name, old.release.namespace, old.release.chart, old.release.version, values)
    apis = sorted(charts.builtin_api_versions(base.spec.kubernetes_version) | charts.crd_api_versions(base.objects))
    objects = charts.render_release(release, base.spec.kubernetes_version, apis)
    scoped = charts.cluster_scoped_kinds(base.objects)
    objects = [
        o
        if o["kind"] in scoped or o["metadata"].get("namespace")
        else {**o, "metadata": {**o["metadata"], "namespace": release.namespace}}
        for o in objects
    ]
    others = [o for r in base.releases if r.release.name != release_name for o in r.objects]
    return copy.deepcopy(others + objects + base.direct)


def test_the_old_kueue_selector_selects_no_service_even_with_metrics_service_labels_set(base: RenderedStack) -> None:
    values = {
        **copy.deepcopy(dict(base.release("kueue").release.values)),
        "metricsService": {"labels": {"gpuplane.io/metrics": "kueue"}},
    }
    objects = _rerender(base, "kueue", values)
    monitor = _find(objects, "ServiceMonitor", "kueue-controller-manager-metrics")
    monitor["spec"]["selector"] = {"matchLabels": {"gpuplane.io/metrics": "kueue"}}
    problems = wiring.monitors_select_targets(objects)
    assert problems == [
        "ServiceMonitor kueue-system/kueue-controller-manager-metrics selects no Service in ['kueue-system']"
    ]


def test_the_old_ai_gateway_port_name_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    monitor = _find(objects, "PodMonitor", "envoy-proxy")
    monitor["spec"]["podMetricsEndpoints"][1]["port"] = "aigw-metrics"
    assert wiring.monitors_select_targets(objects) == [
        "PodMonitor envoy-gateway-system/envoy-proxy: port 'aigw-metrics' is not a named port of the pods it selects"
    ]


def test_a_monitor_prometheus_does_not_select_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    monitor = _find(objects, "ServiceMonitor", "kueue-controller-manager-metrics")
    monitor["metadata"]["labels"].pop("release")
    problems = wiring.prometheus_selects_everything(objects)
    assert len(problems) == 1
    assert (
        "serviceMonitorSelector does not select ServiceMonitor kueue-system/kueue-controller-manager-metrics"
        in problems[0]
    )


def test_a_rule_in_a_namespace_prometheus_ignores_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    prometheus = next(o for o in objects if o["kind"] == "Prometheus")
    prometheus["spec"]["ruleNamespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": "elsewhere"}}
    problems = wiring.prometheus_selects_everything(objects)
    assert len(problems) == len(rules) > 10
    assert all("ruleNamespaceSelector does not select PrometheusRule" in p for p in problems)


def test_an_inert_monitor_that_prometheus_selects_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    inert = _find(objects, "ServiceMonitor", "lws-controller-manager-metrics-monitor")
    inert["metadata"]["labels"]["release"] = "kube-prometheus-stack"
    assert wiring.prometheus_selects_everything(objects) == [
        "Prometheus monitoring/kube-prometheus-stack-prometheus.serviceMonitorSelector selects "
        "ServiceMonitor lws-system/lws-controller-manager-metrics-monitor, listed as inert"
    ]


def test_control_plane_monitors_on_a_managed_cloud_are_caught(base: RenderedStack) -> None:
    values = copy.deepcopy(dict(base.release("kube-prometheus-stack").release.values))
    for key in ("kubeControllerManager", "kubeScheduler", "kubeEtcd"):
        values.pop(key)
    objects = _rerender(base, "kube-prometheus-stack", values)
    problems = wiring.services_select_pods(objects)
    assert sorted(problems) == [
        "Service kube-system/kube-prometheus-stack-kube-controller-manager selects no pod ({'component': 'kube-controller-manager'})",
        "Service kube-system/kube-prometheus-stack-kube-etcd selects no pod ({'component': 'etcd'})",
        "Service kube-system/kube-prometheus-stack-kube-scheduler selects no pod ({'component': 'kube-scheduler'})",
    ]
    # ... and on a cluster whose control plane runs on its nodes they are fine.
    assert wiring.services_select_pods(objects, self_managed_control_plane=True) == []


def test_a_missing_secret_configmap_or_service_account_is_caught(base: RenderedStack) -> None:
    objects = [o for o in _objects(base) if not (o["kind"] == "Secret" and o["metadata"]["name"] == "grafana-admin")]
    objects = [
        o
        for o in objects
        if not (o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "kube-prometheus-stack-operator")
    ]
    problems = wiring.references_exist(objects)
    assert any("references Secret monitoring/grafana-admin" in p for p in problems), problems
    assert any("references ServiceAccount monitoring/kube-prometheus-stack-operator" in p for p in problems), problems
    assert wiring.references_exist(objects, controller_created={}) != problems  # the allow-list is used


def test_an_unpinned_image_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    deployment = _find(objects, "Deployment", "kueue-controller-manager")
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.k8s.io/kueue/kueue:main"
    assert wiring.images_pinned(objects) == [
        "Deployment kueue-system/kueue-controller-manager container manager: image 'registry.k8s.io/kueue/kueue:main' is not pinned"
    ]


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("registry.k8s.io/kueue/kueue:v0.19.2", True),
        ("docker.io/library/python@sha256:" + "a" * 64, True),
        ("localhost:5000/x", False),
        ("busybox", False),
        ("busybox:latest", False),
        ("nvcr.io/nvidia/gpu-operator:v1.0.0-devel", False),
    ],
)
def test_image_pinning(image: str, pinned: bool) -> None:
    assert wiring.image_is_pinned(image) is pinned


def test_the_old_ai_gateway_seed_in_container_args_is_caught(base: RenderedStack) -> None:
    values = copy.deepcopy(dict(base.release("ai-gateway").release.values))
    values["controller"].pop("extraEnvVars")
    values["controller"]["mcp"] = {"sessionEncryption": {"seed": "[secret]"}}  # what the old values rendered
    objects = _rerender(base, "ai-gateway", values)
    assert wiring.no_secret_in_plain_text(objects) == [
        "Deployment envoy-ai-gateway-system/ai-gateway-controller container ai-gateway-helm: a secret value in args"
    ]


def test_a_secret_in_plain_env_or_a_configmap_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    deployment = _find(objects, "Deployment", "kueue-controller-manager")
    deployment["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).append(
        {"name": "TOKEN", "value": "[secret]"}
    )
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    config_map.setdefault("data", {})["leak"] = "password: W3NlY3JldF0="
    problems = wiring.no_secret_in_plain_text(objects)
    assert len(problems) == 2
    assert "plain env TOKEN" in problems[0]
    assert "data.leak" in problems[1]


def test_the_old_kube_state_metrics_placement_is_caught(base: RenderedStack) -> None:
    values = copy.deepcopy(dict(base.release("kube-prometheus-stack").release.values))
    values.pop("kube-state-metrics")
    objects = _rerender(base, "kube-prometheus-stack", values)
    assert wiring.pods_on_their_pool(objects) == [
        "Deployment monitoring/kube-prometheus-stack-kube-state-metrics is not pinned to the system pool "
        "({'gpuplane.io/pool': 'system'})"
    ]


def test_gpu_workloads_and_daemonsets_may_leave_the_system_pool() -> None:
    gpu = {
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }
    objects: list[dict[str, Any]] = [
        {"kind": "Deployment", "metadata": {"name": "gpu", "namespace": "x"}, "spec": {"template": {"spec": gpu}}},
        {"kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "x"}, "spec": {"template": {"spec": {}}}},
        {"kind": "Job", "metadata": {"name": "job", "namespace": "x"}, "spec": {"template": {"spec": {}}}},
        {
            "kind": "Deployment",
            "metadata": {"name": "untolerated", "namespace": "x"},
            "spec": {"template": {"spec": {"nodeSelector": {"nvidia.com/gpu.present": "true"}}}},
        },
    ]
    assert wiring.pods_on_their_pool(objects) == [
        "Job x/job is not pinned to the system pool ({'gpuplane.io/pool': 'system'})",
        "Deployment x/untolerated is not pinned to the system pool ({'gpuplane.io/pool': 'system'})",
    ]


def test_selectors() -> None:
    labels = {"a": "1", "b": "2"}
    assert wiring.selector_matches({}, labels)
    assert not wiring.selector_matches(None, labels)
    assert wiring.selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not wiring.selector_matches({"matchLabels": {"a": "2"}}, labels)
    assert wiring.selector_matches({"matchExpressions": [{"key": "b", "operator": "In", "values": ["2", "3"]}]}, labels)
    assert not wiring.selector_matches({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)
    assert wiring.selector_matches({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)
    assert not wiring.selector_matches(
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, labels
    )


def test_a_service_for_another_gateways_proxies_is_caught(base: RenderedStack) -> None:
    objects = _objects(base)
    (service,) = [
        o
        for o in objects
        if o["kind"] == "Service" and "gateway.envoyproxy.io/owning-gateway-name" in (o["spec"].get("selector") or {})
    ]
    assert wiring.services_select_pods(objects) == []
    service["spec"]["selector"]["gateway.envoyproxy.io/owning-gateway-name"] = "another-gateway"
    (problem,) = wiring.services_select_pods(objects)
    assert problem.startswith(
        f"Service {service['metadata']['namespace']}/{service['metadata']['name']} selects no pod"
    )


def test_a_monitor_reading_a_missing_token_secret_is_caught(base: RenderedStack) -> None:
    def is_kueue_token(o: dict[str, Any]) -> bool:
        meta = o["metadata"]
        return o["kind"] == "Secret" and (meta.get("namespace"), meta["name"]) == (
            "kueue-system",
            "gpuplane-metrics-reader-token",
        )

    objects = _objects(base)
    assert wiring.references_exist(objects) == []
    problems = wiring.references_exist([o for o in objects if not is_kueue_token(o)])
    assert problems == [
        "ServiceMonitor kueue-system/kueue-controller-manager-metrics references Secret "
        "kueue-system/gpuplane-metrics-reader-token, which nothing creates"
    ]
