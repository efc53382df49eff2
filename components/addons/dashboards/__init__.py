"""Grafana dashboards as code: a small typed model that renders Grafana's dashboard JSON.

What: :class:`Dashboard` (uid, title, folder, panels) made of :class:`Panel` s (title, unit, PromQL
:class:`Query` s) and rendered by :meth:`Dashboard.to_json` into the JSON model Grafana's dashboard
provisioning reads. The observability add-on ships each dashboard in a ConfigMap that Grafana's
dashboard sidecar loads (``components.addons.observability.dashboard_config_map``); later add-ons
(gateway, OpenFGA) build their own :class:`Dashboard` and hand it to the same helper.

Why: dashboards written as Python values are reviewed in diffs, every query is parsed and checked
against the metric lists of the pinned releases in the tests, and the layout (ids, grid positions,
data source) is generated instead of hand-edited JSON.

Gotchas:
- Every panel and query points at the data source uid :data:`DATASOURCE_UID`; the observability
  add-on sets kube-prometheus-stack's ``grafana.sidecar.datasources.uid`` to the same value, so the
  dashboards keep working when Grafana is reinstalled (a uid, not a name, is what Grafana resolves).
- Panels are laid out two per row (``w=12, h=8``) in the order given; Grafana rejects nothing here,
  it silently overlaps panels with clashing ``gridPos``, so the layout is computed, never typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

DATASOURCE_UID = "prometheus"
"""The uid of the Prometheus data source the stack provisions (``grafana.sidecar.datasources.uid``)."""
DEFAULT_FOLDER = "gpuplane"
PANEL_WIDTH = 12
PANEL_HEIGHT = 8
GRID_COLUMNS = 24
SCHEMA_VERSION = 39

PanelKind = Literal["timeseries", "stat"]


@dataclass(frozen=True, kw_only=True)
class Query:
    """One PromQL query of a panel and how its series are named in the legend."""

    expr: str
    legend: str

    def __post_init__(self) -> None:
        if not self.expr.strip():
            raise ValueError("expr: a query needs a PromQL expression")


@dataclass(frozen=True, kw_only=True)
class Panel:
    """A Grafana panel: a title, the unit of its values and the queries it draws."""

    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: PanelKind = "timeseries"
    description: str = ""
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("title: a panel needs a title")
        if not self.queries:
            raise ValueError(f"queries: panel {self.title!r} has no query")


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """A Grafana dashboard; ``uid`` is stable (links and bookmarks use it) and kebab-case."""

    uid: str
    title: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = ("gpuplane",)
    folder: str = DEFAULT_FOLDER
    description: str = ""
    refresh: str = "1m"
    time_from: str = "now-6h"
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        if not self.uid or len(self.uid) > 40 or not all(c.isalnum() or c == "-" for c in self.uid):
            raise ValueError(f"uid: {self.uid!r} must be 1-40 characters of letters, digits and '-'")
        if not self.panels:
            raise ValueError(f"panels: dashboard {self.uid!r} has no panel")

    def queries(self) -> list[str]:
        """Every PromQL expression the dashboard runs."""
        return [q.expr for panel in self.panels for q in panel.queries]

    def to_json(self) -> dict[str, Any]:
        """The dashboard as Grafana's JSON model (what a provisioned dashboard file holds)."""
        datasource = {"type": "prometheus", "uid": DATASOURCE_UID}
        panels: list[dict[str, Any]] = []
        per_row = GRID_COLUMNS // PANEL_WIDTH
        for index, panel in enumerate(self.panels):
            defaults: dict[str, Any] = {"unit": panel.unit}
            if panel.min is not None:
                defaults["min"] = panel.min
            if panel.max is not None:
                defaults["max"] = panel.max
            panels.append(
                {
                    "id": index + 1,
                    "type": panel.kind,
                    "title": panel.title,
                    "description": panel.description,
                    "datasource": datasource,
                    "gridPos": {
                        "x": (index % per_row) * PANEL_WIDTH,
                        "y": (index // per_row) * PANEL_HEIGHT,
                        "w": PANEL_WIDTH,
                        "h": PANEL_HEIGHT,
                    },
                    "fieldConfig": {"defaults": defaults, "overrides": []},
                    "options": _options(panel.kind),
                    "targets": [
                        {
                            "refId": _ref_id(number),
                            "datasource": datasource,
                            "expr": query.expr,
                            "legendFormat": query.legend,
                            "range": True,
                        }
                        for number, query in enumerate(panel.queries)
                    ],
                }
            )
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "timezone": "utc",
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "annotations": {"list": []},
            "templating": {"list": []},
            "links": [],
            "panels": panels,
            **self.extra,
        }


def _options(kind: PanelKind) -> dict[str, Any]:
    if kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"}
    return {
        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def _ref_id(number: int) -> str:
    if number >= 26:
        raise ValueError("a panel has at most 26 queries (refId A-Z)")
    return chr(ord("A") + number)


def all_queries(dashboards: Sequence[Dashboard]) -> list[str]:
    return [expr for dashboard in dashboards for expr in dashboard.queries()]
