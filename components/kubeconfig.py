"""Check and minify the kubeconfig of an existing cluster without ever echoing it.

What: :func:`kubeconfig_problems` says what is wrong with the ``gpuplane:kubeconfig`` secret (not YAML,
no context, several contexts and none chosen, a chosen context that is not there, credentials that point
at files); :func:`minify` keeps only the chosen context with its cluster and user, the kubeconfig the
Kubernetes provider gets.
Why: the kubeconfig is a secret. A whole ``~/.kube/config`` carries every cluster's credentials, and
``pulumi up`` would store all of them in the provider's state; with several contexts the provider would
silently use whichever ``current-context`` happened to be set on the laptop the file came from. A
kubeconfig whose certificate or key is a *file path* works on that laptop only and fails on a CI runner.
The supported form is one flattened context::

    kubectl config view --minify --flatten --context <name> > kubeconfig.yaml
    pulumi config set --secret gpuplane:kubeconfig < kubeconfig.yaml

Gotchas: ``gpuplane plan`` cannot decrypt the secret and hands the program a placeholder whose server is under
the reserved ``.invalid`` domain; that placeholder stands in for any ``kubeconfigContext``. Every message names
the config key and the offending *field names*, never a value; YAML parse
errors are reduced to a line number because PyYAML's own messages quote the input. Exec-based users
(``aws eks get-token``, ``gke-gcloud-auth-plugin``) are accepted: the command must exist where
``pulumi up`` runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

FILE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}
"""Fields that name files on the machine the kubeconfig was exported from (``--flatten`` inlines them)."""

MINIFY_COMMAND = "kubectl config view --minify --flatten --context <name>"


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used; the message never contains any of its content."""


def _parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    import yaml

    try:
        document: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return None, f"is not valid YAML{where}"
    except yaml.YAMLError:
        return None, "is not valid YAML"
    if not isinstance(document, dict):
        return None, "is not a kubeconfig (expected a YAML map with clusters, contexts and users)"
    return cast(dict[str, Any], document), None


def _named(document: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    entries = document.get(kind)
    found: dict[str, Mapping[str, Any]] = {}
    if not isinstance(entries, list):
        return found
    for entry in cast(list[Any], entries):
        if isinstance(entry, dict):
            item = cast(dict[str, Any], entry)
            name = item.get("name")
            body = item.get(kind[:-1])
            if isinstance(name, str) and isinstance(body, dict):
                found[name] = cast(dict[str, Any], body)
    return found


def _offline_placeholder(document: Mapping[str, Any]) -> bool:
    """The stand-in ``gpuplane plan`` uses for a ``secure:`` kubeconfig it cannot decrypt (every server under
    the reserved ``.invalid`` domain, gpuplane/stackfiles.py): it stands in for whichever context is named."""
    clusters = _named(document, "clusters")
    return bool(clusters) and all(
        str(body.get("server", "")).split("//", 1)[-1].split("/", 1)[0].endswith(".invalid")
        for body in clusters.values()
    )


def _select(document: Mapping[str, Any], context: str | None) -> tuple[str | None, str | None]:
    """``(context name, problem)``: the context to use, or why there is none."""
    contexts = _named(document, "contexts")
    if not contexts:
        return None, "has no contexts; export one with " + MINIFY_COMMAND
    if context is not None:
        if context not in contexts:
            if _offline_placeholder(document) and len(contexts) == 1:
                return next(iter(contexts)), None
            return None, f"has no context named {context!r} (gpuplane:kubeconfigContext)"
        return context, None
    if len(contexts) > 1:
        return None, (
            f"has {len(contexts)} contexts; store only the one to use ({MINIFY_COMMAND}) "
            "or name it in gpuplane:kubeconfigContext"
        )
    return next(iter(contexts)), None


def kubeconfig_problems(text: str, context: str | None) -> list[str]:
    """Everything wrong with ``text`` for context ``context`` (``None``: the file's only context), as
    messages that quote field names only. Empty when the kubeconfig is usable."""
    document, problem = _parse(text)
    if document is None:
        return [problem or "is not a kubeconfig"]
    chosen, problem = _select(document, context)
    if chosen is None:
        return [problem or "has no usable context"]
    body = _named(document, "contexts")[chosen]
    problems: list[str] = []
    for kind in ("cluster", "user"):
        ref = body.get(kind)
        entries = _named(document, f"{kind}s")
        if not isinstance(ref, str) or ref not in entries:
            problems.append(f"context {chosen!r} refers to a {kind} that is not in the file")
            continue
        on_disk = [field for field in FILE_FIELDS[kind] if field in entries[ref]]
        if on_disk:
            problems.append(
                f"the {kind} of context {chosen!r} reads {', '.join(on_disk)} from files on the machine it was "
                f"exported from; flatten it: {MINIFY_COMMAND}"
            )
    return problems


def minify(text: str, context: str | None) -> str:
    """The kubeconfig reduced to ``context`` (or its only context) with its cluster and user, as JSON
    (which is YAML). Raises :class:`KubeconfigError` (content-free message) if it is not usable."""
    problems = kubeconfig_problems(text, context)
    if problems:
        raise KubeconfigError("gpuplane:kubeconfig " + "; ".join(problems))
    document, _ = _parse(text)
    assert document is not None
    chosen, _ = _select(document, context)
    assert chosen is not None
    body = _named(document, "contexts")[chosen]
    cluster, user = str(body["cluster"]), str(body["user"])
    minified: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": dict(_named(document, "clusters")[cluster])}],
        "contexts": [{"name": chosen, "context": dict(body)}],
        "users": [{"name": user, "user": dict(_named(document, "users")[user])}],
        "current-context": chosen,
        "preferences": {},
    }
    return json.dumps(minified, indent=2)
