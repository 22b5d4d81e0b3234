"""A sample of (original, copy) pairs to read in Chinese, one copy per row, per operation and recipe.

The rows are drawn from ``../shared/data`` as ``../shared/judged/SUMMARY.md`` drew its sources
(10–200 characters, de-duplicated, seed 20240603, both labels alternating): waimai_10k 7 + 7,
chnsenticorp_htl 6 + 6, ced_rumor 7 + 7, i.e. 40 rows in proportion 50:40:50 (× ``--scale``;
a larger scale keeps the rows of a smaller one, so their copies are the same). Every operation
runs at its default parameters with ``gates: [dedup]``; every recipe runs as shipped, its model
gates (similarity, teacher, fluency) left out. Nothing from ``--shared`` is written into the repo:

    python benchmarks/copies_sample.py --shared ../shared --out /tmp/copies.csv [--seed 3]

``--classic`` runs the operations in their classic (EDA / AEDA) mode, and ``--exclude-judged``
leaves out rows whose source appears in ``judged/judged_pairs.csv``: together they make fresh
pairs of the kind the gates were calibrated on, to check ``zhaug gate`` on pairs no one has read.

The CSV has one row per (operation, source row): ``status`` is ``accepted``, ``rejected: REASON``
or ``unchanged`` (the dedup gate's verdict on an identical copy), ``edit`` marks the changed
characters as ``[old→new]``, and the judge columns (``j_label``, ``j_fluency``, ``j_meaning``,
``j_violation``, ``j_note``) are empty, to be filled by a reader with ``../shared/judged/RUBRIC.md``.
The script prints per operation how many copies were accepted, rejected and unchanged.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import random
from pathlib import Path

from zhaug.augment.pipeline import Augmenter
from zhaug.augment.recipes import load_recipe, recipe_from_dict
from zhaug.io import Record

OPS = ("synonym_swap", "random_insert", "random_swap", "random_delete", "char_delete", "punct_insert",
       "homophone", "similar_glyph", "traditional")
RECIPES = ("eda", "aeda", "synonym", "mixed")
MODEL_GATES = {"similarity", "teacher", "fluency"}
PER_LABEL = {"waimai_10k": 7, "chnsenticorp_htl": 6, "ced_rumor": 7}
SOURCE_SEED = 20240603
FIELDS = ["pair_id", "dataset", "source_id", "label", "op", "status", "original", "copy", "edit",
          "j_label", "j_fluency", "j_meaning", "j_violation", "j_note"]


def read_dataset(shared: Path, name: str) -> list[tuple[str, str, str]]:
    """``(source id, text, label)`` rows of one data set."""
    if name == "ced_rumor":
        with open(shared / "data/ced_rumor/ced_original_microblog.csv", encoding="utf-8") as f:
            return [(row["id"], row["text"], row["label"]) for row in csv.DictReader(f)]
    path = {"waimai_10k": "data/waimai_10k/waimai_10k.csv",
            "chnsenticorp_htl": "data/chnsenticorp_htl/ChnSentiCorp_htl_all.csv"}[name]
    with open(shared / path, encoding="utf-8") as f:
        return [(f"{name}_{i}", row["review"] or "", row["label"]) for i, row in enumerate(csv.DictReader(f))]


def sources(shared: Path, scale: int = 1, seed: int = SOURCE_SEED) -> list[tuple[str, Record]]:
    """``(dataset, record)`` of the sampled rows, labels alternating within each data set."""
    rng = random.Random(seed)
    out = []
    for name, per_label in PER_LABEL.items():
        seen: set[str] = set()
        rows = []
        for sid, text, label in read_dataset(shared, name):
            text = text.strip()
            if 10 <= len(text) <= 200 and text not in seen:
                seen.add(text)
                rows.append((sid, text, label))
        by_label = {}
        for label in ("0", "1"):
            ours = [r for r in rows if r[2] == label]
            rng.shuffle(ours)
            by_label[label] = ours[: per_label * scale]  # nested: a larger --scale keeps the smaller sample
        for pair in zip(by_label["0"], by_label["1"]):
            out += [(name, Record(sid, text, label)) for sid, text, label in pair]
    return out


def marked(original: str, copy: str) -> str:
    """``copy`` with each changed stretch written ``[old→new]``."""
    parts = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, original, copy, autojunk=False).get_opcodes():
        parts.append(copy[b1:b2] if op == "equal" else f"[{original[a1:a2]}→{copy[b1:b2]}]")
    return "".join(parts)


def run(name: str, recipe, picked: list[tuple[str, Record]], seed: int) -> list[dict[str, str]]:
    """One row per source row: the accepted copy, or the rejected one with its reason."""
    verdicts: dict[str, tuple[str, str]] = {}

    def reject(candidate, reason):
        status = "unchanged" if candidate.text == candidate.parent.text else f"rejected: {reason}"
        verdicts[candidate.parent.id] = (status, candidate.text)

    rows, _ = Augmenter(recipe, n_aug=1, seed=seed, keep_originals=False, progress=False).run(
        [record for _, record in picked], on_reject=reject)
    for row in rows:
        verdicts[row["parent_id"]] = ("accepted", row["text"])
    out = []
    for dataset, record in picked:
        status, text = verdicts.get(record.id, ("unchanged", record.text))
        out.append({"dataset": dataset, "source_id": record.id, "label": record.label, "op": name,
                    "status": status, "original": record.text, "copy": text, "edit": marked(record.text, text)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="the ../shared folder")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write (outside the repository)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1, help="rows per label × this (40 rows × scale)")
    parser.add_argument("--source-seed", type=int, default=SOURCE_SEED, help="another seed draws other rows")
    parser.add_argument("--ops", nargs="*", default=[*OPS, *(f"recipe:{r}" for r in RECIPES)])
    parser.add_argument("--classic", action="store_true", help="operations in classic mode (recipes as shipped)")
    parser.add_argument("--exclude-judged", action="store_true",
                        help="leave out rows whose source is in judged/judged_pairs.csv")
    parser.add_argument("--model-gates", action="store_true",
                        help="keep the recipes' model gates too (similarity on the embedded model)")
    args = parser.parse_args(argv)
    picked = sources(args.shared, args.scale, args.source_seed)
    if args.exclude_judged:
        with open(args.shared / "judged" / "judged_pairs.csv", encoding="utf-8", newline="") as f:
            judged = {row["source_id"] for row in csv.DictReader(f)}
        picked = [(dataset, record) for dataset, record in picked if record.id not in judged]
    rows = []
    for name in args.ops:
        if name.startswith("recipe:"):
            recipe = load_recipe(name.split(":", 1)[1])
            if args.model_gates:
                from zhaug.train.gate_models import bind_models  # torch: only with --model-gates

                recipe = bind_models(recipe)
            else:
                recipe.gates = [gate for gate in recipe.gates if gate.name not in MODEL_GATES]
        else:
            params = {"mode": "classic"} if args.classic else {}
            recipe = recipe_from_dict({"name": name, "op": {name: params}, "gates": ["dedup"]})
        got = run(name, recipe, picked, args.seed)
        counts = {s: sum(r["status"].split(":")[0] == s for r in got) for s in ("accepted", "rejected", "unchanged")}
        print(f"{name:22s} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
        rows += got
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for i, row in enumerate(rows, 1):
            writer.writerow({"pair_id": f"c{i:03d}", **row})
    print(f"wrote {len(rows)} pairs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
