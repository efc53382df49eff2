"""Wiring rules over a stack's fully rendered objects: do the pieces actually connect?

What: generic checks over every object a stack installs (chart-rendered and created directly), each
returning human-readable problems (empty list = fine):

- :func:`monitors_select_targets`: every ServiceMonitor/PodMonitor selects at least one Service/pod in
  the namespaces it names, and every port it names exists there.
- :func:`prometheus_selects_everything`: each Prometheus' monitor/rule selectors (and their namespace
  selectors) pick every ServiceMonitor, PodMonitor and PrometheusRule the platform ships.
- :func:`services_select_pods`: every Service with a selector selects at least one pod template.
- :func:`references_exist`: every Secret/ConfigMap/ServiceAccount a pod references exists, or is
  created at run time by a named controller (:data:`CONTROLLER_CREATED`).
- :func:`images_pinned`: every container image names a fixed tag or a digest.
- :func:`no_secret_in_plain_text`: no redacted secret value (``[secret]``) in container args, command,
  plain env values or a ConfigMap.
- :func:`pods_on_their_pool`: every pod template is pinned to the system pool, unless it is a
  DaemonSet (one per node by design) or targets GPU nodes.

Why: values checked against chart defaults say nothing about whether a ServiceMonitor's selector
matches the labels the chart really renders (the Kueue metrics Service), or whether a PodMonitor's
port exists (the AI Gateway sidecar). These rules run over the real templates' output.

Pods that controllers create at run time (Envoy proxies from a Gateway) are not in any chart's output;
:data:`CONTROLLER_PODS` describes them from the controllers' source (tag, file) so the rules can see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from gpuplane.charts import SECRET_MARKERS

Obj = Mapping[str, Any]
WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job")
SYSTEM_POOL = {"gpuplane.io/pool": "system"}
GPU_TAINT_KEY = "nvidia.com/gpu"


@dataclass(frozen=True)
class PodTemplate:
    """A pod some object makes: its labels, namespace, spec and who makes it."""

    owner: str
    namespace: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    workload_kind: str = ""


@dataclass(frozen=True)
class ControllerPod:
    """A pod a controller creates at run time from a custom resource (not rendered by any chart)."""

    owner: str
    namespace: str
    labels: Mapping[str, str]
    container_ports: Sequence[str]
    source: str
    when_kind: str = ""
    """Only when an object of this kind exists (e.g. a Gateway for Envoy proxies)."""


ENVOY_PROXY_LABELS = {
    # Envoy Gateway v1.8.3 internal/infrastructure/kubernetes/proxy/resource.go EnvoyAppLabel(), plus the
    # owning-gateway labels of internal/gatewayapi/translator.go (one proxy Deployment per Gateway, in
    # Envoy Gateway's namespace).
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
ENVOY_PROXY_PORTS = ("metrics", "aigw-admin")
"""The proxy container's stats port (resource.go ``Name: "metrics"``, 19001) and the ai-gateway-extproc
sidecar AI Gateway v1.1.0 injects (internal/controller/extproc_builder.go ``aigw-admin``, 1064)."""
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"

CONTROLLER_PODS: tuple[ControllerPod, ...] = (
    # Envoy Gateway v1.8.3 internal/infrastructure/kubernetes/ratelimit/resource.go rateLimitLabels():
    # app.kubernetes.io/{name: envoy-ratelimit, component: ratelimit, managed-by: envoy-gateway};
    # the metrics port is named "metrics" (19001).
    ControllerPod(
        "envoy-gateway (rate-limit Deployment)",
        "envoy-gateway-system",
        {
            "app.kubernetes.io/name": "envoy-ratelimit",
            "app.kubernetes.io/component": "ratelimit",
            "app.kubernetes.io/managed-by": "envoy-gateway",
        },
        ("metrics", "grpc", "http"),
        "envoyproxy/gateway v1.8.3 internal/infrastructure/kubernetes/ratelimit/resource.go",
        when_kind="EnvoyGateway-ratelimit",
    ),
)

CLUSTER_PODS: tuple[ControllerPod, ...] = (
    # What every managed cluster (EKS, GKE, LKE) runs in kube-system itself: CoreDNS/kube-dns pods are
    # labelled k8s-app=kube-dns on all three; kube-proxy k8s-app=kube-proxy (not on GKE Dataplane V2,
    # where kube-prometheus-stack's kubeProxy monitor is off).
    ControllerPod("the cluster (DNS add-on)", "kube-system", {"k8s-app": "kube-dns"}, ("metrics",), "cluster add-on"),
    ControllerPod("the cluster (kube-proxy)", "kube-system", {"k8s-app": "kube-proxy"}, ("metrics",), "cluster add-on"),
)

SELF_MANAGED_CONTROL_PLANE: tuple[ControllerPod, ...] = tuple(
    # kubeadm's static pods (cmd/kubeadm/app/util/staticpod: labels component=<name>, tier=control-plane):
    # on an existing cluster the control plane may run on the nodes, so its monitors stay on.
    ControllerPod(f"the cluster ({c} static pod)", "kube-system", {"component": c}, ("http-metrics",), "kubeadm")
    for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
)

INERT_MONITORS: Mapping[tuple[str, str], str] = {
    # (namespace, name) -> why a monitor that selects nothing is shipped anyway. Each must also be left
    # out by every Prometheus' selectors (checked by prometheus_selects_everything), so it is inert.
    ("lws-system", "lws-controller-manager-metrics-monitor"): (
        "LWS v0.8.0 renders its metrics port, metrics Service and this ServiceMonitor under one switch "
        "(enablePrometheus); its selector (control-plane: controller-manager) does not match its own "
        "Service's labels. gpuplane scrapes the Service with its own ServiceMonitor instead."
    ),
}

CONTROLLER_CREATED: Mapping[tuple[str, str], str] = {
    # (kind, name) -> the controller that creates it in the pod's namespace at run time.
    ("ConfigMap", "kube-root-ca.crt"): "kube-controller-manager root-ca-cert-publisher (every namespace)",
    ("Secret", "kueue-webhook-server-cert"): "Kueue's internal cert manager (internalCertManagement)",
    ("Secret", "jobset-webhook-server-cert"): "JobSet's internal cert rotator",
    ("Secret", "lws-webhook-server-cert"): "LWS' internal cert rotator",
    ("Secret", "envoy-gateway"): "Envoy Gateway's certgen Job (helm hook) ",
    ("Secret", "envoy"): "Envoy Gateway's certgen Job (helm hook)",
    ("Secret", "envoy-rate-limit"): "Envoy Gateway's certgen Job (helm hook)",
    ("Secret", "envoy-oidc-hmac"): "Envoy Gateway's certgen Job (helm hook)",
    ("Secret", "kube-prometheus-stack-admission"): (
        "kube-prometheus-stack's admission-create hook Job (kube-webhook-certgen create)"
    ),
}


# --- collection --------------------------------------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], obj.get("metadata") or {})


def _name(obj: Obj) -> str:
    return f"{obj.get('kind')} {_meta(obj).get('namespace', '')}/{_meta(obj).get('name')}".replace(" /", " ")


def pod_templates(objects: Iterable[Obj]) -> list[PodTemplate]:
    """Every pod template: Pods, workload controllers, CronJobs, JobSets' and LeaderWorkerSets' templates."""
    found: list[PodTemplate] = []
    for obj in objects:
        kind = str(obj.get("kind"))
        namespace = str(_meta(obj).get("namespace", ""))
        spec = cast(Mapping[str, Any], obj.get("spec") or {})
        if kind == "Pod":
            found.append(PodTemplate(_name(obj), namespace, _meta(obj).get("labels") or {}, spec, kind))
        elif kind in WORKLOAD_KINDS:
            found.append(_template(obj, namespace, spec.get("template"), kind))
        elif kind == "CronJob":
            job = cast(Mapping[str, Any], cast(Mapping[str, Any], spec.get("jobTemplate") or {}).get("spec") or {})
            found.append(_template(obj, namespace, job.get("template"), kind))
    return found


def _template(obj: Obj, namespace: str, template: Any, kind: str) -> PodTemplate:
    template = cast(Mapping[str, Any], template or {})
    labels = cast(Mapping[str, str], _meta(template).get("labels") or {})
    return PodTemplate(_name(obj), namespace, labels, cast(Mapping[str, Any], template.get("spec") or {}), kind)


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from cast(list[Mapping[str, Any]], spec.get(key) or [])


def controller_pods(objects: Sequence[Obj], *, self_managed_control_plane: bool = False) -> list[PodTemplate]:
    kinds = {str(o.get("kind")) for o in objects}
    ratelimit = any(
        o.get("kind") == "ConfigMap" and "rateLimit" in str(cast(Mapping[str, Any], o.get("data") or {}))
        for o in objects
        if _meta(o).get("name") == "envoy-gateway-config"
    )
    if ratelimit:
        kinds.add("EnvoyGateway-ratelimit")
    result: list[PodTemplate] = _operator_pods(objects) + _proxy_pods(objects)
    extra = SELF_MANAGED_CONTROL_PLANE if self_managed_control_plane else ()
    for pod in (*CONTROLLER_PODS, *CLUSTER_PODS, *extra):
        if pod.when_kind and pod.when_kind not in kinds:
            continue
        spec = {"containers": [{"name": "c", "ports": [{"name": p, "containerPort": 1} for p in pod.container_ports]}]}
        result.append(PodTemplate(pod.owner, pod.namespace, pod.labels, spec, "controller"))
    return result


def _proxy_pods(objects: Sequence[Obj]) -> list[PodTemplate]:
    """The Envoy proxy pods Envoy Gateway runs for each Gateway."""
    pods: list[PodTemplate] = []
    for gateway in (o for o in objects if o.get("kind") == "Gateway"):
        labels = {
            **ENVOY_PROXY_LABELS,
            "gateway.envoyproxy.io/owning-gateway-name": str(_meta(gateway).get("name")),
            "gateway.envoyproxy.io/owning-gateway-namespace": str(_meta(gateway).get("namespace")),
        }
        spec = {"containers": [{"name": "envoy", "ports": [{"name": p} for p in ENVOY_PROXY_PORTS]}]}
        pods.append(PodTemplate(f"envoy-gateway ({_name(gateway)} proxy)", ENVOY_GATEWAY_NAMESPACE, labels, spec))
    return pods


def _operator_pods(objects: Sequence[Obj]) -> list[PodTemplate]:
    """The StatefulSet pods prometheus-operator makes for each Prometheus and Alertmanager (its
    pkg/prometheus and pkg/alertmanager statefulset labels: ``app.kubernetes.io/name``, ``.../instance``,
    ``.../managed-by: prometheus-operator``, ``prometheus``/``alertmanager: <name>``,
    ``operator.prometheus.io/name``)."""
    pods: list[PodTemplate] = []
    for obj in objects:
        kind = obj.get("kind")
        if kind not in ("Prometheus", "Alertmanager"):
            continue
        name = str(_meta(obj).get("name"))
        app = "prometheus" if kind == "Prometheus" else "alertmanager"
        labels = {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": "prometheus-operator",
            app: name,
        }
        if kind == "Prometheus":
            labels |= {"operator.prometheus.io/name": name, "operator.prometheus.io/shard": "0"}
        spec = {"containers": [{"name": app, "ports": [{"name": "web"}, {"name": "reloader-web"}]}]}
        pods.append(PodTemplate(f"prometheus-operator ({kind} {name})", str(_meta(obj).get("namespace")), labels, spec))
    return pods


def controller_services(objects: Sequence[Obj]) -> list[dict[str, Any]]:
    """Services the API server or a controller creates: ``default/kubernetes`` (the API server, labels
    ``component: apiserver, provider: kubernetes``, port ``https``) and the kubelet Service
    prometheus-operator maintains for ``--kubelet-service=<ns>/<name>``."""
    services: list[dict[str, Any]] = [
        {
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {"ports": [{"name": "https", "port": 443}]},
        }
    ]
    for pod in pod_templates(objects):
        for container in containers(pod.spec):
            for arg in cast(list[Any], container.get("args") or []):
                match = re.match(r"^--kubelet-service=([^/]+)/(.+)$", str(arg))
                if match is None:
                    continue
                services.append(
                    {
                        "kind": "Service",
                        "metadata": {
                            "name": match.group(2),
                            "namespace": match.group(1),
                            "labels": {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"},
                        },
                        "spec": {"ports": [{"name": n} for n in ("https-metrics", "http-metrics", "cadvisor")]},
                    }
                )
    return services


# --- selectors ---------------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (``matchLabels`` + ``matchExpressions``); ``{}`` matches everything."""
    if selector is None:
        return False
    for key, value in cast(Mapping[str, str], selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in cast(list[Mapping[str, Any]], selector.get("matchExpressions") or []):
        key, operator = expression["key"], expression["operator"]
        values = cast(list[str], expression.get("values") or [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _monitor_namespaces(monitor: Obj) -> set[str] | None:
    """The namespaces a monitor looks in; ``None`` = every namespace."""
    selector = cast(
        Mapping[str, Any], cast(Mapping[str, Any], monitor.get("spec") or {}).get("namespaceSelector") or {}
    )
    if selector.get("any"):
        return None
    names = cast(list[str], selector.get("matchNames") or [])
    return set(names) if names else {str(_meta(monitor).get("namespace"))}


def _in(namespace: str, namespaces: set[str] | None) -> bool:
    return namespaces is None or namespace in namespaces


def _service_port_names(service: Obj) -> set[str]:
    ports = cast(list[Mapping[str, Any]], cast(Mapping[str, Any], service.get("spec") or {}).get("ports") or [])
    return {str(p.get("name")) for p in ports if p.get("name")}


def _pod_port_names(pod: PodTemplate) -> set[str]:
    names: set[str] = set()
    for container in containers(pod.spec):
        for port in cast(list[Mapping[str, Any]], container.get("ports") or []):
            if port.get("name"):
                names.add(str(port["name"]))
    return names


# --- rules -------------------------------------------------------------------------------------------


def monitors_select_targets(objects: Sequence[Obj], inert: Mapping[tuple[str, str], str] = INERT_MONITORS) -> list[str]:
    problems: list[str] = []
    services = [o for o in objects if o.get("kind") == "Service"] + controller_services(objects)
    pods = pod_templates(objects) + controller_pods(objects)
    for monitor in objects:
        kind = monitor.get("kind")
        if kind not in ("ServiceMonitor", "PodMonitor"):
            continue
        if (str(_meta(monitor).get("namespace")), str(_meta(monitor).get("name"))) in inert:
            continue
        spec = cast(Mapping[str, Any], monitor.get("spec") or {})
        selector = cast(Mapping[str, Any], spec.get("selector") or {})
        namespaces = _monitor_namespaces(monitor)
        if kind == "ServiceMonitor":
            matched = [
                s
                for s in services
                if _in(str(_meta(s).get("namespace")), namespaces)
                and selector_matches(selector, _meta(s).get("labels") or {})
            ]
            ports = set[str]().union(*(_service_port_names(s) for s in matched)) if matched else set[str]()
            endpoints = cast(list[Mapping[str, Any]], spec.get("endpoints") or [])
        else:
            matched_pods = [p for p in pods if _in(p.namespace, namespaces) and selector_matches(selector, p.labels)]
            matched = matched_pods
            ports = set[str]().union(*(_pod_port_names(p) for p in matched_pods)) if matched_pods else set[str]()
            endpoints = cast(list[Mapping[str, Any]], spec.get("podMetricsEndpoints") or [])
        target = "Service" if kind == "ServiceMonitor" else "pod"
        if not matched:
            problems.append(f"{_name(monitor)} selects no {target} in {sorted(namespaces or ['*'])}")
            continue
        for endpoint in endpoints:
            port = endpoint.get("port")
            if port is not None and str(port) not in ports:
                problems.append(f"{_name(monitor)}: port {port!r} is not a named port of the {target}s it selects")
    return problems


def prometheus_selects_everything(
    objects: Sequence[Obj], inert: Mapping[tuple[str, str], str] = INERT_MONITORS
) -> list[str]:
    problems: list[str] = []
    namespaces: dict[str, dict[str, str]] = {
        str(_meta(o).get("name")): dict(cast(Mapping[str, str], _meta(o).get("labels") or {}))
        for o in objects
        if o.get("kind") == "Namespace"
    }
    pairs = (
        ("ServiceMonitor", "serviceMonitorSelector", "serviceMonitorNamespaceSelector"),
        ("PodMonitor", "podMonitorSelector", "podMonitorNamespaceSelector"),
        ("PrometheusRule", "ruleSelector", "ruleNamespaceSelector"),
    )
    for prometheus in (o for o in objects if o.get("kind") == "Prometheus"):
        spec = cast(Mapping[str, Any], prometheus.get("spec") or {})
        home = str(_meta(prometheus).get("namespace"))
        for kind, selector_key, namespace_key in pairs:
            selector = cast(Mapping[str, Any] | None, spec.get(selector_key))
            namespace_selector = cast(Mapping[str, Any] | None, spec.get(namespace_key))
            for obj in (o for o in objects if o.get("kind") == kind):
                namespace = str(_meta(obj).get("namespace"))
                if (namespace, str(_meta(obj).get("name"))) in inert:
                    if selector_matches(selector, _meta(obj).get("labels") or {}):
                        problems.append(f"{_name(prometheus)}.{selector_key} selects {_name(obj)}, listed as inert")
                    continue
                if namespace_selector is None:
                    namespace_ok = namespace == home  # nil: only the Prometheus' own namespace
                else:
                    namespace_ok = selector_matches(
                        namespace_selector, {**namespaces.get(namespace, {}), "kubernetes.io/metadata.name": namespace}
                    )
                if not namespace_ok:
                    problems.append(f"{_name(prometheus)}.{namespace_key} does not select {_name(obj)}'s namespace")
                elif not selector_matches(selector, _meta(obj).get("labels") or {}):
                    problems.append(f"{_name(prometheus)}.{selector_key} does not select {_name(obj)}")
    return problems


def services_select_pods(objects: Sequence[Obj], *, self_managed_control_plane: bool = False) -> list[str]:
    problems: list[str] = []
    pods = pod_templates(objects) + controller_pods(objects, self_managed_control_plane=self_managed_control_plane)
    for service in (o for o in objects if o.get("kind") == "Service"):
        spec = cast(Mapping[str, Any], service.get("spec") or {})
        selector = cast(Mapping[str, str], spec.get("selector") or {})
        if not selector or spec.get("type") == "ExternalName":
            continue
        namespace = str(_meta(service).get("namespace"))
        if not any(p.namespace == namespace and selector_matches({"matchLabels": selector}, p.labels) for p in pods):
            problems.append(f"{_name(service)} selects no pod ({dict(selector)})")
    return problems


def _pod_references(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:  # noqa: PLR0912 (one branch per reference kind)
    yield "ServiceAccount", str(spec.get("serviceAccountName") or "default")
    for secret in cast(list[Mapping[str, Any]], spec.get("imagePullSecrets") or []):
        yield "Secret", str(secret.get("name"))
    for volume in cast(list[Mapping[str, Any]], spec.get("volumes") or []):
        if "secret" in volume and not volume["secret"].get("optional"):
            yield "Secret", str(volume["secret"].get("secretName"))
        if "configMap" in volume and not volume["configMap"].get("optional"):
            yield "ConfigMap", str(volume["configMap"].get("name"))
        projected = cast(Mapping[str, Any], volume.get("projected") or {})
        for source in cast(list[Mapping[str, Any]], projected.get("sources") or []):
            if "secret" in source and not source["secret"].get("optional"):
                yield "Secret", str(source["secret"].get("name"))
            if "configMap" in source and not source["configMap"].get("optional"):
                yield "ConfigMap", str(source["configMap"].get("name"))
    for container in containers(spec):
        for env in cast(list[Mapping[str, Any]], container.get("env") or []):
            source = cast(Mapping[str, Any], env.get("valueFrom") or {})
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = cast(Mapping[str, Any] | None, source.get(key))
                if ref is not None and not ref.get("optional"):
                    yield kind, str(ref.get("name"))
        for env_from in cast(list[Mapping[str, Any]], container.get("envFrom") or []):
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = cast(Mapping[str, Any] | None, env_from.get(key))
                if ref is not None and not ref.get("optional"):
                    yield kind, str(ref.get("name"))


def references_exist(
    objects: Sequence[Obj], controller_created: Mapping[tuple[str, str], str] = CONTROLLER_CREATED
) -> list[str]:
    existing = {(str(o.get("kind")), str(_meta(o).get("namespace", "")), str(_meta(o).get("name"))) for o in objects}
    problems: list[str] = []
    for pod in pod_templates(objects):
        for kind, name in _pod_references(pod.spec):
            if (kind, pod.namespace, name) in existing or (kind, name) in controller_created:
                continue
            if kind == "ServiceAccount" and name == "default":
                continue  # every namespace has one
            problems.append(f"{pod.owner} references {kind} {pod.namespace}/{name}, which nothing creates")
    for monitor in (o for o in objects if o.get("kind") in ("ServiceMonitor", "PodMonitor")):
        namespace = str(_meta(monitor).get("namespace", ""))
        for kind, name in _monitor_references(monitor):
            if (kind, namespace, name) not in existing and (kind, name) not in controller_created:
                problems.append(f"{_name(monitor)} references {kind} {namespace}/{name}, which nothing creates")
    return problems


def _monitor_references(monitor: Obj) -> Iterator[tuple[str, str]]:
    """Secrets/ConfigMaps a monitor's endpoints read (prometheus-operator resolves them in the
    monitor's namespace): bearer tokens, authorization/basic-auth credentials, TLS material."""
    spec = cast(Mapping[str, Any], monitor.get("spec") or {})
    endpoints = cast(list[Mapping[str, Any]], spec.get("endpoints") or spec.get("podMetricsEndpoints") or [])
    for endpoint in endpoints:
        refs: list[Any] = [
            endpoint.get("bearerTokenSecret"),
            cast(Mapping[str, Any], endpoint.get("authorization") or {}).get("credentials"),
            *cast(Mapping[str, Any], endpoint.get("basicAuth") or {}).values(),
        ]
        tls = cast(Mapping[str, Any], endpoint.get("tlsConfig") or {})
        refs.append(tls.get("keySecret"))
        for part in ("ca", "cert"):
            source = cast(Mapping[str, Any], tls.get(part) or {})
            refs.append(source.get("secret"))
            if source.get("configMap"):
                ref = cast(Mapping[str, Any], source["configMap"])
                yield "ConfigMap", str(ref.get("name"))
        for ref in refs:
            if isinstance(ref, Mapping) and cast(Mapping[str, Any], ref).get("name"):
                yield "Secret", str(cast(Mapping[str, Any], ref)["name"])


_MOVING_TAGS = {"latest", "main", "master", "stable", "edge", "nightly", "dev"}


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return bool(tag) and tag not in _MOVING_TAGS and not tag.endswith(("-latest", "-devel"))


def images_pinned(objects: Sequence[Obj]) -> list[str]:
    problems: list[str] = []
    for pod in pod_templates(objects):
        for container in containers(pod.spec):
            image = str(container.get("image", ""))
            if not image_is_pinned(image):
                problems.append(f"{pod.owner} container {container.get('name')}: image {image!r} is not pinned")
    return problems


def _has_secret(value: Any) -> bool:
    text = str(value)
    return any(marker in text for marker in SECRET_MARKERS)


def no_secret_in_plain_text(objects: Sequence[Obj]) -> list[str]:
    problems: list[str] = []
    for pod in pod_templates(objects):
        for container in containers(pod.spec):
            where = f"{pod.owner} container {container.get('name')}"
            for key in ("args", "command"):
                if any(_has_secret(a) for a in cast(list[Any], container.get(key) or [])):
                    problems.append(f"{where}: a secret value in {key}")
            for env in cast(list[Mapping[str, Any]], container.get("env") or []):
                if "value" in env and _has_secret(env["value"]):
                    problems.append(f"{where}: a secret value in plain env {env.get('name')}")
    for config_map in (o for o in objects if o.get("kind") == "ConfigMap"):
        for key, value in cast(Mapping[str, Any], config_map.get("data") or {}).items():
            if _has_secret(value):
                problems.append(f"{_name(config_map)}: a secret value in data.{key}")
    return problems


def _tolerates_gpu(spec: Mapping[str, Any]) -> bool:
    for toleration in cast(list[Mapping[str, Any]], spec.get("tolerations") or []):
        if toleration.get("key") == GPU_TAINT_KEY or (
            toleration.get("operator") == "Exists" and not toleration.get("key")
        ):
            return True
    return False


_GPU_NODE_LABEL = re.compile(r"^(nvidia\.com/|feature\.node\.kubernetes\.io/pci-10de)")


def _targets_gpu_nodes(spec: Mapping[str, Any]) -> bool:
    selector = cast(Mapping[str, str], spec.get("nodeSelector") or {})
    if any(_GPU_NODE_LABEL.match(k) for k in selector):
        return True
    affinity = str(spec.get("affinity") or "")
    return bool(_GPU_NODE_LABEL.search(affinity.replace("'", ""))) or "nvidia.com/gpu" in affinity


def _pinned_to(spec: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    selector = cast(Mapping[str, str], spec.get("nodeSelector") or {})
    if all(selector.get(k) == v for k, v in labels.items()):
        return True
    affinity = cast(Mapping[str, Any], spec.get("affinity") or {})
    required = cast(
        Mapping[str, Any],
        cast(Mapping[str, Any], affinity.get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {},
    )
    terms = cast(list[Mapping[str, Any]], required.get("nodeSelectorTerms") or [])
    return bool(terms) and all(
        any(
            e.get("key") == k and e.get("operator") == "In" and e.get("values") == [v]
            for e in cast(list[Mapping[str, Any]], t.get("matchExpressions") or [])
        )
        for t in terms
        for k, v in labels.items()
    )


def pods_on_their_pool(objects: Sequence[Obj], system: Mapping[str, str] = SYSTEM_POOL) -> list[str]:
    problems: list[str] = []
    for pod in pod_templates(objects):
        if pod.workload_kind == "DaemonSet":
            continue  # one per node by design (node exporter, GPU stack): pinned by its own node selector
        if _targets_gpu_nodes(pod.spec) and _tolerates_gpu(pod.spec):
            continue
        if not _pinned_to(pod.spec, system):
            problems.append(f"{pod.owner} is not pinned to the system pool ({dict(system)})")
    return problems


@dataclass
class WiringReport:
    problems: dict[str, list[str]] = field(default_factory=dict[str, list[str]])


RULES = {
    "monitors_select_targets": monitors_select_targets,
    "prometheus_selects_everything": prometheus_selects_everything,
    "services_select_pods": services_select_pods,
    "references_exist": references_exist,
    "images_pinned": images_pinned,
    "no_secret_in_plain_text": no_secret_in_plain_text,
    "pods_on_their_pool": pods_on_their_pool,
}


def check(objects: Sequence[Obj], *, self_managed_control_plane: bool = False) -> WiringReport:
    """Every rule over ``objects``. ``self_managed_control_plane``: the cluster's control plane runs as
    pods on its nodes (an existing kubeadm-style cluster), not outside them (EKS, GKE, LKE)."""
    problems = {name: rule(objects) for name, rule in RULES.items()}
    problems["services_select_pods"] = services_select_pods(
        objects, self_managed_control_plane=self_managed_control_plane
    )
    return WiringReport(problems)
