"""``gpuplane access STACK``: who may invoke which model and submit to which queue, offline.

What: reads a stack file's ``gpuplane:`` config into the spec (no Pulumi program, no policy pack) and
answers, per tenant, the models its members may invoke through the AI gateway and the Kueue
LocalQueues they may submit to, plus who the members are. Computed from the spec fields directly
(``models[].tenants``, ``tenants[].members``, one LocalQueue per tenant namespace when Kueue is on),
*not* from the OpenFGA tuples, so the tests can hold this answer against the OpenFGA model's
(the real server and ``fga model test``) and catch a generator or model drift.
Why: operators ask "can team X call model Y" without a cluster; the answer must be the one
OpenFGA gives once the stack is up.
Gotchas: the same model sets hold with OpenFGA off (then only the gateway's static allow-list, built
from the same ``models[].tenants``, decides); queues are listed only while Kueue is on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from components.spec import PlatformSpec, Problem, SpecError, parse_spec
from gpuplane.stackfiles import StackFile

LOCAL_QUEUE = "default"
"""The LocalQueue name in every tenant namespace (components/addons/kueue.py ``LOCAL_QUEUE``)."""
_STRING_KEYS = frozenset({"cloud", "region", "kubernetesVersion", "clusterName"})


@dataclass(frozen=True)
class TenantAccess:
    tenant: str
    members: tuple[str, ...]
    models: tuple[str, ...]
    """``models[].name`` the tenant's members may invoke (OpenFGA ``model:<name>`` ``can_invoke``)."""
    queues: tuple[str, ...]
    """``<namespace>/<localqueue>`` the members may submit to (OpenFGA ``queue:<id>`` ``can_submit``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "members": list(self.members),
            "models": list(self.models),
            "queues": list(self.queues),
        }


def spec_from_stack(stack: StackFile) -> PlatformSpec:
    """The spec a stack file configures (raises :class:`SpecError` naming full config keys)."""
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    for full_key, value in stack.config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != "gpuplane" or key in {"kubeconfig", "modelCredentials", "openfgaDatastoreUri"}:
            continue
        if key in _STRING_KEYS:
            raw[key] = value
            continue
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            problems.append(Problem(full_key, f"expected a structured value, got {value!r}"))
    try:
        spec = parse_spec(raw)
    except SpecError as exc:
        raise SpecError([*problems, *(Problem(f"gpuplane:{p.key}", p.message) for p in exc.problems)]) from None
    if problems:
        raise SpecError(problems)
    return spec


def local_queues(spec: PlatformSpec) -> dict[str, str]:
    """Tenant -> its LocalQueue name, as the Kueue add-on creates them (empty with Kueue off)."""
    return {t.name: LOCAL_QUEUE for t in spec.tenants} if spec.kueue.enabled else {}


def access(spec: PlatformSpec) -> list[TenantAccess]:
    """Every tenant's models and queues, sorted by tenant."""
    gateway = spec.gateway.enabled
    queues = local_queues(spec)
    result: list[TenantAccess] = []
    for tenant in sorted(spec.tenants, key=lambda t: t.name):
        models = sorted(m.name for m in spec.models if tenant.name in m.tenants) if gateway else []
        queue = queues.get(tenant.name)
        result.append(
            TenantAccess(
                tenant=tenant.name,
                members=tuple(sorted(tenant.members)),
                models=tuple(models),
                queues=(f"{tenant.name}/{queue}",) if queue else (),
            )
        )
    return result


def write(stack: str, rows: Sequence[TenantAccess], *, as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump({"stack": stack, "tenants": [r.to_json() for r in rows]}, out, indent=2)
        out.write("\n")
        return
    out.write(f"{stack}: who may invoke which model and submit to which queue (OpenFGA model)\n")
    for row in rows:
        out.write(f"  tenant {row.tenant}\n")
        out.write(f"    members: {', '.join(row.members) or '(none)'}\n")
        out.write(f"    invoke:  {', '.join(row.models) or '(no models)'}\n")
        out.write(f"    submit:  {', '.join(row.queues) or '(no queues)'}\n")


def run(stack_argument: str, tenant: str | None, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    """The ``access`` command; exit 2 on a bad stack, config or unknown tenant."""
    from gpuplane import stackfiles

    try:
        stack = stackfiles.load(stackfiles.resolve(stack_argument))
    except (stackfiles.StackFileError, OSError) as error:
        print(f"gpuplane: {error}", file=err)
        return 2
    try:
        spec = spec_from_stack(stack)
    except SpecError as error:
        for problem in error.problems:
            print(f"{stack.name}: {problem}", file=err)
        return 2
    rows = access(spec)
    if tenant is not None:
        known: Mapping[str, TenantAccess] = {r.tenant: r for r in rows}
        if tenant not in known:
            names = ", ".join(sorted(known)) or "none"
            print(f"{stack.name}: --tenant: no tenant {tenant!r} (tenants: {names})", file=err)
            return 2
        rows = [known[tenant]]
    write(stack.name, rows, as_json=as_json, out=out)
    return 0
