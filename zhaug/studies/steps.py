"""Steps the demo and the ablation study share: augment a training set into children of its rows,
and audit a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zhaug.augment.pipeline import Augmenter, AugmentStats
from zhaug.augment.recipes import Recipe
from zhaug.io import Record
from zhaug.robustness.audit import AuditConfig, audit
from zhaug.train.data import children_from_rows
from zhaug.train.predict import Predictor


def augment_children(records: list[Record], recipe: Recipe, n_aug: int, seed: int, *, keep_originals: bool = True,
                     progress: bool = False) -> tuple[list[dict[str, Any]], dict[str, list[str]], AugmentStats]:
    """The augmentation's output rows, the copies grouped by parent id (what the trainer takes as
    ``children``), and its statistics."""
    rows, stats = Augmenter(recipe, n_aug=n_aug, seed=seed, keep_originals=keep_originals,
                            progress=progress).run(records)
    return rows, children_from_rows(rows), stats


def audit_run(run: Path, rows: list[Record], settings: dict[str, Any], *, cache_dir: Path, model_id: str,
              progress: bool = False) -> dict[str, Any]:
    """The audit report of the run folder ``run`` on ``rows`` (``settings``: an audit config mapping)."""
    predictor = Predictor(run)
    return audit(predictor.predict_proba, rows, AuditConfig.from_dict(settings), labels=predictor.labels,
                 cache_dir=cache_dir, model_id=model_id, progress=progress)
