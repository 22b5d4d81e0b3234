"""The two model shapes the layers below the model factory work with, so that gates, the attack
and the audit take any function or object of these shapes, and never load a model themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

Embed = Callable[[list[str]], np.ndarray]
"""Texts → an ``(n, d)`` array of sentence embeddings (normalised or not)."""

PredictProba = Callable[[list[str]], np.ndarray]
"""Texts → an ``(n, n_classes)`` array of class probabilities."""


@runtime_checkable
class Classifier(Protocol):
    """A trained classifier: its class names and their probabilities for texts (CheckList's view:
    the model is just a function). ``zhaug.train.predict.load_predictor`` returns one."""

    labels: Sequence[str]

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...
