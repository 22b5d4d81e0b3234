"""The ablation report: mean ± 95% interval per cell, paired differences against ``none``, verdicts, plots."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from zhaug.io import atomic_write_text, write_table

if TYPE_CHECKING:
    from zhaug.studies.ablation import AblationConfig

ALPHA = 0.05
METRICS = ("accuracy", "macro_f1")


def interval(values: Sequence[float]) -> dict[str, float]:
    """Mean and two-sided 95% t-interval (NaN bounds for a single value: no interval exists)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": len(values)}
    half = float(stats.t.ppf(1 - ALPHA / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def paired(diffs: Sequence[float]) -> dict[str, float]:
    """Mean paired difference with its 95% interval and the paired t-test's p-value.

    Where every difference is the same (accuracy moves in steps of one eval row, so two seeds
    often agree exactly), the t-test is undefined; the exact two-sided sign test is used instead:
    ``n`` equal non-zero differences give ``p = 2 · 0.5^n`` (2 seeds: 0.5, 5 seeds: 0.0625)."""
    summary = interval(diffs)
    spread = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    if len(diffs) < 2:
        p = float("nan")
    elif spread < 1e-9:  # equal up to rounding (0.856 - 0.854 != 0.858 - 0.856 in floating point)
        p = 1.0 if abs(summary["mean"]) < 1e-9 else min(1.0, 2 * 0.5 ** len(diffs))
    else:
        p = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    return {**summary, "p": p}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count as a test): the verdicts
    of a study's many comparisons (arms × sizes) then hold together at level α, not each alone."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def summarise(results: Sequence[dict[str, Any]], metric: str = "accuracy", *, lower_is_better: bool = False,
              baseline: str = "none") -> dict[str, Any]:
    """Per (arm, multiplier, size): the metric's interval; per arm other than ``baseline`` (arms
    without a recipe too: a probe, a pool): paired differences against it and a verdict
    (``lower_is_better`` for a metric such as the flip rate, where a fall helps)."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for row in results:
        groups[(row["arm"], row["multiplier"], row["size"])].append(row)
    cells = [
        {"arm": arm, "multiplier": mult, "size": size, **interval([r[metric] for r in rows])}
        for (arm, mult, size), rows in sorted(groups.items())
    ]
    reference = {(r["size"], r["seed"]): r[metric] for r in results if r["arm"] == baseline}
    differences = []
    for (arm, mult, size), rows in sorted(groups.items()):
        if arm == baseline:
            continue
        diffs = [r[metric] - reference[(size, r["seed"])] for r in rows if (size, r["seed"]) in reference]
        if diffs:
            differences.append({"arm": arm, "multiplier": mult, "size": size, **paired(diffs)})
    for d, adjusted in zip(differences, holm([d["p"] for d in differences]), strict=True):
        d["p_holm"] = adjusted
    return {"metric": metric, "cells": cells, "differences": differences,
            "verdicts": verdicts(differences, sign=-1 if lower_is_better else 1)}


def verdicts(differences: Sequence[dict[str, Any]], sign: int = 1) -> dict[str, str]:
    """A plain-language verdict per arm and multiplier from its paired differences (``sign = -1``:
    a negative difference helps)."""
    by_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in differences:
        by_arm[f"{d['arm']} ×{d['multiplier']}"].append(d)
    out = {}
    for arm, items in by_arm.items():
        untested = [d for d in items if math.isnan(d["p"])]
        helps = [d for d in items if d["p_holm"] < ALPHA and sign * d["mean"] > 0]
        hurts = [d for d in items if d["p_holm"] < ALPHA and sign * d["mean"] < 0]
        rest = [d for d in items if not any(d is e for e in untested + helps + hurts)]
        parts = [f"{words} at {'; '.join(_effect(d) for d in group)}" for words, group in
                 (("helps", helps), ("hurts", hurts), ("no significant effect", rest)) if group]
        if untested:
            parts.append(f"untested at N = {', '.join(str(d['size']) for d in untested)} (fewer than 2 seeds)")
        out[arm] = "; ".join(parts)
    return out


def _effect(d: dict[str, Any]) -> str:
    """``N = 300 (+1.2 points, 95% interval -0.4 to +2.8)``: a size's paired difference, in points."""
    return (f"N = {d['size']} ({100 * d['mean']:+.1f} points, 95% interval "
            f"{100 * d['low']:+.1f} to {100 * d['high']:+.1f})")


