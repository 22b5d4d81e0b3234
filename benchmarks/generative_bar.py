"""The generative recipes' bar (issue 20) on rows of ../shared: changed Chinese copies, negations,
rerun from the cache, byte-identical output, copies per second.

    python benchmarks/generative_bar.py --shared ../shared [--rows 20] [--row-seed 20] [--recipes paraphrase bt] [--out DIR]

Takes ``rows`` rows, half CED microblogs and half waimai reviews (10–300 characters, chosen with a
fixed seed), and for each recipe runs ``zhaug augment IN -o OUT --recipe R --n-aug 1 --seed 3``
twice as subprocesses: first on an empty reply cache (``ZHAUG_LLM_CACHE`` in ``--out``), then
again. Prints per recipe: copies accepted, share of rows with a changed Chinese copy, copies whose
parent's negation and denial words all survive, first and second wall time and their ratio,
whether the outputs are byte-identical, and accepted copies per second of the first run. The
(original, copy) pairs are left in ``OUT/<recipe>.pairs.tsv`` for judging with judged/RUBRIC.md.
Inference threads: ``ZHAUG_LLM_THREADS`` (default 1); run under ``nice``.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from zhaug.augment.gates.facts import denials, negations

CJK = re.compile(r"[\u4e00-\u9fff]")


def sample_rows(shared: Path, n: int, seed: int = 20) -> list[dict[str, str]]:
    """Half CED, half waimai rows of 10–300 characters, in a fixed random choice; with another
    ``seed``, none of the rows that seed 20 picks (a fresh sample beside the judged one)."""
    rng = random.Random(seed)
    judged = {r["text"] for r in sample_rows(shared, n)} if seed != 20 else set()
    sources = {
        "ced": (shared / "data/ced_rumor/ced_original_microblog.csv", "text"),
        "waimai": (shared / "data/waimai_10k/waimai_10k.csv", "review"),
    }
    rows = []
    for k, (name, (path, column)) in enumerate(sources.items()):
        with open(path, encoding="utf-8") as handle:
            usable = [r for r in csv.DictReader(handle) if 10 <= len(r[column]) <= 300 and r[column] not in judged]
        take = n // 2 + (n % 2 if k == 0 else 0)
        rows += [{"id": f"{name}{i}", "text": r[column], "label": r["label"]} for i, r in enumerate(rng.sample(usable, take))]
    return rows


def run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def survives(parent: str, copy: str) -> bool:
    """Every negation word and denial word of ``parent`` occurs in ``copy``."""
    return all(word in copy for word in negations(parent)) and all(copy.count(w) >= n for w, n in denials(parent).items())


def measure(recipe: str, table: Path, out: Path, rows: int) -> None:
    """``recipe``: a shipped name or a YAML file; files in ``out`` are named after its stem."""
    name = Path(recipe).stem
    env = {**os.environ, "ZHAUG_LLM_CACHE": str(out / f"{name}.replies.sqlite")}
    Path(env["ZHAUG_LLM_CACHE"]).unlink(missing_ok=True)
    zhaug = [str(Path(sys.executable).with_name("zhaug"))]
    command = [*zhaug, "augment", str(table), "--recipe", recipe, "--n-aug", "1", "--seed", "3", "--no-progress"]
    first_out, second_out = out / f"{name}.first.csv", out / f"{name}.second.csv"
    first = run([*command, "-o", str(first_out)], env)
    second = run([*command, "-o", str(second_out)], env)
    with open(first_out, encoding="utf-8") as handle:
        table_rows = list(csv.DictReader(handle))
    parents = {r["id"]: r["text"] for r in table_rows if not r["parent_id"]}
    copies = [(parents[r["parent_id"]], r["text"], r["label"], r["parent_id"]) for r in table_rows if r["parent_id"]]
    changed = sum(copy != parent and len(CJK.findall(copy)) >= 0.5 * len(CJK.findall(parent)) for parent, copy, *_ in copies)
    kept = sum(survives(parent, copy) for parent, copy, *_ in copies)
    identical = first_out.read_bytes() == second_out.read_bytes()
    print(f"{name}: {len(copies)} copies accepted of {rows} rows; changed Chinese copies {changed}/{rows} "
          f"({changed / rows:.0%}); negations and denials surviving {kept}/{len(copies)}; first run {first:.1f} s, "
          f"rerun {second:.1f} s (×{first / second:.1f}); byte-identical {identical}; "
          f"{len(copies) / first:.3f} accepted copies/s")
    with open(out / f"{name}.pairs.tsv", "w", encoding="utf-8") as handle:
        handle.write("parent_id\tlabel\toriginal\tcopy\n")
        for parent, copy, label, parent_id in copies:
            handle.write(f"{parent_id}\t{label}\t{parent}\t{copy}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--row-seed", type=int, default=20, help="another seed draws a fresh sample")
    parser.add_argument("--recipes", nargs="+", default=["paraphrase", "bt"], help="shipped names or YAML files")
    parser.add_argument("--out", type=Path, default=Path("runs/generative_bar"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "in.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "text", "label"])
        writer.writeheader()
        writer.writerows(sample_rows(args.shared, args.rows, args.row_seed))
    for recipe in args.recipes:
        measure(recipe, table, args.out, args.rows)


if __name__ == "__main__":
    main()
