"""Direct tests of the pack's readers and helpers (an addition to the gRPC tests, for edge cases)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from policies import _kueue, _secrets, _support, gpu_stack_max_gpus
from policies._support import Resource


def test_secret_marking_keeps_values_and_marks_every_leaf() -> None:
    wire = {
        "plain": "a",
        "token": {_secrets.SIG_KEY: _secrets.SECRET_SIG, "value": "t"},
        "values": {
            _secrets.SIG_KEY: _secrets.SECRET_SIG,
            "value": {"db": {"password": "p", "port": 5432.0}, "on": True},
        },
        "list": [{_secrets.SIG_KEY: _secrets.SECRET_SIG, "value": ["x"]}],
    }
    marked = _secrets.mark(wire)
    assert marked == {
        "plain": "a",
        "token": "t",
        "values": {"db": {"password": "p", "port": 5432.0}, "on": True},
        "list": [["x"]],
    }
    assert isinstance(marked, dict)
    assert not _secrets.is_secret(marked["plain"])
    assert _secrets.is_secret(marked["token"])
    assert _secrets.is_secret(marked["values"]["db"]["password"])
    assert _secrets.is_secret(marked["values"]["db"]["port"])
    assert _secrets.is_secret(marked["list"][0][0])
    assert json.dumps(marked["token"]) == '"t"'
    with pytest.raises(AssertionError, match="Unrecognized signature"):
        _secrets.mark({_secrets.SIG_KEY: "nope"})


def test_install_patches_only_the_pack_process() -> None:
    script = textwrap.dedent(
        """
        import pulumi_policy.policy as p
        from policies import _secrets
        before = p.deserialize_properties
        _secrets.install(); _secrets.install()
        wire = {"k": {_secrets.SIG_KEY: _secrets.SECRET_SIG, "value": "v"},
                "a": {_secrets.SIG_KEY: "c44067f5952c0a294b673a41bacd8c17", "text": "asset"}}
        out = p.deserialize_properties(wire)
        proxied = p.deserialize_properties(wire, True)
        print(before is not p.deserialize_properties, _secrets.is_secret(out["k"]), type(out["a"]).__name__,
              type(proxied["__target"]["k"]).__name__)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["True", "True", "StringAsset", "Secret"]
    assert not _secrets.installed()  # this (test) process was not patched


@pytest.mark.parametrize(
    ("version", "pattern", "expected"),
    [
        ("v1.8.3", "1.8.3", True),
        ("1.8.3", "v1.8.x", True),
        ("1.8.10", "1.8", True),
        ("1.9.0", "1.8.x", False),
        ("1.18.0", "1.1.x", False),
        ("1.8.3+build", "1.8.3", True),
    ],
)
def test_version_matches(version: str, pattern: str, expected: bool) -> None:
    assert _support.version_matches(version, pattern) is expected


@pytest.mark.parametrize(
    ("version", "exact"),
    [
        ("0.19.2", True),
        ("v26.7.0", True),
        ("1.0.0-rc.1", True),
        ("^0.19", False),
        ("0.19", False),
        ("*", False),
        ("", False),
    ],
)
def test_exact_versions(version: str, exact: bool) -> None:
    assert _support.is_exact_version(version) is exact


def test_helm_chart_references() -> None:
    oci = _support.helm_chart(
        Resource(
            "kubernetes:helm.sh/v4:Chart",
            "eg",
            "u",
            {"chart": "oci://docker.io/envoyproxy/gateway-helm", "version": "v1.8.3"},
        )
    )
    assert oci is not None
    assert (oci.name, oci.version, oci.via, oci.local) == (
        "gateway-helm",
        "v1.8.3",
        "helm.v4.Chart",
        False,
    )
    local = _support.helm_chart(Resource("kubernetes:helm.sh/v3:Release", "l", "u", {"chart": "./charts/mine"}))
    assert local is not None
    assert local.local
    assert local.name == "mine"
    repo = _support.helm_chart(
        Resource(
            "kubernetes:helm.sh/v3:Release",
            "k",
            "u",
            {"chart": "kueue", "repositoryOpts": {"repo": "oci://registry.k8s.io/kueue/charts"}},
        )
    )
    assert repo is not None
    assert repo.reference == "oci://registry.k8s.io/kueue/charts/kueue"
    assert repo.version == ""


