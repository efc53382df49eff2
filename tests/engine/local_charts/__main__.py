"""Test-only entry point: gpuplane's real program, with Helm releases installed from the vendored chart sources.

What: registers one engine-side resource transform, then runs ``stacks/__main__.py`` unchanged. The
transform rewrites every ``kubernetes:helm.sh/v3:Release`` to the chart directory
``third_party/charts/<chart>/<version>`` (no repository: these machines reach no chart repository) and, for
a control plane without kubelet or scheduler, turns off what can only finish on running pods:
``atomic`` (Helm forces ``wait`` when atomic), waiting (``skipAwait``) and hooks (``disableWebhooks``, which
the provider passes to Helm as DisableHooks: Helm waits for hook Jobs to complete, always). Objects the
provider itself awaits (workloads, Services, PVCs, Jobs) get the ``pulumi.com/skipAwait`` annotation.

Why: tests/engine/test_existing_cluster.py copies this file to ``enginetest/__main__.py`` of a throw-away copy
of the repository and points that copy's Pulumi.yaml ``main`` here. Everything else — config, components,
providers, the policy pack — is the real thing. Verified at source (docs/decisions/real-engine.md):
pulumi-kubernetes v4.25.0 provider/pkg/provider/helm_release.go (Wait = !skipAwait, DisableHooks =
disableWebhooks, Atomic), Helm v3.18.6 pkg/action/install.go (``i.Wait = i.Wait || i.Atomic``),
provider/pkg/metadata/annotations.go (``pulumi.com/skipAwait``).
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any

import pulumi

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "third_party" / "charts"

#: Kinds pulumi-kubernetes awaits readiness for (provider/pkg/await/awaiters.go); nothing becomes ready here.
AWAITED = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:batch/v1:Job",
    "kubernetes:networking.k8s.io/v1:Ingress",
}

REWRITTEN: list[str] = []


def _local_chart(props: dict[str, Any]) -> dict[str, Any]:
    chart = str(props["chart"]).rsplit("/", 1)[-1]
    version = str(props["version"])
    path = CHARTS / chart / version
    if not (path / "Chart.yaml").is_file():
        raise RuntimeError(f"no vendored chart {chart} {version} at {path}")
    props = {k: v for k, v in props.items() if k not in ("repositoryOpts", "repository_opts")}
    props.update(chart=str(path), atomic=False, skipAwait=True, disableWebhooks=True, waitForJobs=False)
    return props


def _skip_await(props: dict[str, Any]) -> dict[str, Any]:
    metadata = props.get("metadata")
    if not isinstance(metadata, dict):
        raise RuntimeError(f"metadata of an awaited object is not a plain map: {metadata!r}")
    annotations = dict(metadata.get("annotations") or {})
    annotations["pulumi.com/skipAwait"] = "true"
    return {**props, "metadata": {**metadata, "annotations": annotations}}


def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ == "kubernetes:helm.sh/v3:Release":
        REWRITTEN.append(args.name)
        return pulumi.ResourceTransformResult(_local_chart(dict(args.props)), args.opts)
    if args.type_ in AWAITED:
        return pulumi.ResourceTransformResult(_skip_await(dict(args.props)), args.opts)
    return None


pulumi.runtime.register_resource_transform(transform)
os.chdir(ROOT / "stacks")
runpy.run_path(str(ROOT / "stacks" / "__main__.py"), run_name="__main__")
