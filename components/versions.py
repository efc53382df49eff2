"""Every Helm chart and container image gpuplane installs, pinned here and nowhere else.

What: one :class:`ChartPin` per chart (release name, chart, where it is published, exact version,
whether it relies on Helm hooks) and one :class:`ImagePin` per image we choose ourselves, plus the
compatibility between pins that we tested (:data:`COMPATIBILITY`).
Why: a reviewer sees every version change in one diff; Renovate updates the ``version=`` lines
(see the ``# renovate:`` comments, parsed by the regex manager in ``renovate.json``); the policy
pack checks that the deployed versions are exact and inside the tested matrix.

Upstream gotchas:
- Kueue's release must be named ``kueue`` or its internal certificates break (kubernetes-sigs/kueue#6866).
- Envoy AI Gateway v1.1.0 is built and tested against Envoy Gateway v1.8.x and Gateway API v1.5.x;
  Envoy Gateway v1.9.0 moved to Gateway API v1.6.1, which AI Gateway does not list yet.
- Charts with ``uses_hooks=True`` must be installed with ``helm.v3.Release``: ``helm.v4.Chart``
  renders client-side and skips hooks (pulumi/pulumi-kubernetes#3284).
- The GPU operator's chart version carries a leading ``v``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ChartPin:
    release: str
    chart: str
    repository: str
    version: str
    uses_hooks: bool

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")

    @property
    def chart_ref(self) -> str:
        """What ``helm.v3.Release(chart=...)`` takes: the full OCI reference, or the chart name."""
        return f"{self.repository}/{self.chart}" if self.is_oci else self.chart


@dataclass(frozen=True, kw_only=True)
class ImagePin:
    repository: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


KUEUE = ChartPin(
    release="kueue",
    chart="kueue",
    repository="oci://registry.k8s.io/kueue/charts",
    # renovate: datasource=docker depName=registry.k8s.io/kueue/charts/kueue
    version="0.19.2",
    uses_hooks=False,
)
GPU_OPERATOR = ChartPin(
    release="gpu-operator",
    chart="gpu-operator",
    repository="https://helm.ngc.nvidia.com/nvidia",
    # renovate: datasource=helm depName=gpu-operator registryUrl=https://helm.ngc.nvidia.com/nvidia
    version="v26.7.0",
    uses_hooks=True,
)
DCGM_EXPORTER = ChartPin(
    release="dcgm-exporter",
    chart="dcgm-exporter",
    repository="https://nvidia.github.io/dcgm-exporter/helm-charts",
    # renovate: datasource=helm depName=dcgm-exporter registryUrl=https://nvidia.github.io/dcgm-exporter/helm-charts
    version="4.8.2",
    uses_hooks=False,
)
KUBE_PROMETHEUS_STACK = ChartPin(
    release="kube-prometheus-stack",
    chart="kube-prometheus-stack",
    repository="https://prometheus-community.github.io/helm-charts",
    # renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
    version="88.5.3",
    uses_hooks=True,
)
ENVOY_GATEWAY = ChartPin(
    release="envoy-gateway",
    chart="gateway-helm",
    repository="oci://docker.io/envoyproxy",
    # renovate: datasource=docker depName=docker.io/envoyproxy/gateway-helm
    version="v1.8.3",
    uses_hooks=True,
)
AI_GATEWAY_CRDS = ChartPin(
    release="ai-gateway-crds",
    chart="ai-gateway-crds-helm",
    repository="oci://docker.io/envoyproxy",
    # renovate: datasource=docker depName=docker.io/envoyproxy/ai-gateway-crds-helm
    version="v1.1.0",
    uses_hooks=False,
)
AI_GATEWAY = ChartPin(
    release="ai-gateway",
    chart="ai-gateway-helm",
    repository="oci://docker.io/envoyproxy",
    # renovate: datasource=docker depName=docker.io/envoyproxy/ai-gateway-helm
    version="v1.1.0",
    uses_hooks=False,
)
OPENFGA = ChartPin(
    release="openfga",
    chart="openfga",
    repository="https://openfga.github.io/helm-charts",
    # renovate: datasource=helm depName=openfga registryUrl=https://openfga.github.io/helm-charts
    version="0.3.12",
    uses_hooks=True,
)

CLUSTER_AUTOSCALER = ChartPin(
    release="cluster-autoscaler",
    chart="cluster-autoscaler",
    repository="https://kubernetes.github.io/autoscaler",
    # Released 2025-10-20 (cluster-autoscaler-chart-9.52.1); the image is chosen per cluster minor below.
    # renovate: datasource=helm depName=cluster-autoscaler registryUrl=https://kubernetes.github.io/autoscaler
    version="9.52.1",
    uses_hooks=False,
)
# registry.k8s.io/autoscaling/cluster-autoscaler tag per Kubernetes minor (cluster-autoscaler supports
# only its own minor): releases cluster-autoscaler-1.34.5 (2026-07-23), 1.32.7 (2026-02-13), 1.33.3
# (promoted in kubernetes/k8s.io#8815); cluster-autoscaler-1.35.2 and 1.36.1 (both published 2026-07-23,
# github.com/kubernetes/autoscaler/releases, release notes listing the registry.k8s.io image).
CLUSTER_AUTOSCALER_IMAGE_TAGS: Mapping[str, str] = {
    "1.32": "v1.32.7",
    "1.33": "v1.33.3",
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
    "1.36": "v1.36.1",
}

JOBSET = ChartPin(
    release="jobset",
    chart="jobset",
    repository="oci://registry.k8s.io/jobset/charts",
    # The newest chart whose values.yaml could be read at a commit whose Chart.yaml says this version
    # (third_party/upstream-extra/charts/jobset/0.11.0/SOURCE.md); the release must be named `jobset`.
    # renovate: datasource=docker depName=registry.k8s.io/jobset/charts/jobset
    version="0.11.0",
    uses_hooks=False,
)
LWS = ChartPin(
    release="lws",
    chart="lws",
    repository="oci://registry.k8s.io/lws/charts",
    # Published with the release tag as chart version (hack/push-chart.sh), hence the leading `v`;
    # third_party/upstream-extra/charts/lws/v0.8.0/SOURCE.md says how its values were verified.
    # renovate: datasource=docker depName=registry.k8s.io/lws/charts/lws
    version="v0.8.0",
    uses_hooks=False,
)

PROMETHEUS_ADAPTER = ChartPin(
    release="prometheus-adapter",
    chart="prometheus-adapter",
    repository="https://prometheus-community.github.io/helm-charts",
    # Tag prometheus-adapter-5.3.0 (vendored: third_party/charts/prometheus-adapter/5.3.0/SOURCE.md). The
    # earlier pin 4.9.2 was never released (tags go 4.9.1 -> 4.10.0): every pin must have a vendored chart.
    # renovate: datasource=helm depName=prometheus-adapter registryUrl=https://prometheus-community.github.io/helm-charts
    version="5.3.0",
    uses_hooks=False,
)

# --- Kubernetes versions each service offers (issue 12, item 16) -----------------------------------
# What each managed service lets a *new* cluster run as of the dates below; the spec accepts a version
# only if the stack's cloud offers it (``offered_kubernetes_versions``). Every entry rests on docs read
# through the search tool, not on an API call (docs/decisions/kubernetes-versions.md says what each
# one rests on). Refresh these rows when a service adds or retires a minor.


@dataclass(frozen=True, kw_only=True)
class VersionOffer:
    """Kubernetes minors one service (or one GKE release channel) offers, with where and when it was read."""

    versions: tuple[str, ...]
    source: str
    as_of: str
    note: str = ""


EKS_STANDARD_SUPPORT = VersionOffer(
    versions=("1.35", "1.36"),
    source="docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions (release calendar; endoflife.date/amazon-eks "
    "copy: 1.35 on EKS 2026-01-28, standard support to 2027-03-27; machine-translated copies name 1.36 as current)",
    as_of="2026-12-05",
    note="1.34 left standard support on 2026-12-02; 1.37 not yet seen on EKS",
)
EKS_EXTENDED_SUPPORT = VersionOffer(
    versions=("1.32", "1.33", "1.34"),
    source="same calendar: extended support ends 1.32 2027-03-23, 1.33 2027-07-29, 1.34 2027-12-02 "
    "(1.31 ended 2026-11-26)",
    as_of="2026-12-05",
    note="billed at the extended-support control-plane fee (catalog.EKS_EXTENDED_SUPPORT_FEE)",
)
GKE_RELEASE_CHANNELS: Mapping[str, VersionOffer] = {
    channel: VersionOffer(
        versions=versions,
        source="docs.cloud.google.com/kubernetes-engine/docs/release-notes (table 'Available minor versions' "
        "per release channel, newest stored copy)",
        as_of="2026-12-05",
    )
    for channel, versions in (
        ("RAPID", ("1.34", "1.35", "1.36", "1.37")),
        ("REGULAR", ("1.34", "1.35", "1.36")),
        ("STABLE", ("1.34", "1.35")),
        ("EXTENDED", ("1.31", "1.32", "1.33", "1.34", "1.35", "1.36")),
    )
}
LKE_VERSIONS = VersionOffer(
    versions=("1.35", "1.36"),
    source="techdocs.akamai.com/cloud-computing/docs/lke-versioning-and-life-cycle-policy (a minor arrives 4-8 "
    "weeks after upstream and is removed shortly before upstream end of life)",
    as_of="2026-12-05",
    note="derived from the policy and upstream dates (1.34 upstream EOL 2026-10-27), not from a version list; "
    "1.37 (upstream 2026-08) likely offered but not confirmed",
)

KUBERNETES_VERSIONS: tuple[str, ...] = ("1.32", "1.33", "1.34", "1.35", "1.36")
"""Kubernetes minors gpuplane accepts on some cloud: what EKS, GKE's STABLE/REGULAR channels and LKE offer
today (above). Each has strict schemas in kubernetes-validate 1.37.0 and a cluster-autoscaler image (tested)."""
DEFAULT_KUBERNETES_VERSION = "1.35"
"""What a stack without ``kubernetesVersion`` gets: offered by every managed cloud today (EKS standard support,
GKE STABLE and REGULAR, LKE)."""


def gke_release_channel(production: bool) -> str:
    """The GKE release channel gpuplane enrolls a cluster in (STABLE for production, REGULAR otherwise)."""
    return "STABLE" if production else "REGULAR"


def offered_kubernetes_versions(cloud: str, *, production: bool) -> tuple[str, ...]:
    """The minors ``cloud`` lets gpuplane create a cluster with (every accepted minor for ``existing``)."""
    if cloud == "aws":
        offered = (*EKS_EXTENDED_SUPPORT.versions, *EKS_STANDARD_SUPPORT.versions)
    elif cloud == "gcp":
        offered = GKE_RELEASE_CHANNELS[gke_release_channel(production)].versions
    elif cloud == "linode":
        offered = LKE_VERSIONS.versions
    else:
        offered = KUBERNETES_VERSIONS
    return tuple(sorted(v for v in offered if v in KUBERNETES_VERSIONS))


CHARTS: Mapping[str, ChartPin] = {
    pin.chart: pin
    for pin in (
        KUEUE,
        GPU_OPERATOR,
        DCGM_EXPORTER,
        KUBE_PROMETHEUS_STACK,
        ENVOY_GATEWAY,
        AI_GATEWAY_CRDS,
        AI_GATEWAY,
        OPENFGA,
        CLUSTER_AUTOSCALER,
        JOBSET,
        LWS,
        PROMETHEUS_ADAPTER,
    )
}

GATEWAY_API_VERSION = "v1.5.1"
"""The Gateway API release the pinned Envoy Gateway chart installs (experimental channel)."""

COMPATIBILITY: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    # AI Gateway version -> the Envoy Gateway and Gateway API versions it was built and tested with.
    "ai-gateway": {"v1.1.0": ("envoy-gateway:v1.8.3", f"gateway-api:{GATEWAY_API_VERSION}")},
    # Kueue version -> the workload controllers installed beside it for its JobSet and LeaderWorkerSet
    # integrations (same APIs: jobset.x-k8s.io/v1alpha2, leaderworkerset.x-k8s.io/v1); see the module
    # docstring of components/addons/workloads.py for what was and was not verified.
    "kueue": {KUEUE.version: (f"jobset:{JOBSET.version}", f"lws:{LWS.version}")},
    "kubernetes": {"all": KUBERNETES_VERSIONS},
}

KUEUE_CONTROLLER = ImagePin(
    repository="registry.k8s.io/kueue/kueue",
    # renovate: datasource=docker depName=registry.k8s.io/kueue/kueue
    tag="v0.19.2",
)
"""The Kueue controller image: what the published chart 0.19.2 sets; always ``"v" + KUEUE.version`` (tested)."""

KUBE_PROMETHEUS_CRD_UPGRADE_KUBECTL = ImagePin(
    repository="registry.k8s.io/kubectl",
    # renovate: datasource=docker depName=registry.k8s.io/kubectl
    tag="v1.34.1",
)
"""kubectl in kube-prometheus-stack's CRD upgrade hook Job. Pinned because the chart's default tag is the
server's version string, which on EKS/GKE (``v1.34.1-eks-…``/``-gke.…``) is no kubectl image tag."""
KUBE_PROMETHEUS_CRD_UPGRADE_BUSYBOX = ImagePin(
    repository="docker.io/busybox",
    # renovate: datasource=docker depName=docker.io/busybox
    tag="1.37.0",
)
"""busybox in the same Job (unpacks the CRDs); the chart defaults to ``busybox:latest``."""
VALKEY = ImagePin(
    repository="docker.io/valkey/valkey",
    # renovate: datasource=docker depName=docker.io/valkey/valkey
    tag="8.1.3-alpine",
)
"""The Redis-protocol store behind Envoy Gateway's global rate limit (token budgets). Valkey (BSD) rather
than Redis 7.4+/8 (source-available/AGPL); the rate-limit service speaks plain RESP to either."""
POSTGRES = ImagePin(
    repository="docker.io/library/postgres",
    # renovate: datasource=docker depName=docker.io/library/postgres
    tag="17.6-alpine",
)
"""OpenFGA's datastore when ``openfga.datastore: in-cluster`` (OpenFGA 1.18 supports Postgres 14+)."""
OPENFGA_SYNC_PYTHON = ImagePin(
    repository="docker.io/library/python",
    # renovate: datasource=docker depName=docker.io/library/python
    tag="3.13.7-alpine",
)
"""Runs ``components/addons/authz/sync_store.py`` (stdlib only) in the Job that writes the OpenFGA model
and tuples; the ``openfga/cli`` image has no shell to find a store by name."""
JOBSET_CONTROLLER = ImagePin(
    repository="registry.k8s.io/jobset/jobset",
    # renovate: datasource=docker depName=registry.k8s.io/jobset/jobset
    tag="v0.11.0",
)
"""The JobSet controller image: what the published chart 0.11.0 sets (hack/helm-chart-package.sh: the
release tag); always ``"v" + JOBSET.version`` (tested)."""
LWS_CONTROLLER = ImagePin(
    repository="registry.k8s.io/lws/lws",
    # renovate: datasource=docker depName=registry.k8s.io/lws/lws
    tag="v0.8.0",
)
"""The LeaderWorkerSet controller image; always ``LWS.version`` (tested). Set explicitly: the chart's own
default tag is ``main`` and only the release script rewrites it."""
PROMETHEUS_ADAPTER_IMAGE = ImagePin(
    repository="registry.k8s.io/prometheus-adapter/prometheus-adapter",
    # renovate: datasource=docker depName=registry.k8s.io/prometheus-adapter/prometheus-adapter
    tag="v0.12.0",
)
"""The prometheus-adapter image: the pinned chart's ``appVersion`` (its default when ``image.tag`` is empty;
tested against the chart's Chart.yaml). Set explicitly so a chart bump cannot change it unseen."""
