"""The adversarial corpus: insecure Pulumi programs and stack files, each naming the policy that must
catch it, and compliant twins (near misses that must pass).

A case is either a **program** (a plain function registering resources with the ordinary SDK classes
-- ``pulumi_aws``, ``pulumi_gcp``, ``pulumi_linode``, ``pulumi_kubernetes`` -- or gpuplane's own
components) or a **stack file** (an example ``Pulumi.<stack>.yaml`` with its config edited). Programs
are recorded in-process under the mock runtime (:func:`gpuplane.recording.run_program`, what
``gpuplane plan`` uses); stack files run the real ``stacks.program`` through
:func:`gpuplane.plan.plan_stack`. Both are analysed by the real pack over gRPC (one process per test
session). Cases register themselves with :func:`insecure` / :func:`compliant`; the modules in this
package are the corpus, one per evasion class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Program = Callable[[], None]
ConfigEdit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    id: str
    evasion: str
    """The evasion class (the corpus module), for the per-class counts."""
    policy: str
    compliant: bool
    program: Program | None = None
    stack: str = ""
    """An example stack name (``aws-dev``) whose config ``edit`` changes (stack-file cases)."""
    edit: ConfigEdit | None = None
    level: str = "mandatory"
    message: str = ""
    """A distinctive part of the expected message (insecure cases)."""
    config: Mapping[str, Any] | None = None
    region: str = "us-east-1"


CASES: list[Case] = []


def _evasion(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def insecure(
    policy: str,
    message: str,
    *,
    level: str = "mandatory",
    config: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
    id: str = "",
) -> Callable[[Program], Program]:
    """Register the decorated program as a case ``policy`` must report (at ``level``, with ``message``)."""

    def register(program: Program) -> Program:
        CASES.append(
            Case(
                id=id or program.__name__,
                evasion=_evasion(program.__module__),
                policy=policy,
                compliant=False,
                program=program,
                level=level,
                message=message,
                config=config,
                region=region,
            )
        )
        return program

    return register


def compliant(
    policy: str, *, config: Mapping[str, Any] | None = None, region: str = "us-east-1", id: str = ""
) -> Callable[[Program], Program]:
    """Register the decorated program as a near miss ``policy`` must not report."""

    def register(program: Program) -> Program:
        CASES.append(
            Case(
                id=id or program.__name__,
                evasion=_evasion(program.__module__),
                policy=policy,
                compliant=True,
                program=program,
                config=config,
                region=region,
            )
        )
        return program

    return register


def stack_case(
    id: str,
    evasion: str,
    stack: str,
    policy: str,
    edit: ConfigEdit,
    message: str = "",
    *,
    is_compliant: bool = False,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Register an example stack file with ``edit`` applied to its config."""
    CASES.append(
        Case(
            id=id,
            evasion=evasion,
            policy=policy,
            compliant=is_compliant,
            stack=stack,
            edit=edit,
            message=message,
            config=config,
        )
    )
