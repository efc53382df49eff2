"""``gpuplane`` command line: ``plan`` (offline preview of stacks) and ``render`` (manifests for review).

Exit codes: 0 fine; 1 a mandatory policy violation; 2 bad config or usage (one line per problem
naming the config key, no traceback, nothing registered); 3 the policy pack itself failed to run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gpuplane import stackfiles

if TYPE_CHECKING:
    from gpuplane.plan import StackPlan

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_CONFIG = 2
EXIT_PACK_FAILED = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "plan":
        config = None if args.policy_config is None else Path(args.policy_config)
        return _plan(args.stacks, as_json=args.json, policy_config=config, out=sys.stdout, err=sys.stderr)
    if args.command == "render":
        return _render(args.stack, Path(args.out), out=sys.stdout, err=sys.stderr)
    parser.print_help()
    return EXIT_CONFIG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpuplane", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command")
    plan = commands.add_parser("plan", help="run stacks offline under the mock runtime and report them")
    plan.add_argument(
        "stacks", nargs="*", help="stack names under stacks/ or paths to Pulumi.<name>.yaml (default: all)"
    )
    plan.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    plan.add_argument(
        "--policy-config",
        metavar="FILE",
        help="policy pack config for every stack (default: policies/config/<env>.json for a stack <cloud>-<env>)",
    )
    render = commands.add_parser("render", help="write every Kubernetes object and Helm values a stack creates")
    render.add_argument("stack", help="a stack name under stacks/ or a path to Pulumi.<name>.yaml")
    render.add_argument("--out", required=True, help="directory to write into (created if missing)")
    return parser


def _plan(arguments: Sequence[str], *, as_json: bool, policy_config: Path | None, out: TextIO, err: TextIO) -> int:
    from gpuplane.analyzer import PolicyConfigError, load_config

    try:
        paths = [stackfiles.resolve(a) for a in arguments] if arguments else stackfiles.discover()
        files = [stackfiles.load(p) for p in paths]
        if policy_config is not None:
            load_config(policy_config)
    except (stackfiles.StackFileError, PolicyConfigError, OSError) as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    plans = _plan_with_policies(files, policy_config, err)
    if isinstance(plans, int):
        return plans
    _write_plans(plans, as_json=as_json, out=out, err=err)
    if any(p.errors for p in plans):
        return EXIT_CONFIG
    if any(p.mandatory_violations for p in plans):
        return EXIT_POLICY
    return EXIT_OK


def _plan_with_policies(
    files: Sequence[stackfiles.StackFile], policy_config: Path | None, err: TextIO
) -> list[StackPlan] | int:
    """Plan every stack and check it with the policy pack; an exit code when the pack cannot run."""
    from gpuplane.analyzer import PACK_DIR, AnalyzerError, PolicyConfigError, PolicyPackServer
    from gpuplane.plan import plan_with_policies, policy_config_for

    server = PolicyPackServer()
    try:
        server.launch()  # the pack starts up while the first program runs
        plans = [plan_with_policies(f, server, policy_config or policy_config_for(f.name, PACK_DIR)) for f in files]
    except PolicyConfigError as error:
        print(f"gpuplane: policy config: {error}", file=err)
        return EXIT_CONFIG
    except AnalyzerError as error:
        print(f"gpuplane: the policy pack failed: {error}", file=err)
        return EXIT_PACK_FAILED
    finally:
        server.stop()
    return plans


def _write_plans(plans: Sequence[StackPlan], *, as_json: bool, out: TextIO, err: TextIO) -> None:
    from gpuplane.plan import to_json
    from gpuplane.report import write_report

    if as_json:
        json.dump({"stacks": [to_json(p) for p in plans]}, out, indent=2)
        out.write("\n")
    else:
        for plan in plans:
            write_report(plan, out)
    for plan in plans:
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)


def _render(argument: str, out_dir: Path, *, out: TextIO, err: TextIO) -> int:
    from gpuplane import render
    from gpuplane.plan import plan_stack

    try:
        stack_file = stackfiles.load(stackfiles.resolve(argument))
    except (stackfiles.StackFileError, OSError) as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    plan = plan_stack(stack_file)
    if plan.errors:
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)
        return EXIT_CONFIG
    try:
        written = render.write(plan.recording, out_dir)
    except (render.RenderTargetError, OSError) as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    print(f"{plan.stack}: wrote {len(written)} files to {out_dir}", file=out)
    return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
