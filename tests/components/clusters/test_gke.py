"""GkeGpuCluster under the mock runtime (preview=False): the exact child contract and every branch."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, get_args

import pulumi
import pulumi_gcp as gcp
import pytest

from components.clusters.contract import GpuCluster, GpuPoolScheduling
from components.clusters.gke import (
    GKE_TAINT_EFFECTS,
    NODE_POOL_NAME_PREFIX_MAX,
    NODE_SA_ROLES,
    REQUIRED_APIS,
    TYPE,
    GkeGpuCluster,
    GkeGpuClusterArgs,
    gpu_pool_name_prefix,
    node_account_id,
)
from components.spec import DEVICE_PLUGIN_CONFIG_LABEL, GPU_TAINT, MIG_CONFIG_LABEL, PlatformSpec, SpecError, Taint
from gpuplane.recording import GCP_PROJECT, GCP_PROJECT_NUMBER, MOCK_CA, RecordedResource, Recording
from tests.support import capture_registered_outputs, fresh_python, raw_spec, record, spec_for

REGION = "us-central1"
SA_EMAIL = f"gp-gcp-nodes@{GCP_PROJECT}.iam.gserviceaccount.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
SHIELDED = {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
EXPECTED_ROLES = {
    "roles/container.defaultNodeServiceAccount",  # Google's documented minimum for a node account
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
}


@dataclasses.dataclass
class Built:
    recording: Recording
    values: dict[str, Any]

    @property
    def component(self) -> RecordedResource:
        (component,) = self.recording.of_type(TYPE)
        return component

    def inputs(self, name: str) -> dict[str, Any]:
        return self.recording.named(name).inputs


def build(spec: PlatformSpec, opts: pulumi.ResourceOptions | None = None) -> Built:
    values: dict[str, Any] = {}

    def program() -> None:
        cluster = GkeGpuCluster("gp", GkeGpuClusterArgs(spec=spec), opts)
        contract: GpuCluster = cluster  # pyright checks the Protocol
        values["cluster"] = contract
        cluster.cluster_name.apply(lambda v: values.__setitem__("cluster_name", v))
        cluster.kubeconfig.apply(lambda v: values.__setitem__("kubeconfig", v))

    return Built(record(program, region=REGION), values)


def gcp_spec(**overrides: Any) -> PlatformSpec:
    return spec_for("gcp", **overrides)


def pools_with(**changes: Any) -> list[dict[str, Any]]:
    """The baseline GPU pools with ``changes`` applied to the first (inference, nvidia-l4)."""
    pools = raw_spec("gcp")["gpuPools"]
    pools[0].update(changes)
    return pools


@pytest.fixture
def baseline() -> Built:
    return build(gcp_spec())


# --- the child contract -------------------------------------------------------------------------


def test_children_are_exactly_these(baseline: Built) -> None:
    children = baseline.recording.children_of(baseline.component.urn)
    assert sorted((r.type, r.name) for r in children) == sorted(
        [
            ("gcp:compute/network:Network", "gp-network"),
            ("gcp:compute/subnetwork:Subnetwork", "gp-subnet"),
            ("gcp:compute/router:Router", "gp-router"),
            ("gcp:compute/routerNat:RouterNat", "gp-nat"),
            ("gcp:serviceaccount/account:Account", "gp-node-sa"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-default-node-service-account"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-logging-log-writer"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-monitoring-metric-writer"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-monitoring-viewer"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-resource-metadata-writer"),
            ("gcp:projects/iAMMember:IAMMember", "gp-node-sa-artifact-registry-reader"),
            ("gcp:container/cluster:Cluster", "gp-cluster"),
            ("gcp:container/nodePool:NodePool", "gp-system"),
            ("gcp:container/nodePool:NodePool", "gp-gpu-inference"),
            ("gcp:container/nodePool:NodePool", "gp-gpu-training"),
            ("pulumi:providers:kubernetes", "gp-k8s"),
            *(("gcp:projects/service:Service", f"gp-api-{suffix}") for suffix in REQUIRED_APIS),
            ("random:index/randomId:RandomId", "gp-keyring-suffix"),
            ("gcp:kms/keyRing:KeyRing", "gp-keyring"),
            ("gcp:kms/cryptoKey:CryptoKey", "gp-secrets-key"),
            ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gp-secrets-key-gke-agent"),
        ]
    )
    # Nothing else was registered: the component plus its 27 direct children.
    assert len(baseline.recording.resources) == 28
    assert baseline.component.name == "gp"
    assert sorted(baseline.recording.invokes) == [
        "gcp:organizations/getClientConfig:getClientConfig",
        "gcp:organizations/getProject:getProject",
    ]


def test_no_other_cloud_resources(baseline: Built) -> None:
    types = {r.type.split(":")[0] for r in baseline.recording.resources}
    assert types == {"gpuplane", "gcp", "pulumi", "random"}


def test_children_inherit_the_components_gcp_provider() -> None:
    def program() -> None:
        explicit = gcp.Provider("explicit-gcp", project="other-project")
        GkeGpuCluster("gp", GkeGpuClusterArgs(spec=gcp_spec()), pulumi.ResourceOptions(providers=[explicit]))

    recording = record(program, region=REGION)
    provider_urn = recording.named("explicit-gcp").urn
    gcp_children = [r for r in recording.resources if r.type.startswith("gcp:") and r.name != "explicit-gcp"]
    assert len(gcp_children) == 25
    for resource in gcp_children:
        assert resource.provider.startswith(f"{provider_urn}::"), resource.name


# --- network ------------------------------------------------------------------------------------


def test_network_subnet_and_nat_for_private_nodes(baseline: Built) -> None:
    network = baseline.inputs("gp-network")
    assert network["autoCreateSubnetworks"] is False
    assert network["name"] == "gp-gcp-vpc"

    subnet = baseline.inputs("gp-subnet")
    assert subnet["region"] == REGION
    assert subnet["network"] == "gp-network-id"
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["ipCidrRange"] == "10.0.0.0/20"
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"},
    ]

    router = baseline.inputs("gp-router")
    assert router["region"] == REGION
    assert router["network"] == "gp-network-id"

    nat = baseline.inputs("gp-nat")
    assert nat["router"] == "gp-gcp-router"
    assert nat["region"] == REGION
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat["subnetworks"] == [{"name": "gp-subnet-id", "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    assert nat["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}

    cluster = baseline.inputs("gp-cluster")
    assert cluster["network"] == "gp-network-id"
    assert cluster["subnetwork"] == "gp-subnet-id"
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }


# --- node identity ------------------------------------------------------------------------------


def test_node_service_account_has_exactly_the_least_privilege_roles(baseline: Built) -> None:
    account = baseline.inputs("gp-node-sa")
    assert account["accountId"] == "gp-gcp-nodes"
    bindings = baseline.recording.of_type("gcp:projects/iAMMember:IAMMember")
    assert len(bindings) == 6
    assert {b.inputs["role"] for b in bindings} == EXPECTED_ROLES
    assert set(NODE_SA_ROLES.values()) == EXPECTED_ROLES
    for binding in bindings:
        assert binding.inputs["project"] == GCP_PROJECT
        assert binding.inputs["member"] == f"serviceAccount:{SA_EMAIL}"
    # The cluster (whose temporary default pool needs the roles too) waits for every binding.
    cluster = baseline.recording.named("gp-cluster")
    assert {b.urn for b in bindings} <= set(cluster.dependencies)


def test_every_node_runs_as_the_dedicated_account_with_gke_metadata(baseline: Built) -> None:
    node_configs = [baseline.inputs("gp-cluster")["nodeConfig"]] + [
        pool.inputs["nodeConfig"] for pool in baseline.recording.of_type("gcp:container/nodePool:NodePool")
    ]
    assert len(node_configs) == 4
    for config in node_configs:
        assert config["serviceAccount"] == SA_EMAIL
        assert config["oauthScopes"] == SCOPES
        assert config["shieldedInstanceConfig"] == SHIELDED
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}


@pytest.mark.parametrize(
    ("cluster_name", "account_id"),
    [
        ("a", "a-nodes"),
        ("gp-gcp", "gp-gcp-nodes"),
        ("a" * 32, "a" * 24 + "-nodes"),
        ("abcdefghijklmnopqrstuvw-xyz", "abcdefghijklmnopqrstuvw-nodes"),
    ],
)
def test_node_account_id_fits_gcp_limits(cluster_name: str, account_id: str) -> None:
    assert node_account_id(cluster_name) == account_id
    assert 6 <= len(account_id) <= 30


# --- cluster ------------------------------------------------------------------------------------


def test_cluster_hardening(baseline: Built) -> None:
    cluster = baseline.recording.named("gp-cluster")
    inputs = cluster.inputs
    assert inputs["name"] == "gp-gcp"
    assert inputs["location"] == REGION
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["initialNodeCount"] == 1
    assert inputs["workloadIdentityConfig"] == {"workloadPool": f"{GCP_PROJECT}.svc.id.goog"}
    assert inputs["enableShieldedNodes"] is True
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in inputs  # Dataplane V2 enforces NetworkPolicy itself
    assert inputs["minMasterVersion"] == "1.35"
    assert inputs["gatewayApiConfig"] == {"channel": "CHANNEL_DISABLED"}
    assert inputs["loggingConfig"] == {"enableComponents": ["SYSTEM_COMPONENTS"]}
    assert inputs["monitoringConfig"] == {"enableComponents": ["SYSTEM_COMPONENTS"]}
    assert inputs["resourceLabels"] == {"env": "test"}
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["privateClusterConfig"]["masterIpv4CidrBlock"] == "172.16.0.0/28"
    assert cluster.ignore_changes == ["nodeConfig"]
    assert cluster.parent == baseline.component.urn


def test_public_endpoint_only_for_the_listed_cidrs() -> None:
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    built = build(gcp_spec(apiAccess={"mode": "public", "allowedCidrs": cidrs}))
    inputs = built.inputs("gp-cluster")
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [
            {"cidrBlock": "203.0.113.0/24", "displayName": "allowed-0"},
            {"cidrBlock": "198.51.100.7/32", "displayName": "allowed-1"},
        ],
        "gcpPublicCidrsAccessEnabled": False,
    }


def test_private_endpoint_with_empty_authorized_networks() -> None:
    built = build(gcp_spec(apiAccess={"mode": "private"}))
    inputs = built.inputs("gp-cluster")
    assert inputs["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    }
    # Present but empty: authorized networks stay enforced, so only the VPC reaches the endpoint.
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False}


@pytest.mark.parametrize(
    ("production", "channel"),
    [(False, "REGULAR"), (True, "STABLE")],
)
def test_release_channel_and_deletion_protection(production: bool, channel: str) -> None:
    built = build(gcp_spec(production=production))
    inputs = built.inputs("gp-cluster")
    assert inputs["releaseChannel"] == {"channel": channel}
    assert inputs["deletionProtection"] is production


# --- node pools ---------------------------------------------------------------------------------


def test_system_pool(baseline: Built) -> None:
    pool = baseline.recording.named("gp-system")
    inputs = pool.inputs
    assert "name" not in inputs
    assert inputs["namePrefix"] == "system-"
    assert "nodeLocations" not in inputs  # e2 machines run in every zone of the region
    assert inputs["cluster"] == "gp-cluster-id"
    assert inputs["location"] == REGION
    assert inputs["initialNodeCount"] == 1
    assert inputs["autoscaling"] == {"totalMinNodeCount": 2, "totalMaxNodeCount": 4, "locationPolicy": "BALANCED"}
    assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    config = inputs["nodeConfig"]
    assert config["machineType"] == "e2-standard-4"
    assert config["labels"] == {"gpuplane.io/pool": "system"}
    assert config["resourceLabels"] == {"env": "test"}
    assert config["taints"] == []
    assert config["guestAccelerators"] == []
    assert config["spot"] is False
    assert pool.ignore_changes == ["initialNodeCount"]
    assert pool.parent == baseline.component.urn


def test_gpu_pools_baseline(baseline: Built) -> None:
    system_urn = baseline.recording.named("gp-system").urn
    expected = {
        "inference": ("g2-standard-4", "nvidia-l4", "nvidia-l4", 4),
        "training": ("a2-ultragpu-1g", "nvidia-a100-80gb", "nvidia-a100-80gb", 2),
    }
    for pool_name, (machine, gpu, accelerator, max_nodes) in expected.items():
        pool = baseline.recording.named(f"gp-gpu-{pool_name}")
        inputs = pool.inputs
        assert "name" not in inputs
        assert inputs["namePrefix"] == f"gpu-{pool_name}-"
        assert inputs["cluster"] == "gp-cluster-id"
        assert inputs["location"] == REGION
        assert inputs["initialNodeCount"] == 0
        assert inputs["autoscaling"] == {
            "totalMinNodeCount": 0,
            "totalMaxNodeCount": max_nodes,
            "locationPolicy": "ANY",
        }
        assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        config = inputs["nodeConfig"]
        assert config["machineType"] == machine
        assert config["guestAccelerators"] == [
            {"type": accelerator, "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
        ]
        assert config["labels"] == {"gpuplane.io/pool": pool_name, "gpuplane.io/gpu": gpu}
        # Exactly the taint GKE adds to GPU nodes itself: never a second value for the same key.
        assert config["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        assert config["spot"] is False
        assert pool.ignore_changes == ["initialNodeCount"]
        assert system_urn in pool.dependencies  # GKE adds its GPU taint only with a non-GPU pool present
        assert pool.parent == baseline.component.urn


def test_time_slicing_sets_gpu_sharing() -> None:
    built = build(gcp_spec(gpuPools=pools_with(sharing={"mode": "time-slicing", "replicas": 4})))
    (accelerator,) = built.inputs("gp-gpu-inference")["nodeConfig"]["guestAccelerators"]
    assert accelerator == {
        "type": "nvidia-l4",
        "count": 1,
        "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"},
        "gpuSharingConfig": {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4},
    }
    # The node labels are the spec's (one source with GpuPoolScheduling), sharing label included.
    labels = built.inputs("gp-gpu-inference")["nodeConfig"]["labels"]
    assert labels == {
        "gpuplane.io/pool": "inference",
        "gpuplane.io/gpu": "nvidia-l4",
        DEVICE_PLUGIN_CONFIG_LABEL: "inference",
    }
    assert labels == built.values["cluster"].gpu_pools[0].labels
    # The other pool is untouched.
    (other,) = built.inputs("gp-gpu-training")["nodeConfig"]["guestAccelerators"]
    assert "gpuSharingConfig" not in other
    assert "gpuPartitionSize" not in other


def test_mig_sets_partition_size() -> None:
    pools = raw_spec("gcp")["gpuPools"]
    pools[1]["sharing"] = {"mode": "mig", "migProfile": "1g.10gb"}
    built = build(gcp_spec(gpuPools=pools))
    (accelerator,) = built.inputs("gp-gpu-training")["nodeConfig"]["guestAccelerators"]
    assert accelerator == {
        "type": "nvidia-a100-80gb",
        "count": 1,
        "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"},
        "gpuPartitionSize": "1g.10gb",
    }
    labels = built.inputs("gp-gpu-training")["nodeConfig"]["labels"]
    assert labels[MIG_CONFIG_LABEL] == "all-1g.10gb"
    assert labels == built.values["cluster"].gpu_pools[1].labels


def test_spot_capacity() -> None:
    built = build(gcp_spec(gpuPools=pools_with(capacity="spot")))
    assert built.inputs("gp-gpu-inference")["nodeConfig"]["spot"] is True
    assert built.inputs("gp-gpu-training")["nodeConfig"]["spot"] is False


def test_multi_gpu_nodes_min_nodes_and_extra_labels() -> None:
    pools = pools_with(gpusPerNode=4, minNodes=1, maxNodes=3, labels={"team": "ml"})
    built = build(gcp_spec(gpuPools=pools))
    inputs = built.inputs("gp-gpu-inference")
    assert inputs["initialNodeCount"] == 1
    assert inputs["autoscaling"]["totalMinNodeCount"] == 1
    assert inputs["autoscaling"]["totalMaxNodeCount"] == 3
    config = inputs["nodeConfig"]
    assert config["machineType"] == "g2-standard-48"
    assert config["guestAccelerators"][0]["count"] == 4
    assert config["labels"] == {"gpuplane.io/pool": "inference", "gpuplane.io/gpu": "nvidia-l4", "team": "ml"}


def test_every_kubernetes_taint_effect_has_a_gke_spelling() -> None:
    effects = get_args(Taint.model_fields["effect"].annotation)
    assert set(GKE_TAINT_EFFECTS) == set(effects)
    assert GKE_TAINT_EFFECTS[GPU_TAINT.effect] == "NO_SCHEDULE"


# --- outputs: contract, kubeconfig, provider ----------------------------------------------------


def test_contract_outputs(baseline: Built) -> None:
    cluster = baseline.values["cluster"]
    assert isinstance(cluster, GkeGpuCluster)
    assert baseline.values["cluster_name"] == "gp-gcp"
    assert isinstance(cluster.native, gcp.container.Cluster)
    spec = gcp_spec()
    assert list(cluster.gpu_pools) == [
        GpuPoolScheduling.of(spec.gpu_pools[0], "g2-standard-4"),
        GpuPoolScheduling.of(spec.gpu_pools[1], "a2-ultragpu-1g"),
    ]
    assert cluster.gpu_pools[0].tolerations() == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_registered_outputs_are_camel_case_like_every_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = capture_registered_outputs(monkeypatch, GkeGpuCluster)
    built = build(gcp_spec())
    rec = built.recording
    assert registered.values == {
        "clusterName": "gp-gcp",
        "kubeconfig": built.values["kubeconfig"],
        "endpoint": rec.named("gp-cluster").outputs["endpoint"],
        "network": rec.named("gp-network").id,
        "subnetwork": rec.named("gp-subnet").id,
        "nodeServiceAccount": SA_EMAIL,
        "secretsKey": rec.named("gp-secrets-key").id,
    }
    assert {k for k, secret in registered.secret.items() if secret} == {"kubeconfig"}


def test_kubeconfig_is_secret_and_uses_the_gke_auth_plugin(baseline: Built) -> None:
    provider = baseline.recording.named("gp-k8s")
    assert provider.is_secret("kubeconfig")
    assert provider.inputs["kubeconfig"] == baseline.values["kubeconfig"]

    config = json.loads(baseline.values["kubeconfig"])
    context = f"gke_{GCP_PROJECT}_{REGION}_gp-gcp"
    assert config["current-context"] == context
    assert config["clusters"] == [
        {"name": context, "cluster": {"server": "https://172.16.0.2", "certificate-authority-data": MOCK_CA}}
    ]
    assert config["contexts"] == [{"name": context, "context": {"cluster": context, "user": context}}]
    (user,) = config["users"]
    exec_config = user["user"]["exec"]
    assert exec_config["command"] == "gke-gcloud-auth-plugin"
    assert exec_config["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_config["provideClusterInfo"] is True
    assert "token" not in user["user"]  # no long-lived credential in the kubeconfig


def test_provider_is_parented_to_the_component_and_waits_for_the_system_pool(baseline: Built) -> None:
    provider = baseline.recording.named("gp-k8s")
    assert provider.type == "pulumi:providers:kubernetes"
    assert provider.parent == baseline.component.urn
    assert baseline.recording.named("gp-system").urn in provider.dependencies
    assert baseline.recording.named("gp-cluster").urn in provider.dependencies


# --- args validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["aws", "linode", "existing"])
def test_args_reject_other_clouds(cloud: str) -> None:
    with pytest.raises(ValueError, match=r"^spec\.cloud: .*'" + cloud + "'"):
        GkeGpuClusterArgs(spec=spec_for(cloud))


def test_spec_rejects_a_gpu_pool_named_system() -> None:
    pools = raw_spec("gcp")["gpuPools"]
    pools[1]["name"] = "system"
    with pytest.raises(SpecError, match=r"gpuPools\[1\]\.name: 'system' is the name of the non-GPU pool"):
        gcp_spec(gpuPools=pools)


@pytest.mark.parametrize("tags", [{"Env": "test"}, {"env": "Test"}, {"env": "v1.2"}, {"9env": "x"}])
def test_spec_rejects_tags_gcp_cannot_label(tags: dict[str, str]) -> None:
    (key,) = tags
    with pytest.raises(SpecError, match=rf"tags\.{key}: GCP labels take lowercase"):
        gcp_spec(tags=tags)


def test_args_are_frozen_and_keyword_only() -> None:
    args = GkeGpuClusterArgs(spec=gcp_spec())
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.spec = gcp_spec()  # type: ignore[misc]
    with pytest.raises(TypeError):
        GkeGpuClusterArgs(gcp_spec())  # type: ignore[misc]


# --- imports ------------------------------------------------------------------------------------


def test_building_imports_no_other_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "from components.clusters.gke import GkeGpuCluster, GkeGpuClusterArgs\n"
        "from tests.support import record, spec_for\n"
        "rec = record(lambda: GkeGpuCluster('gp', GkeGpuClusterArgs(spec=spec_for('gcp'))), region='us-central1')\n"
        "assert len(rec.resources) == 28, len(rec.resources)\n"
        "print(sorted(m for m in ('pulumi_aws', 'pulumi_linode', 'pulumi_gcp') if m in sys.modules))\n"
    )
    assert fresh_python(code).strip().splitlines()[-1] == "['pulumi_gcp']"


# --- GPU pool zones (issue 12, item 10) ---------------------------------------------------------


def test_gpu_pools_run_only_in_zones_that_offer_their_machine_type(baseline: Built) -> None:
    # g2 (L4) and a2-ultragpu (A100 80GB) are offered in different zones of us-central1 (components/gcp_zones.py).
    assert baseline.inputs("gp-gpu-inference")["nodeLocations"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert baseline.inputs("gp-gpu-training")["nodeLocations"] == ["us-central1-a", "us-central1-c"]
    # Never the region's full zone list: us-central1-f has neither machine type.
    for name in ("gp-gpu-inference", "gp-gpu-training"):
        assert "us-central1-f" not in baseline.inputs(name)["nodeLocations"]


def test_pinned_zones_become_the_pools_node_locations() -> None:
    built = build(gcp_spec(gpuPools=pools_with(zones=["us-central1-b"])))
    assert built.inputs("gp-gpu-inference")["nodeLocations"] == ["us-central1-b"]
    assert built.inputs("gp-gpu-training")["nodeLocations"] == ["us-central1-a", "us-central1-c"]


def test_spec_rejects_a_region_without_the_gpu_naming_the_pool() -> None:
    # europe-west1 has L4s (g2) but no A100 80GB (a2-ultragpu).
    with pytest.raises(SpecError) as error:
        gcp_spec(region="europe-west1")
    messages = [str(p) for p in error.value.problems]
    assert messages == [
        "gpuPools[1].gpu: a2-ultragpu-1g (nvidia-a100-80gb) is not offered in any zone of europe-west1; "
        "regions with it: asia-southeast1, europe-west4, us-central1, us-east4, us-east5"
    ]


def test_spec_rejects_a_pinned_zone_without_the_gpu() -> None:
    pools = raw_spec("gcp")["gpuPools"]
    pools[1]["zones"] = ["us-central1-c", "us-central1-b", "us-central1-c"]
    with pytest.raises(SpecError) as error:
        gcp_spec(gpuPools=pools)
    assert [str(p) for p in error.value.problems] == [
        "gpuPools[1].zones[1]: us-central1-b does not offer a2-ultragpu-1g (nvidia-a100-80gb); "
        "zones of us-central1 that do: us-central1-a, us-central1-c",
        "gpuPools[1].zones[2]: zone 'us-central1-c' is listed twice",
    ]


def test_spec_rejects_a_zone_of_another_region() -> None:
    with pytest.raises(SpecError, match=r"gpuPools\[0\]\.zones\[0\]: us-east1-b does not offer g2-standard-4"):
        gcp_spec(gpuPools=pools_with(zones=["us-east1-b"]))


def test_spec_rejects_a_gpu_whose_zones_are_not_recorded() -> None:
    # N1 + T4 has no zone data: gpuplane cannot place the pool, so it refuses instead of guessing.
    pools = pools_with(gpu="nvidia-t4")
    with pytest.raises(SpecError, match=r"gpuPools\[0\]\.gpu: gpuplane records no zones for n1-standard-4"):
        gcp_spec(gpuPools=pools, tenants=[])


@pytest.mark.parametrize("cloud", ["linode", "existing"])
def test_zones_are_refused_where_nothing_places_them(cloud: str) -> None:
    pools = raw_spec(cloud)["gpuPools"]
    pools[0]["zones"] = ["somewhere-1a"]
    with pytest.raises(SpecError, match=rf"gpuPools\[0\]\.zones: zones can be pinned on aws and gcp only, not {cloud}"):
        spec_for(cloud, gpuPools=pools)


# --- node pool replacement (issue 12, item 11) --------------------------------------------------

# Inputs of gcp.container.NodePool's node_config that the provider marks ForceNew (a change replaces the
# pool), read in hashicorp/terraform-provider-google google/services/container/node_config.go at commit
# 00b984c6987304290117e54f87cdfd38f2be0685, and those it updates in place.
FORCE_NEW = ("guestAccelerators", "spot", "serviceAccount", "oauthScopes", "shieldedInstanceConfig")
IN_PLACE = ("machineType", "labels", "resourceLabels", "taints")


def test_no_node_pool_has_a_fixed_name(baseline: Built) -> None:
    pools = baseline.recording.of_type("gcp:container/nodePool:NodePool")
    assert len(pools) == 3
    for pool in pools:
        # A fixed name makes a create-before-delete replacement fail with "already exists".
        assert "name" not in pool.inputs, pool.name
        prefix = pool.inputs["namePrefix"]
        assert len(prefix) <= NODE_POOL_NAME_PREFIX_MAX, pool.name
        assert prefix.endswith("-"), pool.name
        for key in FORCE_NEW:
            assert key in pool.inputs["nodeConfig"], (pool.name, key)


@pytest.mark.parametrize(
    ("change", "force_new_key"),
    [
        ({"capacity": "spot"}, "spot"),
        ({"sharing": {"mode": "time-slicing", "replicas": 2}}, "guestAccelerators"),
        ({"gpusPerNode": 2}, "guestAccelerators"),
    ],
)
def test_a_replacing_change_keeps_the_resource_and_its_generated_name(
    baseline: Built, change: dict[str, Any], force_new_key: str
) -> None:
    changed = build(gcp_spec(gpuPools=pools_with(**change)))
    before = baseline.recording.named("gp-gpu-inference")
    after = changed.recording.named("gp-gpu-inference")
    # Same logical resource (URN): Pulumi plans a replacement, creating the new pool first ...
    assert after.urn == before.urn
    assert after.inputs["nodeConfig"][force_new_key] != before.inputs["nodeConfig"][force_new_key]
    # ... which works because the provider generates the name from the prefix, not from a fixed input.
    assert after.inputs["namePrefix"] == before.inputs["namePrefix"]
    assert "name" not in after.inputs


def test_in_place_inputs_are_not_part_of_the_force_new_set() -> None:
    assert not set(FORCE_NEW) & set(IN_PLACE)


@pytest.mark.parametrize(
    ("pool_name", "prefix"),
    [("a", "gpu-a-"), ("x" * 30, "gpu-" + "x" * 26 + "-")],
)
def test_gpu_pool_name_prefix_fits_the_provider_limit(pool_name: str, prefix: str) -> None:
    pool = gcp_spec().gpu_pools[0].model_copy(update={"name": pool_name})
    assert gpu_pool_name_prefix(pool) == prefix
    assert len(prefix) <= NODE_POOL_NAME_PREFIX_MAX


# --- APIs, secrets encryption, taint (issue 12, item 12) ----------------------------------------


def test_required_apis_are_enabled_and_never_disabled_on_destroy(baseline: Built) -> None:
    services = baseline.recording.of_type("gcp:projects/service:Service")
    assert {s.inputs["service"] for s in services} == {
        "compute.googleapis.com",
        "container.googleapis.com",
        "cloudkms.googleapis.com",
        "iam.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        "logging.googleapis.com",
        "monitoring.googleapis.com",
    }
    for service in services:
        assert service.inputs["project"] == GCP_PROJECT
        assert service.inputs["disableOnDestroy"] is False


def test_everything_waits_for_the_apis(baseline: Built) -> None:
    service_urns = {s.urn for s in baseline.recording.of_type("gcp:projects/service:Service")}
    assert len(service_urns) == len(REQUIRED_APIS)
    direct = [
        r
        for r in baseline.recording.resources
        if r.type.startswith("gcp:")
        and r.type not in ("gcp:projects/service:Service", "gcp:container/nodePool:NodePool")
    ]
    # network, subnet, router, NAT, account, 6 role bindings, key ring, key, key binding, cluster
    assert len(direct) == 15
    for resource in direct:
        assert service_urns <= set(resource.dependencies), resource.name
    # Node pools wait through the cluster they belong to.
    cluster_urn = baseline.recording.named("gp-cluster").urn
    for pool in baseline.recording.of_type("gcp:container/nodePool:NodePool"):
        assert cluster_urn in pool.dependencies


def test_secrets_are_encrypted_with_a_regional_kms_key_the_gke_agent_may_use(baseline: Built) -> None:
    ring = baseline.inputs("gp-keyring")
    assert ring["location"] == REGION  # the key must live in the cluster's location
    assert ring["name"].startswith("gp-gcp-")  # random suffix: KMS never deletes key rings
    key = baseline.recording.named("gp-secrets-key")
    assert key.inputs["keyRing"] == baseline.recording.named("gp-keyring").id
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["rotationPeriod"] == "7776000s"
    binding = baseline.recording.named("gp-secrets-key-gke-agent")
    assert binding.inputs == {
        "cryptoKeyId": key.id,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{GCP_PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com",
    }
    cluster = baseline.recording.named("gp-cluster")
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key.id}
    # GKE checks the key when it creates the cluster: the binding must exist first.
    assert binding.urn in cluster.dependencies


def test_gpu_taint_is_gkes_own_and_the_same_everywhere(baseline: Built) -> None:
    assert (GPU_TAINT.key, GPU_TAINT.value, GPU_TAINT.effect) == ("nvidia.com/gpu", "present", "NoSchedule")
    cluster = baseline.values["cluster"]
    for scheduling in cluster.gpu_pools:
        node_taints = baseline.inputs(f"gp-gpu-{scheduling.name}")["nodeConfig"]["taints"]
        # One taint per pool, and the contract (which Kueue flavors and daemonset tolerations read) says the same.
        assert node_taints == [
            {"key": t.key, "value": t.value, "effect": GKE_TAINT_EFFECTS[t.effect]} for t in scheduling.taints
        ]
        assert len({t["key"] for t in node_taints}) == len(node_taints)


def test_kueue_flavors_tolerate_exactly_the_taint_the_gke_pools_carry() -> None:
    from tests.support import build_platform

    spec = gcp_spec()
    rec = record(lambda: build_platform(spec, install_addons=True), region=REGION)
    for pool in spec.gpu_pools:
        node_config = rec.named(f"gp-cluster-gpu-{pool.name}").inputs["nodeConfig"]
        assert node_config["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        flavor = rec.named(f"gp-kueue-flavor-{pool.name}").inputs["spec"]
        assert flavor["nodeLabels"] == {k: v for k, v in node_config["labels"].items() if k.startswith("gpuplane.io/")}
        for taint in node_config["taints"]:
            effect = {v: k for k, v in GKE_TAINT_EFFECTS.items()}[taint["effect"]]
            assert any(
                t["key"] == taint["key"] and t["effect"] == effect and t["operator"] == "Exists"
                for t in flavor["tolerations"]
            ), (pool.name, flavor["tolerations"])
