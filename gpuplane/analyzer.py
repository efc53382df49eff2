"""Run a CrossGuard policy pack offline against a recorded program, over the real analyzer protocol.

What: :func:`analyze` starts the pack exactly as the Pulumi CLI does
(``python -u -m pulumi.policy <engine-address> <pack dir>``, working directory the pack, no
``PULUMI_PROJECT``/``PULUMI_STACK`` in its environment), reads the port it prints, and speaks the
``pulumirpc.Analyzer`` gRPC service to it like the engine: ``Handshake`` (Python packs answer
UNIMPLEMENTED, which the CLI tolerates), ``ConfigureStack``, ``GetAnalyzerInfo``, ``Configure`` with
the policy config reconciled the way the CLI does it, then ``Remediate`` + ``Analyze`` per registered
resource (inputs, options, provider) and one ``AnalyzeStack`` (outputs, parent, dependencies,
property dependencies, provider). Diagnostics come back as :class:`Violation` values.
:class:`PolicyPackServer` keeps one pack process for several analyses (tests, many stacks).
Sessions keep up to :data:`IN_FLIGHT` ``Analyze`` calls on the wire and collect the answers in
registration order: each call is independent (pulumi-policy's servicer keeps no state between them),
so the verdicts and their order are those of one call at a time (tests/policies/test_pack_speedups.py).
The process itself is started by :mod:`gpuplane.pack_process` (standard library only).

Why: there is no Pulumi engine offline, but the pack users run with ``pulumi preview --policy-pack``
must be the pack ``gpuplane plan`` enforces, through the same entry point and wire format.

Fidelity notes (checked against pulumi/pulumi ``sdk/go/common/resource/plugin/analyzer_plugin.go``,
``pkg/resource/deploy/step_generator.go`` and ``pkg/resource/analyzer/config.go``):

- Properties are sent as the engine marshals them for analyzers: secrets stay wrapped (``KeepSecrets``)
  and resource references become the referenced resource's id (its URN for components), because
  pulumi-policy's deserialiser rejects references.
- ``Analyze`` sees inputs (the engine runs it after the provider's ``Check``, so provider defaults and
  auto-names are missing offline); ``AnalyzeStack`` sees outputs (here: the mock outputs, with the
  secretness of the inputs they came from) and includes providers and the root stack.
- Config: schema defaults, then the ``"all"`` level, then per-policy levels and properties, validated
  against each policy's schema, as ``pulumi preview --policy-pack-config`` does. Stricter than the CLI
  on purpose: an unknown policy name or property is an error, not silently ignored.
- Only the process started here is ever stopped (terminate, wait, kill on timeout), also on errors.
- The pack dies with the process that started it: on Linux it gets ``PR_SET_PDEATHSIG`` (SIGKILL)
  from a two-line launcher that then ``exec``s the pack (same pid), so a ``gpuplane plan`` killed by a
  CI cancel (SIGTERM, SIGHUP, SIGKILL) leaves no orphan. Not from a ``preexec_fn``: that makes
  ``subprocess`` fork() instead of vfork, gRPC's fork handlers restart its poller in the child after
  ``close_fds`` closed the epoll fd, and the child aborts before exec (SIGABRT, "epoll_wait error: Bad
  file descriptor"; grpc/grpc#43157) -- seen here as a pack that "exited with code -6". The signal follows the *thread* that forked, so :meth:`PolicyPackServer.launch`
  must run on a thread that outlives the pack (the main thread in ``gpuplane``).
- A pack that stops answering is noticed within seconds, not at the RPC deadline: every wait polls
  the process; stopped (SIGSTOP, state ``T``), exited, or no CPU time used for
  :data:`STALL_SECONDS` while a call is outstanding is an :class:`AnalyzerError` (exit 3).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from gpuplane import pack_process
from gpuplane.pack_process import ENGINE_ADDRESS, PACK_DIR, AnalyzerError
from gpuplane.recording import RecordedResource, Recording, unwrap_secrets

IN_FLIGHT = 8
"""``Analyze`` calls a session keeps in flight: while the pack works on one, the next requests are
already on the wire (the round trip, not the pack, was half the per-resource time: the client thread
waits for the GIL of a busy program). Answers are collected in registration order."""
STALL_SECONDS = 10.0
"""A pack that uses no CPU for this long while a call is outstanding is hung."""
POLL_SECONDS = 0.5

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
SEVERITIES = ("", "low", "medium", "high", "critical")

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]
_LEVEL_VALUES: Mapping[str, int] = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}


@dataclass(frozen=True)
class Violation:
    """One policy diagnostic: ``message`` is the policy's own text (without its description)."""

    policy: str
    level: str
    message: str
    urn: str
    severity: str = ""
    remediation: str = ""
    """The policy's remediation steps (``GetAnalyzerInfo``), printed under each violation."""


