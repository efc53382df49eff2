"""Which values of a stack file are still the examples' placeholders.

What: :func:`find` walks a stack file's ``config:`` as written and reports, naming the key, every
``secure:`` value that is not ciphertext (the examples ship ``v1:REPLACE-…``), every project id that is
a placeholder (``gcp:project: my-gpuplane-project``, a model backend's ``project: gpuplane-example``)
and every address or CIDR inside the documentation ranges (RFC 5737 ``192.0.2.0/24``,
``198.51.100.0/24``, ``203.0.113.0/24``; RFC 3849 ``2001:db8::/32``).

Why: ``gpuplane plan`` runs offline and never decrypts, so a placeholder plans cleanly; the real
``pulumi up`` then fails on it (Pulumi rejects a ``secure:`` value that is not ciphertext as a bad
value) or, worse, succeeds: an API server that allows only 203.0.113.0/24 is reachable by nobody.
The plan says so per stack as a warning (text report and ``--json``), without changing the exit code.

Gotcha: ciphertext formats differ per secrets provider (passphrase and Pulumi Cloud:
``v1:<base64>:<base64>``; cloud KMS providers: bare base64), so a value counts as a placeholder when
it is not base64-ish (letters, digits, ``+/=:``) or says REPLACE/CHANGEME — not by provider format.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gpuplane import stackfiles

DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
CIPHERTEXT = re.compile(r"^[A-Za-z0-9+/=:]+$")
PLACEHOLDER_WORDS = ("replace", "changeme", "change-me", "your-", "my-gpuplane", "example")
PROJECT_KEYS = frozenset({"gcp:project", "project"})


@dataclass(frozen=True)
class Placeholder:
    """One value to replace before a real deploy."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def find(path: Path) -> list[Placeholder]:
    """Every placeholder in the stack file at ``path``, in file order."""
    return list(_walk(stackfiles.raw_config(path), ""))


def _walk(value: Any, key: str) -> Iterator[Placeholder]:
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if set(mapping) == {"secure"}:
            yield from _secure(mapping["secure"], key)
            return
        for name, item in mapping.items():
            yield from _walk(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            yield from _walk(item, f"{key}[{index}]")
    elif isinstance(value, str):
        yield from _plain(value, key)


def _secure(ciphertext: Any, key: str) -> Iterator[Placeholder]:
    text = ciphertext if isinstance(ciphertext, str) else ""
    if not CIPHERTEXT.match(text) or any(w in text.lower() for w in ("replace", "changeme")):
        top, _, rest = key.partition(".")
        command = f"pulumi config set --secret {top}" if not rest else f"pulumi config set --secret --path '{key}'"
        yield Placeholder(key, f"secure value is a placeholder, not ciphertext (Pulumi rejects it): {command}")


def _plain(value: str, key: str) -> Iterator[Placeholder]:
    leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
    if (key in PROJECT_KEYS or leaf in PROJECT_KEYS) and any(w in value.lower() for w in PLACEHOLDER_WORDS):
        yield Placeholder(key, f"{value!r} is a placeholder project id; set your own")
        return
    network = _network(value)
    if network is not None:
        for documentation in DOCUMENTATION_NETWORKS:
            if network.version == documentation.version and network.subnet_of(documentation):  # pyright: ignore[reportArgumentType]
                yield Placeholder(
                    key, f"{value} is in the documentation range {documentation} (reaches nobody); use your own"
                )
                return


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not re.match(r"^[0-9A-Fa-f:.]+(/\d{1,3})?$", value) or ("." not in value and ":" not in value):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
