"""Run a Pulumi program under the SDK's mock runtime and record every registered resource.

What: :func:`run_program` executes a program function with ``pulumi.runtime.set_mocks`` (never in
preview mode, so every ``apply`` really runs) and returns a :class:`Recording`: for each resource
its type, name, URN, parent, provider reference, dependencies, ``deleted_with``, its inputs exactly
as the engine would receive them (camelCase wire names, secrets still marked) and the mock outputs.

Why: there is no Pulumi engine here. The recording is what ``gpuplane plan`` reports, what
``gpuplane render`` writes out and what the policy pack is fed over gRPC, and the same recorder backs
the unit tests, so what the tests assert is what users see.

Gotchas handled here:
- ``MockMonitor`` keeps only outputs; inputs, parent, provider and dependencies are taken from the
  ``RegisterResourceRequest`` in :class:`RecordingMonitor`.
- An invoke the mocks do not answer would silently return ``None`` for every field; here it raises.
- Each run gets a fresh ``contextvars.Context`` so the root stack, config and settings of one stack
  never leak into the next.
- A run that stops making progress fails instead of waiting forever: the SDK's mock monitor answers
  on executor threads that each get an event loop of their own, and a registration whose future ends
  up on a loop nobody runs leaves ``wait_for_rpcs`` waiting for ever (seen twice in long serial test
  sessions, never reproduced in isolation; pulumi/pulumi#7663 reports the same kind of hang). When the
  monitor has seen no call for :data:`STALL_SECONDS`, the run is cancelled and :class:`ProgramStalled`
  raised -- a CI job then fails with a message instead of hanging until its time limit.
  Known issue (not fixed): after a run that stalled, the next run in the same process finds SDK
  ``Output`` tasks bound to the previous run's closed loop and fails with "Event loop is closed"
  (reproduced: a stalled run, then any run); ``gpuplane`` exits after a stalled run, tests do not reuse it.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await  # pyright: ignore[reportPrivateUsage]

from gpuplane import expand

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
ACCOUNT_ID = "123456789012"
GCP_PROJECT = "gpuplane-example"
GCP_PROJECT_NUMBER = "123456789012"
STALL_SECONDS = 120.0
"""No monitor call for this long while the program has not finished: the run is stalled."""
MOCK_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()


class ProgramStalled(RuntimeError):
    """The program under the mock runtime stopped making progress (see the module docstring)."""


@dataclass
class RecordedResource:
    """One ``RegisterResource`` call as the engine would have seen it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    deleted_with: str
    wire_inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str = ""
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list[str])

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs with secret markers removed (values kept)."""
        return unwrap_secrets(self.wire_inputs)

    def is_secret(self, key: str) -> bool:
        """Whether top-level input ``key`` was registered as a Pulumi secret."""
        value: Any = self.wire_inputs.get(key)
        return isinstance(value, dict) and cast(dict[str, Any], value).get(SIG_KEY) == SECRET_SIG


@dataclass
class Recording:
    """Every resource one program run registered, in registration order."""

    resources: list[RecordedResource] = field(default_factory=list[RecordedResource])
    invokes: list[str] = field(default_factory=list[str])

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]


def unwrap_secrets(value: Any) -> Any:
    """Replace ``{sig: secret, value: v}`` wrappers by ``v``, recursively."""
    if isinstance(value, dict):
        mapping: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        if mapping.get(SIG_KEY) == SECRET_SIG:
            return unwrap_secrets(mapping.get("value"))
        return {k: unwrap_secrets(v) for k, v in mapping.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps what each registration asked for."""

    def __init__(
        self,
        mocks: pulumi_mocks.Mocks,
        recording: Recording,
        on_register: Callable[[RecordedResource], None] | None = None,
    ) -> None:
        super().__init__(mocks)
        self.recording = recording
        self.on_register = on_register
        self.listener_errors: list[Exception] = []
        self.last_call = time.monotonic()

    def Invoke(self, request: Any) -> Any:
        self.last_call = time.monotonic()
        return super().Invoke(request)  # pyright: ignore[reportUnknownMemberType]

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.last_call = time.monotonic()
        return super().RegisterResourceOutputs(request)  # pyright: ignore[reportUnknownMemberType]

    def RegisterResource(self, request: Any) -> Any:
        self.last_call = time.monotonic()
        response: Any = super().RegisterResource(request)  # pyright: ignore[reportUnknownMemberType]
        if request.type == "pulumi:pulumi:Stack":
            return response
        outputs = json_format.MessageToDict(response.object) if response.object else {}
        resource = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            deleted_with=request.deletedWith,
            wire_inputs=json_format.MessageToDict(request.object),
            outputs=unwrap_secrets(outputs),
            id=response.id,
            protect=bool(request.protect),
            ignore_changes=list(request.ignoreChanges),
        )
        # yaml.v2 ConfigGroup/ConfigFile are constructed by the Kubernetes provider, which the mocks lack:
        # register their children as the provider would (gpuplane/expand.py), so policies see them.
        for registered in [resource, *expand.children(resource)]:
            self.recording.resources.append(registered)
            if self.on_register is not None:
                try:
                    self.on_register(registered)
                except Exception as error:  # raised by run_program once the run has settled
                    self.listener_errors.append(error)
        return response