@dataclass(frozen=True)
class PolicyInfo:
    """What ``GetAnalyzerInfo`` says about one policy."""

    name: str
    description: str
    enforcement: str
    severity: str
    kind: str
    tags: tuple[str, ...]
    remediation: str
    schema: Mapping[str, Any] = field(default_factory=dict[str, Any])


class PolicyConfigError(ValueError):
    """A policy config the pack would reject (unknown policy or property, wrong type or level)."""


MAX_CONFIG_BYTES = 256 * 1024
MAX_CONFIG_DEPTH = 32


def load_config(path: Path) -> dict[str, Any]:
    """Read a ``--policy-pack-config`` JSON file (``{"all": "mandatory", "<policy>": {...}}``).

    Bounded and strict: at most :data:`MAX_CONFIG_BYTES`, UTF-8, nesting at most
    :data:`MAX_CONFIG_DEPTH`, no duplicate keys, no ``NaN``/``Infinity`` (not JSON, and the CLI's Go
    decoder rejects them). Errors name the file and never echo its content."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise PolicyConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise PolicyConfigError(f"{path}: policy configs may be at most {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyConfigError(f"{path}: not UTF-8 (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    if _json_depth(text) > MAX_CONFIG_DEPTH:
        raise PolicyConfigError(f"{path}: nested deeper than {MAX_CONFIG_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except PolicyConfigError as error:
        raise PolicyConfigError(f"{path}: {error}") from None
    except (ValueError, RecursionError) as error:
        message = (
            f"{error.msg} (line {error.lineno}, column {error.colno})"
            if isinstance(error, json.JSONDecodeError)
            else "not JSON"
        )
        raise PolicyConfigError(f"{path}: not valid JSON: {message}") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path}: a policy config must be a JSON object")
    return cast(dict[str, Any], data)


def _reject_constant(name: str) -> Any:
    raise PolicyConfigError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PolicyConfigError(f"key {json.dumps(key)[:80]} is given twice")
        result[key] = value
    return result


def _json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting outside strings (checked before ``json.loads`` recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def analyze(
    recording: Recording,
    *,
    project: str,
    stack: str,
    pack_dir: Path = PACK_DIR,
    config: Mapping[str, Any] | None = None,
    organization: str = "organization",
) -> list[Violation]:
    """Start the pack, analyse every resource of ``recording`` and the stack, stop the pack."""
    with PolicyPackServer(pack_dir) as server:
        return server.analyze(recording, project=project, stack=stack, config=config, organization=organization)


class PolicyPackServer:
    """One running policy pack process and a gRPC client to it (a context manager)."""

    def __init__(self, pack_dir: Path = PACK_DIR, *, startup_timeout: float = 60.0, rpc_timeout: float = 120.0):
        self.pack_dir = Path(pack_dir).resolve()
        self.startup_timeout = startup_timeout
        self.rpc_timeout = rpc_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stderr: list[str] = []
        self._pumps: list[threading.Thread] = []
        self._info: list[PolicyInfo] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._remediating = True
        self._connect_lock = threading.Lock()
        self._last_cpu = (-1.0, 0.0)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> PolicyPackServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Launch the pack and connect to it (``launch`` then ``connect``)."""
        self.launch()
        self.connect()

    def launch(self) -> None:
        """Start the pack process without waiting for it: its ~0.5 s start-up can overlap other work
        (``gpuplane plan`` runs the program meanwhile). Call :meth:`connect` before analysing."""
        if self._process is not None:
            raise AnalyzerError("the policy pack is already running")
        self.adopt(pack_process.launch(self.pack_dir))

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Take over a pack process started by :func:`gpuplane.pack_process.launch` (for this pack
        directory, with pipes for stdout and stderr): ``gpuplane plan`` launches it before importing
        anything heavy. Stopping this server stops that process."""
        if self._process is not None:
            raise AnalyzerError("the policy pack is already running")
        self._process = process
        self._last_cpu = (-1.0, time.monotonic())
        self._start_pumps(process)

    def connect(self) -> None:
        """Wait for the launched pack to print its port, then connect and handshake."""
        with self._connect_lock:
            self._connect()

    def _connect(self) -> None:
        if self._process is None:
            raise AnalyzerError("the policy pack was not launched")
        if self._stub is not None:
            return
        process = self._process
        try:
            port = self._await_port(process)
            self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTIONS)
            # No ``grpc.channel_ready_future``: the pack prints its port after its server has started, and
            # that future's polling thread prints a traceback when the channel is closed under it (an
            # abandoned stack's ``stop`` while the worker still connects). The handshake waits for ready.
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
            self._handshake()
        except Exception as error:
            stopped = self._process is not process  # another thread stopped the pack under this connect
            self.stop()
            if stopped and not isinstance(error, AnalyzerError):
                raise AnalyzerError("the policy pack was stopped while connecting") from None
            raise
        except BaseException:
            self.stop()
            raise

    def kill_now(self) -> None:
        """SIGKILL the pack without waiting (from a signal handler, on the way out)."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    def stop(self) -> None:
        """Stop the process this object started (and nothing else)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stub = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)  # a stopped pack cannot act on SIGTERM until continued
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        # The process is gone, so the pumps see end-of-file; let them finish before closing the pipes.
        for pump in self._pumps:
            pump.join(timeout=5)
        self._pumps = []
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def _start_pumps(self, process: subprocess.Popen[bytes]) -> None:
        lines: queue.Queue[str | None] = queue.Queue()
        self._lines = lines

        def pump_stdout() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                lines.put(raw.decode(errors="replace").strip())
            lines.put(None)

        def pump_stderr() -> None:
            assert process.stderr is not None
            for raw in process.stderr:
                self._stderr.append(raw.decode(errors="replace"))

        self._pumps = [
            threading.Thread(target=pump_stdout, daemon=True),
            threading.Thread(target=pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _await_port(self, process: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + self.startup_timeout
        pumps = list(self._pumps)  # ``stop`` on another thread empties the list
        while True:
            try:
                line = self._lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._check_alive("print its port")
                if time.monotonic() > deadline:
                    raise AnalyzerError(
                        f"the policy pack did not print its port within {self.startup_timeout}s"
                    ) from None
                continue
            if line is None:
                process.wait(timeout=5)
                for pump in pumps[1:]:  # all of stderr, for the message
                    pump.join(timeout=5)
                raise AnalyzerError(f"the policy pack exited with code {process.returncode}{self._stderr_tail()}")
            if line.isdigit():
                return int(line)

    def _stderr_tail(self) -> str:
        text = "".join(self._stderr[-40:]).strip()
        return f":\n{text}" if text else ""

    def _check_alive(self, doing: str) -> None:
        """Raise when the pack is stopped, gone, or has used no CPU for :data:`STALL_SECONDS`."""
        process = self._process
        if process is None:
            raise AnalyzerError("the policy pack is not running")
        if process.poll() is not None:
            raise AnalyzerError(f"the policy pack exited with code {process.returncode}{self._stderr_tail()}")
        state, cpu = _process_state(process.pid)
        if state in ("T", "t"):
            raise AnalyzerError(f"the policy pack (pid {process.pid}) is stopped (SIGSTOP?) while it should {doing}")
        now = time.monotonic()
        last_cpu, since = self._last_cpu
        if cpu != last_cpu:
            self._last_cpu = (cpu, now)
        elif now - since > STALL_SECONDS:
            raise AnalyzerError(
                f"the policy pack (pid {process.pid}) used no CPU for {STALL_SECONDS:.0f}s while it should {doing}: hung"
            )

    def _wait(self, future: Any, doing: str) -> Any:
        """``future.result()``, polling the pack so a stopped or hung pack fails within seconds."""
        self._last_cpu = (-1.0, time.monotonic())
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except grpc.FutureTimeoutError:
                try:
                    self._check_alive(doing)
                except AnalyzerError:
                    future.cancel()
                    raise

    def _call(self, method: str, request: Any, what: str = "") -> Any:
        return self._answer(method, self._send(method, request), what)

    def _send(self, method: str, request: Any) -> Any:
        """Send one call without waiting for its answer (a gRPC future)."""
        if self._stub is None:
            raise AnalyzerError("the policy pack is not running")
        return getattr(self._stub, method).future(request, timeout=self.rpc_timeout)

    def _answer(self, method: str, future: Any, what: str = "") -> Any:
        where = f" for {what}" if what else ""
        try:
            return self._wait(future, f"answer {method}{where}")
        except grpc.RpcError as error:
            call = cast(grpc.Call, error)
            raise AnalyzerError(f"policy pack {method}{where} failed: {call.details()}{self._stderr_tail()}") from None

    def _handshake(self) -> None:
        stub: Any = self._stub
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=ENGINE_ADDRESS,
            root_directory=str(self.pack_dir),
            program_directory=str(self.pack_dir),
        )
        try:
            self._wait(
                stub.Handshake.future(request, timeout=self.rpc_timeout, wait_for_ready=True), "answer Handshake"
            )
        except grpc.RpcError as error:
            if cast(grpc.Call, error).code() != grpc.StatusCode.UNIMPLEMENTED:
                raise AnalyzerError(f"policy pack Handshake failed: {cast(grpc.Call, error).details()}") from None

    # -- metadata and config ---------------------------------------------------------------------

    def info(self) -> list[PolicyInfo]:
        """The pack's policies as ``GetAnalyzerInfo`` reports them."""
        if self._info is None:
            response = self._call("GetAnalyzerInfo", empty_pb2.Empty())
            self._info = [
                PolicyInfo(
                    name=p.name,
                    description=p.description,
                    enforcement=_level_name(p.enforcementLevel),
                    severity=_severity_name(p.severity),
                    kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                    tags=tuple(p.tags),
                    remediation=p.remediation_steps,
                    schema=json_format.MessageToDict(p.configSchema.properties),
                )
                for p in response.policies
            ]
        return list(self._info)

    def reconcile(self, config: Mapping[str, Any] | None) -> dict[str, tuple[str, dict[str, Any]]]:
        """Policy name -> (enforcement level, properties), as the CLI computes it from a config file."""
        policies = {p.name: p for p in self.info()}
        result: dict[str, tuple[str, dict[str, Any]]] = {
            p.name: (p.enforcement, {k: v["default"] for k, v in p.schema.items() if "default" in v})
            for p in policies.values()
        }
        given = dict(config or {})
        if "all" in given:
            level = _given_level("all", given.pop("all"), allow_properties=False)
            if level:
                result = {name: (level, props) for name, (_, props) in result.items()}
        for name, value in given.items():
            if name not in policies:
                raise PolicyConfigError(
                    f"policy config names unknown policy {name!r}; known: {', '.join(sorted(policies))}"
                )
            level = _given_level(name, value, allow_properties=True) or result[name][0]
            props = dict(result[name][1])
            if isinstance(value, Mapping):
                props.update({k: v for k, v in cast(Mapping[str, Any], value).items() if k != "enforcementLevel"})
            result[name] = (level, props)
        for name, (_, props) in result.items():
            schema = policies[name].schema
            for key, value in props.items():
                if key not in schema:
                    raise PolicyConfigError(
                        f"{name}: unknown config property {key!r}; known: {', '.join(sorted(schema)) or '(none)'}"
                    )
                problem = _schema_problem(schema[key], value, f"{name}.{key}")
                if problem:
                    raise PolicyConfigError(problem)
        return result

    # -- analysis --------------------------------------------------------------------------------

    def analyze(
        self,
        recording: Recording,
        *,
        project: str,
        stack: str,
        config: Mapping[str, Any] | None = None,
        organization: str = "organization",
    ) -> list[Violation]:
        """Configure the pack for ``stack`` and ``config`` and analyse ``recording`` (engine order)."""
        session = AnalysisSession(self, project=project, stack=stack, config=config, organization=organization)
        for resource in recording.resources:
            session.add(resource)
        return session.finish()

    def configure(self, *, project: str, stack: str, config: Mapping[str, Any] | None, organization: str) -> None:
        """ConfigureStack and Configure, as the engine does before a deployment's first resource."""
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack,
                project=project,
                organization=organization,
                dry_run=True,
                tags={"pulumi:project": project, "pulumi:runtime": "python"},
            ),
        )
        reconciled = self.reconcile(config)
        # The pack remediates only with policies at level "remediate"; without any, Remediate is a no-op
        # round trip per resource, so it is skipped (the verdicts are the same).
        self._remediating = any(level == "remediate" for level, _ in reconciled.values())
        self._call(
            "Configure",
            analyzer_pb2.ConfigureAnalyzerRequest(
                policyConfig={
                    name: analyzer_pb2.PolicyConfig(
                        enforcementLevel=cast(Any, _LEVEL_VALUES[level]), properties=_struct(props)
                    )
                    for name, (level, props) in reconciled.items()
                }
            ),
        )

    def with_remediation(self, violations: Sequence[Violation]) -> list[Violation]:
        """``violations`` with each policy's remediation steps attached."""
        steps = {p.name: p.remediation for p in self.info()}
        return [dataclasses.replace(v, remediation=steps.get(v.policy, "")) for v in violations]

    def analyze_stack(
        self, resources: Sequence[RecordedResource], by_urn: Mapping[str, RecordedResource]
    ) -> list[Violation]:
        descriptions = {p.name: p.description for p in self.info()}
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[_stack_resource(r, by_urn) for r in resources])
        response = self._call("AnalyzeStack", stack_request, "the stack")
        return _violations(response.diagnostics, descriptions, urn=None)

    def start_analysis(self, resource: RecordedResource, by_urn: Mapping[str, RecordedResource]) -> PendingAnalysis:
        """Remediate (when a policy remediates: its answer changes the request) and send ``Analyze``
        without waiting for its answer; :meth:`analysis_result` collects it. Several may be in flight:
        each ``Analyze`` is independent of the others, and the answers are collected in order."""
        severities = {p.name: p.severity for p in self.info()}
        violations: list[Violation] = []
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(_engine_value(resource.wire_inputs, by_urn)),
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
            provider=_provider(resource, by_urn),
        )
        remediations = self._call("Remediate", request, resource.urn).remediations if self._remediating else ()
        for remediation in remediations:
            if remediation.diagnostic:
                violations.append(Violation(remediation.policyName, "advisory", remediation.diagnostic, resource.urn))
            elif remediation.HasField("properties"):
                request.properties.CopyFrom(remediation.properties)
                violations.append(
                    Violation(
                        remediation.policyName,
                        "remediate",
                        f"remediated: {remediation.description}",
                        resource.urn,
                        severities.get(remediation.policyName, ""),
                    )
                )
        return PendingAnalysis(resource.urn, self._send("Analyze", request), violations)

    def analysis_result(self, pending: PendingAnalysis) -> list[Violation]:
        """The violations of a :meth:`start_analysis` (waits for the pack's answer)."""
        descriptions = {p.name: p.description for p in self.info()}
        response = self._answer("Analyze", pending.future, pending.urn)
        # Like the engine, report resource diagnostics against the analysed resource's URN.
        return [*pending.remediated, *_violations(response.diagnostics, descriptions, urn=pending.urn)]


