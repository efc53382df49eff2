"""Reading stack files the way the Pulumi CLI hands them to the program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuplane import stackfiles


def test_bare_keys_belong_to_the_project_and_structure_is_json(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bare-dev.yaml"
    path.write_text(
        "config:\n  cloud: aws\n  aws:region: us-east-1\n  gpuplane:production: true\n  gpuPools: [{name: a}]\n"
    )

    loaded = stackfiles.load(path)

    assert loaded.name == "bare-dev"
    assert loaded.config == {
        "gpuplane:cloud": "aws",
        "aws:region": "us-east-1",
        "gpuplane:production": "true",
        "gpuplane:gpuPools": json.dumps([{"name": "a"}]),
    }
    assert loaded.secret_keys == []


def test_secure_values_become_marked_placeholders_at_any_depth(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(
        "config:\n  gpuplane:kubeconfig:\n    secure: v1:abc\n"
        "  gpuplane:modelCredentials:\n    openai:\n      secure: v1:def\n"
    )

    loaded = stackfiles.load(path)

    assert sorted(loaded.secret_keys) == ["gpuplane:kubeconfig", "gpuplane:modelCredentials"]
    assert json.loads(loaded.config["gpuplane:kubeconfig"])["kind"] == "Config"
    assert "v1:def" not in loaded.config["gpuplane:modelCredentials"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("config: [1, 2]\n", "config: must be a map"), ("- a\n", "expected a map"), ("config: {a: [\n", "not valid YAML")],
)
def test_malformed_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    with pytest.raises(stackfiles.StackFileError, match=message):
        stackfiles.load(path)
