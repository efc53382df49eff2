"""The pack as a whole: metadata served over GetAnalyzerInfo, naming, levels, config schemas, the
README table, the pack's files, importability without side effects, and the generated data staying
in sync with the project's catalog and version pins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

import policies
from gpuplane.analyzer import PACK_DIR, PolicyPackServer
from tests.policies import catalog_sync

ADVISORY = {"cloud-cluster-ha-control-plane", "gpu-lke-pool-idle-floor", "conformance-stack-ai-requirements"}
STACK = {
    "cloud-eks-node-imdsv2",
    "cloud-eks-node-role-no-cni-policy",
    "cloud-eks-volumes-have-csi-driver",
    "gpu-stack-max-gpus",
    "gpu-stack-max-hourly-cost",
    "platform-helm-compatibility-matrix",
    "platform-helm-version-pinned",
    "platform-kueue-flavor-pool-match",
    "platform-kueue-quota-within-capacity",
    "platform-aigateway-route-rate-limited",
    "platform-aigateway-route-authenticated",
    "conformance-stack-ai-requirements",
}
NAME = re.compile(r"^(cloud|gpu|platform|conformance)-[a-z0-9]+(-[a-z0-9]+)+$")


def test_policy_metadata_over_grpc(pack: PolicyPackServer) -> None:
    info = pack.info()
    assert len(info) == 32
    assert [p.name for p in info] == [m.META.name for m in policies.MODULES]
    for policy in info:
        assert NAME.match(policy.name), policy.name
        assert policy.description.endswith("."), policy.name
        assert policy.severity in ("low", "medium", "high", "critical"), policy.name
        assert policy.tags, policy.name
        assert policy.tags[0] == policy.name.split("-")[0], policy.name
        assert len(policy.remediation) > 20, policy.name
        assert policy.enforcement == ("advisory" if policy.name in ADVISORY else "mandatory"), policy.name
        assert policy.kind == ("stack" if policy.name in STACK else "resource"), policy.name
        assert "excludeResources" in policy.schema, policy.name
        for key, schema in policy.schema.items():
            assert "default" in schema, (policy.name, key)
            assert schema.get("description"), (policy.name, key)
            assert schema.get("type"), (policy.name, key)
            if schema["type"] == "object":
                assert "additionalProperties" in schema, (policy.name, key)
            if schema["type"] == "array":
                assert "items" in schema, (policy.name, key)


def test_module_names_follow_policy_names() -> None:
    for module in policies.MODULES:
        assert module.__name__ == "policies." + module.META.name.replace("-", "_")
        assert module.__doc__
        assert module.__doc__.startswith(module.META.name + ":")
        assert module.POLICY.name == module.META.name


def test_readme_lists_every_policy() -> None:
    readme = (PACK_DIR / "README.md").read_text()
    rows = {
        cells[0].strip("` "): cells
        for line in readme.splitlines()
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
        if NAME.match(cells[0].strip("` "))
    }
    for module in policies.MODULES:
        meta = module.META
        row = rows[meta.name]
        assert row[1] == meta.severity.value
        # The default level, optionally followed by the shipped configs' override: "mandatory (production: advisory)".
        assert row[2].split(" (", 1)[0] == meta.enforcement.value
        assert row[3] == ("stack" if meta.name in STACK else "resource")
        assert row[4] == meta.rationale
        for key in meta.config:
            assert f"`{key}`" in row[5], (meta.name, key)
        if not meta.config:
            assert row[5] == "—"
    assert set(rows) == {m.META.name for m in policies.MODULES}
    for command in ("pulumi preview --policy-pack policies", "--policy-pack-config", "policy publish", "gpuplane plan"):
        assert command in readme


def test_pack_files() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["version"] == "0.1.0"
    assert project["description"]
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert f"pulumi-policy=={metadata.version('pulumi-policy')}" in requirements
    for name in ("dev", "production"):
        config: dict[str, Any] = json.loads((PACK_DIR / "config" / f"{name}.json").read_text())
        assert set(config) <= {m.META.name for m in policies.MODULES}


def test_importing_the_pack_starts_nothing() -> None:
    """Building the PolicyPack blocks forever: only __main__ may do it."""
    result = subprocess.run(
        [sys.executable, "-c", "import policies, sys; sys.stdout.write(str(len(policies.POLICIES)))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "32")


def test_main_only_builds_the_pack() -> None:
    source = (PACK_DIR / "__main__.py").read_text()
    assert source.count("PolicyPack(") == 1
    for module in Path(PACK_DIR).glob("*.py"):
        if module.name != "__main__.py":
            assert "PolicyPack(" not in module.read_text(), module.name


def test_catalog_copy_is_in_sync() -> None:
    assert catalog_sync.CATALOG_FILE.read_text() == catalog_sync.render(), (
        "policies/gpu_catalog.json is stale: run .venv/bin/python -m tests.policies.catalog_sync"
    )


def test_defaults_follow_the_version_pins() -> None:
    from policies import (
        gpu_pool_instance_type_allowed,
        platform_helm_compatibility_matrix,
        platform_helm_hooks_supported,
    )

    assert platform_helm_hooks_supported.META.config["hookCharts"]["default"] == catalog_sync.hook_charts()
    assert platform_helm_compatibility_matrix.META.config["matrix"]["default"] == catalog_sync.compatibility_matrix()
    catalog_types = sorted({t for cloud in catalog_sync.snapshot()["instanceTypes"].values() for t in cloud})
    assert gpu_pool_instance_type_allowed.META.config["allowedInstanceTypes"]["default"] == catalog_types


@pytest.mark.parametrize("module", policies.MODULES, ids=lambda m: m.META.name)
def test_checks_ignore_unrelated_resources(module: Any) -> None:
    """Direct call (an addition to the gRPC tests): nothing to say about an empty stack or a bucket."""
    from policies._support import Resource

    bucket = Resource("aws:s3/bucket:Bucket", "bucket", "urn:bucket", {"acl": "public-read"})
    config = module.META.defaults()
    if module.META.name in STACK:
        findings = list(module.check([bucket], config))
        if module.META.name == "conformance-stack-ai-requirements":
            assert len(findings) == 1
        else:
            assert findings == []
    else:
        assert list(module.check(bucket, config)) == []
