"""Calibrate and check the fluency gate on the hand-judged pairs of ``../shared/judged``.

    python benchmarks/fluency_gate.py --shared ../shared [--thresholds EDIT DELETION] [--lm MODEL] [--context N]

The 500 judged (original, copy) pairs are split in two halves by source text (a fixed hash of
``source_id``, so no original is in both). On the calibration half the fluency gate's two
thresholds (edits, deletions) are chosen on a grid: the pair that rejects the most word-level
copies judged ``broken`` while keeping at least ``--keep`` of those judged ``ok`` under the default
gates of ``zhaug gate`` (rules, edits, fluency, dedup; ties: the larger thresholds). The held-out half
reports, at those thresholds:
precision and recall of the rejections on ``broken``, the share of ``ok`` (and ``awkward``) kept,
for the word-level operations, for all operations, and per operation. Also printed: the LM's
build time and file size (built afresh in a temporary folder) and the gates' cost per copy.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from zhaug.augment.char_lm import CharNgramLM, packaged_corpus
from zhaug.augment.gates.base import check_pairs as gate_pairs
from zhaug.augment.gates.fluency import FluencyGate
from zhaug.augment.recipes import word_level_gates as default_gates
from zhaug.hashing import derive_seed

WORD_LEVEL = ("synonym_swap", "random_insert", "random_swap", "random_delete")
GRADES = ("ok", "awkward", "broken")


def read_pairs(shared: Path) -> list[dict[str, str]]:
    """The judged pairs, each with ``half`` 0 (calibration) or 1 (held out)."""
    with open(shared / "judged" / "judged_pairs.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["half"] = derive_seed("judged-split", row["source_id"]) % 2
    return rows


def metrics(rows: list[dict], rejected: np.ndarray) -> str:
    """Precision / recall on broken, ok and awkward kept, as one table row."""
    grade = np.array([row["j_fluency"] for row in rows])
    broken = grade == "broken"
    hits = int((rejected & broken).sum())
    precision = hits / max(1, int(rejected.sum()))
    kept = {g: f"{int((~rejected & (grade == g)).sum())}/{int((grade == g).sum())}" for g in ("ok", "awkward")}
    ok_rate = (~rejected & (grade == "ok")).sum() / max(1, (grade == "ok").sum())
    return (f"{len(rows):4d} | {precision:5.2f} | {hits}/{int(broken.sum())} = {hits / max(1, broken.sum()):.2f} | "
            f"{kept['ok']} = {ok_rate:.2f} | {kept['awkward']}")


def rejections(drops: list[list[tuple[bool, float]]], threshold: float, deletion_threshold: float) -> np.ndarray:
    """Which pairs the fluency gate rejects, from each pair's (is deletion, drop) per edit."""
    return np.array([any(d > (deletion_threshold if deletion else threshold) for deletion, d in pair) for pair in drops])


def choose_thresholds(drops: list, others: np.ndarray, rows: list[dict], keep: float) -> tuple[float, float]:
    """The (edit, deletion) thresholds on a grid that reject the most calibration word-level broken
    copies while keeping ``keep`` of the ok ones (ties: the larger thresholds)."""
    grade = np.array([row["j_fluency"] if row["op"] in WORD_LEVEL else "" for row in rows])
    best: tuple = ()
    for threshold in np.arange(4.0, 16.01, 0.25):
        for deletion_threshold in np.arange(1.0, 12.01, 0.25):
            rejected = rejections(drops, threshold, deletion_threshold) | others
            kept = (~rejected[grade == "ok"]).mean()
            if kept >= keep:
                best = max(best, (rejected[grade == "broken"].mean(), kept, threshold, deletion_threshold))
    return (float(best[2]), float(best[3])) if best else (float("inf"), float("inf"))


def report_fresh(paths: list[Path], gates: list, fluency: FluencyGate, thresholds: tuple[float, float]) -> None:
    """The default gates, at ``thresholds``, on fresh judged pairs: all word-level ops and per op."""
    fluency.set_params(threshold=thresholds[0], deletion_threshold=thresholds[1])
    rows = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as handle:
            rows += [row for row in csv.DictReader(handle) if row["op"] in WORD_LEVEL and row["j_fluency"] in GRADES]
    pairs = [(r["original"], r["copy"]) for r in rows]
    rejected = np.array([reason is not None for reason in gate_pairs(pairs, gates)])
    without = np.array([reason is not None for reason in gate_pairs(pairs, [g for g in gates if g.name != "edits"])])
    print(f"\nfresh judged pairs ({len(paths)} files) | pairs | precision (broken) | recall (broken) | ok kept | awkward kept")
    print("---|---|---|---|---|---")
    print(f"word-level ops | {metrics(rows, rejected)}")
    print(f"word-level ops, without the edits gate | {metrics(rows, without)}")
    for op in WORD_LEVEL:
        mask = np.array([row["op"] == op for row in rows])
        print(f"{op} | {metrics([r for r, m in zip(rows, mask) if m], rejected[mask])}")
    print("\nop | copies before → after the gates | label kept | fluent ok | broken | meaning changed")
    print("---|---|---|---|---|---")
    for op in (*WORD_LEVEL, None):
        before = [r for r in rows if op is None or r["op"] == op]
        after = [r for r, out in zip(rows, rejected) if not out and (op is None or r["op"] == op)]
        shares = [" → ".join(f"{sum(r[key] == value for r in part) / len(part):.0%}" if part else "—"
                             for part in (before, after))
                  for key, value in (("j_label", "kept"), ("j_fluency", "ok"), ("j_fluency", "broken"),
                                     ("j_meaning", "changed"))]
        print(f"{op or 'all four'} | {len(before)} → {len(after)} | " + " | ".join(shares))


