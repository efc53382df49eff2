"""The recorder behind plan, render and the tests."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from gpuplane.recording import RecordedResource, run_program


def _program() -> None:
    provider = k8s.Provider("p", kubeconfig=pulumi.Output.secret("kubeconfig"))
    k8s.core.v1.Namespace(
        "ns", metadata={"name": "team-a"}, opts=pulumi.ResourceOptions(provider=provider, deleted_with=provider)
    )


def test_records_inputs_secrets_provider_and_deleted_with() -> None:
    recording = run_program(_program)

    provider, namespace = recording.named("p"), recording.named("ns")
    assert provider.is_secret("kubeconfig")
    assert provider.inputs["kubeconfig"] == "kubeconfig"
    assert namespace.wire_inputs == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    assert namespace.provider == f"{provider.urn}::{provider.id}"
    assert namespace.deleted_with == provider.urn


def test_on_register_sees_each_resource_in_order() -> None:
    seen: list[str] = []

    run_program(_program, on_register=lambda r: seen.append(r.name))

    assert seen == ["p", "ns"]


def test_a_listener_error_is_raised_after_the_run_and_the_next_run_works() -> None:
    def fail(resource: RecordedResource) -> None:
        raise RuntimeError(f"listener saw {resource.name}")

    with pytest.raises(RuntimeError, match="listener saw p"):
        run_program(_program, on_register=fail)
    assert [r.name for r in run_program(_program).resources] == ["p", "ns"]


def test_an_unanswered_invoke_is_an_error_not_a_silent_none() -> None:
    def program() -> None:
        from pulumi_aws import ec2

        ec2.get_ami(owners=["amazon"], most_recent=True)

    with pytest.raises(Exception, match="does not answer the invoke aws:ec2/getAmi:getAmi"):
        run_program(program)


def test_a_run_that_stops_making_progress_fails_instead_of_hanging() -> None:
    """A registration waiting on a future nobody resolves: before the watchdog, ``run_program`` waited for
    ever (``wait_for_rpcs``); now it raises after ``STALL_SECONDS`` without a monitor call. Run in a fresh
    interpreter: a stalled run leaves SDK tasks on its closed loop that break later runs in the same
    process (the known issue in gpuplane/recording.py), and this test must not poison its pytest worker."""
    from tests.support import fresh_python

    code = """
import asyncio
import pulumi, pulumi_kubernetes as k8s
from gpuplane import recording
recording.STALL_SECONDS = 1.0
def stuck():
    never = asyncio.get_event_loop().create_future()
    k8s.core.v1.Namespace("waits", metadata={"name": pulumi.Output.from_input(never)})
try:
    recording.run_program(stuck)
except recording.ProgramStalled as error:
    print("stalled:", error)
else:
    print("finished")
"""
    out = fresh_python(code)
    assert "stalled: the program made no progress for 1 s" in out, out
