"""An existing cluster's kubeconfig: one flattened context, never echoed (issue 12, item 15).

The checks run three ways and each is tested: the pure functions (components/kubeconfig.py), the stack
settings under the mock runtime with the kubeconfig as a real config secret (what ``pulumi up`` runs:
``ConfigError`` before any resource), and ``gpuplane plan`` on the example stack file (exit 2).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.clusters.existing import ExistingCluster, ExistingClusterArgs
from components.kubeconfig import KubeconfigError, kubeconfig_problems, minify
from gpuplane import cli
from gpuplane.recording import run_program
from stacks import settings
from tests.support import record, spec_for

SECRET = "s3cr3t-token-do-not-print"
STACKS = Path(__file__).resolve().parents[3] / "stacks"


def kubeconfig(
    contexts: tuple[str, ...] = ("lab",), *, current: str | None = None, user: dict[str, Any] | None = None
) -> str:
    """A kubeconfig with one cluster and user per context, every user holding ``SECRET``."""
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": f"{c}-cluster",
                "cluster": {"server": f"https://{c}.example:6443", "certificate-authority-data": "Q0E="},
            }
            for c in contexts
        ],
        "contexts": [{"name": c, "context": {"cluster": f"{c}-cluster", "user": f"{c}-user"}} for c in contexts],
        "users": [{"name": f"{c}-user", "user": user or {"token": f"{SECRET}-{c}"}} for c in contexts],
    }
    if current is not None:
        document["current-context"] = current
    return yaml.safe_dump(document)


# --- the pure checks ---------------------------------------------------------------------------


def test_a_single_flattened_context_is_accepted_and_minified() -> None:
    text = kubeconfig(("lab",))
    assert kubeconfig_problems(text, None) == []
    minified = json.loads(minify(text, None))
    assert minified["current-context"] == "lab"
    assert [c["name"] for c in minified["contexts"]] == ["lab"]


def test_several_contexts_without_a_name_are_refused() -> None:
    text = kubeconfig(("lab", "prod", "laptop"), current="prod")
    (problem,) = kubeconfig_problems(text, None)
    assert problem.startswith("has 3 contexts; store only the one to use")
    assert "kubectl config view --minify --flatten --context <name>" in problem
    assert "gpuplane:kubeconfigContext" in problem
    with pytest.raises(KubeconfigError):
        minify(text, None)


def test_a_named_context_keeps_only_its_cluster_and_credentials() -> None:
    text = kubeconfig(("lab", "prod", "laptop"), current="laptop")
    assert kubeconfig_problems(text, "prod") == []
    minified = minify(text, "prod")
    document = json.loads(minified)
    assert document["current-context"] == "prod"
    assert document["clusters"] == [
        {
            "name": "prod-cluster",
            "cluster": {"server": "https://prod.example:6443", "certificate-authority-data": "Q0E="},
        }
    ]
    assert document["users"] == [{"name": "prod-user", "user": {"token": f"{SECRET}-prod"}}]
    # The other contexts' credentials never reach the provider (or its state).
    assert f"{SECRET}-lab" not in minified
    assert f"{SECRET}-laptop" not in minified


def test_a_named_context_that_is_missing_is_refused() -> None:
    assert kubeconfig_problems(kubeconfig(("lab", "prod")), "staging") == [
        "has no context named 'staging' (gpuplane:kubeconfigContext)"
    ]


def test_credentials_read_from_files_are_refused_naming_the_fields_only() -> None:
    text = kubeconfig(("lab",), user={"client-certificate": "/home/me/.minikube/client.crt", "client-key": "/k"})
    (problem,) = kubeconfig_problems(text, None)
    assert "client-certificate, client-key" in problem
    assert "flatten it" in problem
    assert "/home/me" not in problem


def test_a_cluster_ca_read_from_a_file_is_refused() -> None:
    document = yaml.safe_load(kubeconfig(("lab",)))
    document["clusters"][0]["cluster"] = {"server": "https://lab:6443", "certificate-authority": "/etc/ca.crt"}
    (problem,) = kubeconfig_problems(yaml.safe_dump(document), None)
    assert problem.startswith("the cluster of context 'lab' reads certificate-authority from files")


def test_a_dangling_context_is_refused() -> None:
    document = yaml.safe_load(kubeconfig(("lab",)))
    document["contexts"][0]["context"]["user"] = "nobody"
    assert kubeconfig_problems(yaml.safe_dump(document), None) == [
        "context 'lab' refers to a user that is not in the file"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"users: [{{token: {SECRET}}}\n  broken: [", "is not valid YAML (line 2)"),
        (f"- {SECRET}\n", "is not a kubeconfig (expected a YAML map with clusters, contexts and users)"),
        (
            yaml.safe_dump({"kind": "Config", "clusters": [], "contexts": [], "users": [{"name": SECRET}]}),
            "has no contexts",
        ),
    ],
)
def test_messages_never_echo_the_kubeconfig(text: str, expected: str) -> None:
    (problem,) = kubeconfig_problems(text, None)
    assert problem.startswith(expected)
    assert SECRET not in problem


def test_exec_users_are_accepted() -> None:
    text = kubeconfig(("gke",), user={"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "x"}})
    assert kubeconfig_problems(text, None) == []


# --- the component ------------------------------------------------------------------------------


def test_component_refuses_a_multi_context_kubeconfig_without_echoing_it() -> None:
    with pytest.raises(ValueError, match=r"^kubeconfig: has 2 contexts") as error:
        ExistingClusterArgs(spec=spec_for("existing"), kubeconfig=kubeconfig(("a", "b")))
    assert SECRET not in str(error.value)


def test_component_passes_only_the_named_context_to_the_provider() -> None:
    spec = spec_for("existing", kubeconfigContext="b")
    text = kubeconfig(("a", "b"))
    rec = record(lambda: ExistingCluster("ex", ExistingClusterArgs(spec=spec, kubeconfig=text)))
    provider = rec.named("ex-provider")
    assert provider.is_secret("kubeconfig")
    given = provider.inputs["kubeconfig"]
    assert json.loads(given)["current-context"] == "b"
    assert f"{SECRET}-a" not in given


def test_kubeconfig_context_is_only_for_existing_clusters() -> None:
    from components.spec import SpecError

    with pytest.raises(SpecError, match=r"kubeconfigContext: only used with cloud: existing"):
        spec_for("aws", kubeconfigContext="prod")


# --- the stack settings, as `pulumi up` runs them ------------------------------------------------


def _example_config() -> dict[str, str]:
    config = yaml.safe_load((STACKS / "Pulumi.existing-dev.yaml").read_text())["config"]
    flat: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            continue
        flat[key] = value if isinstance(value, str) else json.dumps(value)
    flat["gpuplane:openfgaDatastoreUri"] = "postgres://u:p@db:5432/openfga"
    return flat


def _load(config: dict[str, str]) -> settings.ConfigError | None:
    caught: list[settings.ConfigError] = []

    def program() -> None:
        try:
            settings.load()
        except settings.ConfigError as exc:
            caught.append(exc)

    recording = run_program(program, config=config, secret_keys=["gpuplane:kubeconfig", "gpuplane:openfgaDatastoreUri"])
    assert recording.resources == []
    return caught[0] if caught else None


def test_settings_refuse_a_whole_kube_config_naming_the_key() -> None:
    config = _example_config()
    config["gpuplane:kubeconfig"] = kubeconfig(("lab", "prod", "laptop"))
    error = _load(config)
    assert error is not None
    messages = [str(p) for p in error.problems]
    assert messages == [
        "gpuplane:kubeconfig: has 3 contexts; store only the one to use "
        "(kubectl config view --minify --flatten --context <name>) or name it in gpuplane:kubeconfigContext"
    ]
    assert SECRET not in str(error)


def test_settings_accept_a_named_context() -> None:
    config = _example_config()
    config["gpuplane:kubeconfig"] = kubeconfig(("lab", "prod"))
    config["gpuplane:kubeconfigContext"] = "prod"
    assert _load(config) is None


def test_settings_refuse_a_named_context_that_is_not_there() -> None:
    config = _example_config()
    config["gpuplane:kubeconfig"] = kubeconfig(("lab",))
    config["gpuplane:kubeconfigContext"] = "prod"
    error = _load(config)
    assert error is not None
    assert [str(p) for p in error.problems] == [
        "gpuplane:kubeconfig: has no context named 'prod' (gpuplane:kubeconfigContext)"
    ]


# --- gpuplane plan on the example ----------------------------------------------------------------


@pytest.mark.usefixtures("lent_pack")  # the plan uses the process's running pack (tests/support.py)
def test_plan_exits_2_when_kubeconfig_context_is_set_on_a_cloud_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy.deepcopy(yaml.safe_load((STACKS / "Pulumi.linode-dev.yaml").read_text())["config"])
    config["gpuplane:kubeconfigContext"] = "prod"
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    assert cli.main(["plan", str(path)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "broken: gpuplane:kubeconfigContext: only used with cloud: existing" in err
    assert "Traceback" not in err
