"""Find and read ``Pulumi.<stack>.yaml`` files the way the Pulumi CLI hands them to a program.

A stack file's ``config:`` map becomes the flat ``{"ns:key": "value"}`` map the language host sets:
strings stay strings, everything else is JSON-encoded. ``secure:`` values cannot be decrypted
without the stack's secrets provider, so offline they become a placeholder that is still marked
secret: the program sees a secret where the real run would see one. ``secure:`` values nested in
structured config (``pulumi config set --secret --path 'gpuplane:modelCredentials.openai'``) become
placeholders in place, and the whole top-level key is marked secret, as the CLI does.

Input is untrusted (a pull request may carry any stack file), so reading is bounded before any work:
at most :data:`MAX_FILE_BYTES`, UTF-8 only, nesting at most :data:`MAX_DEPTH`, and at most
:data:`MAX_NODES` values *after* alias expansion, counted on the composed node graph before a
single Python object is built (a 900-byte alias bomb expands to billions of values). Duplicate keys,
non-string keys, ``!!set``/``!!binary``/``!!omap``/``!!pairs`` and non-finite numbers are reported
naming the key. Gotchas: YAML 1.1 reads ``2024-01-01`` as a date, Pulumi (go-yaml v3) hands such a
value to the program as the string it was, so it stays a string here; a ``secure:`` value must be
one string (the ciphertext); a map mixing ``secure:`` leaves with plain-text leaves is an error
naming each plain leaf: the CLI would mark the whole key secret while the plain value sits in the
repository. Stack names follow Pulumi's rule (``[A-Za-z0-9_.-]``, not empty).

The project is the nearest ``Pulumi.yaml`` above the working directory (what ``pulumi`` does), else
the checkout this package lives in (an editable install run from elsewhere).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from yaml import nodes

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_NODES = 50_000
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
SECRET_KINDS = frozenset({"gpuplane:kubeconfig", "gpuplane:modelCredentials", "gpuplane:openfgaDatastoreUri"})
"""Keys whose every leaf is a secret (the rest of the ``gpuplane:`` namespace is plain text)."""
PLACEHOLDER_KUBECONFIG = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "offline", "cluster": {"server": "https://offline.invalid"}}],
        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
        "current-context": "offline",
        "users": [{"name": "offline", "user": {}}],
    }
)


class StackFileError(Exception):
    """A stack argument that names no readable stack file (usage error, exit code 2)."""


@dataclass(frozen=True)
class FileProblem:
    """A problem in a stack file that does not stop the rest of it from being checked."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class StackFile:
    name: str
    path: Path
    config: dict[str, str] = field(default_factory=dict[str, str])
    secret_keys: list[str] = field(default_factory=list[str])
    problems: list[FileProblem] = field(default_factory=list[FileProblem])


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    stacks_dir: Path
    found_by: str
    """How the project was found (for messages): ``working directory`` or ``package``."""


def find_project(start: Path | None = None) -> Project:
    """The nearest ``Pulumi.yaml`` at or above ``start`` (default: the working directory), else the
    checkout holding this package; :class:`StackFileError` when there is none."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return _project(directory, "working directory")
    if (PACKAGE_ROOT / "Pulumi.yaml").is_file():
        return _project(PACKAGE_ROOT, "package")
    raise StackFileError(
        f"no Pulumi.yaml in {here} or any directory above it; run gpuplane inside the project (or name stack files)"
    )


def _project(root: Path, found_by: str) -> Project:
    path = root / "Pulumi.yaml"
    data: Any = _parse(path, _read_text(path))
    name: Any = cast(dict[str, Any], data).get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not STACK_NAME.match(name):
        raise StackFileError(f"{path}: name: must be a project name ([A-Za-z0-9_.-])")
    config_dir = cast(dict[str, Any], data).get("stackConfigDir") or "."
    if not isinstance(config_dir, str):
        raise StackFileError(f"{path}: stackConfigDir: must be a directory name")
    return Project(root=root, name=name, stacks_dir=(root / config_dir).resolve(), found_by=found_by)


_PROJECTS: dict[Path, Project] = {}


def project() -> Project:
    """The project for this process's working directory (read once per directory)."""
    cwd = Path.cwd()
    if cwd not in _PROJECTS:
        _PROJECTS[cwd] = find_project(cwd)
    return _PROJECTS[cwd]


