"""``gpuplane`` command line: ``plan`` (offline preview of stacks) and ``render`` (manifests for review).

Exit codes: 0 fine; 1 a mandatory policy violation; 2 bad config or usage (one line per problem
naming the config key or file, no traceback, nothing registered); 3 the policy pack itself failed to
run; 4 an internal error (a bug: one line, the traceback only with ``GPUPLANE_DEBUG=1``);
130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (the policy pack is stopped first).

Why one error path: CI reads exit 1 as "a mandatory policy failed", so no crash may end in 1.

The console entry (:func:`run`) also does what only a short-lived process may: it turns the
collector off (``gc.freeze`` + ``gc.disable``: a plan allocates ~1 M objects that all live until the
end, so every collection is wasted work) and ends with ``os._exit`` after flushing, skipping the
teardown of a ~1,200-module heap. In-process callers (tests) use :func:`main`, which does neither.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import subprocess

    from gpuplane import stackfiles
    from gpuplane.plan import StackPlan

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_CONFIG = 2
EXIT_PACK_FAILED = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

_cleanups: list[Callable[[], None]] = []
"""What a signal must undo before the process exits (stop the pack, remove a render's staging dir)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            config = None if args.policy_config is None else Path(args.policy_config)
            return _plan(
                args.stacks,
                as_json=args.json,
                policy_config=config,
                verbose=args.verbose,
                out=sys.stdout,
                err=sys.stderr,
            )
        if args.command == "render":
            return _render(args.stack, Path(args.out), out=sys.stdout, err=sys.stderr, with_charts=args.charts)
        if args.command == "access":
            from gpuplane import access

            return access.run(args.stack, args.tenant, as_json=args.json, out=sys.stdout, err=sys.stderr)
    except KeyboardInterrupt:
        print("gpuplane: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (gpuplane plan | head): nothing left to say
        return EXIT_BROKEN_PIPE
    except Exception as error:  # every expected failure is handled below; this is a bug
        if os.environ.get("GPUPLANE_DEBUG") == "1":
            raise
        where = _innermost_frame(error)
        print(
            f"gpuplane: internal error ({type(error).__name__} at {where}); "
            "rerun with GPUPLANE_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    parser.print_help(sys.stderr)
    return EXIT_CONFIG


def _innermost_frame(error: BaseException) -> str:
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is None:
        return "?"
    return f"{Path(trace.tb_frame.f_code.co_filename).name}:{trace.tb_lineno}"


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gpuplane")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpuplane", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"gpuplane {_version()}")
    commands = parser.add_subparsers(dest="command")
    plan = commands.add_parser("plan", help="run stacks offline under the mock runtime and report them")
    plan.add_argument(
        "stacks",
        nargs="*",
        help="stack names under the project's stack directory or paths to Pulumi.<name>.yaml (default: all)",
    )
    plan.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    plan.add_argument("--verbose", "-v", action="store_true", help="list every resource type in the report")
    plan.add_argument(
        "--policy-config",
        metavar="FILE",
        help="policy pack config for every stack (default: policies/config/<env>.json for a stack <cloud>-<env>)",
    )
    render = commands.add_parser("render", help="write every Kubernetes object and Helm values a stack creates")
    render.add_argument("stack", help="a stack name or a path to Pulumi.<name>.yaml")
    render.add_argument("--out", required=True, help="directory to write into (created if missing)")
    render.add_argument(
        "--charts",
        action="store_true",
        help="also write every Helm release fully rendered with its vendored chart (charts/<release>.yaml)",
    )
    access = commands.add_parser(
        "access", help="who may invoke which model and submit to which queue (the OpenFGA model), offline"
    )
    access.add_argument("stack", help="a stack name under stacks/ or a path to Pulumi.<name>.yaml")
    access.add_argument("--tenant", metavar="T", help="only this tenant")
    access.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _plan(
    arguments: Sequence[str],
    *,
    as_json: bool,
    policy_config: Path | None,
    out: TextIO,
    err: TextIO,
    verbose: bool = False,
) -> int:
    files, problems = _read_inputs(arguments, policy_config)
    if problems:  # every unreadable input at once, before any program runs or pack starts
        for problem in problems:
            print(f"gpuplane: {problem}", file=err)
        return EXIT_CONFIG
    launched = _launch_pack(err)  # before the heavy imports: the pack starts while they run
    if isinstance(launched, int):
        return launched
    _use_project_code()
    plans = _plan_with_policies(files, policy_config, err, launched)
    if isinstance(plans, int):
        return plans
    _write_plans(plans, as_json=as_json, verbose=verbose, out=out, err=err)
    if any(p.errors for p in plans):
        return EXIT_CONFIG
    if any(p.mandatory_violations for p in plans):
        return EXIT_POLICY
    return EXIT_OK


def _read_inputs(arguments: Sequence[str], policy_config: Path | None) -> tuple[list[stackfiles.StackFile], list[str]]:
    """Every stack file and the policy config read and checked; the problems of all of them."""
    from gpuplane import stackfiles

    files: list[stackfiles.StackFile] = []
    problems: list[str] = []
    paths: list[Path] = []
    for argument in arguments:
        try:
            paths.append(stackfiles.resolve(argument))
        except stackfiles.StackFileError as error:
            problems.append(str(error))
    if not arguments:
        try:
            paths = stackfiles.discover()
            if not paths:
                project = stackfiles.project()
                problems.append(f"no Pulumi.<stack>.yaml under {project.stacks_dir} (project {project.root})")
        except stackfiles.StackFileError as error:
            problems.append(str(error))
    for path in paths:
        try:
            files.append(stackfiles.load(path))
        except stackfiles.StackFileError as error:
            problems.append(str(error))
    if policy_config is not None:
        from gpuplane.analyzer import PolicyConfigError, load_config

        try:
            load_config(policy_config)
        except PolicyConfigError as error:
            problems.append(f"--policy-config {error}")
    return files, problems


def _use_project_code() -> None:
    """Run the project's own program and components (as ``pulumi`` would), not an installed copy."""
    from gpuplane import stackfiles

    root = str(stackfiles.project().root)
    if (Path(root) / "stacks" / "program.py").is_file() and root not in sys.path:
        sys.path.insert(0, root)


def _pack_dir() -> Path:
    from gpuplane import stackfiles
    from gpuplane.pack_process import PACK_DIR, is_pack

    project_pack = stackfiles.project().root / "policies"
    return project_pack if is_pack(project_pack) else PACK_DIR


def _launch_pack(err: TextIO) -> tuple[Path, subprocess.Popen[bytes]] | int:
    """Start the policy pack importing only the standard library (``gpuplane.pack_process``): its
    ~0.3 s start-up then overlaps the imports of the program, the SDKs and gRPC. Until a
    ``PolicyPackServer`` adopts it, a signal kills it through :data:`_cleanups`."""
    from gpuplane import pack_process

    pack_dir = _pack_dir()
    try:
        process = pack_process.launch(pack_dir)
    except (pack_process.AnalyzerError, OSError) as error:
        print(f"gpuplane: the policy pack failed: {error}", file=err)
        return EXIT_PACK_FAILED
    _cleanups.append(process.kill)
    return pack_dir, process


def _plan_with_policies(
    files: Sequence[stackfiles.StackFile],
    policy_config: Path | None,
    err: TextIO,
    launched: tuple[Path, subprocess.Popen[bytes]],
) -> list[StackPlan] | int:
    """Plan every stack and check it with the launched policy pack; an exit code when the pack cannot run."""
    pack_dir, process = launched
    try:
        from gpuplane.analyzer import AnalyzerError, PolicyConfigError, PolicyPackServer
        from gpuplane.plan import PolicyChoice, choose_policy_config, plan_all
    except BaseException:
        _cleanups.remove(process.kill)
        process.kill()
        process.wait()
        raise

    def choose(stack: str) -> PolicyChoice:
        if policy_config is not None:
            return PolicyChoice(policy_config, "given with --policy-config")
        return choose_policy_config(stack, pack_dir)

    server = PolicyPackServer(pack_dir)
    server.adopt(process)
    _cleanups.append(server.kill_now)
    _cleanups.remove(process.kill)
    try:
        return plan_all(files, server, choose)
    except PolicyConfigError as error:
        print(f"gpuplane: policy config: {error}", file=err)
        return EXIT_CONFIG
    except AnalyzerError as error:
        print(f"gpuplane: the policy pack failed: {error}", file=err)
        return EXIT_PACK_FAILED
    finally:
        server.stop()
        _cleanups.remove(server.kill_now)


def _write_plans(plans: Sequence[StackPlan], *, as_json: bool, verbose: bool, out: TextIO, err: TextIO) -> None:
    import json

    from gpuplane.plan import to_json
    from gpuplane.report import write_report

    if as_json:
        json.dump({"stacks": [to_json(p) for p in plans]}, out, indent=2)
        out.write("\n")
    else:
        for plan in plans:
            write_report(plan, out, verbose=verbose)
    for plan in plans:
        for warning in plan.warnings:
            print(f"{plan.stack}: warning: {warning}", file=err)
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)


def _render(argument: str, out_dir: Path, *, out: TextIO, err: TextIO, with_charts: bool = False) -> int:
    from gpuplane import render, stackfiles

    try:
        stack_file = stackfiles.load(stackfiles.resolve(argument))
    except stackfiles.StackFileError as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    _use_project_code()
    from gpuplane.plan import plan_stack

    plan = plan_stack(stack_file)
    if plan.errors:
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)
        return EXIT_CONFIG
    extra: dict[str, str] = {}
    if with_charts:
        from gpuplane import charts

        try:
            extra = charts.manifest_files(plan.recording, plan.spec)
        except charts.ChartRenderError as error:
            print(f"gpuplane: {plan.stack}: {error}", file=err)
            return EXIT_CONFIG
    try:
        written = render.write(plan.recording, out_dir, cleanups=_cleanups, extra_files=extra)
    except render.RenderTargetError as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    except OSError as error:
        print(f"gpuplane: {out_dir}: cannot write: {error.strerror or error}", file=err)
        return EXIT_CONFIG
    print(f"{plan.stack}: wrote {len(written)} files to {out_dir}", file=out)
    return EXIT_OK


def _on_signal(signum: int, _frame: object) -> None:
    """SIGINT/SIGTERM/SIGHUP: stop the pack (and a half-written render), say so, exit 128+signum.
    Exits here rather than raising, so no library code can turn the interrupt into a traceback or
    another exit code (an interrupted lazy import raised from deep inside the SDK did)."""
    import contextlib
    import signal

    for cleanup in list(_cleanups):
        with contextlib.suppress(Exception):  # best effort on the way out
            cleanup()
    name = signal.Signals(signum).name
    try:
        sys.stderr.write(f"gpuplane: interrupted ({name})\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def run() -> None:
    """Console-script entry point: signals handled, no GC, no interpreter teardown."""
    import gc
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        code = code or EXIT_CONFIG
    os._exit(code)
