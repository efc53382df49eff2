"""The suite's shortcuts (``tests/support.py``) change nothing ``gpuplane plan`` reports.

Many tests run ``cli.main(["plan", ...])`` with the test process's running pack (``lent_pack``) and the
example stack's plan made once per process and replayed to the pack (``replayed_examples``). Here the
same command runs both ways -- its own pack and the real program, then the shortcuts -- and the JSON must
be identical, violations included (linode-dev has resource-level findings, so a replay that did not
stream every resource to the pack would lose them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpuplane import cli
from tests.support import Lending, lend_pack, replay_example_plans


def _plan_json(capsys: pytest.CaptureFixture[str], stack: str) -> dict[str, Any]:
    assert cli.main(["plan", stack, "--json"]) == cli.EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_the_running_pack_and_the_replayed_plan_report_what_a_real_plan_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pack: Any
) -> None:
    real = _plan_json(capsys, "linode-dev")

    lending: Lending = lend_pack(monkeypatch, pack)
    replayed = replay_example_plans(monkeypatch)
    shortcut = _plan_json(capsys, "linode-dev")

    assert replayed == ["linode-dev"], "the plan was replayed"
    assert len(lending.lent) == 1, "the running pack was used"
    assert lending.fresh == []
    [stack] = real["stacks"]
    assert stack["resources"]
    assert [v for v in stack["violations"] if v["policy"] == "gpu-lke-pool-idle-floor"], stack["violations"]
    assert shortcut == real
