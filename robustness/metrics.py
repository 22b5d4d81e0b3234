"""Robustness metrics of one perturbation against the clean predictions, with bootstrap intervals.

All intervals are paired percentile bootstraps: each resample draws the same rows for the clean
and the perturbed predictions, so a drop's interval reflects the per-row pairing. The resampling
generator is seeded explicitly (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Estimate = dict[str, float]
"""``{"value": point estimate, "low": 2.5th percentile, "high": 97.5th percentile}``."""


def macro_f1(gold: np.ndarray, pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Macro-F1 over class indices ``labels``, row-wise for 2-D inputs (one resample per row).

    A class with no true or predicted row in a resample scores 0, as sklearn's
    ``f1_score(labels=labels, average="macro", zero_division=0)``.
    """
    gold, pred = np.atleast_2d(gold), np.atleast_2d(pred)
    scores = []
    for k in labels:
        tp = ((gold == k) & (pred == k)).sum(axis=1)
        wrong = (gold == k).sum(axis=1) + (pred == k).sum(axis=1) - 2 * tp
        denominator = 2 * tp + wrong
        scores.append(np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0))
    return np.mean(scores, axis=0)


def ece(probs: np.ndarray, gold: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: the bin-weighted gap between confidence and accuracy
    (``n_bins`` equal-width bins of the top probability)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def _estimate(value: float, samples: np.ndarray) -> Estimate:
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"value": float(value), "low": float(low), "high": float(high)}


def mean_estimate(values: np.ndarray, index: np.ndarray) -> Estimate:
    """The mean of per-row ``values`` with its interval over the resamples ``index``."""
    values = np.asarray(values, dtype=float)
    return _estimate(values.mean(), values[index].mean(axis=1))


def bootstrap_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n)`` row indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def clean_metrics(
    probs: np.ndarray, gold: np.ndarray, classes: Sequence[str], index: np.ndarray, n_bins: int = 10
) -> dict[str, Any]:
    """Accuracy and macro-F1 (with intervals), ECE and per-class accuracy of the clean predictions."""
    pred = probs.argmax(axis=1)
    correct = pred == gold
    present = np.unique(gold)
    return {
        "accuracy": mean_estimate(correct, index),
        "macro_f1": _estimate(macro_f1(gold, pred, present)[0], macro_f1(gold[index], pred[index], present)),
        "ece": ece(probs, gold, n_bins),
        "per_class": {
            label: {"n": int((gold == k).sum()), "accuracy": float(correct[gold == k].mean())}
            for k, label in enumerate(classes) if (gold == k).any()
        },
    }


def compare(
    clean: np.ndarray,
    perturbed: np.ndarray,
    gold: np.ndarray,
    classes: Sequence[str],
    index: np.ndarray,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Metrics of ``perturbed`` probabilities against ``clean`` ones (same rows, same order).

    ``flip_rate``: share of rows whose predicted class changed. ``confidence_shift``: mean change
    of the probability of the clean prediction (negative = the model grew less sure).
    ``accuracy_drop`` and ``macro_f1_drop`` are clean minus perturbed (positive = worse).
    """
    present = np.unique(gold)
    clean_pred, pert_pred = clean.argmax(axis=1), perturbed.argmax(axis=1)
    clean_ok, pert_ok = clean_pred == gold, pert_pred == gold
    flipped = clean_pred != pert_pred
    rows = np.arange(len(gold))
    shift = perturbed[rows, clean_pred] - clean[rows, clean_pred]
    f1_clean, f1_pert = macro_f1(gold[index], clean_pred[index], present), macro_f1(gold[index], pert_pred[index], present)
    f1_clean_value, f1_pert_value = macro_f1(gold, clean_pred, present)[0], macro_f1(gold, pert_pred, present)[0]
    return {
        "accuracy": mean_estimate(pert_ok, index),
        "accuracy_drop": mean_estimate(clean_ok.astype(float) - pert_ok, index),
        "macro_f1": _estimate(f1_pert_value, f1_pert),
        "macro_f1_drop": _estimate(f1_clean_value - f1_pert_value, f1_clean - f1_pert),
        "flip_rate": mean_estimate(flipped, index),
        "confidence_shift": mean_estimate(shift, index),
        "ece": ece(perturbed, gold, n_bins),
        "per_class": {
            label: {
                "n": int((gold == c).sum()),
                "accuracy": float(pert_ok[gold == c].mean()),
                "accuracy_drop": float(clean_ok[gold == c].mean() - pert_ok[gold == c].mean()),
                "flip_rate": float(flipped[gold == c].mean()),
            }
            for c, label in enumerate(classes) if (gold == c).any()
        },
    }


def robustness_score(cells: Sequence[dict[str, Any]]) -> float | None:
    """100 × mean over ``INV`` families of (1 − flip rate averaged over the family's severities).

    Each family weighs the same whatever the number of severities audited; ``None`` when no
    ``INV`` family was audited. Read it together with the clean accuracy: a constant classifier
    never flips.
    """
    per_family: dict[str, list[float]] = {}
    for cell in cells:
        if cell["expectation"] == "INV":
            per_family.setdefault(cell["family"], []).append(1.0 - cell["flip_rate"]["value"])
    if not per_family:
        return None
    return float(100 * np.mean([np.mean(values) for values in per_family.values()]))
