"""Release gates: ``--fail-under "flip_rate<=0.10,accuracy_drop<=0.05"``.

A per-cell metric (accuracy, accuracy_drop, macro_f1, macro_f1_drop, flip_rate,
confidence_shift, ece) must hold in every family × severity cell audited — flip_rate only in
``INV`` cells, where a flip is a failure. ``score``, ``clean_accuracy`` and
``attack_success_rate`` are single figures. Point estimates are compared, not intervals.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zhaug.errors import ZhaugError

CELL_METRICS = ("accuracy", "accuracy_drop", "macro_f1", "macro_f1_drop", "flip_rate", "confidence_shift", "ece")
GLOBAL_METRICS = ("score", "clean_accuracy", "attack_success_rate")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_SPEC = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|<|>)\s*(-?[0-9.]+)\s*$")


@dataclass(frozen=True)
class Threshold:
    """``metric op value``, e.g. ``flip_rate <= 0.1``."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_thresholds(spec: str) -> list[Threshold]:
    """Comma-separated ``metric<=value`` conditions (also ``>=``, ``<``, ``>``)."""
    out = []
    for part in filter(str.strip, spec.split(",")):
        match = _SPEC.match(part)
        if not match:
            raise ZhaugError(f"--fail-under: cannot read {part.strip()!r}; write e.g. flip_rate<=0.10")
        metric, op, value = match.groups()
        if metric not in CELL_METRICS + GLOBAL_METRICS:
            raise ZhaugError(f"--fail-under: unknown metric {metric!r}; choose from {', '.join(CELL_METRICS + GLOBAL_METRICS)}")
        try:
            out.append(Threshold(metric, op, float(value)))
        except ValueError:
            raise ZhaugError(f"--fail-under: {value!r} is not a number") from None
    if not out:
        raise ZhaugError(f"--fail-under: {spec!r} names no condition; write e.g. flip_rate<=0.10")
    return out


def _global(report: dict[str, Any], metric: str) -> float | None:
    if metric == "score":
        return report["score"]
    if metric == "clean_accuracy":
        return report["clean"]["accuracy"]["value"]
    attack = report.get("attack")
    return attack["success_rate"]["value"] if attack and attack["success_rate"] else None


def check(report: dict[str, Any], thresholds: list[Threshold]) -> list[str]:
    """One message per failed threshold (empty when the report passes)."""
    failures = []
    for threshold in thresholds:
        holds = COMPARISONS[threshold.op]
        if threshold.metric in GLOBAL_METRICS:
            value = _global(report, threshold.metric)
            if value is None:
                failures.append(f"{threshold}: no {threshold.metric} in this report (was it computed?)")
            elif not holds(value, threshold.value):
                failures.append(f"{threshold} failed: {threshold.metric} = {value:.4f}")
            continue
        cells = [
            c for c in report["cells"] if threshold.metric != "flip_rate" or c["expectation"] == "INV"
        ]
        bad = [c for c in cells if not holds(_value(c, threshold.metric), threshold.value)]
        if bad:
            worst = max(bad, key=lambda c: abs(_value(c, threshold.metric) - threshold.value))
            failures.append(
                f"{threshold} failed in {len(bad)} of {len(cells)} cells; worst: {worst['family']} "
                f"severity {worst['severity']} = {_value(worst, threshold.metric):.4f}"
            )
    return failures


def _value(cell: dict[str, Any], metric: str) -> float:
    value = cell[metric]
    return value["value"] if isinstance(value, dict) else value