def build_time() -> None:
    """Train the packaged model afresh and print the time and the file size."""
    start = time.perf_counter()
    texts = packaged_corpus()
    model = CharNgramLM().train(texts)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "lm.npz")
        size = os.path.getsize(Path(folder) / "lm.npz") / 1e6
    print(f"LM build: {sum(map(len, texts)) / 1e6:.1f} M characters, {seconds:.1f} s, {size:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--thresholds", type=float, nargs=2, help="Use these (edit, deletion) thresholds instead of calibrating.")
    parser.add_argument("--keep", type=float, default=0.85, help="Share of calibration ok copies to keep.")
    parser.add_argument("--lm", type=str, help="The fluency gate's model (see FluencyGate): a saved n-gram, gemma3-270m, a .gguf.")
    parser.add_argument("--context", type=int, help="Characters after an edit in its window (default: the model's).")
    parser.add_argument("--calibrate-on", choices=("half", "all"), default="half",
                        help="Choose thresholds on the calibration half, or on every judged pair (then check them with --test).")
    parser.add_argument("--test", type=Path, nargs="*", default=[],
                        help="Judged CSVs of fresh pairs (copies_sample.py, filled by readers): report the gates on them too.")
    parser.add_argument("--no-build", action="store_true", help="Skip timing a fresh build of the LM.")
    parser.add_argument("--word-level-only", action="store_true", help="Only the word-level operations' pairs (for slow LMs).")
    args = parser.parse_args()
    rows = [row for row in read_pairs(args.shared) if row["op"] in WORD_LEVEL or not args.word_level_only]
    rows.sort(key=lambda row: row["original"])  # a slow LM's cache then holds each original once
    pairs = [(row["original"], row["copy"]) for row in rows]
    gates = default_gates()
    fluency = next(gate for gate in gates if isinstance(gate, FluencyGate))
    fluency.set_params(model=args.lm, context=args.context)
    fluency.edit_drops(*pairs[0])  # load the model before timing
    start = time.perf_counter()
    drops = [[(e.deletion, d) for e, d in fluency.edit_drops(*pair)] for pair in pairs]
    per_copy = (time.perf_counter() - start) / len(pairs) * 1e3
    others = np.array([reason is not None for reason in gate_pairs(pairs, [g for g in gates if g is not fluency])])
    start = time.perf_counter()
    gate_pairs(pairs, gates)
    all_gates = (time.perf_counter() - start) / len(pairs) * 1e3
    calibration = [row["half"] == 0 or args.calibrate_on == "all" for row in rows]
    thresholds = args.thresholds or choose_thresholds(
        [d for d, c in zip(drops, calibration) if c], others[np.array(calibration)],
        [r for r, c in zip(rows, calibration) if c], args.keep)
    print(f"gates: {', '.join(g.name for g in gates)}; context {fluency.settings()[2]}; fluency thresholds {thresholds[0]:.2f} nats (edits), "
          f"{thresholds[1]:.2f} (deletions), "
          f"{'given' if args.thresholds else f'chosen keeping ≥ {args.keep:.0%} of calibration word-level ok'}")
    print(f"cost per copy: fluency gate {per_copy:.2f} ms, all default gates {all_gates:.2f} ms (scoring both texts)")
    fluent = rejections(drops, *thresholds)
    rejected = fluent | others
    print("\nsplit | subset | pairs | precision (broken) | recall (broken) | ok kept | awkward kept")
    print("---|---|---|---|---|---|---")
    for half, name in ((0, "calibration"), (1, "held out")):
        for subset, ops in (("word-level ops", WORD_LEVEL), ("all ops", None), ("fluency gate only, word-level", WORD_LEVEL)):
            mask = np.array([row["half"] == half and (ops is None or row["op"] in ops) for row in rows])
            verdict = fluent if subset.startswith("fluency") else rejected
            print(f"{name} | {subset} | {metrics([r for r, m in zip(rows, mask) if m], verdict[mask])}")
    print("\nheld out, per op | pairs | precision (broken) | recall (broken) | ok kept | awkward kept")
    print("---|---|---|---|---|---")
    for op in sorted({row["op"] for row in rows}):
        mask = np.array([row["half"] == 1 and row["op"] == op for row in rows])
        print(f"{op} | {metrics([r for r, m in zip(rows, mask) if m], rejected[mask])}")
    if args.test:
        report_fresh(args.test, gates, fluency, thresholds)
    if not args.no_build:
        build_time()


if __name__ == "__main__":
    main()
