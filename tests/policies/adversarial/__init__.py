"""The adversarial policy corpus (issue 10): see ``corpus.py``."""

from __future__ import annotations

import importlib

MODULES = (
    "endpoints",
    "gateway",
    "takeover",
    "capacity",
    "charts",
    "openfga",
    "credentials",
    "parity",
    "failclosed",
    "coverage",
    "components",
)


def load_corpus() -> None:
    """Import every corpus module (each registers its cases into ``corpus.CASES`` once)."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
