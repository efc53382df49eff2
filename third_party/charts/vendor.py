"""Vendor a pinned Helm chart from its upstream repository at its release tag (run by hand on a pin bump).

What: for each chart in :data:`CHARTS`, extract the chart directory at the release tag from a bare
clone of its repository (``git archive``), add the subcharts the published package carries (each from
its own repository and tag), apply the substitutions the project's release process makes before
``helm package`` (chart version, app version, image repository/tag/pull policy), drop test and CI
folders, copy the repository's licence, and write ``SOURCE.md`` (repository, tag, commit, every
substitution).

Why: the test suite renders the real templates of every pinned chart offline; the published chart
archives cannot be downloaded here, the repositories' tags can (see README.md beside this file).

Usage::

    python third_party/charts/vendor.py --mirror DIR [CHART ...]

``DIR`` holds one bare clone per repository as ``DIR/<owner>+<name>/repo`` (the layout the code-search
``fetch`` tool writes; ``git clone --bare https://github.com/<owner>/<name> DIR/<owner>+<name>/repo``
gives the same). The version vendored is the pin in ``components/versions.py``; update the
``CHARTS`` entry (tag, subchart versions from the chart's ``Chart.yaml``/``Chart.lock``) in the same
pull request.

Upstream gotchas:
- gateway-helm keeps ``values.tmpl.yaml`` and renders ``values.yaml`` with ``envsubst`` at release
  (tools/make/helm.mk ``helm-generate``); Kueue, JobSet and LWS rewrite image tags with ``yq`` in their
  packaging scripts; the GPU operator, Envoy Gateway and AI Gateway keep placeholder versions in
  ``Chart.yaml`` (``v1.0.0-devel``, ``v0.0.0-latest``) that ``helm package --version`` overrides.
- kube-prometheus-stack's ``Chart.yaml`` allows ``prometheus-windows-exporter`` ``0.12.*``: the package
  carries whatever was newest at release time; we take the newest 0.12.x tagged before the chart's tag.
- Bitnami subcharts carry their own ``common`` subchart at the version in their ``Chart.lock``.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXCLUDE_DIRS = {"ci", "tests", "unittests", "hack", "docs", ".github"}
EXCLUDE_FILES = {"README.md", "UPGRADE.md", "CONTRIBUTING.md", ".editorconfig", ".gitignore", "values.tmpl.yaml"}


@dataclass(frozen=True)
class Sub:
    """A subchart the published package carries in ``charts/<name>``, from its own tag."""

    name: str
    repo: str
    tag: str
    path: str
    subs: tuple[Sub, ...] = ()


@dataclass(frozen=True)
class Vendored:
    repo: str
    tag: str
    path: str
    version: str
    app_version: str | None = None
    values: dict[str, str] = field(default_factory=dict[str, str])
    """``dotted.key.path`` -> new scalar, as the release script's ``yq`` edits."""
    envsubst: dict[str, str] = field(default_factory=dict[str, str])
    """``values.tmpl.yaml`` -> ``values.yaml`` with these variables (Envoy Gateway)."""
    subcharts: tuple[Sub, ...] = ()
    note: str = ""


_BITNAMI_COMMON_2_12 = Sub("common", "bitnami/charts", "common/2.12.0", "bitnami/common")
_BITNAMI_COMMON_2_2 = Sub("common", "bitnami/charts", "common/2.2.3", "bitnami/common")

