"""Which part of a long text should the encoder see? (the motivating case: long articles)

    OMP_NUM_THREADS=1 python benchmarks/long_texts.py --shared ../shared [--min-chars 200] [--sizes 50 100 300]
        [--table YOURS.csv --text-col text --label-col label]

ChnSentiCorp hotel reviews (``../shared``) longer than ``--min-chars`` characters; the embedded
encoder frozen, e5 format (``"query: "``, mean pooling, L2-normalised) and a logistic regression
(C = 10) on N random rows, tested on the rest, 5 seeds. The texts as the encoder sees them: the
first 128 tokens (what ``max_length: 128`` does), the first h and last 128 − h tokens
(head + tail, Sun et al. 2019), the mean embedding of consecutive 128-token windows, and the
first 512 tokens (the model's limit).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from zhaug.rng import derive_rng
from zhaug.train.heads import E5_FORMAT, pooled_features, set_pooling, with_prefix
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import resolve_model


def head(ids: list[int], n: int, sep: int) -> list[int]:
    return ids[: n - 1] + [sep] if len(ids) > n else ids


def head_tail(ids: list[int], n: int, h: int) -> list[int]:
    """[CLS], the first ``h`` and the last ``n - 2 - h`` tokens of the body, [SEP]."""
    if len(ids) <= n:
        return ids
    body = ids[1:-1]
    return [ids[0], *body[:h], *body[len(body) - (n - 2 - h):], ids[-1]]


def windows(ids: list[int], n: int) -> list[list[int]]:
    body = ids[1:-1]
    return [[ids[0], *body[i : i + n - 2], ids[-1]] for i in range(0, len(body), n - 2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--table", type=Path, help="Another labelled CSV (default: ChnSentiCorp in --shared).")
    parser.add_argument("--text-col", default="review")
    parser.add_argument("--label-col", default="label")
    parser.add_argument("--min-chars", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 300])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = args.table or args.shared / "data/chnsenticorp_htl/ChnSentiCorp_htl_all.csv"
    with open(table, encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if len(r[args.text_col].strip()) > args.min_chars]
    path = resolve_model(None)
    tokenizer = load_tokenizer(path)
    model = set_pooling(load_classifier(path, 2, {0: "0", 1: "1"}), E5_FORMAT["pooling"]).eval()
    labels = np.array([r[args.label_col] for r in rows])
    texts = [r[args.text_col].strip() for r in rows]
    full = tokenizer(with_prefix(E5_FORMAT["prefix"], texts), verbose=False)["input_ids"]

    def embed(sequences: list[list[int]]) -> np.ndarray:
        return pooled_features(model, sequences, 32, tokenizer.pad_token_id)

    def window_mean() -> np.ndarray:
        parts = [windows(ids, 128) for ids in full]
        flat, out, k = embed([w for p in parts for w in p]), [], 0
        for p in parts:
            v = flat[k : k + len(p)].mean(0)
            out.append(v / np.linalg.norm(v))
            k += len(p)
        return np.array(out)

    started = time.time()
    features = {"head 128": embed([head(ids, 128, ids[-1]) for ids in full]),
                "head 64 + tail 64": embed([head_tail(ids, 128, 64) for ids in full]),
                "head 32 + tail 96": embed([head_tail(ids, 128, 32) for ids in full]),
                "128-token windows, mean": window_mean(),
                "head 512": embed([head(ids, 512, ids[-1]) for ids in full])}
    print(f"{len(rows)} texts over {args.min_chars} characters; features in {time.time() - started:.0f} s")
    print("| N | " + " | ".join(features) + " |\n|---|" + "---|" * len(features))
    for size in args.sizes:
        scores: dict[str, list[float]] = {name: [] for name in features}
        for seed in range(args.seeds):
            order = list(range(len(rows)))
            derive_rng(seed, "long-texts").shuffle(order)
            train, test = order[:size], order[size:]
            for name, x in features.items():
                probe = LogisticRegression(C=10, max_iter=3000).fit(x[train], labels[train])
                scores[name].append(float((probe.predict(x[test]) == labels[test]).mean()))
        print(f"| {size} | " + " | ".join(f"{np.mean(s):.3f} ± {np.std(s):.3f}" for s in scores.values()) + " |")


if __name__ == "__main__":
    main()