@dataclass
class PendingAnalysis:
    """An ``Analyze`` call in flight (see :meth:`PolicyPackServer.start_analysis`)."""

    urn: str
    future: Any
    remediated: list[Violation]


class AnalysisSession:
    """One stack's analysis, fed resource by resource while the program still registers them.

    Like the engine, which analyses each resource as it is registered, this overlaps the pack's work
    (in its own process, on another core) with the program's. A worker thread connects to the pack
    (waiting for its start-up if needed), configures it for the stack, analyses the root stack and then
    every resource handed to :meth:`add`; after :meth:`close` it adds the stack-wide ``AnalyzeStack``
    on its own, so the caller can run the next stack's program meanwhile. ``after``: the previous
    stack's session; this one touches the pack only once that one is done (one pack, one
    configuration at a time). :meth:`result` waits for the verdict.
    """

    def __init__(
        self,
        server: PolicyPackServer,
        *,
        project: str,
        stack: str,
        config: Mapping[str, Any] | None,
        organization: str = "organization",
        after: AnalysisSession | None = None,
    ) -> None:
        self._server = server
        self._project, self._stack, self._config, self._organization = project, stack, config, organization
        self._after = after
        self._queue: queue.Queue[RecordedResource | None] = queue.Queue()
        self._resources: list[RecordedResource] = []
        self._by_urn: dict[str, RecordedResource] = {}
        self._violations: list[Violation] = []
        self._error: BaseException | None = None
        self._drained = False  # the end-of-stack sentinel has been taken from the queue
        self._abandoned = False
        self._closed = False
        self._done = threading.Event()
        self._in_flight: collections.deque[PendingAnalysis] = collections.deque()
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()

    def add(self, resource: RecordedResource) -> None:
        self._queue.put(resource)

    def close(self) -> None:
        """No more resources: the worker finishes the stack (``AnalyzeStack``) in the background."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def finish(self) -> list[Violation]:
        """:meth:`close` and :meth:`result`."""
        self.close()
        return self.result()

    def result(self) -> list[Violation]:
        """Wait for the verdict; raises what the worker raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return list(self._violations)

    def abandon(self) -> None:
        """Stop without a verdict (the program failed); errors of the worker are dropped. Returns at
        once when the worker has not touched the pack yet (an invalid config never waits for it)."""
        self._abandoned = True
        self.close()

    def _next(self) -> RecordedResource | None:
        resource = self._queue.get()
        self._drained = resource is None
        return resource

    def _work(self) -> None:
        try:
            if self._after is not None:
                self._after._done.wait()  # pyright: ignore[reportPrivateUsage]
            if self._abandoned:
                return
            self._server.connect()
            if self._abandoned:
                return
            self._server.configure(
                project=self._project, stack=self._stack, config=self._config, organization=self._organization
            )
            resource = self._next()
            if self._abandoned:
                return
            self._analyze(_root_stack(project=self._project, stack=self._stack, child=resource))
            while resource is not None:
                self._analyze(resource)
                resource = self._next()
            self._collect(0)
            if not self._abandoned:
                self._violations.extend(self._server.analyze_stack(self._resources, self._by_urn))
                self._violations = self._server.with_remediation(self._violations)
        except BaseException as error:
            self._error = error
            for pending in self._in_flight:
                pending.future.cancel()
        finally:
            self._done.set()
            while not self._drained:  # let add() callers go on; result() reports the error
                self._next()

    def _analyze(self, resource: RecordedResource) -> None:
        self._resources.append(resource)
        self._by_urn[resource.urn] = resource
        self._in_flight.append(self._server.start_analysis(resource, self._by_urn))
        self._collect(IN_FLIGHT - 1)

    def _collect(self, keep: int) -> None:
        """Collect answers, oldest first, until at most ``keep`` calls are in flight."""
        while len(self._in_flight) > keep:
            self._violations.extend(self._server.analysis_result(self._in_flight.popleft()))