CHARTS: dict[str, Vendored] = {
    "kueue": Vendored(
        "kubernetes-sigs/kueue",
        "v0.19.2",
        "charts/kueue",
        "0.19.2",
        "v0.19.2",
        values={
            "controllerManager.manager.image.repository": "registry.k8s.io/kueue/kueue",
            "controllerManager.manager.image.tag": "v0.19.2",
            "controllerManager.manager.image.pullPolicy": "IfNotPresent",
            "kueueViz.backend.image.repository": "registry.k8s.io/kueue/kueueviz-backend",
            "kueueViz.backend.image.tag": "v0.19.2",
            "kueueViz.backend.image.pullPolicy": "IfNotPresent",
            "kueueViz.frontend.image.repository": "registry.k8s.io/kueue/kueueviz-frontend",
            "kueueViz.frontend.image.tag": "v0.19.2",
            "kueueViz.frontend.image.pullPolicy": "IfNotPresent",
        },
        note="hack/helm-chart-package.sh: a promoted tag (vX.Y.Z) sets the images to registry.k8s.io/kueue "
        "and the tag to GIT_TAG; `helm package --version ${GIT_TAG#v} --app-version ${GIT_TAG}`.",
    ),
    "kube-prometheus-stack": Vendored(
        "prometheus-community/helm-charts",
        "kube-prometheus-stack-88.5.3",
        "charts/kube-prometheus-stack",
        "88.5.3",
        subcharts=(
            Sub(
                "kube-state-metrics",
                "prometheus-community/helm-charts",
                "kube-state-metrics-8.4.0",
                "charts/kube-state-metrics",
            ),
            Sub(
                "prometheus-node-exporter",
                "prometheus-community/helm-charts",
                "prometheus-node-exporter-4.56.1",
                "charts/prometheus-node-exporter",
            ),
            Sub("grafana", "grafana-community/helm-charts", "grafana-12.11.1", "charts/grafana"),
            Sub(
                "prometheus-windows-exporter",
                "prometheus-community/helm-charts",
                "prometheus-windows-exporter-0.12.8",
                "charts/prometheus-windows-exporter",
            ),
        ),
        note="Chart.yaml allows prometheus-windows-exporter 0.12.*; 0.12.8 is the newest 0.12.x tag "
        "(disabled by gpuplane's values, present because Helm requires every dependency).",
    ),
    "gpu-operator": Vendored(
        "NVIDIA/gpu-operator",
        "v26.7.0",
        "deployments/gpu-operator",
        "v26.7.0",
        "v26.7.0",
        note=".github/workflows/release-rc-assets.yaml: `helm package --version ${RELEASE_TAG} "
        "--app-version ${RELEASE_TAG}` (Chart.yaml holds v1.0.0-devel / main-latest; the operator image "
        "tag defaults to .Chart.AppVersion). node-feature-discovery is in the tree at charts/.",
    ),
    "dcgm-exporter": Vendored("NVIDIA/dcgm-exporter", "4.5.3-4.8.2", "deployment", "4.8.2"),
    "gateway-helm": Vendored(
        "envoyproxy/gateway",
        "v1.8.3",
        "charts/gateway-helm",
        "v1.8.3",
        "v1.8.3",
        envsubst={"GatewayImage": "docker.io/envoyproxy/gateway:v1.8.3", "GatewayImagePullPolicy": "IfNotPresent"},
        note=".github/workflows/release.yaml: `IMAGE_PULL_POLICY=IfNotPresent CHART_VERSION=v1.8.3 "
        "IMAGE=docker.io/envoyproxy/gateway TAG=v1.8.3 make helm-package` -> tools/make/helm.mk renders "
        "values.yaml from values.tmpl.yaml with envsubst, then `helm package --app-version ${TAG} "
        "--version ${CHART_VERSION}`.",
    ),
    "ai-gateway-crds-helm": Vendored(
        "envoyproxy/ai-gateway",
        "v1.1.0",
        "manifests/charts/ai-gateway-crds-helm",
        "v1.1.0",
        "v1.1.0",
        note=".github/workflows/release.yaml: `make helm-push HELM_CHART_VERSION=${TAG}` -> "
        "`helm package --app-version ${TAG} --version ${HELM_CHART_VERSION}`.",
    ),
    "ai-gateway-helm": Vendored(
        "envoyproxy/ai-gateway",
        "v1.1.0",
        "manifests/charts/ai-gateway-helm",
        "v1.1.0",
        "v1.1.0",
        note=".github/workflows/release.yaml: `make helm-push HELM_CHART_VERSION=${TAG}` -> "
        "`helm package --app-version ${TAG} --version ${HELM_CHART_VERSION}` (image tags default to "
        ".Chart.AppVersion).",
    ),
    "openfga": Vendored(
        "openfga/helm-charts",
        "openfga-0.3.12",
        "charts/openfga",
        "0.3.12",
        subcharts=(
            Sub(
                "postgresql",
                "bitnami/charts",
                "postgresql/12.12.10",
                "bitnami/postgresql",
                (_BITNAMI_COMMON_2_12,),
            ),
            Sub("mysql", "bitnami/charts", "mysql/9.6.0", "bitnami/mysql", (_BITNAMI_COMMON_2_2,)),
            Sub("common", "bitnami/charts", "common/2.13.3", "bitnami/common"),
        ),
        note="Subchart versions from charts/openfga/Chart.lock; each Bitnami subchart's own common from "
        "its Chart.lock (postgresql 12.12.10 -> common 2.12.0, mysql 9.6.0 -> common 2.2.3).",
    ),
    "cluster-autoscaler": Vendored(
        "kubernetes/autoscaler",
        "cluster-autoscaler-chart-9.52.1",
        "cluster-autoscaler/charts/cluster-autoscaler",
        "9.52.1",
    ),
    "jobset": Vendored(
        "kubernetes-sigs/jobset",
        "v0.11.0",
        "charts/jobset",
        "0.11.0",
        "v0.11.0",
        values={
            "image.repository": "registry.k8s.io/jobset/jobset",
            "image.tag": "v0.11.0",
            "image.pullPolicy": "IfNotPresent",
        },
        note="hack/helm-chart-package.sh: a promoted tag sets image.repository registry.k8s.io/jobset/jobset, "
        "image.tag GIT_TAG, pullPolicy IfNotPresent; `helm package --version ${GIT_TAG#v} --app-version ${GIT_TAG}`.",
    ),
    "lws": Vendored(
        "kubernetes-sigs/lws",
        "v0.8.0",
        "charts/lws",
        "v0.8.0",
        "v0.8.0",
        values={
            "image.manager.repository": "registry.k8s.io/lws/lws",
            "image.manager.tag": "v0.8.0",
            "image.manager.pullPolicy": "IfNotPresent",
        },
        note="hack/push-chart.sh: on a semver release branch tag the image is registry.k8s.io/lws/lws:<tag>, "
        "pullPolicy IfNotPresent; `helm package --version ${tag} --app-version ${tag}`.",
    ),
    "prometheus-adapter": Vendored(
        "prometheus-community/helm-charts", "prometheus-adapter-5.3.0", "charts/prometheus-adapter", "5.3.0"
    ),
}


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def git_dir_of(mirror: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    return mirror / f"{owner}+{name}" / "repo"


def extract(git_dir: Path, tag: str, path: str, dest: Path) -> str:
    """Extract ``path`` at ``tag`` into ``dest`` (its contents, not the folder); return the commit."""
    commit = git(git_dir, "rev-parse", f"{tag}^{{commit}}").decode().strip()
    archive = git(git_dir, "archive", "--format=tar", commit, path)
    prefix = path.rstrip("/") + "/"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.name.startswith(prefix) or not member.isfile():
                continue
            relative = Path(member.name[len(prefix) :])
            if relative.parts[0] in EXCLUDE_DIRS or relative.name in EXCLUDE_FILES:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    return commit


def licence(git_dir: Path, tag: str) -> bytes:
    names = git(git_dir, "ls-tree", "--name-only", tag).decode().split()
    for name in ("LICENSE", "LICENSE.md", "LICENSE.txt"):
        if name in names:
            return git(git_dir, "show", f"{tag}:{name}")
    raise SystemExit(f"no licence at the top of {git_dir} {tag}")


def set_top_level(text: str, key: str, value: str) -> str:
    new, count = re.subn(rf"^{key}:.*$", f'{key}: "{value}"', text, count=1, flags=re.MULTILINE)
    if count != 1:  # `helm package --app-version` adds a missing appVersion
        return text.rstrip("\n") + f'\n{key}: "{value}"\n'
    return new


def set_value(text: str, dotted: str, value: str) -> str:
    """Set the scalar at ``dotted`` in a block-style YAML text, keeping comments (what ``yq e -i`` does)."""
    keys = dotted.split(".")
    lines = text.splitlines(keepends=True)
    stack: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z0-9_.-]+):(.*)$", line.rstrip("\n"))
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if [k for _, k in stack] == keys:
            lines[index] = f"{match.group(1)}{keys[-1]}: {value}\n"
            return "".join(lines)
    raise SystemExit(f"values.yaml has no {dotted}")


