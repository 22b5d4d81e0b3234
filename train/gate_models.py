"""Giving the model-based gates their models: the augmentation layer never loads one itself
(its gates take an ``embed`` function or a classifier), so whoever runs a recipe with such
gates — the CLI, the trainer, the studies — binds them here first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from zhaug.augment.gates.base import Gate
from zhaug.augment.gates.similarity import SimilarityGate
from zhaug.augment.gates.teacher import TeacherGate
from zhaug.augment.recipes import Recipe
from zhaug.train.models.embedder import TransformerEmbedder
from zhaug.train.predict import load_predictor

G = TypeVar("G", bound=Gate)


def bind_gate(gate: G) -> G:
    """``gate`` with its model loaded from its ``model`` parameter (lazily, for the embedder),
    unless it already has one; other gates are returned as they are."""
    if isinstance(gate, SimilarityGate) and gate.embed is None:
        return gate.set_params(embed=TransformerEmbedder(gate.model, batch_size=gate.batch_size))
    if isinstance(gate, TeacherGate) and gate.classifier is None:
        return gate.set_params(classifier=load_predictor(gate.model, batch_size=gate.batch_size,
                                                         max_length=gate.max_length))
    return gate


def bind_gates(gates: Sequence[Gate]) -> list[Gate]:
    """:func:`bind_gate` on each gate."""
    return [bind_gate(gate) for gate in gates]


def bind_models(recipe: Recipe) -> Recipe:
    """``recipe`` with every model-based gate given its model, e.g.
    ``Augmenter(bind_models(load_recipe("mixed")), n_aug=4, seed=7)``."""
    return replace(recipe, gates=bind_gates(recipe.gates))