# ---------------------------------------------------------------------------------------------------
# Process helpers


def _process_state(pid: int) -> tuple[str, float]:
    """(state letter, user+system CPU ticks) from ``/proc/<pid>/stat``; ("?", -1) where unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?", -1.0
    fields = text.rpartition(")")[2].split()
    return fields[0], float(int(fields[11]) + int(fields[12]))


# ---------------------------------------------------------------------------------------------------
# Conversions


def _level_name(value: int) -> str:
    return {v: k for k, v in _LEVEL_VALUES.items()}.get(value, "advisory")


def _severity_name(value: int) -> str:
    return SEVERITIES[value] if 0 <= value < len(SEVERITIES) else ""


def _given_level(name: str, value: object, *, allow_properties: bool) -> str | None:
    if isinstance(value, str):
        level: object = value
    elif isinstance(value, Mapping) and (
        allow_properties or set(cast(Mapping[str, Any], value)) <= {"enforcementLevel"}
    ):
        level = cast(Mapping[str, Any], value).get("enforcementLevel")
        if level is None:
            return None
    else:
        raise PolicyConfigError(f"{name}: must be an enforcement level or an object, got {json.dumps(value)}")
    if level not in LEVELS:
        raise PolicyConfigError(f"{name}: {json.dumps(level)} is not an enforcement level ({', '.join(LEVELS)})")
    return str(level)


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "integer": (int, float),
    "array": (list, tuple),
    "object": (dict,),
}


def _schema_problem(schema: Mapping[str, Any], value: object, path: str) -> str | None:
    """Validate the JSON Schema subset policy configs use (type, enum, minimum, items, properties,
    additionalProperties), like the CLI's gojsonschema check of ``--policy-pack-config``."""
    return _scalar_problem(schema, value, path) or _container_problem(schema, value, path)