def _plots(results: Sequence[dict[str, Any]], summary: dict[str, Any], out: Path) -> list[str]:
    made = []
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in summary["differences"]:
        lines[f"{d['arm']} ×{d['multiplier']}"].append(d)
    for name, items in sorted(lines.items()):
        items.sort(key=lambda d: d["size"])
        sizes = [d["size"] for d in items]
        means = np.array([d["mean"] for d in items]) * 100
        errors = np.array([[d["mean"] - d["low"], d["high"] - d["mean"]] for d in items]).T * 100
        ax.errorbar(sizes, means, yerr=errors, marker="o", capsize=3, label=name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="training rows (log scale)", ylabel=f"{summary['metric']} gain over none (points)",
           title="Gain from augmentation, paired by seed (95% interval)")
    made.append(_save(fig, ax, out / "gain_vs_size.png"))
    if results and "audit_clean_accuracy" in results[0]:
        families = audited_families(results[0])
        fig = Figure(figsize=(7, 4.5))
        ax = fig.subplots()
        arms = sorted({r["arm"] for r in results})
        for arm in arms:
            rows = [r for r in results if r["arm"] == arm]
            clean = [r["audit_clean_accuracy"] * 100 for r in rows]
            noisy = [np.mean([r[f"{f}_accuracy"] for f in families]) * 100 for r in rows]
            ax.scatter(clean, noisy, label=arm, s=18)
        lims = ax.get_xlim()
        ax.plot(lims, lims, color="grey", lw=0.8)
        ax.set(xlabel="clean accuracy (%)", ylabel=f"perturbed accuracy (%), mean of {', '.join(families)}",
               title="Clean vs perturbed accuracy, one point per trained model")
        made.append(_save(fig, ax, out / "clean_vs_perturbed.png"))
    return made


def _save(fig: Figure, ax: Axes, path: Path) -> str:
    """Add the legend (when something is labelled) and write the figure to ``path``; returns the file name."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name


def _p(p: float) -> str:
    return "–" if math.isnan(p) else f"{p:.3f}"


def _span(low: float, high: float, spec: str) -> str:
    """``low – high`` in a table cell, or a dash when there is no interval."""
    return "–" if math.isnan(low) else f"{low:{spec}} – {high:{spec}}"


def _model(identity: dict[str, Any]) -> str:
    build = f"build {identity['build_version']}, " if "build_version" in identity else ""
    return f"`{identity['name']}` ({build}weights sha256 `{(identity['weights_sha256'] or 'unknown')[:16]}`)"


def _differences(summary: dict[str, Any], title: str) -> list[str]:
    """The paired-difference table of a summary (in points), and its verdicts."""
    return [
        f"## {title}", "",
        "| arm | × | N | mean Δ | 95% interval | p | p (Holm) |", "|---|---|---|---|---|---|---|",
        *[f"| {d['arm']} | {d['multiplier']} | {d['size']} | {100 * d['mean']:+.2f} | "
          f"{_span(100 * d['low'], 100 * d['high'], '+.2f')} | {_p(d['p'])} | {_p(d['p_holm'])} |"
          for d in summary["differences"]], "",
        *[f"- **{arm}**: {verdict}" for arm, verdict in summary["verdicts"].items()], "",
    ]


def _teacher_rejections(results: Sequence[dict[str, Any]]) -> list[str]:
    """How many augmented copies the teacher gate dropped, per arm and size (mean over seeds)."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if "rejected_by_teacher" in r:
            groups[(r["arm"], r["multiplier"], r["size"])].append(r)
    if not groups:
        return []
    return [
        "## Copies dropped by the teacher gate (mean over seeds; the teacher is the `none` model of the same subset)", "",
        "| arm | × | N | dropped | share of the copies it checked (those the recipe's gates passed) |", "|---|---|---|---|---|",
        *[f"| {arm} | {mult} | {size} | {np.mean([r['rejected_by_teacher'] for r in rows]):.1f} | "
          f"{np.mean([r['rejected_by_teacher'] / max(1, r['rejected_by_teacher'] + r['train_rows'] - size) for r in rows]):.1%} |"
          for (arm, mult, size), rows in sorted(groups.items())], "",
    ]


