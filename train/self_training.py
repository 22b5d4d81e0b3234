"""Self-training on unlabelled text: a teacher labels the pool, its confident, class-balanced
pseudo-labels join the labelled rows, a student is trained on both, and a round that makes the
dev score worse is discarded (USB's lesson: without thresholds, balance and a dev check,
pseudo-labelling can collapse).

Built on :func:`zhaug.train.trainer.fit` and :class:`zhaug.train.predict.Predictor` only, so every
round is an ordinary run folder; ``out_dir/best`` is the chosen round's model and
``out_dir/self_training.json`` records the rounds, the pool's size and checksum.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhaug.errors import ZhaugError
from zhaug.io import Record, atomic_write_text
from zhaug.train.config import TrainConfig
from zhaug.train.data import clean_pool, split_by_parent
from zhaug.train.predict import Predictor
from zhaug.train.trainer import fit

SCORE = "accuracy"
"""The dev metric a round must not lower."""


@dataclass(frozen=True)
class SelfTraining:
    """Settings: ``rounds`` of pseudo-labelling; rows whose top probability is at least
    ``threshold``, the most confident ``share`` of the pool's rows per class and at most
    ``per_class``, never more for one class than for the rarest (class balance); ``max_unlabeled``
    rows of the pool are used at most. The share matters more than the threshold: a probe-initialised
    head is not sharp (its probabilities on two classes rarely pass 0.9)."""

    rounds: int = 2
    threshold: float = 0.6
    share: float = 0.5
    per_class: int = 2000
    max_unlabeled: int = 5000

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.per_class < 1 or self.max_unlabeled < 1 or not 0 <= self.threshold < 1 \
                or not 0 < self.share <= 1:
            raise ZhaugError("self-training: rounds, per_class, max_unlabeled >= 1, threshold in [0, 1), share in (0, 1]")


def pseudo_labels(pool: Sequence[Record], probs: np.ndarray, labels: Sequence[str],
                  settings: SelfTraining) -> list[Record]:
    """Confident rows with the teacher's label, the same number per class (the most confident)."""
    top, pred = probs.max(axis=1), probs.argmax(axis=1)
    by_class = [sorted((i for i in range(len(pool)) if pred[i] == k and top[i] >= settings.threshold),
                       key=lambda i: (-top[i], i)) for k in range(len(labels))]
    take = min(settings.per_class, int(settings.share * len(pool) / len(labels)), *(len(rows) for rows in by_class))
    return [Record(f"pseudo-{pool[i].id}", pool[i].text, labels[k])
            for k, rows in enumerate(by_class) for i in rows[:take]]


def self_train(
    train: Sequence[Record],
    unlabeled: Sequence[Record],
    eval: Sequence[Record] | None = None,
    *,
    out_dir: str | os.PathLike[str],
    config: TrainConfig | None = None,
    settings: SelfTraining = SelfTraining(),
    held_out: Sequence[Record] = (),
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train a teacher on ``train``, then up to ``settings.rounds`` students on ``train`` plus its
    pseudo-labelled pool; returns the summary also written to ``out_dir/self_training.json``.
    ``held_out`` (e.g. the test set) is removed from the pool with the eval rows."""
    config, out = config or TrainConfig(), Path(out_dir)
    if eval is None:
        train, eval = split_by_parent(train, 0.2, config.seed)
    pool, hygiene = clean_pool(unlabeled, [*eval, *held_out], settings.max_unlabeled)
    rounds = [_round(0, fit(train, eval, out_dir=out / "round0", config=config, progress=progress), 0)]
    best = 0
    for k in range(1, settings.rounds + 1):
        teacher = Predictor(out / f"round{best}")
        pseudo = pseudo_labels(pool, teacher.predict_proba([r.text for r in pool]), teacher.labels, settings)
        if not pseudo:
            break
        metrics = fit([*train, *pseudo], eval, out_dir=out / f"round{k}", config=config, progress=progress)
        rounds.append(_round(k, metrics, len(pseudo)))
        if metrics["eval"][SCORE] < rounds[best]["eval"][SCORE]:
            break  # the dev check: a worse round ends self-training
        best = k
    _publish(out / f"round{best}" / "best", out / "best")
    summary = {"settings": asdict(settings), "pool": hygiene, "rounds": rounds, "chosen_round": best,
               "eval": rounds[best]["eval"]}
    atomic_write_text(out / "self_training.json", json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def _round(k: int, metrics: dict[str, Any], n_pseudo: int) -> dict[str, Any]:
    return {"round": k, "pseudo_labelled": n_pseudo, "steps": metrics["steps"],
            "eval": {key: metrics["eval"][key] for key in ("accuracy", "macro_f1")}}


def _publish(source: Path, target: Path) -> None:
    """Copy the chosen round's checkpoint to ``target`` (replacing an older one) via a temporary
    folder, so ``Predictor(out_dir)`` loads it and a crash never leaves half a checkpoint."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