def envsubst(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise SystemExit(f"values.tmpl.yaml uses ${{{name}}}, not set")
        return variables[name]

    return re.sub(r"\$\{(\w+)\}", replace, text)


def vendor_sub(mirror: Path, sub: Sub, dest: Path, root: Path, lines: list[str], depth: int) -> None:
    git_dir = git_dir_of(mirror, sub.repo)
    commit = extract(git_dir, sub.tag, sub.path, dest)
    (dest / "LICENSE").write_bytes(licence(git_dir, sub.tag))
    pad = "  " * depth
    where = dest.relative_to(root).as_posix()
    lines.append(f"{pad}- `{where}`: {sub.repo} tag `{sub.tag}`, commit `{commit}`, path `{sub.path}`")
    for nested in sub.subs:
        vendor_sub(mirror, nested, dest / "charts" / nested.name, root, lines, depth + 1)


def vendor(mirror: Path, chart: str, spec: Vendored) -> Path:
    dest = ROOT / chart / spec.version
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    git_dir = git_dir_of(mirror, spec.repo)
    commit = extract(git_dir, spec.tag, spec.path, dest)
    (dest / "LICENSE").write_bytes(licence(git_dir, spec.tag))
    changes: list[str] = []
    chart_yaml = dest / "Chart.yaml"
    text = chart_yaml.read_text()
    version_line = re.search(r"^version:\s*\"?([^\"\s]+)", text, re.MULTILINE)
    if version_line is None or version_line.group(1) != spec.version:
        text = set_top_level(text, "version", spec.version)
        changes.append(f"`Chart.yaml` `version` -> `{spec.version}` (`helm package --version`)")
    if spec.app_version is not None:
        app_line = re.search(r"^appVersion:\s*\"?([^\"\s]+)", text, re.MULTILINE)
        if app_line is None or app_line.group(1) != spec.app_version:
            text = set_top_level(text, "appVersion", spec.app_version)
            changes.append(f"`Chart.yaml` `appVersion` -> `{spec.app_version}` (`helm package --app-version`)")
    chart_yaml.write_text(text)
    if spec.envsubst:
        template = git(git_dir, "show", f"{spec.tag}:{spec.path}/values.tmpl.yaml").decode()
        (dest / "values.yaml").write_text(envsubst(template, spec.envsubst))
        changes.append(
            "`values.yaml` rendered from `values.tmpl.yaml` with envsubst: "
            + ", ".join(f"`{k}={v}`" for k, v in spec.envsubst.items())
        )
    if spec.values:
        values_path = dest / "values.yaml"
        values = values_path.read_text()
        for key, value in spec.values.items():
            values = set_value(values, key, value)
        values_path.write_text(values)
        changes.append("`values.yaml`: " + ", ".join(f"`{k}: {v}`" for k, v in spec.values.items()))
    sub_lines: list[str] = []
    for sub in spec.subcharts:
        vendor_sub(mirror, sub, dest / "charts" / sub.name, dest, sub_lines, 0)
    write_source(dest, chart, spec, commit, changes, sub_lines)
    return dest


def write_source(dest: Path, chart: str, spec: Vendored, commit: str, changes: list[str], subs: list[str]) -> None:
    text = [
        f"# {chart} {spec.version}",
        "",
        "| | |",
        "|---|---|",
        f"| repository | {spec.repo} |",
        f"| tag | `{spec.tag}` |",
        f"| commit | `{commit}` |",
        f"| path | `{spec.path}` |",
        "| licence | `LICENSE` (the repository's, at the tag) |",
        "| vendored by | `python third_party/charts/vendor.py --mirror DIR " + chart + "` |",
        "",
        "Left out (not part of the rendered chart): folders "
        + ", ".join(f"`{d}/`" for d in sorted(EXCLUDE_DIRS))
        + "; files "
        + ", ".join(f"`{f}`" for f in sorted(EXCLUDE_FILES))
        + ".",
        "",
        "## Release-process substitutions applied",
        "",
    ]
    text += [f"- {c}" for c in changes] or ["- none: the tree at the tag is what the release packages"]
    if spec.note:
        text += ["", spec.note]
    if subs:
        text += ["", "## Subcharts (as the published package carries them)", "", *subs]
    (dest / "SOURCE.md").write_text("\n".join(text) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mirror", required=True, type=Path)
    parser.add_argument("charts", nargs="*")
    args = parser.parse_args(argv)
    for chart in args.charts or sorted(CHARTS):
        print(vendor(args.mirror, chart, CHARTS[chart]).relative_to(ROOT), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