def _scalar_problem(schema: Mapping[str, Any], value: object, path: str) -> str | None:
    expected = schema.get("type")
    if isinstance(expected, str) and expected in _JSON_TYPES:
        numeric = expected in ("number", "integer")
        wrong = not isinstance(value, _JSON_TYPES[expected]) or (numeric and isinstance(value, bool))
        if expected == "integer" and isinstance(value, float) and not value.is_integer():
            wrong = True
        if wrong:
            return f"{path} must be of type {expected}, got {json.dumps(value)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"{path} must be one of {json.dumps(enum)}, got {json.dumps(value)}"
    minimum = schema.get("minimum")
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(minimum, int | float) and number is not None and number < minimum:
        bound = int(minimum) if float(minimum).is_integer() else minimum
        return f"{path} must be >= {bound}, got {json.dumps(value)}"
    return None


def _container_problem(schema: Mapping[str, Any], value: object, path: str) -> str | None:
    children: list[tuple[str, object, Mapping[str, Any] | None]] = []
    if isinstance(value, list | tuple):
        items = schema.get("items")
        schema_of_items = cast(Mapping[str, Any], items) if isinstance(items, Mapping) else None
        children = [(f"{path}[{i}]", item, schema_of_items) for i, item in enumerate(cast(Sequence[object], value))]
    elif isinstance(value, dict):
        properties = cast(Mapping[str, Any], schema.get("properties") or {})
        additional = schema.get("additionalProperties", True)
        for key, item in cast(dict[str, object], value).items():
            if key in properties:
                children.append((f"{path}.{key}", item, properties[key]))
            elif additional is False:
                return f"{path} has unknown key {key!r}"
            elif isinstance(additional, Mapping):
                children.append((f"{path}.{key}", item, cast(Mapping[str, Any], additional)))
    for child_path, item, child_schema in children:
        problem = _schema_problem(child_schema, item, child_path) if child_schema is not None else None
        if problem:
            return problem
    return None


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    json_format.ParseDict(dict(value), result)
    return result


