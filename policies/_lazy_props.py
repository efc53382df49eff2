"""Deserialise each request's properties once and wrap them lazily, not once per policy, eagerly.

What: :func:`install` changes two names in ``pulumi_policy.policy`` (pulumi-policy 1.21):
``deserialize_properties`` remembers the tree it built for a converted ``Struct`` dict (the
convert-once cache in ``_convert_once.py`` hands the same dict to every policy of a request), and
``unknown_checking_proxy`` wraps such a shared tree in :class:`LazyMapping` / :class:`LazySequence`.
These behave like pulumi-policy's ``_DictProxy`` / ``_ListProxy`` -- the same ``UnknownValueError``
(sentinel and property path) on reading a value only known after deployment, the same ``Mapping`` /
``Sequence`` mixins, ``__setitem__`` on mappings -- but build a child wrapper only when it is read,
and keep writes in the wrapper (copy on write), so the shared tree never changes and each policy
still sees its own, unmodified properties.

Why: the servicer deserialises and wraps the whole property tree once per policy per resource
(about 40 resource policies) and once per stack policy per resource in ``AnalyzeStack``; with the
config check, that was most of the pack's CPU time and the reason ``gpuplane plan`` waited for the
pack after its program had finished (issue 15). Most policies read two or three keys of a resource
whose type they do not check at all.

Gotchas: only trees made by the memoised non-``proxy_secrets`` path are wrapped lazily; anything else
(``Remediate``, which deserialises with ``proxy_secrets=True`` and may hand the mutated properties
back for serialisation) gets pulumi-policy's own eager proxy. ``tests/policies/test_lazy_props.py``
drives both proxies with the same random trees and operations and requires identical results, and
runs the policy cases through a pack without these patches to compare verdicts.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from pulumi_policy.proxy import UnknownValueError

LIMIT = 20_000
"""Remembered trees before the memo is cleared (a stack's worth of resources and providers)."""

_UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
"""pulumi-policy's ``UNKNOWN_*_VALUE`` sentinels (``proxy.py``); a test checks they still match."""

_MISSING = object()


def _checked(key: object, value: object, path: list[str]) -> Any:
    if isinstance(value, str) and value in _UNKNOWNS:
        raise UnknownValueError(value, [*path, str(key)])
    return value


def _wrap(value: object, path: list[str]) -> Any:
    if isinstance(value, list):
        return LazySequence(cast(list[object], value), path)
    if isinstance(value, dict):
        return LazyMapping(cast(dict[str, object], value), path)
    return value


class LazyMapping(Mapping[str, Any]):
    """A read-mostly view of a shared mapping; children are wrapped on first read, writes stay here."""

    __slots__ = ("_children", "_path", "_source", "_written")

    def __init__(self, source: dict[str, object], path: list[str]) -> None:
        self._source = source
        self._path = path
        self._children: dict[str, object] = {}
        self._written: dict[str, object] | None = None

    def _child(self, key: str) -> object:
        child = self._children.get(key, _MISSING)
        if child is _MISSING:
            child = _wrap(self._source[key], [*self._path, str(key)])
            self._children[key] = child
        return child

    def __getitem__(self, key: str) -> Any:
        if key == "__target":
            return {k: self._value(k) for k in self}
        return _checked(key, self._value(key), self._path)

    def _value(self, key: str) -> object:
        written = self._written
        if written is not None and key in written:
            return written[key]
        return self._child(key)

    def __setitem__(self, key: str, value: object) -> None:
        if self._written is None:
            self._written = {}
        self._written[key] = value

    def __len__(self) -> int:
        written = self._written
        if not written:
            return len(self._source)
        return len(self._source) + sum(1 for k in written if k not in self._source)

    def __iter__(self) -> Iterator[str]:
        yield from self._source
        if self._written:
            yield from (k for k in list(self._written) if k not in self._source)


class LazySequence(Sequence[Any]):
    """A read-only view of a shared list; items are wrapped on first read."""

    __slots__ = ("_children", "_path", "_source")

    def __init__(self, source: list[object], path: list[str]) -> None:
        self._source = source
        self._path = path
        self._children: dict[int, object] = {}

    def _child(self, index: int) -> object:
        position = range(len(self._source))[index]  # IndexError like the list's, negatives normalised
        child = self._children.get(position, _MISSING)
        if child is _MISSING:
            child = _wrap(self._source[position], [*self._path, str(position)])
            self._children[position] = child
        return child

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key == "__target":
            return [self._child(i) for i in range(len(self._source))]
        if isinstance(key, slice):
            return [self._child(i) for i in range(len(self._source))[key]]
        return _checked(key, self._child(operator.index(cast(int, key))), self._path)

    def __len__(self) -> int:
        return len(self._source)


class _SharedTrees:
    """Deserialised trees by the identity of the converted dict they came from."""

    def __init__(self) -> None:
        self._by_input: dict[int, tuple[object, dict[str, Any]]] = {}
        self._shared: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, props: Mapping[str, Any], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        key = id(props)
        with self._lock:
            hit = self._by_input.get(key)
            if hit is not None and hit[0] is props:
                return hit[1]
        tree = build()
        with self._lock:
            if len(self._by_input) >= LIMIT:
                self._by_input.clear()
                self._shared.clear()
            self._by_input[key] = (props, tree)  # the strong reference keeps ``id(props)`` unique
            self._shared[id(tree)] = tree
        return tree

    def is_shared(self, tree: object) -> bool:
        with self._lock:
            return self._shared.get(id(tree)) is tree


def install() -> None:
    """Patch the running pack's servicer (idempotent). Call after ``_secrets.install``."""
    import pulumi_policy.policy as policy_module

    if getattr(policy_module, "_gpuplane_lazy_props", False):
        return
    deserialize = cast(Callable[..., dict[str, Any]], policy_module.__dict__["deserialize_properties"])
    eager_proxy = cast(Callable[[dict[str, Any]], Any], policy_module.__dict__["unknown_checking_proxy"])
    trees = _SharedTrees()

    def deserialize_properties(props: Mapping[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        if proxy_secrets:
            return deserialize(props, True)
        return trees.get(props, lambda: deserialize(props))

    def unknown_checking_proxy(props: dict[str, Any]) -> Any:
        if trees.is_shared(props):
            return LazyMapping(props, [])
        return eager_proxy(props)

    policy_module.__dict__["deserialize_properties"] = deserialize_properties
    policy_module.__dict__["unknown_checking_proxy"] = unknown_checking_proxy
    policy_module.__dict__["_gpuplane_lazy_props"] = True
