"""The authorization service's Kubernetes objects and monitoring: hardening, wiring, and alerts/dashboard
that select metrics the service really exports (from its own /metrics rendering), run through promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from components.addons.authz import ext_authz, service
from components.addons.base import SYSTEM_NODE_SELECTOR
from components.versions import OPENFGA_SYNC_PYTHON
from tests.support import spec_for
from tests.upstream import metric_names


def _deployment() -> dict[str, object]:
    return service.deployment_spec(
        spec_for("aws"),
        api_url="http://openfga.openfga.svc.cluster.local:8080",
        store_name="gpuplane",
        token_secret="openfga-authn",
        token_key="keys",
        digest="abc",
    )


def test_two_hardened_replicas_on_the_system_pool_with_the_key_from_a_secret() -> None:
    dep = _deployment()
    assert dep["replicas"] == 2
    pod = dep["template"]["spec"]  # type: ignore[index]
    assert pod["nodeSelector"] == dict(SYSTEM_NODE_SELECTOR)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == OPENFGA_SYNC_PYTHON.ref
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["OPENFGA_API_TOKEN"] == {
        "name": "OPENFGA_API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "openfga-authn", "key": "keys"}},
    }
    assert "value" not in env["OPENFGA_API_TOKEN"]
    assert float(env["AUTHZ_OPENFGA_TIMEOUT_SECONDS"]["value"]) < 1.0, "below Envoy's extAuth timeout (1s)"
    assert service.pdb_spec()["minAvailable"] == 1


def test_the_config_map_carries_the_script_and_every_model_id() -> None:
    spec = spec_for("aws")
    data = service.config_data(spec)
    assert data["ext_authz.py"] == Path(ext_authz.__file__).read_text()
    assert yaml.safe_load(data["models.json"]) == {m.served_name: m.name for m in spec.models}
    changed = dict(data, **{"models.json": "{}"})
    assert service.config_digest(changed) != service.config_digest(data), "a changed model list rolls the pods"


def test_only_the_proxies_reach_the_decision_port() -> None:
    policy = service.network_policy_spec()
    decision, metrics = policy["ingress"]
    assert decision["ports"] == [{"protocol": "TCP", "port": service.AUTHZ_PORT}]
    assert decision["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}
    ]
    assert metrics == {"ports": [{"protocol": "TCP", "port": service.METRICS_PORT}]}
    grant = service.reference_grant_spec()
    assert grant["from"] == [
        {"group": "gateway.envoyproxy.io", "kind": "SecurityPolicy", "namespace": "gpuplane-gateway"}
    ]
    assert grant["to"] == [{"group": "", "kind": "Service", "name": service.NAME}]


def _exported() -> set[str]:
    text = ext_authz.Metrics().render()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_alerts_and_dashboard_select_metrics_the_service_exports() -> None:
    exported = _exported()
    expressions = [*service.alert_group().expressions(), *service.dashboard().queries()]
    assert expressions
    for expr in expressions:
        names = metric_names(expr)
        assert names, expr
        assert names <= exported, (expr, names - exported)


PROMTOOL_TESTS = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gpuplane_authz_errors_total{reason="openfga", pod="a"}'
        values: '0+0x5 0+6x15'
      - series: 'gpuplane_authz_errors_total{reason="unknown_model", pod="a"}'
        values: '0+0x20'
    alert_rule_test:
      - eval_time: 4m
        alertname: GpuplaneAuthzErrors
        exp_alerts: []
      - eval_time: 16m
        alertname: GpuplaneAuthzErrors
        exp_alerts:
          - exp_labels: {severity: critical, reason: openfga}
            exp_annotations:
              summary: The gateway's authorization service cannot get answers from OpenFGA
              description: "Model requests are refused (fail closed) because OpenFGA Check calls fail: 100m errors/s. Check the openfga pods, their datastore and the openfga-authn Secret."
      - eval_time: 16m
        alertname: GpuplaneAuthzBadRequests
        exp_alerts: []
"""


def test_the_error_alert_fires_on_openfga_errors_under_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [service.alert_group().to_spec()]}, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(PROMTOOL_TESTS)
    checked = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
