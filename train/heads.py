"""How a classifier reads its encoder: the input prefix and pooling the encoder was trained with,
and a classification head initialised by a linear probe (LP-FT, Kumar et al. 2022).

Sentence embedders such as e5 were trained on ``"query: " + text`` with the masked mean of the last
hidden states as the sentence vector; transformers' BERT / ALBERT classifiers feed their head
``tanh(W · h[CLS])`` instead, for the embedded e5 models an untrained readout. ``pooling="mean"``
makes the head read the L2-normalised masked mean: a forward hook on the encoder replaces its
pooler output, so the checkpoint stays a plain transformers model that loads through
:func:`~zhaug.train.models.load_classifier`. A run records ``prefix`` and ``pooling`` in its
config (``best/zhaug.json``) and :class:`~zhaug.train.predict.Predictor` applies both; runs saved
before these settings existed read as :data:`LEGACY_FORMAT`.

Starting fine-tuning from a random head distorts good features when labels are few; a head set to
a logistic regression fitted on the frozen features (the probe) keeps them and is never worse at
step 0 than the probe itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from zhaug.errors import ZhaugError
from zhaug.train.config import POOLINGS
from zhaug.train.data import pad
from zhaug.train.models.catalog import COMPACT, FULL, read_card
from zhaug.train.models.pooling import mean_pool

LEGACY_FORMAT = {"prefix": "", "pooling": "cls"}
"""What a run saved without ``prefix`` / ``pooling`` used, and what other models get by default."""
E5_FORMAT = {"prefix": "query: ", "pooling": "mean"}
ENCODER_FORMATS = {FULL: E5_FORMAT, COMPACT: E5_FORMAT}
"""The input format of each embedded model (the compact student is distilled on mean-pooled states)."""
POOLER_HEADS = ("albert", "bert")
"""Model types whose sequence-classification head reads the encoder's pooler output."""


def encoder_format(path: str | os.PathLike[str]) -> dict[str, str]:
    """The prefix and pooling the model at ``path`` was trained with: an embedded model's own,
    else :data:`LEGACY_FORMAT` (transformers' own classifier)."""
    card = read_card(path)
    return dict(ENCODER_FORMATS.get(card["name"], LEGACY_FORMAT) if card is not None else LEGACY_FORMAT)


def run_format(config: dict[str, Any]) -> tuple[str, str]:
    """``(prefix, pooling)`` of a saved run's config; runs saved before these settings read as legacy."""
    prefix, pooling = config.get("prefix"), config.get("pooling")
    return (LEGACY_FORMAT["prefix"] if prefix is None else prefix,
            LEGACY_FORMAT["pooling"] if pooling is None else pooling)


def with_prefix(prefix: str, texts: Sequence[str]) -> list[str]:
    return [prefix + text for text in texts] if prefix else list(texts)


def set_pooling(model: torch.nn.Module, pooling: str) -> torch.nn.Module:
    """``model`` (in place) with its head reading ``pooling``: ``cls`` leaves it as loaded, ``mean``
    hooks the encoder so its pooler output is the L2-normalised masked mean of the last layer."""
    if pooling == "cls":
        return model
    if pooling not in POOLINGS:
        raise ZhaugError(f"unknown pooling {pooling!r}; choose from {POOLINGS}")
    if model.config.model_type not in POOLER_HEADS:
        raise ZhaugError(f"pooling=mean needs a model whose head reads the pooler output ({', '.join(POOLER_HEADS)}), "
                         f"not {model.config.model_type}: use pooling cls")
    getattr(model, model.base_model_prefix).register_forward_hook(_mean_pooler, with_kwargs=True)
    return model


def _mean_pooler(_module: torch.nn.Module, args: tuple, kwargs: dict[str, Any], output: Any) -> Any:
    hidden = output.last_hidden_state
    mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
    mask = torch.ones(hidden.shape[:2], dtype=hidden.dtype) if mask is None else mask
    output.pooler_output = F.normalize(mean_pool(hidden, mask), dim=-1)
    return output


