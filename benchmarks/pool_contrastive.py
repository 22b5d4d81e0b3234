"""Does tuning the encoder on the unlabelled pool first help SetFit? (issue 21, a method not in zhaug)

    OMP_NUM_THREADS=1 python benchmarks/pool_contrastive.py --shared ../shared [--datasets ced_rumor waimai_10k]
        [--sizes 20] [--seeds 0 1 2] [--view mixed] [--save results.json]

Domain-adaptive contrastive tuning (SimCSE, Gao et al. 2021, with an augmented copy as the
positive; AdaSent, Huang et al. 2023, adapts the sentence encoder to the domain before SetFit):
one pass over ``--pool`` unlabelled rows of the data set in batches of ``--batch``, each row's
mean-pooled embedding pulled towards its ``--view`` copy (a zhaug recipe, ungated; ``same``:
dropout is the only difference; ``crop``: a random contiguous half of the row) and pushed from the other rows' copies in the batch (InfoNCE, both
directions, temperature ``--temp``), the top 4 layers tuned as in the contrastive stage. Then the
``setfit`` arm of the small-sets studies (``contrastive: 20``, ``head_only``) on the N labelled
rows. ``setfit`` beside it is the same without the pool stage; splits, pool and test rows are
``linear_probe.py``'s (500 test rows, max length 64). The stage runs inside the trainer's
contrastive stage, which this script wraps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import linear_probe as lp
import torch
import torch.nn.functional as F
from compact_bar import stratified

from zhaug.augment.pipeline import augment_records
from zhaug.augment.recipes import load_recipe
from zhaug.rng import derive_rng
from zhaug.train import TrainConfig, trainer
from zhaug.train.contrastive import tuning_top_layers
from zhaug.train.data import encode
from zhaug.train.frozen import SplitEncoder
from zhaug.train.heads import with_prefix
from zhaug.train.models.loading import load_tokenizer
from zhaug.train.models.pooling import mean_pool
from zhaug.train.models.resolve import resolve_model

SIZES = [20, 50, 100, 300]  # linear_probe.py's default sizes: the splits depend on them


def tune_on_pool(
    encoder: torch.nn.Module,
    rows: list[list[int]],
    views: list[list[int]],
    args: argparse.Namespace,
    seed: int,
    pad_id: int,
) -> list[float]:
    """One InfoNCE pass over (row, view) pairs, top 4 layers; returns the loss of each step."""
    split = SplitEncoder(encoder, encoder.config.num_hidden_layers - 4, pad_id)
    order = list(range(len(rows)))
    derive_rng(seed, "pool-contrastive").shuffle(order)
    steps = len(order) // args.batch
    losses = []
    with tuning_top_layers(split, args.lr, steps) as step:
        for index in range(steps):
            batch = order[index * args.batch : (index + 1) * args.batch]
            left = F.normalize(mean_pool(*split([rows[i] for i in batch])), dim=-1)
            right = F.normalize(mean_pool(*split([views[i] for i in batch])), dim=-1)
            logits, target = left @ right.T / args.temp, torch.arange(len(batch))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
            step(loss)
            losses.append(loss.item())
    return losses


def positive_views(pool: list, view: str, seed: int) -> list[str]:
    """Each pool row's positive: itself (``same``), a random contiguous half of it (``crop``), or
    its copy by the recipe named ``view``."""
    texts = [r.text for r in pool]
    if view == "same":
        return texts
    if view == "crop":
        spans = []
        for r in pool:
            width = max(4, len(r.text) // 2)
            start = derive_rng(seed, "pool-crop", r.id).randrange(max(1, len(r.text) - width + 1))
            spans.append(r.text[start : start + width])
        return spans
    return augment_records(pool, load_recipe(view), seed=seed)


def with_pool_stage(rows: list[list[int]], views: list[list[int]], args: argparse.Namespace, log: dict):
    """The trainer's contrastive stage, preceded by :func:`tune_on_pool`."""
    labelled_stage = trainer.tune_contrastive

    def stage(encoder, sequences, labels, settings, seed, pad_id):
        started = time.perf_counter()
        losses = tune_on_pool(encoder, rows, views, args, seed, pad_id)
        log.update(
            steps=len(losses),
            first_loss=round(losses[0], 3),
            last_loss=round(losses[-1], 3),
            seconds=round(time.perf_counter() - started, 1),
        )
        return labelled_stage(encoder, sequences, labels, settings, seed, pad_id)

    return stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--datasets", nargs="+", default=["ced_rumor", "waimai_10k"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20], choices=SIZES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--view", default="mixed", help="the recipe of the positive copy, 'same' or 'crop'")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--temp", type=float, default=0.05)
    parser.add_argument("--save", help="results JSON; cells already in it are skipped (resume)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = json.loads(Path(args.save).read_text()) if args.save and Path(args.save).is_file() else []
    done = {(r["dataset"], r["size"], r["seed"], r["method"]) for r in results}
    tokenizer, labelled_stage = load_tokenizer(resolve_model(None)), trainer.tune_contrastive
    for dataset, records in lp.datasets(args.shared, args.datasets).items():
        for seed in args.seeds:
            splits = stratified(records, [500] + [n for size in SIZES for n in (size, size)], seed)
            pool = lp.unlabelled_pool(records, splits, args.pool, seed)
            config = TrainConfig(max_length=64, threads=1, seed=seed, contrastive=20, head_only=True)
            for size in args.sizes:
                index = SIZES.index(size)
                test, dev, train = splits[0], splits[1 + 2 * index], splits[2 + 2 * index]
                for method in ("setfit", "pool-setfit"):
                    if (dataset, size, seed, method) in done:
                        continue
                    started, log = time.perf_counter(), {}
                    if method == "pool-setfit":
                        texts = [r.text for r in pool]
                        views = positive_views(pool, args.view, seed)
                        rows, view_ids = (
                            encode(tokenizer, with_prefix(config.prefix, t), config.max_length) for t in (texts, views)
                        )
                        trainer.tune_contrastive = with_pool_stage(rows, view_ids, args, log)
                    try:
                        result = lp.trainer_accuracy(config, train, dev, test)
                    finally:
                        trainer.tune_contrastive = labelled_stage
                    result.update(
                        dataset=dataset,
                        size=size,
                        seed=seed,
                        method=method,
                        pool_stage=log or None,
                        seconds=round(time.perf_counter() - started, 1),
                    )
                    results.append(result)
                    print(json.dumps(result), flush=True)
                    if args.save:
                        Path(args.save).write_text(json.dumps(results, indent=1))
    lp.table(results, ["setfit", "pool-setfit"])


if __name__ == "__main__":
    main()
