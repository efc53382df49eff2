"""Per-object summary of what changed between two ``gpuplane render --charts`` trees (base and head).

What: ``python -m gpuplane.manifest_diff BASE HEAD [--stack NAME]`` prints Markdown: one row per object
added, removed or changed (kind, namespace/name, where it comes from: a Helm release or the stack
itself), and for a changed object the first differing field paths. The checks workflow runs it for each
stack on a pull request and puts the result in the job summary beside the uploaded manifests.
Why: a values change is reviewed by what it does to the cluster, not by the values diff.
Secrets: the trees hold ``[secret]`` in place of every secret value, so nothing here can print one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from gpuplane.charts import load_all, object_key

Key = tuple[str, str, str, str]
"""(source, kind, namespace, name); source is ``release <name>`` or ``stack``."""


def objects_of(tree: Path) -> dict[Key, dict[str, Any]]:
    """Every object of a rendered tree (missing tree: none)."""
    found: dict[Key, dict[str, Any]] = {}
    if not tree.is_dir():
        return found
    for path in sorted(tree.glob("*.yaml")):
        for obj in load_all(path.read_text()):
            found[("stack", *object_key(obj))] = obj
    for path in sorted((tree / "charts").glob("*.yaml")):
        for obj in load_all(path.read_text()):
            found[(f"release {path.stem}", *object_key(obj))] = obj
    return found


def changed_paths(before: Any, after: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        old, new = cast(Mapping[str, Any], before), cast(Mapping[str, Any], after)
        for key in sorted(set(old) | set(new)):
            yield from changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
    elif before != after:
        yield prefix or "(whole object)"


def summary(base: Path, head: Path, title: str = "") -> str:
    old, new = objects_of(base), objects_of(head)
    rows: list[str] = []
    for key in sorted(set(old) | set(new)):
        source, kind, namespace, name = key
        where = f"{namespace}/{name}" if namespace else name
        if key not in old:
            rows.append(f"| added | {kind} | `{where}` | {source} | |")
        elif key not in new:
            rows.append(f"| removed | {kind} | `{where}` | {source} | |")
        elif old[key] != new[key]:
            paths = list(changed_paths(old[key], new[key]))
            shown = ", ".join(f"`{p}`" for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            rows.append(f"| changed | {kind} | `{where}` | {source} | {shown} |")
    heading = f"### Manifest changes{f': {title}' if title else ''}"
    if not rows:
        return f"{heading}\n\nNo object changes ({len(new)} objects).\n"
    table = ["| change | kind | object | from | fields |", "|---|---|---|---|---|", *rows]
    counts = {c: sum(r.startswith(f"| {c} ") for r in rows) for c in ("added", "removed", "changed")}
    line = ", ".join(f"{n} {c}" for c, n in counts.items())
    return "\n".join([heading, "", f"{line} of {len(new)} objects.", "", *table]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("base", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument("--stack", default="")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(summary(args.base, args.head, args.stack))
    except yaml.YAMLError as error:
        print(f"gpuplane.manifest_diff: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
