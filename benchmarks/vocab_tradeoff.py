"""Vocabulary size vs held-out tokenizer agreement, for each limit on the length of kept ASCII pieces.

    python benchmarks/vocab_tradeoff.py --shared ../shared [--limits 3 4 5 8 100]

For each limit, the pieces ``train/vocab_trim.py`` would keep are computed (no model is built), and
every held-out text of the ``../shared`` sets is tokenised with the full tokenizer: a text agrees
when all its pieces are kept (a unigram vocabulary's subset then segments it identically).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from model_fidelity import held_out_texts
from tokenizers import Tokenizer

import zhaug.train.models.vocab_trim as vocab_trim
from zhaug.resources import e5_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="path to ../shared")
    parser.add_argument("--limits", type=int, nargs="*", default=[3, 4, 5, 8, 100])
    args = parser.parse_args()
    full = Tokenizer.from_file(str(e5_tokenizer()))
    size = len(json.loads(full.to_str())["model"]["vocab"])
    corpus = vocab_trim.trimming_corpus()
    encoded = {name: [e.ids for e in full.encode_batch(texts)] for name, texts in held_out_texts(args.shared).items()}
    print("ASCII limit  vocabulary  " + "  ".join(f"{name} texts/tokens" for name in encoded))
    for limit in args.limits:
        vocab_trim.MAX_ASCII_CHARS = limit
        kept = np.zeros(size, dtype=bool)
        kept[vocab_trim.kept_ids(full, corpus)] = True
        cells = []
        for ids in encoded.values():
            texts = np.mean([kept[i].all() for i in ids])
            tokens = sum(int(kept[i].sum()) for i in ids) / sum(len(i) for i in ids)
            cells.append(f"{texts:.4f}/{tokens:.5f}")
        print(f"{limit:>11}  {int(kept.sum()):>10}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
