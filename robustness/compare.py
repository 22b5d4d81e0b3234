"""Two models side by side on the same perturbed texts: paired differences, family by family.

``compare_models(predict_a, predict_b, records)`` perturbs each row once per family × severity
(the audit's :func:`~zhaug.robustness.audit.perturb_cells`, same seeds) and gives both models the
same texts, so each figure's difference B − A has a paired bootstrap interval (the same resampled
rows for both). Cells hold the differences under the audit's metric names, so the release gate
(:func:`zhaug.robustness.thresholds.check`) reads them as they are: ``flip_rate<=0`` fails when B
flips more often than A in some label-preserving cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zhaug.augment.base import default_segmenter
from zhaug.io import Record
from zhaug.progress import progress_bar
from zhaug.protocols import PredictProba
from zhaug.robustness.audit import AuditConfig, Cells, gold_indices, perturb_cells
from zhaug.robustness.families import select_families
from zhaug.robustness.metrics import bootstrap_indices, mean_estimate
from zhaug.robustness.predict import BatchPredictor


def _paired(a: np.ndarray, b: np.ndarray, index: np.ndarray) -> dict[str, Any]:
    """Means of per-row ``a`` and ``b`` and the paired difference B − A with its interval."""
    return {"a": float(np.mean(a)), "b": float(np.mean(b)), **mean_estimate(b.astype(float) - a, index)}


def compare_models(
    predict_a: PredictProba,
    predict_b: PredictProba,
    records: Sequence[Record],
    config: AuditConfig | None = None,
    *,
    labels: Sequence[str],
    names: tuple[str, str] = ("A", "B"),
    progress: bool | None = None,
    cells: Cells = perturb_cells,
) -> dict[str, Any]:
    """Clean accuracy and, per family × severity, accuracy and flip rate of both models with the
    paired difference B − A (``value``, ``low``, ``high``; ``a`` and ``b`` are each model's own)."""
    config = config or AuditConfig()
    classes = list(labels)
    gold = gold_indices(records, classes)
    index = bootstrap_indices(len(gold), config.n_resamples, config.seed)
    a = BatchPredictor(predict_a, len(classes), config.batch_size, None, names[0], False)
    b = BatchPredictor(predict_b, len(classes), config.batch_size, None, names[1], False)
    texts, ids = [r.text for r in records], [r.id for r in records]
    clean_a, clean_b = a(texts).argmax(1), b(texts).argmax(1)
    plan = [(family, severity) for family in select_families(config.families) for severity in config.severities]
    segmenter = default_segmenter()
    results = []
    for (family, severity), perturbed in progress_bar(zip(plan, cells([segmenter(t) for t in texts], ids, plan, config.seed)),
                                                      total=len(plan), desc="compare", unit="cell", progress=progress):
        pert_a, pert_b = a(perturbed).argmax(1), b(perturbed).argmax(1)
        results.append({
            "family": family.name, "severity": severity, "expectation": family.expectation,
            "accuracy": _paired(pert_a == gold, pert_b == gold, index),
            "flip_rate": _paired(pert_a != clean_a, pert_b != clean_b, index),
        })
    return {
        "meta": {"names": list(names), "n_rows": len(records), "classes": classes, "seed": config.seed,
                 "severities": list(config.severities), "n_resamples": config.n_resamples},
        "clean": {"accuracy": _paired(clean_a == gold, clean_b == gold, index)},
        "score": None,
        "cells": results,
    }


def comparison_markdown(comparison: dict[str, Any]) -> str:
    """The comparison as a Markdown table (differences B − A with 95% intervals)."""
    name_a, name_b = comparison["meta"]["names"]

    def fmt(estimate: dict[str, Any]) -> str:
        return (f"{estimate['a']:.3f} | {estimate['b']:.3f} | "
                f"{estimate['value']:+.3f} [{estimate['low']:+.3f}, {estimate['high']:+.3f}]")

    lines = [f"# {name_b} vs {name_a} on the same perturbed texts", "",
             f"{comparison['meta']['n_rows']} rows · seed {comparison['meta']['seed']} · "
             f"differences are B − A with paired 95% bootstrap intervals", "",
             f"Clean accuracy: A {comparison['clean']['accuracy']['a']:.3f}, B {comparison['clean']['accuracy']['b']:.3f}, "
             f"B − A {comparison['clean']['accuracy']['value']:+.3f}", "",
             "| family | sev. | exp. | flip A | flip B | flip B − A | acc. A | acc. B | acc. B − A |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['family']} | {c['severity']} | {c['expectation']} | {fmt(c['flip_rate'])} | {fmt(c['accuracy'])} |"
              for c in comparison["cells"]]
    gate = comparison.get("gate")
    if gate:
        lines += ["", "Release gate (on B − A): " + ("FAILED " + "; ".join(gate["failures"]) if gate["failures"]
                                                    else "passed " + ", ".join(gate["thresholds"]))]
    return "\n".join(lines) + "\n"
