"""When test_up_then_destroy calls destroy blocked on the GPU operator's hook (no engine or cluster needed).

What: ``helm_release_record`` decodes Helm's Secret-driver record (``data.release`` = base64 of
base64(gzip(JSON)) through the API); ``waiting_hook_jobs`` names a pre-delete hook Job only while the
record says ``uninstalling`` + ``last_run.phase: Running`` and the Job exists unfinished.

Why: the engine test stops ``pulumi destroy`` on this judgement instead of after a fixed 120 s; judging too
early (a finished hook, an install-time record, a post-delete hook, a Job not created yet) would stop a
destroy that might still have finished or failed for another reason. Record shape: Helm v3.18.6
pkg/release (``info.status``, ``hooks[].events/kind/name/last_run.phase``), pkg/storage/driver/util.go.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest

from tests.controlplane.client import ApiError
from tests.engine.test_existing_cluster import GPU_OPERATOR_RELEASE, helm_release_record, waiting_hook_jobs

JOBS = "/apis/batch/v1/namespaces/gpu-operator/jobs"
SECRET = f"/api/v1/namespaces/gpu-operator/secrets/{GPU_OPERATOR_RELEASE}"

RECORD: dict[str, Any] = {
    "name": "gpu-operator",
    "info": {"status": "uninstalling", "description": "Deletion in progress (or silently failed)"},
    "hooks": [
        {"name": "gpu-operator-cleanup-gpucluster", "kind": "Job", "events": ["pre-delete"],
         "last_run": {"phase": "Running"}, "weight": 0},
        {"name": "gpu-operator-cleanup-crd", "kind": "Job", "events": ["pre-delete"], "last_run": {"phase": ""},
         "weight": 1},
        {"name": "gpu-operator-upgrade-crd", "kind": "Job", "events": ["pre-upgrade"],
         "last_run": {"phase": "Succeeded"}},
    ],
}  # fmt: skip


class FakeApi:
    """Answers GETs from a dict; anything else is the API server's 404."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects

    def request(self, method: str, path: str) -> dict[str, Any]:
        assert method == "GET"
        if path not in self.objects:
            raise ApiError(f"GET {path}", 404, "not found")
        return self.objects[path]


def secret_of(record: dict[str, Any]) -> dict[str, Any]:
    helm = base64.b64encode(gzip.compress(json.dumps(record).encode()))  # Helm's encodeRelease
    return {"data": {"release": base64.b64encode(helm).decode()}}  # the API's base64 of Secret data


def job(*conditions: str) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": c, "status": "True"} for c in conditions]}}


def test_the_running_pre_delete_job_is_what_destroy_waits_on() -> None:
    api = FakeApi({SECRET: secret_of(RECORD), f"{JOBS}/gpu-operator-cleanup-gpucluster": job()})
    record = helm_release_record(api, "gpu-operator", GPU_OPERATOR_RELEASE)
    assert record == RECORD
    assert waiting_hook_jobs(api, record) == {"gpu-operator-cleanup-gpucluster"}


@pytest.mark.parametrize("finished", ["Complete", "Failed"])
def test_a_finished_hook_job_is_not_waited_on(finished: str) -> None:
    api = FakeApi({f"{JOBS}/gpu-operator-cleanup-gpucluster": job("SuccessCriteriaMet", finished)})
    assert waiting_hook_jobs(api, RECORD) == set()


def test_a_hook_job_not_created_yet_is_not_waited_on() -> None:
    assert waiting_hook_jobs(FakeApi({}), RECORD) == set()


def test_only_an_uninstalling_release_counts() -> None:
    api = FakeApi({f"{JOBS}/gpu-operator-cleanup-gpucluster": job()})
    deployed = copy.deepcopy(RECORD)
    deployed["info"]["status"] = "deployed"
    assert waiting_hook_jobs(api, deployed) == set()
    assert waiting_hook_jobs(api, None) == set()


def test_only_pre_delete_hooks_count() -> None:
    api = FakeApi({f"{JOBS}/gpu-operator-cleanup-gpucluster": job()})
    post = copy.deepcopy(RECORD)
    post["hooks"][0]["events"] = ["post-delete"]
    assert waiting_hook_jobs(api, post) == set()


def test_a_deleted_release_has_no_record() -> None:
    assert helm_release_record(FakeApi({}), "gpu-operator", GPU_OPERATOR_RELEASE) is None
