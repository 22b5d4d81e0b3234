"""Inference from a run folder: class probabilities for texts, and ``zhaug predict`` on a table."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zhaug.errors import InputError, ZhaugError
from zhaug.io import Columns, read_records, table_format, write_table
from zhaug.train.checkpoint import read_info
from zhaug.train.data import encode, pad
from zhaug.train.models import load_classifier, load_tokenizer

QUANTIZATIONS = ("int8",)


def batched_logits(model: torch.nn.Module, sequences: Sequence[Sequence[int]], batch_size: int, pad_id: int) -> torch.Tensor:
    """Logits for token-id sequences, batched by similar length; rows stay in input order."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = torch.empty((len(sequences), model.config.num_labels))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            out[index] = model(**pad([sequences[i] for i in index], pad_id)).logits.float()
    return out


class Predictor:
    """A trained classifier loaded from a run folder (or its ``best/``), which is all it needs.

    ``quantize="int8"`` applies dynamic int8 quantisation (per output channel) to the linear layers:
    about twice as fast on CPU, at some cost in accuracy (measure it: ``benchmarks/train_speed.py``).
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, quantize: str | None = None, batch_size: int = 64):
        if quantize not in (None, *QUANTIZATIONS):
            raise ZhaugError(f"unknown quantisation {quantize!r}; choose from {QUANTIZATIONS}")
        run_dir = Path(run_dir)
        model_dir = run_dir / "best" if (run_dir / "best").is_dir() else run_dir
        info = read_info(model_dir)
        self.labels: list[str] = info["labels"]
        self.max_length: int = info["config"]["max_length"]
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(model_dir)
        model = load_classifier(model_dir, len(self.labels), dict(enumerate(self.labels))).eval()
        if quantize == "int8":
            with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
        self.model = model

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(self.labels))``, columns in ``self.labels`` order."""
        sequences = encode(self.tokenizer, texts, self.max_length)
        if not sequences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = batched_logits(self.model, sequences, self.batch_size, self.tokenizer.pad_token_id)
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts: list[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


def predict_file(
    run_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    proba: bool = False,
    quantize: str | None = None,
    batch_size: int = 64,
    columns: Columns = Columns(),
) -> list[dict[str, Any]]:
    """Write ``id,label,empty`` (and ``p_<label>`` columns with ``proba``) for every input row, in
    input order; ``empty`` flags texts that are empty or blank (predicted all the same).

    The input is read and checked before the model is loaded; the output is written atomically.
    """
    table_format(output_path)
    records = read_records(input_path, columns, require_label=False)
    if not records:
        raise InputError(input_path, "no rows to predict")
    predictor = Predictor(run_dir, quantize=quantize, batch_size=batch_size)
    probabilities = predictor.predict_proba([r.text for r in records])
    prob_fields = [f"p_{label}" for label in predictor.labels] if proba else []
    rows = []
    for record, p in zip(records, probabilities):
        row: dict[str, Any] = {"id": record.id, "label": predictor.labels[int(p.argmax())],
                               "empty": int(not record.text.strip())}
        row.update((field, f"{value:.6f}") for field, value in zip(prob_fields, p))
        rows.append(row)
    write_table(output_path, rows, ["id", "label", "empty", *prob_fields])
    return rows
