"""The engine's build inputs agree with each other (no Go build needed; runs in every tier).

What: cli/go.mod requires pkg/v3 and sdk/v3 at build.PULUMI_VERSION (one version for both: pkg/v3
replaces sdk/v3 with its sibling upstream); kubernetes/go.mod pins the provider at the pseudo-version
build.py names; the vendored language host's SOURCE.md names the tag build.py stamps into build-info.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.engine import build


def _required(go_mod: Path, module: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", go_mod.read_text(), re.MULTILINE)
    assert match, f"{go_mod} does not require {module}"
    return match.group(1)


def test_cli_module_pins_pkg_and_sdk_at_one_release() -> None:
    go_mod = build.HERE / "cli" / "go.mod"
    assert _required(go_mod, "github.com/pulumi/pulumi/pkg/v3") == build.PULUMI_VERSION
    assert _required(go_mod, "github.com/pulumi/pulumi/sdk/v3") == build.PULUMI_VERSION


def test_provider_module_is_the_served_pseudo_version() -> None:
    go_mod = build.HERE / "kubernetes" / "go.mod"
    assert (
        _required(go_mod, "github.com/pulumi/pulumi-kubernetes/provider/v4") == build.KUBERNETES_PROVIDER_MODULE_VERSION
    )


def test_vendored_language_host_names_its_source() -> None:
    source = (build.HERE / "cli" / "pulumi-language-python" / "SOURCE.md").read_text()
    assert f"Tag: {build.LANGUAGE_HOST_SOURCE_TAG}" in source
    assert (build.HERE / "cli" / "pulumi-language-python" / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_cache_key_covers_every_source_file() -> None:
    """Every file the builds read is hashed into the cache key (editing one never reuses stale binaries)."""
    hashed = {p.relative_to(build.HERE).as_posix() for p in build._input_files()}  # pyright: ignore[reportPrivateUsage]
    for rel in (
        "cli/go.mod",
        "cli/go.sum",
        "cli/pulumi-language-python/main.go",
        "kubernetes/go.mod",
        "kubernetes/go.sum",
        "kubernetes/pulumi-resource-kubernetes/main.go",
    ):
        assert rel in hashed, rel
