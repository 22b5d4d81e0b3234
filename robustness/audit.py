"""The audit: every family × severity against the clean predictions, plus the optional attack.

``audit(predict_proba, records)`` returns the report as a JSON-ready dict (every figure);
:func:`zhaug.robustness.report.write_report` turns it into report.json / .md / .html.
Determinism: perturbations use ``derive_rng(seed, row id, family, severity)``, bootstrap
resamples ``derive_seed(seed, "bootstrap", family, severity)``; nothing else is random.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from zhaug import __version__
from zhaug.augment.base import default_segmenter
from zhaug.augment.text import Segmenter, Token
from zhaug.errors import ZhaugError
from zhaug.hashing import content_key, derive_seed
from zhaug.io import Record, stratified_sample
from zhaug.progress import progress_bar
from zhaug.protocols import Embed, PredictProba
from zhaug.rng import derive_rng
from zhaug.robustness.attack import AttackConfig, attack
from zhaug.robustness.families import SEVERITY_RATES, Family, perturb, select_families, severity_rate
from zhaug.robustness.metrics import bootstrap_indices, clean_metrics, compare, robustness_score
from zhaug.robustness.predict import BatchPredictor, cached_json
from zhaug.specs import dataclass_from_mapping, read_yaml_mapping

Cells = Callable[[Sequence[list[Token]], Sequence[str], Sequence[tuple[Family, int]], int], Iterator[list[str]]]
"""(tokens, ids, (family, severity) plan, seed) → each cell's perturbed texts, in plan order."""


def perturb_cells(
    tokens: Sequence[list[Token]], ids: Sequence[str], plan: Sequence[tuple[Family, int]], seed: int
) -> Iterator[list[str]]:
    """:func:`~zhaug.robustness.families.perturb` for each cell of ``plan``, one after the other."""
    for family, severity in plan:
        yield perturb(tokens, ids, family, severity, seed)


@dataclass
class AuditConfig:
    """What to audit and how (the YAML config; ``configs/audit/default.yaml`` has every key).

    ``families``: names (default: every available family); ``severities``: subset of 1..5;
    ``n_resamples``: bootstrap resamples; ``n_bins``: ECE bins; ``worst_examples``: examples per
    family in the report; ``attack``: attack settings, ``None`` for no attack.
    """

    families: list[str] | None = None
    severities: list[int] = field(default_factory=lambda: [1, 3, 5])
    seed: int = 0
    batch_size: int = 64
    n_resamples: int = 1000
    n_bins: int = 10
    worst_examples: int = 3
    attack: AttackConfig | None = None

    def __post_init__(self) -> None:
        for severity in self.severities:
            severity_rate(severity)
        if self.batch_size < 1 or self.n_resamples < 1:
            raise ZhaugError("audit: batch_size and n_resamples must be >= 1")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AuditConfig:
        values = dict(values)
        if isinstance(values.get("attack"), dict):
            values["attack"] = dataclass_from_mapping(AttackConfig, values["attack"], "attack")
        return dataclass_from_mapping(cls, values, "audit")


def load_config(path: str | Path | None = None) -> AuditConfig:
    """The audit config from a YAML file, or the shipped default."""
    source = resources.files("zhaug.configs") / "audit" / "default.yaml" if path is None else path
    values = read_yaml_mapping(source, "audit config")
    try:
        return AuditConfig.from_dict(values)
    except ZhaugError as exc:
        raise ZhaugError(f"{source}: {exc}") from None


def gold_indices(records: Sequence[Record], classes: Sequence[str]) -> np.ndarray:
    position = {label: k for k, label in enumerate(classes)}
    unknown = sorted({r.label for r in records if r.label not in position}, key=str)
    if unknown:
        raise ZhaugError(f"labels {unknown} are not among the model's classes {list(classes)}")
    return np.array([position[r.label] for r in records], dtype=int)


