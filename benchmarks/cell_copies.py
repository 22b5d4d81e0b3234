"""The copies a study cell trained on, as original / copy pairs to read with the rubric.

    python benchmarks/cell_copies.py --config configs/ablation/snownlp.yaml --arm bt --size 100 --seed 0 \
        --out runs/bt-s0-pairs.tsv

A cell's copies are not kept in its folder; this makes them again exactly as ``zhaug ablate`` did
(``zhaug.studies.ablation.cell_copies``, as ``train_cell`` calls it), so a generative arm
is served from the reply cache its cell left and needs no inference. The gates are the ones of
the code that runs this: for a cell made before a gate changed, run it from that commit's tree
(the copies then number as the cell's ``train_rows`` says). Arms gated by a teacher
are refused (the teacher's model would have to be found first). Writes ``id``, ``original``,
``copy`` (tab-separated, one row per copy, rows in subset order) and prints how many rows got a copy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zhaug.io import atomic_write_text
from zhaug.studies.ablation import AblationConfig, Cell, cell_copies, cell_subset, load_pool_and_eval


def cell_pairs(config: AblationConfig, arm_name: str, size: int, seed: int,
               multiplier: int | None = None) -> list[tuple[str, str, str]]:
    """``(id, original, copy)`` for every copy the cell's augmentation made."""
    arm = next((a for a in config.arms if a.name == arm_name), None)
    if arm is None or not arm.recipe:
        raise SystemExit(f"{arm_name}: no arm of that name with a recipe in the config")
    if arm.teacher:
        raise SystemExit(f"{arm_name}: its copies are gated by a teacher cell; not supported here")
    cell = Cell(arm, multiplier or (arm.multipliers or config.multipliers)[0], size, seed)
    subset = cell_subset(cell, load_pool_and_eval(config.data)[0])
    children, _ = cell_copies(cell, subset)
    return [(r.id, r.text, copy) for r in subset for copy in children.get(r.id, [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--arm", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--multiplier", type=int, help="default: the arm's first")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    pairs = cell_pairs(AblationConfig.load(args.config), args.arm, args.size, args.seed, args.multiplier)
    lines = ["id\toriginal\tcopy"]
    lines += ["\t".join(field.replace("\t", " ").replace("\n", " ") for field in pair) for pair in pairs]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"{args.out}: {len(pairs)} copies of {len({p[0] for p in pairs})} rows "
          f"(cell {args.arm} n{args.size} s{args.seed})")


if __name__ == "__main__":
    main()
