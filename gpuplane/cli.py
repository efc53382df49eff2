"""``gpuplane`` command line: ``plan`` (offline preview of stacks) and ``render`` (manifests for review).

Exit codes: 0 fine; 1 a mandatory policy violation; 2 bad config or usage (one line per problem
naming the config key, no traceback, nothing registered).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gpuplane import stackfiles

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "plan":
        return _plan(args.stacks, as_json=args.json, out=sys.stdout, err=sys.stderr)
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
    render = commands.add_parser("render", help="write every Kubernetes object and Helm values a stack creates")
    render.add_argument("stack", help="a stack name under stacks/ or a path to Pulumi.<name>.yaml")
    render.add_argument("--out", required=True, help="directory to write into (created if missing)")
    return parser


def _plan(arguments: Sequence[str], *, as_json: bool, out: TextIO, err: TextIO) -> int:
    from gpuplane.plan import plan_stack, to_json
    from gpuplane.report import write_report

    try:
        paths = [stackfiles.resolve(a) for a in arguments] if arguments else stackfiles.discover()
        files = [stackfiles.load(p) for p in paths]
    except stackfiles.StackFileError as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    plans = [plan_stack(f) for f in files]
    if as_json:
        json.dump({"stacks": [to_json(p) for p in plans]}, out, indent=2)
        out.write("\n")
    else:
        for plan in plans:
            write_report(plan, out)
    for plan in plans:
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)
    if any(p.errors for p in plans):
        return EXIT_CONFIG
    if any(p.mandatory_violations for p in plans):
        return EXIT_POLICY
    return EXIT_OK


def _render(argument: str, out_dir: Path, *, out: TextIO, err: TextIO) -> int:
    from gpuplane import render
    from gpuplane.plan import plan_stack

    try:
        stack_file = stackfiles.load(stackfiles.resolve(argument))
    except stackfiles.StackFileError as error:
        print(f"gpuplane: {error}", file=err)
        return EXIT_CONFIG
    plan = plan_stack(stack_file)
    if plan.errors:
        for problem in plan.errors:
            print(f"{plan.stack}: {problem}", file=err)
        return EXIT_CONFIG
    written = render.write(plan.recording, out_dir)
    print(f"{plan.stack}: wrote {len(written)} files to {out_dir}", file=out)
    return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
