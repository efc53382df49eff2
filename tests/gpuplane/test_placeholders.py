"""``gpuplane plan`` names every value still left from the examples (issue 12 item 3): placeholder
``secure:`` values Pulumi rejects, placeholder project ids, documentation-range CIDRs. A warning per
value in the text report and ``--json``; the exit code stays what the plan decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpuplane import cli, placeholders
from gpuplane.placeholders import Placeholder

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
SECURE_PLACEHOLDER = "secure value is a placeholder, not ciphertext (Pulumi rejects it)"
DOC_CIDR = "203.0.113.0/24 is in the documentation range 203.0.113.0/24 (reaches nobody); use your own"


def _stack(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "Pulumi.t-dev.yaml"
    path.write_text(body)
    return path


def test_every_example_placeholder_is_named() -> None:
    found = {s: [str(p) for p in placeholders.find(STACKS / f"Pulumi.{s}.yaml")] for s in ("aws-dev", "linode-dev")}
    assert found == {
        "aws-dev": [
            f"gpuplane:apiAccess.allowedCidrs[0]: {DOC_CIDR}",
            f"gpuplane:modelCredentials.openai: {SECURE_PLACEHOLDER}: "
            "pulumi config set --secret --path 'gpuplane:modelCredentials.openai'",
        ],
        "linode-dev": [f"gpuplane:apiAccess.allowedCidrs[0]: {DOC_CIDR}"],
    }
    gcp = [p.key for p in placeholders.find(STACKS / "Pulumi.gcp-dev.yaml")]
    assert gcp == [
        "gcp:project",
        "gpuplane:apiAccess.allowedCidrs[0]",
        "gpuplane:models[1].backend.project",
        "gpuplane:modelCredentials.vertex",
    ]
    existing = [str(p) for p in placeholders.find(STACKS / "Pulumi.existing-dev.yaml")]
    assert existing == [
        f"gpuplane:kubeconfig: {SECURE_PLACEHOLDER}: pulumi config set --secret gpuplane:kubeconfig",
        f"gpuplane:openfgaDatastoreUri: {SECURE_PLACEHOLDER}: pulumi config set --secret gpuplane:openfgaDatastoreUri",
    ]


@pytest.mark.parametrize(
    "ciphertext",
    [
        "v1:AAABAJCDEFGHIJKLmnop:XyZ0123456789+/abcdefgh==",  # passphrase / Pulumi Cloud
        "AQICAHhSomeKmsCiphertextBase64/+==",  # awskms:// (bare base64)
    ],
)
def test_real_ciphertext_is_not_a_placeholder(tmp_path: Path, ciphertext: str) -> None:
    path = _stack(tmp_path, f"config:\n  gpuplane:kubeconfig:\n    secure: {ciphertext}\n")
    assert placeholders.find(path) == []


@pytest.mark.parametrize(
    ("value", "flagged"),
    [
        ("192.0.2.0/24", True),
        ("198.51.100.7/32", True),
        ("203.0.113.0/25", True),
        ("198.51.0.0/16", False),  # a real range that merely contains a documentation one
        ("2001:db8:1::/48", True),
        ("10.0.0.0/8", False),
        ("198.51.101.0/24", False),
        ("2001:db9::/32", False),
        ("not-a-cidr", False),
    ],
)
def test_documentation_ranges(tmp_path: Path, value: str, flagged: bool) -> None:
    path = _stack(tmp_path, f"config:\n  gpuplane:apiAccess:\n    mode: public\n    allowedCidrs: ['{value}']\n")
    found = placeholders.find(path)
    assert [p.key for p in found] == (["gpuplane:apiAccess.allowedCidrs[0]"] if flagged else [])


def test_projects_and_replace_markers(tmp_path: Path) -> None:
    path = _stack(
        tmp_path,
        "config:\n  gcp:project: acme-ml-prod\n  gpuplane:modelCredentials:\n    a:\n      secure: v1:REPLACE-ME\n",
    )
    assert placeholders.find(path) == [
        Placeholder(
            "gpuplane:modelCredentials.a",
            f"{SECURE_PLACEHOLDER}: pulumi config set --secret --path 'gpuplane:modelCredentials.a'",
        )
    ]
    path.write_text("config:\n  gcp:project: your-project-id\n")
    assert [p.key for p in placeholders.find(path)] == ["gcp:project"]


def test_an_unreadable_file_has_no_placeholders_and_no_traceback(tmp_path: Path) -> None:
    path = _stack(tmp_path, "config: [unclosed\n")
    assert placeholders.find(path) == []


@pytest.mark.usefixtures(
    "lent_pack", "replayed_examples"
)  # the report: running pack, plan made once (tests/support.py)
def test_plan_reports_placeholders_in_text_and_json_with_the_exit_code_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["plan", "linode-dev"]) == cli.EXIT_OK
    text = capsys.readouterr()
    assert "warning: 1 placeholder value(s) to replace before pulumi up:" in text.out
    assert f"- gpuplane:apiAccess.allowedCidrs[0]: {DOC_CIDR}" in text.out
    assert cli.main(["plan", "aws-dev", "--json"]) == cli.EXIT_OK
    as_json = capsys.readouterr()
    (stack,) = json.loads(as_json.out)["stacks"]
    assert [w for w in stack["warnings"] if w.startswith("placeholder ")] == [
        f"placeholder gpuplane:apiAccess.allowedCidrs[0]: {DOC_CIDR}",
        f"placeholder gpuplane:modelCredentials.openai: {SECURE_PLACEHOLDER}: "
        "pulumi config set --secret --path 'gpuplane:modelCredentials.openai'",
    ]
    assert "REPLACE" not in as_json.out + as_json.err  # the placeholder ciphertext itself is never echoed