def _engine_value(value: Any, by_urn: Mapping[str, RecordedResource]) -> Any:
    """A recorded wire value as the engine marshals it for analyzers: secrets kept, resource
    references replaced by the referenced id (URN for components), output values flattened."""
    if isinstance(value, list):
        return [_engine_value(v, by_urn) for v in cast(list[Any], value)]
    if not isinstance(value, dict):
        return value
    mapping = cast(dict[str, Any], value)
    signature = mapping.get(_SIG_KEY)
    if signature == _RESOURCE_SIG:
        urn = str(mapping.get("urn", ""))
        referenced = by_urn.get(urn)
        resource_id = mapping.get("id") or (referenced.id if referenced and referenced.custom else "")
        return str(resource_id or urn)
    if signature == _OUTPUT_SIG:
        inner = _engine_value(mapping["value"], by_urn) if "value" in mapping else _UNKNOWN
        return {_SIG_KEY: _SECRET_SIG, "value": inner} if mapping.get("secret") else inner
    return {k: _engine_value(v, by_urn) for k, v in mapping.items()}


def _outputs(resource: RecordedResource, by_urn: Mapping[str, RecordedResource]) -> dict[str, Any]:
    """Mock outputs, with each output that came from a secret input marked secret again."""
    wire = resource.wire_inputs
    result: dict[str, Any] = {}
    for key, value in resource.outputs.items():
        if key in wire and unwrap_secrets(wire[key]) == value:
            result[key] = _engine_value(wire[key], by_urn)
        else:
            result[key] = _engine_value(value, by_urn)
    return result