def _worst(
    family: str, severity: int, records: Sequence[Record], texts: Sequence[str],
    clean: np.ndarray, perturbed: np.ndarray, gold: np.ndarray, classes: Sequence[str], k: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Up to ``k`` changed rows that the noise harmed (flips first, then the largest confidence
    drop), and apart from them up to ``k`` flips where the noise *fixed* a wrong prediction."""
    clean_pred, pert_pred = clean.argmax(1), perturbed.argmax(1)
    rows = np.arange(len(texts))
    drop = clean[rows, clean_pred] - perturbed[rows, clean_pred]
    changed = [i for i in rows if texts[i] != records[i].text]
    fixed = [i for i in changed if clean_pred[i] != gold[i] and pert_pred[i] == gold[i]]
    harmed = sorted(set(changed) - set(fixed), key=lambda i: (clean_pred[i] == pert_pred[i], -drop[i], i))

    def example(i: int) -> dict[str, Any]:
        return {
            "family": family, "severity": severity, "id": records[i].id, "label": records[i].label,
            "original": records[i].text, "perturbed": texts[i], "flipped": bool(clean_pred[i] != pert_pred[i]),
            "clean_prediction": classes[clean_pred[i]], "perturbed_prediction": classes[pert_pred[i]],
            "confidence_drop": float(drop[i]),
        }

    return [example(i) for i in harmed[:k]], [example(i) for i in sorted(fixed, key=lambda i: (drop[i], i))[:k]]


def audit_sample(records: Sequence[Record], n: int | None, seed: int) -> list[Record]:
    """``n`` rows with the table's label proportions (all when ``n`` is ``None`` or not smaller),
    drawn with ``derive_rng(seed, "audit-sample")``, in table order: a table sorted by label does
    not give a one-class head."""
    if n is None or n >= len(records):
        return list(records)
    return stratified_sample(records, n, derive_rng(seed, "audit-sample"))


MIN_SCORE_ROWS = 5
"""Fewer audited rows than this, or a single class, and the robustness score is not given (one
flip would move it by 20 points or more; a model that always answers the one class never flips)."""

FEW_ROWS = 30
"""Fewer audited rows than this and the report warns that its intervals are wide."""


def scorable(records: Sequence[Record]) -> bool:
    """Whether a robustness score means anything on these rows (two classes, ``MIN_SCORE_ROWS`` rows)."""
    return len(records) >= MIN_SCORE_ROWS and len({str(r.label) for r in records}) > 1


def audit_warnings(records: Sequence[Record]) -> list[str]:
    """What makes this audit set's figures hard to read (a single class, few rows)."""
    warnings = []
    labels = sorted({str(r.label) for r in records})
    if len(labels) < 2:
        warnings.append(f"the audit set has a single class ({labels[0]}): accuracy is that class's recall, "
                        "macro-F1 is over that class only, and no robustness score is given")
    if len(records) < FEW_ROWS:
        no_score = "no robustness score, " if len(records) < MIN_SCORE_ROWS else ""
        warnings.append(f"only {len(records)} row(s) audited (fewer than {FEW_ROWS}): {no_score}wide intervals")
    return warnings


def _meta(model_id: str, n_rows: int, classes: list[str], families: Sequence[Family],
          config: AuditConfig) -> dict[str, Any]:
    """What the report was made with."""
    return {
        "zhaug": __version__, "model": model_id, "n_rows": n_rows, "classes": classes,
        "seed": config.seed, "severities": list(config.severities), "severity_rates": list(SEVERITY_RATES),
        "n_resamples": config.n_resamples, "n_bins": config.n_bins,
        "families": [family.as_dict() for family in families],
        "config": dataclasses.asdict(config),
    }


def _audit_cells(
    plan: Sequence[tuple[Family, int]], perturbed: Iterator[list[str]], records: Sequence[Record],
    clean: np.ndarray, gold: np.ndarray, classes: Sequence[str], predictor: BatchPredictor,
    config: AuditConfig, progress: bool | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Each (family, severity) cell's comparison with the clean predictions, and the worst
    examples and the fixed ones of the highest severity."""
    texts = [r.text for r in records]
    results, worst, fixed = [], [], []
    for (family, severity), perturbed_texts in progress_bar(
        zip(plan, perturbed), total=len(plan), desc="audit", unit="cell", progress=progress
    ):
        probs = predictor.cached(f"{family.name}-s{severity}", perturbed_texts)
        index = bootstrap_indices(len(gold), config.n_resamples, derive_seed(config.seed, "bootstrap", family.name, severity))
        results.append({
            "family": family.name, "severity": severity,
            "setting": {family.severity_param: family.severity_values[severity - 1]},
            "expectation": family.expectation,
            "changed_rate": float(np.mean([p != t for p, t in zip(perturbed_texts, texts)])),
            **compare(clean, probs, gold, classes, index, config.n_bins),
        })
        if severity == max(config.severities):
            harmed, helped = _worst(family.name, severity, records, perturbed_texts, clean, probs, gold, classes,
                                    config.worst_examples)
            worst, fixed = worst + harmed, fixed + helped
    return results, worst, fixed


def _attack(predictor: BatchPredictor, tokens: list[list[Token]], records: Sequence[Record], gold: np.ndarray,
            clean: np.ndarray, classes: list[str], config: AuditConfig, embed: Embed | None,
            cache_dir: str | Path | None, model_id: str, progress: bool | None) -> dict[str, Any]:
    """The attack's report, cached with the predictions (an interrupted audit resumes past it)."""
    texts, ids = [r.text for r in records], [r.id for r in records]
    assert config.attack is not None
    return cached_json(
        Path(cache_dir) / "attack.json" if cache_dir is not None else None,
        content_key(model_id, texts, dataclasses.asdict(config.attack), config.seed, embed is not None),
        lambda: attack(
            lambda batch: predictor(batch, "attack step"), texts, tokens, ids, gold, clean, classes, config.attack,
            seed=config.seed, n_resamples=config.n_resamples, embed=embed, progress=progress,
        ),
    )


def audit(
    predict_proba: PredictProba,
    records: Sequence[Record],
    config: AuditConfig | None = None,
    *,
    labels: Sequence[str] | None = None,
    embed: Embed | None = None,
    cache_dir: str | Path | None = None,
    model_id: str = "",
    segmenter: Segmenter | None = None,
    progress: bool | None = None,
    cells: Cells = perturb_cells,
) -> dict[str, Any]:
    """Audit a classifier on labelled ``records``; returns the report (see the module docstring).

    ``predict_proba``: texts → (n, len(labels)) class probabilities; ``labels``: class names in
    column order (default: the sorted labels of ``records``).
    embed: texts → embeddings, for the attack's similarity figure (optional).
    cache_dir: where prediction sets are cached (resumable); ``model_id`` names the model in
        the cache keys, so another model never reuses them.
    cells: computes the perturbed texts (e.g. on Ray: :func:`zhaug.robustness.distributed.ray_cells`).
    """
    config = config or AuditConfig()
    if not records:
        raise ZhaugError("audit: no rows to audit")
    started = time.perf_counter()
    classes = list(labels) if labels is not None else sorted({str(r.label) for r in records})
    gold = gold_indices(records, classes)
    warnings = audit_warnings(records)
    families = select_families(config.families)
    segmenter = segmenter or default_segmenter()
    predictor = BatchPredictor(predict_proba, len(classes), config.batch_size, cache_dir, model_id, progress)
    ids, texts = [r.id for r in records], [r.text for r in records]

    clean = predictor.cached("clean", texts)
    report_clean = clean_metrics(clean, gold, classes, bootstrap_indices(len(gold), config.n_resamples, config.seed),
                                 config.n_bins)
    tokens = [segmenter(text) for text in texts]
    plan = [(family, severity) for family in families for severity in config.severities]
    results, worst, fixed = _audit_cells(plan, cells(tokens, ids, plan, config.seed), records, clean, gold, classes,
                                  predictor, config, progress)
    report: dict[str, Any] = {
        "meta": _meta(model_id, len(records), classes, families, config),
        "clean": report_clean,
        "score": robustness_score(results) if scorable(records) else None,
        "warnings": warnings,
        "cells": results,
        "worst_examples": worst,
        "fixed_examples": fixed,
        "attack": None,
    }
    if config.attack is not None:
        report["attack"] = _attack(predictor, tokens, records, gold, clean, classes, config, embed, cache_dir,
                                   model_id, progress)
    report["meta"]["forward_texts"] = predictor.texts_seen
    report["meta"]["seconds"] = time.perf_counter() - started
    return report
