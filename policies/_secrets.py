"""Let validators see which property values were Pulumi secrets.

What: :class:`SecretStr` / :class:`SecretFloat`, ``str`` and ``float`` subclasses that compare, hash and
print exactly like the plain value, and :func:`install`, which makes the pack's analyzer deserialise
secret-wrapped properties into them (every leaf inside a secret map or list is marked too).

Why: the engine sends secrets to the pack still wrapped (``MarshalOptions{KeepSecrets: true}``), but
``pulumi_policy`` unwraps them before ``validate`` runs, so a policy cannot tell a secret kubeconfig
from a plaintext one (pulumi/pulumi-policy#241, open since 2020). Only ``policies/__main__.py`` calls
:func:`install`, right before it builds the ``PolicyPack``; importing this module changes nothing.

Gotchas: booleans cannot be marked (``bool`` cannot be subclassed); nothing here needs them. The
``Remediate`` path (``proxy_secrets=True``) keeps pulumi-policy's own behaviour. The patch targets the
name ``pulumi_policy.policy.deserialize_properties`` that pulumi-policy 1.21's servicer calls; if that
name disappears, :func:`install` fails loudly rather than silently reporting every value as plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

_state: dict[str, bool] = {"installed": False}


class SecretStr(str):
    """A string value that reached the pack as a Pulumi secret."""

    __slots__ = ()


class SecretFloat(float):
    """A number that reached the pack as a Pulumi secret."""

    __slots__ = ()


def is_secret(value: object) -> bool:
    """Whether ``value`` arrived as (or inside) a Pulumi secret."""
    return isinstance(value, SecretStr | SecretFloat)


def installed() -> bool:
    """Whether secret marking is active in this process (it is in every real pack run)."""
    return _state["installed"]


def mark(value: object, *, secret: bool = False, fallback: Callable[[Any], Any] | None = None) -> object:
    """Deserialise one wire value, turning secret-wrapped leaves into marked values."""
    if isinstance(value, list):
        return [mark(v, secret=secret, fallback=fallback) for v in cast(list[object], value)]
    if isinstance(value, dict):
        mapping = cast(dict[str, object], value)
        signature = mapping.get(SIG_KEY)
        if signature == SECRET_SIG:
            return mark(mapping.get("value"), secret=True, fallback=fallback)
        if signature is not None:
            # Assets and archives: pulumi-policy's own deserialisation (it rejects anything else).
            if fallback is None:
                raise AssertionError(f"Unrecognized signature '{signature}' when unmarshaling resource property")
            return fallback(mapping)
        return {k: mark(v, secret=secret, fallback=fallback) for k, v in mapping.items()}
    if secret and isinstance(value, str):
        return SecretStr(value)
    if secret and isinstance(value, float):
        return SecretFloat(value)
    return value


def install() -> None:
    """Make the running pack's Analyze/AnalyzeStack deserialisation keep secret markers."""
    import pulumi_policy.policy as policy_module

    original = getattr(policy_module, "deserialize_properties", None)
    if original is None or not callable(original):
        raise RuntimeError(
            "pulumi_policy.policy.deserialize_properties is gone; this pack needs pulumi-policy 1.21 "
            "(see policies/requirements.txt) to tell secrets from plaintext"
        )
    if installed():
        return
    deserialize = cast(Callable[..., dict[str, Any]], original)

    def one(value: Any) -> Any:
        return deserialize({"v": value})["v"]

    def deserialize_properties(props: Mapping[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        if proxy_secrets:
            return deserialize(props, True)
        return {key: mark(value, fallback=one) for key, value in props.items()}

    policy_module.__dict__["deserialize_properties"] = deserialize_properties
    _state["installed"] = True
