"""Find and read ``Pulumi.<stack>.yaml`` files the way the Pulumi CLI hands them to a program.

A stack file's ``config:`` map becomes the flat ``{"ns:key": "value"}`` map the language host sets:
strings stay strings, everything else is JSON-encoded. ``secure:`` values cannot be decrypted
without the stack's secrets provider, so offline they become a placeholder that is still marked
secret: the program sees a secret where the real run would see one. ``secure:`` values nested in
structured config (``pulumi config set --secret --path 'gpuplane:modelCredentials.openai'``) become
placeholders in place, and the whole top-level key is marked secret, as the CLI does.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STACKS_DIR = PROJECT_ROOT / "stacks"
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
class StackFile:
    name: str
    path: Path
    config: dict[str, str] = field(default_factory=dict[str, str])
    secret_keys: list[str] = field(default_factory=list[str])


@functools.cache
def project_name(root: Path = PROJECT_ROOT) -> str:
    data: Any = yaml.safe_load((root / "Pulumi.yaml").read_text())
    return str(data["name"])


def discover(stacks_dir: Path = STACKS_DIR) -> list[Path]:
    """Every ``Pulumi.<stack>.yaml`` under ``stacks_dir``, sorted by stack name."""
    return sorted(stacks_dir.glob("Pulumi.*.yaml"))


def resolve(argument: str, stacks_dir: Path = STACKS_DIR) -> Path:
    """A stack name under ``stacks_dir`` or a path to any ``Pulumi.<name>.yaml`` file."""
    candidate = Path(argument)
    if candidate.suffix in {".yaml", ".yml"}:
        if not candidate.is_file():
            raise StackFileError(f"{argument}: no such stack file")
        if not candidate.name.startswith("Pulumi."):
            raise StackFileError(f"{argument}: stack files are named Pulumi.<stack>.yaml")
        return candidate
    path = stacks_dir / f"Pulumi.{argument}.yaml"
    if not path.is_file():
        known = ", ".join(stack_name(p) for p in discover(stacks_dir)) or "none"
        raise StackFileError(f"{argument}: no stack of that name under {stacks_dir} (stacks: {known})")
    return path


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def load(path: Path) -> StackFile:
    """Read one stack file into the config map the program sees."""
    try:
        data: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a map with a config: key")
    raw_config: Any = cast(dict[str, Any], data).get("config") or {}
    if not isinstance(raw_config, dict):
        raise StackFileError(f"{path}: config: must be a map")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    project = project_name()
    for key, value in raw_config.items():  # pyright: ignore[reportUnknownVariableType]
        full_key = str(key)  # pyright: ignore[reportUnknownArgumentType]
        if ":" not in full_key:  # the Pulumi CLI reads a bare key as the project's own namespace
            full_key = f"{project}:{full_key}"
        plain, secret = _without_secure(value, full_key)
        if secret:
            # Like the CLI: a key holding any ``secure:`` value (``config set --secret --path``) is secret.
            secret_keys.append(full_key)
        config[full_key] = plain if isinstance(plain, str) else json.dumps(plain)
    return StackFile(name=stack_name(path), path=path, config=config, secret_keys=secret_keys)


def _without_secure(value: Any, path: str) -> tuple[Any, bool]:
    """``value`` with every ``{secure: ...}`` (at any depth) replaced by a placeholder, and whether
    there was one. ``path`` names the value (``gpuplane:modelCredentials.openai``) in the placeholder."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if set(mapping) == {"secure"}:
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


def _placeholder(key: str) -> str:
    if key.endswith(":kubeconfig"):
        return PLACEHOLDER_KUBECONFIG
    return f"offline-placeholder-for-{key}"