def _markdown(config: AblationConfig, summaries: dict[str, dict[str, Any]], plots: list[str],
              seconds: float | None, results: Sequence[dict[str, Any]], model: dict[str, Any] | None) -> str:
    acc = summaries["accuracy"]
    total = len(config.cells())
    done = f"{total} cells" if len(results) == total else f"**{len(results)} of {total} cells finished so far**"
    steps = ", ".join(f"N = {size}: {config.steps(size)}" for size in config.sizes)
    lines = [
        f"# Ablation: {config.name}", "",
        f"{done} (arms × multipliers × sizes {config.sizes} × seeds {config.seeds}); every cell of a size "
        f"trains for the same number of steps ({config.epochs} epochs of the un-augmented set, at least "
        f"{config.min_steps}: {steps}). Cell time {sum(r['seconds'] for r in results) / 3600:.1f} h in all"
        + (f"; wall time of the last run: {seconds / 60:.1f} min." if seconds is not None else "."), "",
        *([f"Model: {_model(model)}.", ""] if model else []),
        "## Verdicts (paired t-test against `none`, same subset and seed, accuracy; α = 0.05 after Holm's "
        "correction over all the comparisons of a table)", "",
        *[f"- **{arm}**: {verdict}" for arm, verdict in acc["verdicts"].items()], "",
        "## Accuracy, mean and 95% interval over seeds", "",
        "| arm | × | N | accuracy | 95% interval |", "|---|---|---|---|---|",
        *[f"| {c['arm']} | {c['multiplier']} | {c['size']} | {c['mean']:.4f} | {_span(c['low'], c['high'], '.4f')} |"
          for c in acc["cells"]], "",
        *_differences(acc, "Paired difference against none (accuracy points)"),
    ]
    for name in config.compare_with:
        lines += _differences(summaries[f"accuracy_vs_{name}"], f"Paired difference against {name} (accuracy "
                              f"points; Holm's correction over this table)")
    if "perturbed_accuracy" in summaries:
        lines += _differences(summaries["perturbed_accuracy"], "Robustness: accuracy under the audited families "
                              "(mean over families; paired Δ against none, points)")
        lines += _differences(summaries["flip_rate"], "Robustness: prediction flips under the audited families "
                              "(mean flip rate; paired Δ against none, points; fewer flips help)")
    lines += _teacher_rejections(results)
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(results: Sequence[dict[str, Any]], config: AblationConfig, out: Path, *,
                 seconds: float | None) -> None:
    """``results.csv`` / ``results.json`` (one row per cell), ``summary.json``, plots and ``report.md``;
    ``seconds``: the wall time of the run, if it trained (``None`` for a report of earlier runs)."""
    results = sorted(results, key=lambda r: (r["size"], r["arm"], r["multiplier"], r["seed"]))
    columns = list(dict.fromkeys(k for r in results for k in r))
    write_table(out / "results.csv", results, columns)
    atomic_write_text(out / "results.json", json.dumps(results, ensure_ascii=False, indent=2))
    summaries = {metric: summarise(results, metric) for metric in METRICS}
    for name in config.compare_with:  # e.g. the default below 17 rows a class, beside `none`
        summaries[f"accuracy_vs_{name}"] = summarise(results, "accuracy", baseline=name)
    if results and "audit_clean_accuracy" in results[0]:
        families = audited_families(results[0])
        noisy = [{**r, "perturbed_accuracy": float(np.mean([r[f"{f}_accuracy"] for f in families])),
                  "flip_rate": float(np.mean([r[f"{f}_flip_rate"] for f in families]))} for r in results]
        summaries["perturbed_accuracy"] = summarise(noisy, "perturbed_accuracy")
        summaries["flip_rate"] = summarise(noisy, "flip_rate", lower_is_better=True)
    atomic_write_text(out / "summary.json", json.dumps(summaries, ensure_ascii=False, indent=2))
    plots = _plots(results, summaries["accuracy"], out)
    model = out / "model.json"
    identity = json.loads(model.read_text(encoding="utf-8")) if model.is_file() else None
    atomic_write_text(out / "report.md", _markdown(config, summaries, plots, seconds, results, identity))


def audited_families(result: dict[str, Any]) -> list[str]:
    """The robustness families a result row was audited under (its ``<family>_accuracy`` columns)."""
    return sorted(k[: -len("_accuracy")] for k in result if k.endswith("_accuracy") and k != "audit_clean_accuracy")
