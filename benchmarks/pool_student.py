"""Does a fine-tuned student taught by the self-trained probe beat its teacher? (issue 21)

    OMP_NUM_THREADS=1 python benchmarks/pool_student.py --config configs/ablation/small-sets-ced.yaml \
        --sizes 20 --seeds 0 1 [--steps 250] [--freeze-layers 8] [--results docs/results/small-sets-ced]

For each size and seed, the study's own cell data (its subset, eval rows and 2,000-row pool, as
``zhaug ablate`` draws them): the teacher is the ``probe-st`` arm (the probe self-trained on the
pool's frozen features); it labels the whole pool, and a student is fine-tuned (LP-FT, the top
layers above ``--freeze-layers``, ``--steps`` steps) on the labelled rows plus the pool with the
teacher's labels — Noisy-Student style distillation into the encoder. Printed per cell: the
committed ``probe`` and ``setfit`` cells of the study (``--results``) beside the teacher, the
share of pool rows the teacher labels right, and the student.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from zhaug.io import Record
from zhaug.studies.ablation import (
    AblationConfig,
    Arm,
    Cell,
    cell_subset,
    cell_train_config,
    load_pool_and_eval,
    unlabeled_pool,
)
from zhaug.train.predict import Predictor
from zhaug.train.trainer import Trainer


def committed(results: Path | None) -> dict[str, float]:
    """Accuracy of each finished cell of a committed study report, by cell name."""
    if results is None:
        return {}
    with open(results / "results.csv", encoding="utf-8") as f:
        return {row["cell"]: float(row["accuracy"]) for row in csv.DictReader(f)}


def cell(config: AblationConfig, pool: list[Record], eval_set: list[Record], size: int, seed: int,
         args: argparse.Namespace) -> dict[str, float]:
    """Teacher (probe-st, the study's budget), pseudo-label accuracy and student of one cell."""
    arm = next(a for a in config.arms if a.name == "probe-st")
    subset = cell_subset(Cell(arm, 0, size, seed), pool)
    unlabeled = unlabeled_pool(pool, subset, Cell(arm, 0, size, seed))
    out = args.out / f"n{size}-s{seed}"
    teacher_config = cell_train_config(Cell(arm, 0, size, seed), config, threads=1)
    teacher = Trainer(teacher_config, progress=False).fit(subset, eval_set, out_dir=out / "teacher", resume=True,
                                                          unlabeled=unlabeled)
    predictor = Predictor(out / "teacher")
    guess = predictor.predict_proba([r.text for r in unlabeled]).argmax(axis=1)
    pseudo = [Record(f"pseudo-{r.id}", r.text, predictor.labels[k]) for r, k in zip(unlabeled, guess)]
    truth = {r.id: r.label for r in pool}
    student_config = cell_train_config(Cell(Arm("student"), 0, size, seed), config, threads=1).replace(
        max_steps=args.steps, eval_every=args.steps, freeze_embeddings=args.freeze_layers > 0,
        freeze_layers=args.freeze_layers)
    student = Trainer(student_config, progress=False).fit([*subset, *pseudo], eval_set, out_dir=out / "student",
                                                          resume=True)
    return {"teacher": teacher["eval"]["accuracy"], "student": student["eval"]["accuracy"],
            "pseudo_right": float(np.mean([truth[r.id] == p.label for r, p in zip(unlabeled, pseudo)]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="a small-sets study config with a probe-st arm")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=250, help="the student's steps (250: 2 passes of 2,020 rows)")
    parser.add_argument("--freeze-layers", type=int, default=8)
    parser.add_argument("--results", type=Path, help="the study's committed results folder (probe, setfit beside)")
    parser.add_argument("--out", type=Path, default=Path("runs/pool-student"))
    args = parser.parse_args()
    config = AblationConfig.load(args.config)
    pool, eval_set = load_pool_and_eval(config.data)
    known = committed(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| N | seed | probe | setfit | teacher (probe-st) | pool labelled right | student | student − teacher | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for seed in args.seeds:
            started = time.perf_counter()
            row = cell(config, pool, eval_set, size, seed, args)
            base = [known.get(f"{name}-x0-n{size}-s{seed}") for name in ("probe", "setfit")]
            shown = " | ".join("–" if v is None else f"{v:.3f}" for v in base)
            print(f"| {size} | {seed} | {shown} | {row['teacher']:.3f} | {row['pseudo_right']:.3f} | {row['student']:.3f} "
                  f"| {100 * (row['student'] - row['teacher']):+.1f} | {time.perf_counter() - started:.0f} |", flush=True)
            with open(args.out / "cells.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"config": str(args.config), "size": size, "seed": seed, **row}) + "\n")


if __name__ == "__main__":
    main()