def project_name() -> str:
    return project().name


def __getattr__(name: str) -> Path:
    # ``STACKS_DIR``/``PROJECT_ROOT`` follow the working directory's project.
    if name == "STACKS_DIR":
        return project().stacks_dir
    if name == "PROJECT_ROOT":
        return project().root
    raise AttributeError(name)


def discover(stacks_dir: Path | None = None) -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` under ``stacks_dir``, sorted by stack name."""
    directory = project().stacks_dir if stacks_dir is None else stacks_dir
    return sorted(p for p in directory.glob("Pulumi.*.yaml") if p.is_file())


def resolve(argument: str, stacks_dir: Path | None = None) -> Path:
    """A stack name under ``stacks_dir`` or a path to any ``Pulumi.<name>.yaml`` file."""
    candidate = Path(argument)
    if candidate.suffix in {".yaml", ".yml"}:
        if not candidate.is_file():
            raise StackFileError(f"{_shown(argument)}: no such stack file")
        if not candidate.name.startswith("Pulumi."):
            raise StackFileError(f"{_shown(argument)}: stack files are named Pulumi.<stack>.yaml")
        check_stack_name(stack_name(candidate), argument)
        return candidate
    check_stack_name(argument, argument)
    directory = project().stacks_dir if stacks_dir is None else stacks_dir
    path = directory / f"Pulumi.{argument}.yaml"
    if not path.is_file():
        known = ", ".join(stack_name(p) for p in discover(directory)) or "none"
        raise StackFileError(f"{argument}: no stack of that name under {directory} (stacks: {known})")
    return path


def check_stack_name(name: str, given: str) -> None:
    if not STACK_NAME.match(name):
        raise StackFileError(
            f"{_shown(given)}: stack name {_shown(repr(name))} is not a Pulumi stack name "
            "(letters, digits, '_', '.', '-'; not empty)"
        )


def _shown(text: str) -> str:
    """``text`` safe for one line of a terminal: control characters escaped, length bounded."""
    shown = repr(text)[1:-1] if not text.isprintable() else text
    return shown if len(shown) <= 200 else shown[:200] + "..."


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def load(path: Path) -> StackFile:
    """Read one stack file into the config map the program sees."""
    name = stack_name(path)
    check_stack_name(name, str(path))
    problems: list[FileProblem] = []
    data = _parse(path, _read_text(path), problems)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a map with a config: key")
    raw_config: Any = cast(dict[str, Any], data).get("config") or {}
    if not isinstance(raw_config, dict):
        raise StackFileError(f"{path}: config: must be a map")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    project_ns = project_name()
    for key, value in cast(dict[str, Any], raw_config).items():
        full_key = key if ":" in key else f"{project_ns}:{key}"  # bare keys: the project's namespace
        plain, secret = _without_secure(value, full_key)
        problems.extend(_secure_shape_problems(value, full_key))
        if secret:
            # Like the CLI: a key holding any ``secure:`` value (``config set --secret --path``) is secret.
            secret_keys.append(full_key)
            problems.extend(_mixed_problems(value, full_key))
        config[full_key] = plain if isinstance(plain, str) else json.dumps(plain)
    return StackFile(name=name, path=path, config=config, secret_keys=secret_keys, problems=problems)


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StackFileError(f"{path}: {size} bytes; stack files may be at most {MAX_FILE_BYTES} bytes")
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise StackFileError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise StackFileError(f"{path}: stack files may be at most {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path}: not UTF-8 (byte 0x{raw[error.start]:02x} at offset {error.start})") from None


# --- a bounded YAML loader -------------------------------------------------------------------------


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it: the pure-Python scanner needs seconds for a 1 MiB file."""


class _Loader(_BaseLoader):  # pyright: ignore[reportGeneralTypeIssues, reportUntypedBaseClass]
    """A safe loader that collects problems instead of raising; the pure-Python composer (no
    libyaml) also stops at the nesting and size limits while composing."""

    def __init__(self, stream: str, problems: list[FileProblem]) -> None:
        super().__init__(stream)
        self.depth = 0
        self.composed = 0
        self.problems = problems

    def compose_node(self, parent: nodes.Node | None, index: object) -> nodes.Node | None:
        self.depth += 1
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _LimitError(f"more than {MAX_NODES} values")
        if self.depth > MAX_DEPTH:
            raise _LimitError(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)  # pyright: ignore[reportArgumentType]
        finally:
            self.depth -= 1

    def construct_mapping(self, node: nodes.Node, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in cast(list[tuple[nodes.Node, nodes.Node]], node.value):
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if not isinstance(key_node, nodes.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = _shown(str(key_node.value)) if isinstance(key_node, nodes.ScalarNode) else "a collection"
                self.problems.append(
                    FileProblem(_where(key_node), f"key {shown} is not a string; quote it (config keys are strings)")
                )
                continue
            if key_node.value in seen:
                self.problems.append(
                    FileProblem(_where(key_node), f"key {_shown(key_node.value)} is given twice; keep one")
                )
            seen.add(key_node.value)
        mapping = super().construct_mapping(node, deep=deep)  # pyright: ignore[reportArgumentType]
        return {k: v for k, v in mapping.items() if isinstance(k, str)}

    def construct_undefined(self, node: nodes.Node) -> None:
        self.problems.append(FileProblem(_where(node), f"YAML tag {_shown(str(node.tag))} is not allowed in config"))

    def construct_yaml_timestamp(self, node: nodes.Node) -> str:  # pyright: ignore[reportIncompatibleMethodOverride]
        return str(node.value)  # Pulumi (go-yaml v3) hands an unquoted date to the program as a string

    def construct_yaml_float(self, node: nodes.Node) -> float | None:  # pyright: ignore[reportIncompatibleMethodOverride]
        value: float = super().construct_yaml_float(node)  # pyright: ignore[reportArgumentType]
        if not math.isfinite(value):
            self.problems.append(FileProblem(_where(node), f"{node.value} is not a finite number"))
            return None
        return value

    def _refuse(self, node: nodes.Node) -> None:
        tag = str(node.tag).removeprefix("tag:yaml.org,2002:")
        self.problems.append(FileProblem(_where(node), f"!!{tag} values are not config values; use a list or string"))


for _tag in ("set", "binary", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader._refuse)  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType]
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)  # pyright: ignore[reportUnknownMemberType]
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)  # pyright: ignore[reportUnknownMemberType]
_Loader.add_constructor(None, _Loader.construct_undefined)  # pyright: ignore[reportUnknownMemberType, reportArgumentType]


class _LimitError(Exception):
    pass


def _where(node: nodes.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _parse(path: Path, text: str, problems: list[FileProblem] | None = None) -> Any:
    """``text`` as Python values, bounded (see the module docstring); problems that do not stop the
    rest from being read go to ``problems``."""
    found: list[FileProblem] = [] if problems is None else problems
    if _flow_depth(text) > MAX_DEPTH:
        raise StackFileError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    loader = _Loader(text, found)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        data: Any = cast(Any, loader.construct_document(node))  # pyright: ignore[reportUnknownMemberType]
    except _LimitError as error:
        raise StackFileError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    finally:
        loader.dispose()  # pyright: ignore[reportUnknownMemberType]
    if problems is None and found:
        raise StackFileError(f"{path}: {found[0]}")
    for problem in found:
        if not problem.key.startswith(str(path)):
            index = found.index(problem)
            found[index] = FileProblem(f"{path} {problem.key}", problem.message)
    return data


def _flow_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting outside quotes and comments. PyYAML's scanner is quadratic in
    open flow collections (it rechecks every pending simple key), so this runs before it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    quote = ""
    previous = "\n"
    for char in text:
        if quote:
            if char == quote or (char == "\n" and quote == "#"):
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#" and previous in " \t\n":
            quote = "#"
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        previous = char
    return deepest


def _yaml_problem(error: yaml.YAMLError) -> str:
    """The parser's complaint and where, without the file excerpt PyYAML adds (it may hold a value)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{error.problem or error.context or 'syntax error'}{where}"
    return type(error).__name__


def _check_expansion(root: nodes.Node) -> None:
    """Refuse a graph whose expansion (aliases followed) has more than ``MAX_NODES`` values or is
    deeper than ``MAX_DEPTH``, or refers to itself; linear in the graph's size."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    active: set[int] = set()

    def walk(node: nodes.Node, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            raise _LimitError(f"nested deeper than {MAX_DEPTH} levels (after following aliases)")
        key = id(node)
        if key in memo:
            size, height = memo[key]
            if depth + height > MAX_DEPTH:
                raise _LimitError(f"nested deeper than {MAX_DEPTH} levels (after following aliases)")
            return size, height
        if key in active:
            raise _LimitError(f"an alias refers to itself ({_where(node)})")
        active.add(key)
        size, height = 1, 0
        if isinstance(node, nodes.SequenceNode):
            children: list[nodes.Node] = list(cast(list[nodes.Node], node.value))
        elif isinstance(node, nodes.MappingNode):
            children = [n for pair in cast(list[tuple[nodes.Node, nodes.Node]], node.value) for n in pair]
        else:
            children = []
        for child in children:
            child_size, child_height = walk(child, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_NODES:
                raise _LimitError(f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)")
        active.discard(key)
        memo[key] = (size, height)
        return size, height

    walk(root, 0)


# --- secure values ---------------------------------------------------------------------------------


def _without_secure(value: Any, path: str) -> tuple[Any, bool]:
    """``value`` with every ``{secure: ...}`` (at any depth) replaced by a placeholder, and whether
    there was one. ``path`` names the value (``gpuplane:modelCredentials.openai``) in the placeholder."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if _is_secure(mapping):
            return _placeholder(path), True
        found = False
        result: dict[str, Any] = {}
        for name, item in mapping.items():
            result[name], secret = _without_secure(item, f"{path}.{name}")
            found = found or secret
        return result, found
    if isinstance(value, list):
        items: list[Any] = []
        found = False
        for index, item in enumerate(cast(list[Any], value)):
            plain, secret = _without_secure(item, f"{path}[{index}]")
            items.append(plain)
            found = found or secret
        return items, found
    return value, False


def _is_secure(mapping: dict[str, Any]) -> bool:
    return set(mapping) == {"secure"}


def _leaves(value: Any, path: str) -> Iterator[tuple[str, bool]]:
    """(path, is secret) for every leaf of ``value``."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if _is_secure(mapping):
            yield path, True
            return
        for name, item in mapping.items():
            yield from _leaves(item, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, False


def _mixed_problems(value: Any, key: str) -> Iterator[FileProblem]:
    """A key with ``secure:`` leaves must have no plain-text leaf (the CLI marks the whole key
    secret, while the plain value sits in the repository)."""
    for path, secret in _leaves(value, key):
        if not secret:
            how = "pulumi config set --secret --path" if key in SECRET_KINDS or path != key else "pulumi config set"
            yield FileProblem(
                path,
                f"plain text beside secret values of {key}; set it with {how} '{path}' (or make every value plain)",
            )


def _secure_shape_problems(value: Any, path: str) -> Iterator[FileProblem]:
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if _is_secure(mapping):
            if not isinstance(mapping["secure"], str) or not mapping["secure"]:
                yield FileProblem(
                    f"{path}.secure", "must be the ciphertext string pulumi config set --secret writes (not shown)"
                )
            return
        for name, item in mapping.items():
            yield from _secure_shape_problems(item, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            yield from _secure_shape_problems(item, f"{path}[{index}]")


def _placeholder(key: str) -> str:
    if key.endswith(":kubeconfig"):
        return PLACEHOLDER_KUBECONFIG
    return f"offline-placeholder-for-{key}"


def raw_config(path: Path) -> dict[str, Any]:
    """The ``config:`` map as written (``secure:`` ciphertexts kept), read with the bounds of :func:`load`;
    empty when the file has none or cannot be read (:func:`load` reports why)."""
    try:
        data = _parse(path, _read_text(path), [])
    except StackFileError:
        return {}
    raw: Any = cast(dict[str, Any], data).get("config") if isinstance(data, dict) else None
    return cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