def _options(resource: RecordedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=list(resource.ignore_changes),
        parent=resource.parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
    )


def _provider(
    resource: RecordedResource, by_urn: Mapping[str, RecordedResource]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    if not resource.provider:
        return None
    urn = resource.provider.rsplit("::", 1)[0]
    provider = by_urn.get(urn)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        properties=_struct(_engine_value(provider.wire_inputs, by_urn)),
        urn=provider.urn,
        name=provider.name,
    )


def _stack_resource(
    resource: RecordedResource, by_urn: Mapping[str, RecordedResource]
) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=resource.type,
        properties=_struct(_outputs(resource, by_urn)),
        urn=resource.urn,
        name=resource.name,
        options=_options(resource),
        provider=_provider(resource, by_urn),
        parent=resource.parent,
        dependencies=list(resource.dependencies),
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
            for key, urns in resource.property_dependencies.items()
            if urns
        },
    )


def _root_stack(*, project: str, stack: str, child: RecordedResource | None) -> RecordedResource:
    """The root ``pulumi:pulumi:Stack`` the engine analyses first (the recorder does not record it):
    the first registered resource's parent, or the URN the engine would give it."""
    if child is not None and "::pulumi:pulumi:Stack::" in child.parent:
        urn = child.parent
    else:
        urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    return RecordedResource(
        urn=urn,
        type="pulumi:pulumi:Stack",
        name=urn.rsplit("::", 1)[-1],
        custom=False,
        parent="",
        provider="",
        dependencies=[],
        property_dependencies={},
        deleted_with="",
        wire_inputs={},
        outputs={},
    )


def _violations(
    diagnostics: Iterable[analyzer_pb2.AnalyzeDiagnostic], descriptions: Mapping[str, str], *, urn: str | None
) -> list[Violation]:
    found: list[Violation] = []
    for diagnostic in diagnostics:
        message = diagnostic.message
        description = descriptions.get(diagnostic.policyName, diagnostic.description)
        if description and message.startswith(description + "\n"):
            message = message[len(description) + 1 :]
        found.append(
            Violation(
                policy=diagnostic.policyName,
                level=_level_name(diagnostic.enforcementLevel),
                message=message,
                urn=diagnostic.urn if urn is None else urn,
                severity=_severity_name(diagnostic.severity),
            )
        )
    return found


__all__ = [
    "PACK_DIR",
    "AnalyzerError",
    "PolicyConfigError",
    "PolicyInfo",
    "PolicyPackServer",
    "Violation",
    "analyze",
    "load_config",
]
