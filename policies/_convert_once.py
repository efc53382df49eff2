"""Convert each request's properties from protobuf once, not once per policy.

What: :func:`install` gives ``pulumi_policy.policy`` a ``json_format`` whose ``MessageToDict``
remembers the dict it made for a ``Struct`` message object, so the servicer's per-policy loop in
``Analyze`` (one conversion per policy per resource) and ``AnalyzeStack`` (one per policy per
resource of the stack) converts each message once. Every policy still gets freshly deserialised
properties: ``deserialize_properties`` builds new containers from the shared dict and never mutates
it (pulumi-policy 1.21 ``deserialize.py``; our ``_secrets.mark`` likewise).

Why: with ~45 policies, ``MessageToDict`` (pure-Python protobuf traversal) dominated ``Analyze`` and
``AnalyzeStack`` time (issue 15). The pack's verdicts are unchanged: the input dict is equal, only
built once.

Gotchas: entries hold a strong reference to their message, so an ``id`` is never reused while
cached; the cache is cleared when it grows past :data:`LIMIT` messages (a stack's worth). Only
``pulumi_policy.policy``'s module global is replaced; other users of ``json_format`` are untouched.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from google.protobuf import json_format, struct_pb2

LIMIT = 20_000


class _CachingJsonFormat(ModuleType):
    """``google.protobuf.json_format`` with a memoised ``MessageToDict`` for ``Struct`` messages."""

    def __init__(self) -> None:
        super().__init__("json_format_convert_once")
        self._cache: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(message, struct_pb2.Struct):
            return json_format.MessageToDict(message, *args, **kwargs)
        key = id(message)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] is message:
                return hit[1]
        converted: dict[str, Any] = json_format.MessageToDict(message)
        with self._lock:
            if len(self._cache) >= LIMIT:
                self._cache.clear()
            self._cache[key] = (message, converted)
        return converted


def install() -> None:
    """Make the running pack's servicer convert each message once (idempotent)."""
    import pulumi_policy.policy as policy_module

    if not isinstance(policy_module.__dict__.get("json_format"), _CachingJsonFormat):
        policy_module.__dict__["json_format"] = _CachingJsonFormat()
