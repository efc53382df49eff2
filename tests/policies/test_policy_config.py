"""Policy configuration through the analyzer: every config property changes the outcome it should,
levels follow ``all`` and per-policy settings, bad configs are refused, and the shipped
``config/dev.json`` / ``config/production.json`` behave as documented."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from gpuplane.analyzer import PACK_DIR, PolicyConfigError, PolicyPackServer, load_config
from gpuplane.recording import Recording
from tests.policies import builders
from tests.policies.builders import drop, edit
from tests.policies.cases import (
    CASES,
    DELETE,
    EKS,
    EKS_INFERENCE,
    EKS_TRAINING,
    GKE,
    GKE_INFERENCE,
    GKE_TRAINING,
    IDLE_INFERENCE,
    IDLE_TRAINING,
    LKE,
    RUN_WITH_SECRET,
    Mutate,
    chain,
    on,
    setting,
    trainer,
    wide,
)
from tests.policies.conftest import Analyze
from tests.policies.test_policy_cases import name_of

M = "mandatory"


def case(case_id: str) -> Mutate:
    return next(c.build for c in CASES if c.id == case_id)


def base(cloud: str) -> Mutate:
    return lambda get: get(cloud)


def custom_controller(opts: pulumi.ResourceOptions) -> None:
    k8s.helm.v3.Release(
        "trainer",
        chart="acme-training-operator",
        version="2.0.1",
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
        opts=opts,
    )


EXEMPT = "only the GPU operator's and DCGM exporter's documented needs are exempt"


@dataclass(frozen=True)
class Override:
    id: str
    build: Mutate
    policy: str
    config: Mapping[str, Any]
    without: list[tuple[str, str]]
    """``(message, resource name)`` of ``policy`` with the default config."""
    with_config: list[tuple[str, str]]
    """... and with ``config`` applied to ``policy``."""


OVERRIDES: list[Override] = [
    Override(
        "eks-private-endpoint-required",
        base("aws"),
        "cloud-eks-endpoint-restricted",
        {"allowPublicEndpoint": False},
        [],
        [("the EKS API endpoint is public; set vpcConfig.endpointPublicAccess to false", EKS)],
    ),
    Override(
        "eks-log-types",
        on("aws", EKS, setting("enabledClusterLogTypes", ["api"])),
        "cloud-eks-control-plane-logging",
        {"requiredLogTypes": ["api"]},
        [("enabledClusterLogTypes is missing audit, authenticator", EKS)],
        [],
    ),
    Override(
        "gke-private-endpoint-required",
        base("gcp"),
        "cloud-gke-master-authorized-networks",
        {"allowPublicEndpoint": False},
        [],
        [("the GKE control plane has a public endpoint; set privateClusterConfig.enablePrivateEndpoint to true", GKE)],
    ),
    Override(
        "gke-secure-boot",
        on("gcp", GKE_INFERENCE, setting("nodeConfig.shieldedInstanceConfig.enableSecureBoot", False)),
        "cloud-gke-shielded-nodes",
        {"requireSecureBoot": True},
        [],
        [("nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true", GKE_INFERENCE)],
    ),
    Override(
        "taint-key",
        base("aws"),
        "gpu-pool-tainted",
        {"taintKey": "example.com/accelerator"},
        [],
        [
            (
                f"EKS node group {EKS_INFERENCE} has GPUs but no example.com/accelerator taint with effect NoSchedule or NoExecute",
                EKS_INFERENCE,
            ),
            (
                f"EKS node group {EKS_TRAINING} has GPUs but no example.com/accelerator taint with effect NoSchedule or NoExecute",
                EKS_TRAINING,
            ),
        ],
    ),
    Override(
        "taint-effects",
        case("gke-gpu-prefer-no-schedule"),
        "gpu-pool-tainted",
        {"allowedEffects": ["NoSchedule", "PreferNoSchedule"]},
        [
            (
                f"GKE node pool {GKE_TRAINING} has GPUs but no nvidia.com/gpu taint with effect NoSchedule or NoExecute",
                GKE_TRAINING,
            )
        ],
        [],
    ),
    Override(
        "min-nodes",
        case("eks-gpu-min-one"),
        "gpu-pool-scale-to-zero",
        {"maxMinNodes": 1},
        [(f"EKS node group {EKS_TRAINING} keeps at least 1 GPU nodes running; set its minimum to 0", EKS_TRAINING)],
        [],
    ),
    Override(
        "instance-allow-list",
        base("aws"),
        "gpu-pool-instance-type-allowed",
        {"allowedInstanceTypes": ["g6.xlarge"]},
        [],
        [
            (
                f"EKS node group {EKS_TRAINING} uses p5.4xlarge, which is not on the GPU instance type allow-list",
                EKS_TRAINING,
            )
        ],
    ),
    Override(
        "accelerator-allow-list",
        base("gcp"),
        "gpu-pool-instance-type-allowed",
        {"allowedAccelerators": ["nvidia-l4"]},
        [],
        [
            (
                f"GKE node pool {GKE_TRAINING} attaches nvidia-a100-80gb, which is not on the accelerator allow-list",
                GKE_TRAINING,
            )
        ],
    ),
    Override(
        "gpu-cap",
        base("aws"),
        "gpu-stack-max-gpus",
        {"maxGpus": 5},
        [],
        [
            (
                f"the GPU pools can scale to 6 GPUs (EKS node group {EKS_INFERENCE}: 4; EKS node group {EKS_TRAINING}: 2), "
                "above the cap of 5",
                "",
            )
        ],
    ),
    Override(
        "hourly-budget",
        base("aws"),
        "gpu-stack-max-hourly-cost",
        {"maxHourlyUsd": 10},
        [],
        [
            (
                f"the node pools can cost $17.36/hour at maximum size (EKS node group {EKS_INFERENCE}: 4 x $0.80; "
                f"EKS node group {EKS_TRAINING}: 2 x $6.88; EKS node group gpuplane-cluster-system-nodes: 4 x $0.10), "
                "above the budget of $10/hour",
                "",
            )
        ],
    ),
    Override(
        "negotiated-prices",
        on("aws", EKS_TRAINING, setting("scalingConfig.maxSize", 40)),
        "gpu-stack-max-hourly-cost",
        {"hourlyPriceOverrides": {"p5.4xlarge": 4.5}},
        [
            (
                f"the node pools can cost $278.80/hour at maximum size (EKS node group {EKS_INFERENCE}: 4 x $0.80; "
                f"EKS node group {EKS_TRAINING}: 40 x $6.88; EKS node group gpuplane-cluster-system-nodes: 4 x $0.10), "
                "above the budget of $250/hour",
                "",
            )
        ],
        [],
    ),
    Override(
        "hook-charts",
        case("hooks-chart-via-v4"),
        "platform-helm-hooks-supported",
        {"hookCharts": ["gateway-helm"]},
        [
            (
                "helm.v4.Chart kube-prometheus-stack installs kube-prometheus-stack, which relies on Helm hooks that "
                "helm.v4.Chart skips (pulumi/pulumi-kubernetes#3284); install it with helm.v3.Release",
                "kube-prometheus-stack",
            )
        ],
        [],
    ),
    Override(
        "matrix-accepts-patch-wildcards",
        case("ai-gateway-untested-version"),
        "platform-helm-compatibility-matrix",
        {"matrix": [{"aiGateway": "v1.2.x", "envoyGateway": "1.8.x"}]},
        [
            (
                "Envoy AI Gateway v1.2.0 + Envoy Gateway v1.8.3 is not a tested combination (tested: Envoy AI Gateway "
                "v1.1.0 + Envoy Gateway v1.8.3 + Gateway API v1.5.1)",
                "ai-gateway-crds",
            )
        ],
        [],
    ),
    Override(
        "matrix-narrowed",
        base("linode"),
        "platform-helm-compatibility-matrix",
        {"matrix": [{"aiGateway": "v1.1.0", "envoyGateway": "v1.9.0", "gatewayApi": "v1.6.1"}]},
        [],
        [
            (
                "Envoy AI Gateway v1.1.0 + Envoy Gateway v1.8.3 is not a tested combination (tested: Envoy AI Gateway "
                "v1.1.0 + Envoy Gateway v1.9.0 + Gateway API v1.6.1)",
                "ai-gateway-crds",
            )
        ],
    ),
    Override(
        "quota-overcommit",
        case("quota-above-capacity"),
        "platform-kueue-quota-within-capacity",
        {"overcommitFactor": 1.25},
        [
            (
                "ClusterQueues guarantee 5 nvidia.com/gpu on flavor inference (team-a: 3, team-b: 2) but its pools "
                "provide at most 4",
                "resourceflavor-inference",
            )
        ],
        [],
    ),
    Override(
        "quota-resources",
        case("quota-above-capacity"),
        "platform-kueue-quota-within-capacity",
        {"resources": ["amd.com/gpu"]},
        [
            (
                "ClusterQueues guarantee 5 nvidia.com/gpu on flavor inference (team-a: 3, team-b: 2) but its pools "
                "provide at most 4",
                "resourceflavor-inference",
            )
        ],
        [],
    ),
    Override(
        "openfga-engines",
        case("openfga-in-memory"),
        "platform-openfga-durable-datastore",
        {"allowedEngines": ["memory"]},
        [
            (
                "helm.v3.Release openfga runs OpenFGA with datastore.engine memory; authorization data is lost on every "
                "restart. Use one of: postgres, mysql",
                "openfga",
            )
        ],
        [],
    ),
    Override(
        "openfga-charts",
        case("openfga-in-memory"),
        "platform-openfga-durable-datastore",
        {"charts": ["openfga-enterprise"]},
        [
            (
                "helm.v3.Release openfga runs OpenFGA with datastore.engine memory; authorization data is lost on every "
                "restart. Use one of: postgres, mysql",
                "openfga",
            )
        ],
        [],
    ),
    Override(
        "extra-credential-keys",
        on(
            "aws",
            "kube-prometheus-stack",
            lambda wire: wire["values"].update(sentry={"dsn": "https://key@sentry.example.com/1"}),
        ),
        "platform-workload-no-plaintext-secrets",
        {"extraCredentialKeys": ["DSN"]},
        [],
        [
            (
                "helm.v3.Release kube-prometheus-stack sets values.sentry.dsn to a plaintext credential; make it a "
                "Pulumi secret or reference an existing Kubernetes Secret",
                "kube-prometheus-stack",
            )
        ],
    ),
    Override(
        "queue-exempt-namespace",
        case("gpu-job-without-queue"),
        "platform-workload-queue-label",
        {"exemptNamespaces": ["team-a"]},
        [
            (
                "Job team-a/finetune requests GPUs but has no kueue.x-k8s.io/queue-name label; it bypasses Kueue quotas",
                "finetune",
            )
        ],
        [],
    ),
    Override(
        "queue-label-name",
        base("linode"),
        "platform-workload-queue-label",
        {"queueLabel": "example.com/queue"},
        [],
        [
            (
                "Job team-a/finetune requests GPUs but has no example.com/queue label; it bypasses Kueue quotas",
                "finetune",
            )
        ],
    ),
    Override(
        "queue-gpu-resources",
        case("gpu-job-without-queue"),
        "platform-workload-queue-label",
        {"gpuResources": ["amd.com/gpu"]},
        [
            (
                "Job team-a/finetune requests GPUs but has no kueue.x-k8s.io/queue-name label; it bypasses Kueue quotas",
                "finetune",
            )
        ],
        [],
    ),
    Override(
        "privileged-namespaces",
        on("aws", "gpu-operator", setting("values.validator", {"securityContext": {"privileged": True}})),
        "platform-container-not-privileged",
        {"allowedNamespaces": []},
        [],
        [
            (
                "helm.v3.Release gpu-operator (chart gpu-operator, namespace gpu-operator) sets "
                f"values.validator.securityContext.privileged to true; {EXEMPT}",
                "gpu-operator",
            )
        ],
    ),
    Override(
        "conformance-required",
        case("no-ai-controller"),
        "conformance-stack-ai-requirements",
        {"required": ["gang_scheduling", "accelerator_metrics"]},
        [
            (
                "CNCF Kubernetes AI Conformance v1.36: missing 1 of 8 MUST requirements: robust_controller (an AI "
                "operator such as KubeRay). Provided: ai_inference, gang_scheduling, cluster_autoscaling, pod_autoscaling, "
                "accelerator_metrics, ai_service_metrics, secure_accelerator_access",
                "",
            )
        ],
        [],
    ),
    Override(
        "conformance-extra-charts",
        lambda get: drop(builders.baseline("gcp", builders.AddonOptions(extra=custom_controller)), "kuberay-operator"),
        "conformance-stack-ai-requirements",
        {"extraCharts": {"robust_controller": ["acme-training-operator"]}},
        [
            (
                "CNCF Kubernetes AI Conformance v1.36: missing 1 of 8 MUST requirements: robust_controller (an AI "
                "operator such as KubeRay). Provided: ai_inference, gang_scheduling, cluster_autoscaling, pod_autoscaling, "
                "accelerator_metrics, ai_service_metrics, secure_accelerator_access",
                "",
            )
        ],
        [],
    ),
]

# The CIDR limits: stricter than the default turns the baselines' 203.0.113.0/24 into an open range,
# looser lets the wide-CIDR cases pass; /0 stays open whatever the limit.
OVERRIDES.extend(
    [
        Override(
            "eks-cidr-ipv4-limit",
            base("aws"),
            "cloud-eks-endpoint-restricted",
            {"minIpv4PrefixLength": 25},
            [],
            [(f"vpcConfig.publicAccessCidrs contains 203.0.113.0/24, {wide('203.0.113.0/24', 25)}", EKS)],
        ),
        Override(
            "eks-cidr-ipv6-limit",
            on("aws", EKS, setting("vpcConfig.publicAccessCidrs", ["203.0.113.0/24", "2001:db8::/15", "::/0"])),
            "cloud-eks-endpoint-restricted",
            {"minIpv6PrefixLength": 0},
            [
                (
                    "vpcConfig.publicAccessCidrs contains 2001:db8::/15, "
                    f"{wide('2001:db8::/15', 16, 'minIpv6PrefixLength')}",
                    EKS,
                ),
                ("vpcConfig.publicAccessCidrs contains ::/0, which admits the whole internet", EKS),
            ],
            # A limit of 0 accepts every prefix but /0 itself.
            [("vpcConfig.publicAccessCidrs contains ::/0, which admits the whole internet", EKS)],
        ),
        Override(
            "gke-cidr-ipv4-relaxed",
            case("gke-wide-cidr"),
            "cloud-gke-master-authorized-networks",
            {"minIpv4PrefixLength": 6},
            [(f"masterAuthorizedNetworksConfig.cidrBlocks contains 100.0.0.0/6, {wide('100.0.0.0/6', 8)}", GKE)],
            [],
        ),
        Override(
            "gke-cidr-ipv6-limit",
            on("gcp", GKE, setting("masterAuthorizedNetworksConfig.cidrBlocks", [{"cidrBlock": "2001:db8::/32"}])),
            "cloud-gke-master-authorized-networks",
            {"minIpv6PrefixLength": 48},
            [],
            [
                (
                    "masterAuthorizedNetworksConfig.cidrBlocks contains 2001:db8::/32, "
                    f"{wide('2001:db8::/32', 48, 'minIpv6PrefixLength')}",
                    GKE,
                )
            ],
        ),
        Override(
            "lke-cidr-ipv4-limit",
            base("linode"),
            "cloud-lke-control-plane-acl",
            {"minIpv4PrefixLength": 25},
            [],
            [(f"controlPlane.acl.addresses contains 203.0.113.0/24, {wide('203.0.113.0/24', 25)}", LKE)],
        ),
        Override(
            "lke-cidr-ipv6-relaxed",
            case("lke-acl-wide-ipv6"),
            "cloud-lke-control-plane-acl",
            {"minIpv6PrefixLength": 3},
            [
                (
                    f"controlPlane.acl.addresses contains 2000::/3, {wide('2000::/3', 16, 'minIpv6PrefixLength')}",
                    LKE,
                )
            ],
            [],
        ),
        # The exempt charts may use their grants in the default namespaces (the GPU operator chart installed in
        # dcgm-exporter too); a config that names only gpu-operator reports it.
        Override(
            "privileged-default-allows-dcgm-exporter",
            on(
                "gcp",
                "gpu-operator",
                chain(
                    setting("namespace", "dcgm-exporter"),
                    setting("values.securityContext", {"privileged": True, "allowPrivilegeEscalation": True}),
                ),
            ),
            "platform-container-not-privileged",
            {"allowedNamespaces": ["gpu-operator"]},
            [],
            [
                (
                    "helm.v3.Release gpu-operator (chart gpu-operator, namespace dcgm-exporter) sets "
                    f"values.securityContext.privileged to true; {EXEMPT}",
                    "gpu-operator",
                )
            ],
        ),
        # Exemptions are by chart name and list the grants each chart may use: a DaemonSet dropped into the
        # node-exporter namespace is not exempt, and the GPU operator chart may not use hostNetwork unless listed.
        Override(
            "exempt-charts",
            on("aws", "gpu-operator", setting("values.driver", {"hostNetwork": True})),
            "platform-container-not-privileged",
            {"exemptCharts": {"gpu-operator": ["privileged", "hostPID", "hostNetwork", "hostPath:*"]}},
            [
                (
                    "helm.v3.Release gpu-operator (chart gpu-operator, namespace gpu-operator) sets "
                    f"values.driver.hostNetwork (it shares the node's network stack); {EXEMPT}",
                    "gpu-operator",
                )
            ],
            [],
        ),
        # cloud-lke-node-firewall judges inbound sources with the shared CIDR limits (union included).
        Override(
            "lke-firewall-ipv4-limit",
            on(
                "linode",
                "gpuplane-cluster-firewall",
                setting(
                    "inbounds", [{"label": "wide", "action": "ACCEPT", "protocol": "TCP", "ipv4s": ["100.0.0.0/6"]}]
                ),
            ),
            "cloud-lke-node-firewall",
            {"minIpv4PrefixLength": 4},
            [
                (
                    "inbounds[0] (wide) contains 100.0.0.0/6, a /6 range wider than the /8 limit (minIpv4PrefixLength), "
                    "so it counts as open to the internet",
                    "gpuplane-cluster-firewall",
                )
            ],
            [],
        ),
        Override(
            "lke-firewall-ipv6-limit",
            on(
                "linode",
                "gpuplane-cluster-firewall",
                setting("inbounds", [{"label": "wide", "action": "ACCEPT", "protocol": "TCP", "ipv6s": ["2000::/3"]}]),
            ),
            "cloud-lke-node-firewall",
            {"minIpv6PrefixLength": 2},
            [
                (
                    "inbounds[0] (wide) contains 2000::/3, a /3 range wider than the /16 limit (minIpv6PrefixLength), "
                    "so it counts as open to the internet",
                    "gpuplane-cluster-firewall",
                )
            ],
            [],
        ),
        Override(
            "extra-credential-keys-in-args",
            on("existing", "finetune", trainer("args", ["--sentry-dsn=https://key@sentry.example.com/1"])),
            "platform-workload-no-plaintext-secrets",
            {"extraCredentialKeys": ["dsn"]},
            [],
            [
                (
                    "Job team-a/finetune container trainer passes --sentry-dsn in args[0] as a literal value; "
                    f"{RUN_WITH_SECRET}",
                    "finetune",
                )
            ],
        ),
    ]
)

# gpu-lke-pool-idle-floor: a floor at or below maxIdleHourlyUsd is silent (the inference pool's $0.52/hour).
OVERRIDES.append(
    Override(
        "idle-floor-threshold",
        base("linode"),
        "gpu-lke-pool-idle-floor",
        {"maxIdleHourlyUsd": 0.52},
        [(message, name) for _, message, name in (IDLE_TRAINING, IDLE_INFERENCE)],
        [(IDLE_TRAINING[1], IDLE_TRAINING[2])],
    )
)


def test_every_config_property_has_an_override_case(pack: PolicyPackServer) -> None:
    covered = {(o.policy, key) for o in OVERRIDES for key in o.config}
    declared = {(p.name, key) for p in pack.info() for key in p.schema if key != "excludeResources"}
    assert declared == covered


@pytest.mark.parametrize("override", OVERRIDES, ids=lambda o: o.id)
def test_config_property_changes_the_outcome(
    override: Override, analyze: Analyze, baseline: Callable[[str], Recording]
) -> None:
    recording = override.build(baseline)

    def found(config: Mapping[str, Any] | None) -> list[tuple[str, str]]:
        return sorted((v.message, name_of(v.urn)) for v in analyze(recording, config) if v.policy == override.policy)

    assert found(None) == sorted(override.without)
    assert found({override.policy: dict(override.config)}) == sorted(override.with_config)
    assert override.without != override.with_config


def test_negotiated_price_for_an_unknown_plan(analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = case("lke-unpriced-plan")(baseline)
    config = {"gpu-stack-max-hourly-cost": {"hourlyPriceOverrides": {"g3-gpu-rtx9000-1": 2.5}}}
    assert [v for v in analyze(recording, config) if v.policy == "gpu-stack-max-hourly-cost"] == []


ALL_CASE_IDS = ("eks-open-cidr", "lke-single-control-plane", "flavor-label-drift", "no-ai-controller")


@pytest.mark.parametrize("case_id", ALL_CASE_IDS)
def test_all_levels(case_id: str, analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = case(case_id)(baseline)
    assert analyze(recording, {"all": "disabled"}) == []
    assert analyze(recording, {"all": {"enforcementLevel": "disabled"}}) == []
    as_advisory = analyze(recording, {"all": "advisory"})
    as_mandatory = analyze(recording, {"all": "mandatory"})
    assert as_advisory
    assert {v.level for v in as_advisory} == {"advisory"}
    assert {v.level for v in as_mandatory} == {"mandatory"}
    assert [v.message for v in as_advisory] == [v.message for v in as_mandatory]


def test_policy_level_beats_all(analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = case("lke-acl-off")(baseline)
    violations = analyze(recording, {"all": "disabled", "cloud-lke-control-plane-acl": "mandatory"})
    assert [(v.policy, v.level) for v in violations] == [("cloud-lke-control-plane-acl", "mandatory")]
    violations = analyze(recording, {"cloud-lke-control-plane-acl": {"enforcementLevel": "disabled"}})
    assert "cloud-lke-control-plane-acl" not in {v.policy for v in violations}


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            {"cloud-eks-endpoint-restricted-typo": "mandatory"},
            "policy config names unknown policy 'cloud-eks-endpoint-restricted-typo'",
        ),
        (
            {"gpu-stack-max-gpus": {"maxGPUs": 8}},
            "gpu-stack-max-gpus: unknown config property 'maxGPUs'; known: excludeResources, maxGpus",
        ),
        ({"gpu-stack-max-gpus": {"maxGpus": "8"}}, 'gpu-stack-max-gpus.maxGpus must be of type integer, got "8"'),
        ({"gpu-stack-max-gpus": {"maxGpus": -1}}, "gpu-stack-max-gpus.maxGpus must be >= 0, got -1"),
        (
            {"gpu-pool-tainted": {"allowedEffects": ["NO_SCHEDULE"]}},
            "gpu-pool-tainted.allowedEffects[0] must be one of",
        ),
        (
            {"platform-helm-compatibility-matrix": {"matrix": [{"envoy": "1.8"}]}},
            "platform-helm-compatibility-matrix.matrix[0] has unknown key 'envoy'",
        ),
        ({"all": "blocking"}, 'all: "blocking" is not an enforcement level'),
        ({"gpu-pool-tainted": 3}, "gpu-pool-tainted: must be an enforcement level or an object, got 3"),
    ],
)
def test_invalid_config_is_refused(config: Mapping[str, Any], error: str, pack: PolicyPackServer) -> None:
    with pytest.raises(PolicyConfigError) as raised:
        pack.reconcile(config)
    assert error in str(raised.value)


def test_reconciled_config_starts_from_schema_defaults(pack: PolicyPackServer) -> None:
    reconciled = pack.reconcile({"all": "advisory", "gpu-stack-max-gpus": {"maxGpus": 8}})
    assert reconciled["gpu-stack-max-gpus"] == ("advisory", {"maxGpus": 8, "excludeResources": []})
    assert reconciled["cloud-eks-control-plane-logging"] == (
        "advisory",
        {"requiredLogTypes": ["api", "audit", "authenticator"], "excludeResources": []},
    )
    assert pack.reconcile(None)["cloud-cluster-ha-control-plane"][0] == "advisory"


def test_shipped_configs(pack: PolicyPackServer) -> None:
    dev = pack.reconcile(load_config(PACK_DIR / "config" / "dev.json"))
    production = pack.reconcile(load_config(PACK_DIR / "config" / "production.json"))
    assert dev["cloud-cluster-ha-control-plane"][0] == "advisory"
    assert production["cloud-cluster-ha-control-plane"][0] == "mandatory"
    assert production["conformance-stack-ai-requirements"][0] == "advisory"
    assert production["gpu-pool-scale-to-zero"][0] == "advisory"
    assert dev["gpu-pool-scale-to-zero"][0] == "mandatory"
    assert production["cloud-eks-control-plane-logging"][1]["requiredLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert production["cloud-gke-shielded-nodes"][1]["requireSecureBoot"] is True
    assert dev["gpu-stack-max-gpus"][1]["maxGpus"] < production["gpu-stack-max-gpus"][1]["maxGpus"]
    mandatory = {name for name, (level, _) in production.items() if level == "mandatory"}
    security = {p.name for p in pack.info() if p.enforcement == "mandatory"}
    # Production relaxes only the cost rule: a warm GPU minimum for latency-sensitive inference can be deliberate.
    assert security - mandatory == {"gpu-pool-scale-to-zero"}


def test_production_config_makes_ha_mandatory(analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    production = load_config(PACK_DIR / "config" / "production.json")
    violations = analyze(baseline("linode"), production)
    assert [(v.policy, v.level, v.message) for v in violations if v.level == "mandatory"] == [
        (
            "cloud-cluster-ha-control-plane",
            "mandatory",
            "controlPlane.highAvailability is not true; the LKE control plane has a single replica",
        )
    ]
    # A production stack (production: true) gets the HA control plane and passes.
    assert [
        v for v in analyze(builders.baseline("linode", production=True), production) if v.level == "mandatory"
    ] == []


def test_load_config_errors(tmp_path: Any) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(PolicyConfigError, match=r"broken\.json"):
        load_config(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(PolicyConfigError, match="must be a JSON object"):
        load_config(listed)


def test_excluding_by_urn(analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = edit(baseline("aws"), EKS, setting("vpcConfig.publicAccessCidrs", DELETE))
    urn = recording.named(EKS).urn
    violations = analyze(recording, {"cloud-eks-endpoint-restricted": {"excludeResources": [urn]}})
    assert "cloud-eks-endpoint-restricted" not in {v.policy for v in violations}


def test_excluding_stack_findings(analyze: Analyze, baseline: Callable[[str], Recording]) -> None:
    recording = case("flavor-without-tolerations")(baseline)
    config = {"platform-kueue-flavor-pool-match": {"excludeResources": ["resourceflavor-inference"]}}
    assert "platform-kueue-flavor-pool-match" not in {v.policy for v in analyze(recording, config)}
