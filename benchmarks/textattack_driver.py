"""TextAttack's side of ``textattack_compare.py``; runs in TextAttack's own virtualenv.

    VENV/bin/python benchmarks/textattack_driver.py --address HOST:PORT --rows ROWS.jsonl --out OUT.json

The model is remote: every batch of texts goes to the zhaug process over a local socket and comes
back as probabilities, so TextAttack queries the same function zhaug's attack does. The attack
is TextAttack 0.3.11's ``ChineseRecipe`` without the two transformations that need a network
(``ChineseWordSwapHowNet``: OpenHowNet downloads its data; ``ChineseWordSwapMaskedLM``:
xlm-roberta-base from the hub): homophone and morphonym character swaps, its Chinese stop words,
greedy search by weighted saliency. Imports nothing from zhaug.
"""

from __future__ import annotations

import argparse
import json
import string
import time
from multiprocessing.connection import Client

import numpy as np
from textattack import Attack
from textattack.attack_results import SuccessfulAttackResult
from textattack.constraints import PreTransformationConstraint
from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
from textattack.goal_functions import UntargetedClassification
from textattack.models.wrappers import ModelWrapper
from textattack.search_methods import GreedyWordSwapWIR
from textattack.shared.data import CHN_STOPWORD
from textattack.transformations import (
    ChineseHomophoneCharacterSwap,
    ChineseMorphonymCharacterSwap,
    CompositeTransformation,
)


def _read_lines_as_csv() -> None:
    """TextAttack reads its character tables with ``pandas.read_csv(path, header=None, sep="\\n")``,
    which pandas 2 refuses; read such a file as one column of lines instead (a shim for the
    pandas of this machine, not a change to the attack)."""
    import pandas

    original = pandas.read_csv

    def read_csv(path, *args, **kwargs):
        if kwargs.get("sep") == "\n":
            with open(path, encoding="utf-8") as handle:
                return pandas.DataFrame([line.rstrip("\n") for line in handle if line.strip()])
        return original(path, *args, **kwargs)

    pandas.read_csv = read_csv


class RemoteModel(ModelWrapper):
    """Texts → probabilities, computed by the process at the other end of ``connection``."""

    def __init__(self, connection):
        self.connection, self.model = connection, None

    def __call__(self, texts):
        self.connection.send(list(texts))
        return np.array(self.connection.recv())


class ProtectedWords(PreTransformationConstraint):
    """Words holding any of ``chars`` are never modified (``--protect``: zhaug's negation and
    numeral characters, so that both attacks leave the same facts alone)."""

    def __init__(self, chars: str):
        self.chars = frozenset(chars)

    def _get_modifiable_indices(self, current_text):
        return {i for i, word in enumerate(current_text.words) if self.chars.isdisjoint(word)}


def build(model: ModelWrapper, query_budget: int | None, protect: str = "") -> Attack:
    homophones = ChineseHomophoneCharacterSwap()
    table = homophones.homophone_dict  # short rows: pandas 2 pads with NaN where the swap expects None
    homophones.homophone_dict = table.astype(object).where(table.notna(), None)
    transformation = CompositeTransformation([ChineseMorphonymCharacterSwap(), homophones])
    constraints = [RepeatModification(), StopwordModification(stopwords=CHN_STOPWORD.union(set(string.punctuation)))]
    if protect:
        constraints.append(ProtectedWords(protect))
    goal = UntargetedClassification(model, query_budget=query_budget or float("inf"))
    return Attack(goal, constraints, transformation, GreedyWordSwapWIR(wir_method="weighted-saliency"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--authkey", default="zhaug")
    parser.add_argument("--rows", required=True, help="JSON lines: text, label (the gold class index)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--query-budget", type=int)
    parser.add_argument("--protect", default="", help="characters whose words are never modified")
    args = parser.parse_args()
    _read_lines_as_csv()
    host, port = args.address.rsplit(":", 1)
    with Client((host, int(port)), authkey=args.authkey.encode()) as connection:
        attack = build(RemoteModel(connection), args.query_budget, args.protect)
        with open(args.rows, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        out = []
        for row in rows:
            started = time.perf_counter()
            result = attack.attack(row["text"], int(row["label"]))
            out.append({"success": isinstance(result, SuccessfulAttackResult),
                        "queries": int(result.perturbed_result.num_queries),
                        "seconds": time.perf_counter() - started,
                        "adversarial": result.perturbed_result.attacked_text.text})
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(out, handle, ensure_ascii=False)


if __name__ == "__main__":
    main()
