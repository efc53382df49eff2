"""Prometheus alerting rules as code: typed rules that render to a PrometheusRule's ``spec.groups``.

What: :class:`AlertRule` and :class:`RuleGroup` render to the ``monitoring.coreos.com/v1``
PrometheusRule shape (``groups[].rules[]`` with ``alert``, ``expr``, ``for``, ``labels``,
``annotations``). The observability add-on wraps a group in a PrometheusRule carrying the labels
Prometheus' ``ruleSelector`` matches (``components.addons.observability.prometheus_rule``); later
add-ons hand their own groups to the same helper.

Why: the tests parse every expression with promql-parser, check each selected metric against the
pinned releases' metric lists, validate the rendered object against the strict PrometheusRule schema
and run ``promtool test rules`` on the groups exactly as they are deployed.

Gotchas:
- ``for`` is omitted when zero (the CRD accepts ``0`` but an alert with no ``for`` reads clearer).
- Annotations use Prometheus' own templating (``{{ $labels.x }}``, ``{{ $value }}``); these objects
  are registered directly, never passed through Helm, so the braces need no escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
_DURATION = re.compile(r"^(0|([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?)$")
_ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """One alert: when ``expr`` returns series for ``for_``, each series fires with these labels."""

    alert: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str

    def __post_init__(self) -> None:
        if not _ALERT_NAME.match(self.alert):
            raise ValueError(f"alert: {self.alert!r} must be UpperCamelCase")
        if not _DURATION.match(self.for_) or not self.for_:
            raise ValueError(f"for_: {self.for_!r} is not a Prometheus duration such as 30m")
        if not self.expr.strip():
            raise ValueError(f"expr: alert {self.alert} has no expression")

    def to_spec(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ != "0":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


@dataclass(frozen=True, kw_only=True)
class RuleGroup:
    """A named group of alerts, evaluated together every ``interval``."""

    name: str
    rules: tuple[AlertRule, ...]
    interval: str = "1m"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name: a rule group needs a name")
        if not self.rules:
            raise ValueError(f"rules: group {self.name!r} has no rule")
        if not _DURATION.match(self.interval):
            raise ValueError(f"interval: {self.interval!r} is not a Prometheus duration")
        names = [r.alert for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rules: group {self.name!r} has duplicate alert names")

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "interval": self.interval, "rules": [r.to_spec() for r in self.rules]}

    def expressions(self) -> list[str]:
        return [r.expr for r in self.rules]