def head_logits(model: torch.nn.Module, hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """The logits ``model`` (a :data:`POOLER_HEADS` classifier) gives for its encoder's last hidden
    states: what its own forward computes after the encoder, for callers that ran the encoder
    themselves (:class:`~zhaug.train.frozen.FrozenLowerClassifier`)."""
    encoder = getattr(model, model.base_model_prefix)
    if pooling == "mean":
        pooled = F.normalize(mean_pool(hidden, mask), dim=-1)
    elif model.config.model_type == "albert":
        pooled = encoder.pooler_activation(encoder.pooler(hidden[:, 0]))
    else:
        pooled = encoder.pooler(hidden)
    return model.classifier(model.dropout(pooled))


def pooled_features(model: torch.nn.Module, sequences: Sequence[Sequence[int]], batch_size: int,
                    pad_id: int) -> np.ndarray:
    """What the head reads for each sequence (the pooler output, after :func:`set_pooling`), in
    eval mode and without gradients; the model's train / eval mode is restored."""
    training, encoder = model.training, getattr(model, model.base_model_prefix)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            out.append(encoder(**pad(sequences[start : start + batch_size], pad_id)).pooler_output.float())
    model.train(training)
    return torch.cat(out).numpy()


def fit_probe(features: np.ndarray, y: Sequence[int], n_labels: int, c: float,
              balanced: bool = False, sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on frozen features, as a ``(n_labels, dim)`` weight and a bias with
    the same softmax (two classes: ``±w/2``, ``±b/2``)."""
    probe = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
    probe.fit(features, np.asarray(y), sample_weight=sample_weight)
    weight, bias = probe.coef_, probe.intercept_
    if n_labels == 2:
        weight, bias = np.concatenate([-weight, weight]) / 2, np.concatenate([-bias, bias]) / 2
    return weight, bias


PROBE_ROUNDS = 5
"""Rounds of the probe's self-training; round ``r`` pseudo-labels ``r / PROBE_ROUNDS`` of the pool."""


def self_trained_probe(features: np.ndarray, y: Sequence[int], pool: np.ndarray, n_labels: int, c: float,
                       balanced: bool = False) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """:func:`fit_probe` self-trained on the frozen features of an unlabelled ``pool``. Each round
    the current probe labels the pool and its most confident rows join the labelled ones: a
    growing share of the pool (a fifth, two fifths, ... all of it), split between the classes as
    the labelled rows are (a pool of 2:1 reviews gets 2:1 pseudo-labels; forcing 1:1 there cost
    8–9 points). A new probe is fitted on both, the labelled rows weighed up to a quarter of the
    pseudo-labelled ones.

    The class quotas and the curriculum keep one class from taking over (USB's lesson); on frozen
    features a round costs one logistic regression, not a fine-tuning run. Returns the weight, the
    bias and the pseudo-labelled rows per round."""
    y = np.asarray(y)
    shares = np.bincount(y, minlength=n_labels) / len(y)
    weight, bias = fit_probe(features, y, n_labels, c, balanced)
    taken = []
    for r in range(1, PROBE_ROUNDS + 1):
        rows, labels = _confident_rows(_softmax(pool @ weight.T + bias), shares * r / PROBE_ROUNDS)
        labelled_weight = max(1.0, len(rows) / len(y) / 4)
        weights = np.concatenate([np.full(len(y), labelled_weight), np.ones(len(rows))])
        weight, bias = fit_probe(np.vstack([features, pool[rows]]), np.concatenate([y, labels]),
                                 n_labels, c, balanced, weights)
        taken.append(len(rows))
    return weight, bias, taken


def _confident_rows(probs: np.ndarray, quotas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each class ``k``, the ``quotas[k]`` share of the rows most probably in it; a row chosen
    for several classes stays only with its most probable one."""
    chosen = [np.argsort(-probs[:, k], kind="stable")[: int(q * len(probs))] for k, q in enumerate(quotas)]
    rows = np.concatenate(chosen)
    labels = np.concatenate([np.full(len(c), k) for k, c in enumerate(chosen)])
    keep = probs[rows].argmax(axis=1) == labels
    unique = np.bincount(rows, minlength=len(probs))[rows] == 1
    keep |= unique
    return rows[keep], labels[keep]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def init_head(model: torch.nn.Module, weight: np.ndarray, bias: np.ndarray) -> None:
    """Set the linear classification head to ``weight`` and ``bias``."""
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or tuple(head.weight.shape) != weight.shape:
        raise ZhaugError(f"head_init=probe needs a linear classifier head on the pooled output "
                         f"({type(model).__name__} has none): use head_init random")
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