@pytest.mark.parametrize(
    ("key", "credential"),
    [
        ("HF_TOKEN", True),
        ("OPENAI_API_KEY", True),
        ("adminPassword", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("kubeconfig", True),
        ("existingSecret", False),
        ("MAX_TOKENS", False),
        ("passwordKey", False),
        ("tokenizer", False),
    ],
)
def test_credential_keys(key: str, credential: bool) -> None:
    assert _support.is_credential_key(key) is credential


def test_embedded_credentials() -> None:
    assert _support.has_embedded_credentials("postgres://u:p@db:5432/x")
    assert not _support.has_embedded_credentials("https://key@sentry.example.com/1")
    assert not _support.has_embedded_credentials("postgres://db:5432/x")


def test_open_cidrs() -> None:
    assert [_support.is_open_cidr(c) for c in ("0.0.0.0/0", "::/0", "10.1.2.3/0", "203.0.113.0/24", "not-a-cidr")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # Shorter than /8 (IPv6 /16) counts as open by default; the limits are parameters, /0 is always open.
    wide = ("0.0.0.0/1", "128.0.0.0/1", "1.0.0.0/7", "2000::/3", "2001:db8::/15")
    narrow = ("10.0.0.0/8", "198.51.100.7/32", "2001:db8::/16", "2001:db8::/32")
    assert [_support.is_open_cidr(c) for c in wide] == [True] * len(wide)
    assert [_support.is_open_cidr(c) for c in narrow] == [False] * len(narrow)
    assert _support.is_open_cidr("10.0.0.0/8", min_ipv4=9)
    assert not _support.is_open_cidr("1.0.0.0/7", min_ipv4=0)
    assert _support.is_open_cidr("0.0.0.0/0", min_ipv4=0, min_ipv6=0)
    assert _support.is_open_cidr("::/0", min_ipv4=0, min_ipv6=0)
    assert not _support.is_open_cidr("2001:db8::/15", min_ipv6=15)
    assert _support.open_cidr_reason("1.0.0.0/7") == (
        "a /7 range wider than the /8 limit (minIpv4PrefixLength), so it counts as open to the internet"
    )
    assert _support.open_cidr_config({"minIpv4PrefixLength": 12.0, "minIpv6PrefixLength": 32.0}) == (12, 32)
    assert _support.open_cidr_config({}) == (8, 16)


@pytest.mark.parametrize(
    ("props", "zones"),
    [
        ({"location": "us-central1"}, 3),  # regional, no nodeLocations: GKE's default of 3 zones
        ({"location": "europe-west4"}, 3),
        ({"location": "us-central1-a"}, 1),  # zonal
        ({"location": "us-central1", "nodeLocations": ["us-central1-a", "us-central1-b"]}, 2),
        ({"cluster": "projects/p/locations/us-east4/clusters/c"}, 3),
        ({"cluster": "projects/p/locations/us-east4-c/clusters/c"}, 1),
        ({"cluster": "gpuplane-cluster-id"}, 1),  # location unknown: no multiplier
        ({}, 1),
    ],
)
def test_gke_zones_of_per_zone_counts(props: dict[str, object], zones: int) -> None:
    pool = Resource(
        "gcp:container/nodePool:NodePool",
        "np",
        "u",
        {
            **props,
            "autoscaling": {"minNodeCount": 1.0, "maxNodeCount": 2.0},
            "nodeConfig": {"machineType": "g2-standard-4", "guestAccelerators": [{"type": "nvidia-l4", "count": 1.0}]},
        },
    )
    [found] = _support.node_pools(pool)
    assert (found.min_nodes, found.max_nodes) == (zones, 2 * zones)
    totals = Resource(
        pool.type, "np", "u", {**pool.props, "autoscaling": {"totalMinNodeCount": 0.0, "totalMaxNodeCount": 5.0}}
    )
    [total] = _support.node_pools(totals)
    assert (total.min_nodes, total.max_nodes) == (0, 5)  # total* counts are never multiplied
    fixed = Resource(
        pool.type, "np", "u", {**{k: v for k, v in pool.props.items() if k != "autoscaling"}, "nodeCount": 2.0}
    )
    [fixed_pool] = _support.node_pools(fixed)
    assert (fixed_pool.min_nodes, fixed_pool.max_nodes) == (2 * zones, 2 * zones)


def test_gke_per_zone_counts_and_sharing() -> None:
    pool = Resource(
        "gcp:container/nodePool:NodePool",
        "np",
        "u",
        {
            "nodeLocations": ["us-central1-a", "us-central1-b"],
            "autoscaling": {"minNodeCount": 1.0, "maxNodeCount": 3.0},
            "nodeConfig": {
                "machineType": "g2-standard-4",
                "guestAccelerators": [
                    {
                        "type": "nvidia-l4",
                        "count": 1.0,
                        "gpuSharingConfig": {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4.0},
                    }
                ],
            },
        },
    )
    [found] = _support.node_pools(pool)
    assert (found.min_nodes, found.max_nodes, found.max_gpus, found.units_per_gpu, found.hourly_usd) == (
        2,
        6,
        6,
        4,
        0.7068,
    )


def test_karpenter_limits_and_lke_inline_pools() -> None:
    karpenter = Resource(
        "kubernetes:karpenter.sh/v1:NodePool",
        "kp",
        "u",
        {"spec": {"limits": {"nvidia.com/gpu": "16"}, "template": {"spec": {"requirements": []}}}},
    )
    [pool] = _support.node_pools(karpenter)
    assert pool.gpu
    assert pool.max_gpus == 16
    lke = Resource(
        "linode:index/lkeCluster:LkeCluster",
        "c",
        "u",
        {"pools": [{"type": "g6-dedicated-4", "count": 2.0}, {"type": "g2-gpu-rtx4000a1-s", "count": 3.0}]},
    )
    pools = _support.node_pools(lke)
    assert [(p.gpu, p.autoscaled, p.min_nodes, p.max_nodes, p.title) for p in pools] == [
        (False, False, 2, 2, "LKE cluster c pools[0]"),
        (True, False, 3, 3, "LKE cluster c pools[1]"),
    ]
    findings = list(gpu_stack_max_gpus.check([karpenter, lke], {"maxGpus": 18, "excludeResources": []}))
    assert [f.message for f in findings] == [
        "the GPU pools can scale to 19 GPUs (Karpenter NodePool kp: 16; LKE cluster c pools[1]: 3), above the cap of 18"
    ]


def test_units_per_gpu_from_a_yaml_device_plugin_config() -> None:
    pool_resource = Resource(
        "aws:eks/nodeGroup:NodeGroup",
        "ng",
        "u",
        {
            "instanceTypes": ["g6.xlarge"],
            "labels": {"nvidia.com/device-plugin.config": "shared"},
            "scalingConfig": {"minSize": 0.0, "maxSize": 2.0},
        },
    )
    config_map = Resource(
        "kubernetes:core/v1:ConfigMap",
        "cm",
        "u",
        {
            "data": {
                "shared": "version: v1\nsharing:\n  timeSlicing:\n    resources:\n      - name: nvidia.com/gpu\n        replicas: 3\n"
            }
        },
    )
    [pool] = _support.node_pools(pool_resource)
    assert _kueue.units_per_gpu(pool, [pool_resource, config_map]) == 3
    assert _kueue.units_per_gpu(pool, [pool_resource]) == 1
    mig = Resource(
        "aws:eks/nodeGroup:NodeGroup",
        "mig",
        "u",
        {"instanceTypes": ["p5.48xlarge"], "labels": {"nvidia.com/mig.config": "all-1g.10gb"}},
    )
    [mig_pool] = _support.node_pools(mig)
    assert _kueue.units_per_gpu(mig_pool, [mig]) == 7


def test_pack_side_config_validation() -> None:
    meta = gpu_stack_max_gpus.META
    assert _support.effective_config(meta, {"maxGpus": 8.0, "enforcementLevel": "advisory"}) == {
        "maxGpus": 8.0,
        "excludeResources": [],
    }
    with pytest.raises(_support.PolicyConfigError, match="unknown config key\\(s\\) maxGPUs"):
        _support.effective_config(meta, {"maxGPUs": 8})
    with pytest.raises(_support.PolicyConfigError, match="maxGpus must be of type integer"):
        _support.effective_config(meta, {"maxGpus": "8"})


def test_quantities() -> None:
    assert [_kueue.quantity(v) for v in (4, "4", "2.0", "500m", None)] == [4.0, 4.0, 2.0, None, None]
