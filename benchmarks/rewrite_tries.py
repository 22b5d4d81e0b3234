"""Why rows get no generated copy: every try of every sentence, with the reason it was rejected.

    ZHAUG_LLM_CACHE=runs/gbar29/shipped.sqlite python benchmarks/rewrite_tries.py runs/gbar29/in.csv \
        [--recipe paraphrase] [--seed 3] [--show 20]

Runs ``zhaug augment IN --recipe R --n-aug 1 --seed S`` in this process (from the reply cache a
``generative_bar.py`` run or an earlier augment left, so usually without inference) and records
each try a sentence rewriter makes (paraphrase, back_translate with ``backend: llm``): its reply
and the first check it fails — the facts gate's reason, the operation's own gates' reason, or
"unchanged". Prints the reasons over all rejected tries, how many rows got no copy and how many
Chinese sentences those have (all of them are tried when there are no more than the recipe's
``k``), and the tries of up to ``--show`` rows without a copy.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections import Counter
from pathlib import Path

from zhaug.augment.base import default_segmenter
from zhaug.augment.compose import split_token_sentences
from zhaug.augment.gates.base import check_pairs
from zhaug.augment.gates.facts import fact_problem
from zhaug.augment.generative import rewrite
from zhaug.augment.text import is_cjk, join
from zhaug.cli import app


def why(source: str, output: str, gates) -> str | None:
    """The first check ``output`` fails as a rewrite of ``source`` (as :func:`first_passing` checks it)."""
    if not output or output == source:
        return "unchanged or empty"
    return fact_problem(source, output) or (check_pairs([(source, output)], list(gates))[0] if gates else None)


def traced(tries: list[tuple[str, str, str | None]]):
    """``first_passing`` recording each (source, reply, reason) in ``tries``."""
    original = rewrite.first_passing

    def first_passing(sources, seeds, attempt, n_tries, gates=(), **options):
        def recorded(asked, asked_seeds):
            outputs = attempt(asked, asked_seeds)
            tries.extend((s, o, why(s, o, gates)) for s, o in zip(asked, outputs))
            return outputs

        return original(sources, seeds, recorded, n_tries, gates, **options)

    return first_passing


def chinese_sentences(text: str) -> int:
    return sum(any(is_cjk(c) for c in join(s)) for s in split_token_sentences(default_segmenter()(text)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="id,text,label rows (e.g. a generative_bar.py run's in.csv)")
    parser.add_argument("--recipe", default="paraphrase")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--show", type=int, default=20, help="rows without a copy whose tries are printed")
    args = parser.parse_args()
    tries: list[tuple[str, str, str | None]] = []
    rewrite.first_passing = traced(tries)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.csv"
        command = ["augment", str(args.table), "-o", str(out), "--recipe", args.recipe, "--n-aug", "1",
                   "--seed", str(args.seed), "--no-progress"]
        app(command, standalone_mode=False)
        with open(out, encoding="utf-8") as f:
            copied = {row["parent_id"] for row in csv.DictReader(f) if row["parent_id"]}
    with open(args.table, encoding="utf-8") as f:
        rows = {row["id"]: row["text"] for row in csv.DictReader(f)}
    reasons = Counter(reason.split(" (")[0] for _, _, reason in tries if reason)
    print(f"{len(tries)} tries, {sum(r is None for *_, r in tries)} passed; rejected for:")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")
    missing = [i for i in rows if i not in copied]
    counts = Counter(min(chinese_sentences(rows[i]), 4) for i in missing)
    shown = ", ".join(f"{n} with {k}{'+' if k == 4 else ''}" for k, n in sorted(counts.items()))
    print(f"rows with a copy {len(copied)} of {len(rows)}; the {len(missing)} without, by Chinese sentences: {shown}")
    for i in missing[: args.show]:
        print(f"\n== {i}: {rows[i][:80]}")
        for source, output, reason in tries:
            if source in rows[i]:
                print(f"   {(reason or 'passed')[:60]:60s} | {output[:50]}")


if __name__ == "__main__":
    main()