class GpuplaneMocks(pulumi_mocks.Mocks):
    """Answers registrations with their inputs plus the outputs cloud providers compute, and answers
    the few invokes the program makes. Anything else is an error, not a silent ``None``."""

    def __init__(self, recording: Recording, region: str) -> None:
        self.recording = recording
        self.region = region

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state: dict[str, Any] = dict(cast(dict[str, Any], args.inputs))  # pyright: ignore[reportUnknownMemberType]
        computed = _COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(args.name, state, self.region))
        if args.typ.startswith("aws:") and "arn" not in state:
            state["arn"] = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:{self.region}:{ACCOUNT_ID}:{args.name}"
        resource_id = _NUMERIC_IDS.get(args.typ, f"{args.name}-id")
        return resource_id, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.recording.invokes.append(args.token)
        with_args = _INVOKES_WITH_ARGS.get(args.token)
        if with_args is not None:
            return with_args(self.region, cast(dict[str, Any], args.args)), []  # pyright: ignore[reportUnknownMemberType]
        answer = _INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the offline runtime does not answer the invoke {args.token}")
        return answer(self.region), []  # the SDK's MockMonitor iterates the failures: never None


def _mock_kubeconfig(name: str, server: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": MOCK_CA}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": {"token": "mock"}}],
        }
    )


def _eks_cluster(name: str, _state: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {
        "endpoint": f"https://{name}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": MOCK_CA},
        "name": _state.get("name", name),  # EKS keeps the name it was given
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/MOCK"}]}],
    }


def _eks_node_group(name: str, _state: Mapping[str, Any], _region: str) -> dict[str, Any]:
    return {"resources": [{"autoscalingGroups": [{"name": f"eks-{name}-asg"}]}], "status": "ACTIVE"}


def _gke_cluster(name: str, state: Mapping[str, Any], _region: str) -> dict[str, Any]:
    # GKE keeps the name it was given; only an unnamed cluster falls back to the resource name.
    return {
        "endpoint": "172.16.0.2",
        "masterAuth": {"clusterCaCertificate": MOCK_CA},
        "name": state.get("name", name),
    }


def _lke_cluster(name: str, _state: Mapping[str, Any], region: str) -> dict[str, Any]:
    server = f"https://{name}.{region}.linodelke.net:443"
    return {
        "kubeconfig": base64.b64encode(_mock_kubeconfig(name, server).encode()).decode(),
        "apiEndpoints": [server],
        "status": "ready",
    }


def _iam_role(name: str, _state: Mapping[str, Any], _region: str) -> dict[str, Any]:
    return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "name": name}


def _sqs_queue(name: str, _state: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}", "name": name}


def _gcp_service_account(name: str, state: Mapping[str, Any], _region: str) -> dict[str, Any]:
    account = state.get("accountId", name)
    email = f"{account}@{GCP_PROJECT}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "name": name}


def _self_link(name: str, _state: Mapping[str, Any], _region: str) -> dict[str, Any]:
    return {
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{GCP_PROJECT}/mock/{name}",
        "name": name,
    }


_NUMERIC_IDS: Mapping[str, str] = {
    # Linode ids are integers the programs convert with int().
    "linode:index/lkeCluster:LkeCluster": "123456",
    "linode:index/firewall:Firewall": "654321",
}

_COMPUTED: Mapping[str, Callable[[str, Mapping[str, Any], str], dict[str, Any]]] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:iam/role:Role": _iam_role,
    "aws:ec2/launchTemplate:LaunchTemplate": lambda _n, _s, _r: {"latestVersion": 1, "defaultVersion": 1},
    "aws:sqs/queue:Queue": _sqs_queue,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:serviceaccount/account:Account": _gcp_service_account,
    "gcp:compute/network:Network": _self_link,
    "gcp:compute/subnetwork:Subnetwork": _self_link,
    "linode:index/lkeCluster:LkeCluster": _lke_cluster,
    "random:index/randomPassword:RandomPassword": lambda name, _s, _r: {"result": f"mock-password-{name}"},
    "random:index/randomId:RandomId": lambda _name, _s, _r: {"hex": "a1b2c3", "b64Url": "obLD", "dec": "10597059"},
    "tls:index/privateKey:PrivateKey": lambda name, _s, _r: {"privateKeyPem": f"MOCK PRIVATE KEY {name}"},
    "tls:index/selfSignedCert:SelfSignedCert": lambda name, _s, _r: {"certPem": f"MOCK CERTIFICATE {name}"},
}


def _zones(region: str) -> dict[str, Any]:
    return {
        "names": [f"{region}a", f"{region}b", f"{region}c"],
        "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)],
        "id": region,
    }


_INVOKES: Mapping[str, Callable[[str], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda _r: {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
        "userId": "MOCK",
        "id": ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": lambda _r: {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
    },
    "aws:index/getRegion:getRegion": lambda r: {"name": r, "region": r, "id": r},
    "gcp:organizations/getClientConfig:getClientConfig": lambda r: {
        "project": GCP_PROJECT,
        "region": r,
        "zone": f"{r}-a",
        "accessToken": "mock",
        "id": GCP_PROJECT,
    },
    "gcp:organizations/getProject:getProject": lambda _r: {
        "projectId": GCP_PROJECT,
        "number": GCP_PROJECT_NUMBER,
        "name": GCP_PROJECT,
        "id": f"projects/{GCP_PROJECT}",
    },
    "kubernetes:helm:template": lambda _r: {"result": []},
}


def _instance_type_offerings(region: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Offline, every requested instance type is offered in the first two mock zones; which zones EC2
    really offers a type in is only known at deploy time (AZ names map to different physical zones
    per account, so no catalog can hold them)."""
    filters = cast(list[dict[str, Any]], args.get("filters") or [])
    types = [str(t) for f in filters if f.get("name") == "instance-type" for t in f["values"]]
    zones = _zones(region)["names"][:2]
    pairs = [(t, z) for t in types for z in zones]
    return {
        "instanceTypes": [t for t, _ in pairs],
        "locations": [z for _, z in pairs],
        "locationTypes": ["availability-zone"] * len(pairs),
        "id": region,
    }


_INVOKES_WITH_ARGS: dict[str, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = {
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _instance_type_offerings,
    # No Auto Scaling group exists before the first deploy: node groups start at minNodes.
    "aws:autoscaling/getAmiIds:getAmiIds": lambda r, _a: {"names": [], "arns": [], "id": r},
}


def run_program(
    program: Callable[[], object],
    *,
    project: str = "gpuplane",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    region: str = "us-east-1",
    on_register: Callable[[RecordedResource], None] | None = None,
) -> Recording:
    """Run ``program`` under the mock runtime (not a preview) and return what it registered.

    Exceptions raised by the program propagate after outstanding registrations have settled.
    ``on_register`` sees each resource as it is registered (``gpuplane plan`` streams them to the
    policy pack, as the engine does).
    """
    recording = Recording()

    mocks = GpuplaneMocks(recording, region)
    monitor = RecordingMonitor(mocks, recording, on_register)

    stalled = threading.Event()
    finished = threading.Event()

    def watch(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        while not finished.wait(min(5.0, STALL_SECONDS / 4)):
            if time.monotonic() - monitor.last_call > STALL_SECONDS:
                stalled.set()
                loop.call_soon_threadsafe(task.cancel)
                return

    def run() -> None:
        pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        set_all_config(dict(config or {}), list(secret_keys or []))
        loop = asyncio.get_event_loop()
        task = loop.create_task(run_pulumi_func(program))  # pyright: ignore[reportArgumentType]
        monitor.last_call = time.monotonic()
        watchdog = threading.Thread(target=watch, args=(task, loop), daemon=True, name="gpuplane-stall-watch")
        watchdog.start()
        try:
            _sync_await(task)
        except asyncio.CancelledError:
            if stalled.is_set():
                raise ProgramStalled(
                    f"the program made no progress for {STALL_SECONDS:.0f} s (no registration, invoke or "
                    f"output registration after {len(recording.resources)} resources): stopped"
                ) from None
            raise
        finally:
            finished.set()
            watchdog.join()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        contextvars.Context().run(run)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    if monitor.listener_errors:
        raise monitor.listener_errors[0]
    return recording


def struct_of(wire: Mapping[str, Any]) -> struct_pb2.Struct:
    """Back from the recorded JSON form to the protobuf ``Struct`` the engine sends."""
    result = struct_pb2.Struct()
    json_format.ParseDict(dict(wire), result)
    return result
