"""The operation interface: an operation proposes an edited copy of a text.

Operations are small and composable (TextAttack's *transformations*); whether a proposal keeps
its label is decided separately by the gates in :mod:`zhaug.augment.gates` (the *constraints*).
Following scikit-learn, the constructor takes the parameters and :meth:`Operation.apply` takes
the data and an explicit generator; an operation holds no other state.
"""

from __future__ import annotations

import inspect
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from zhaug.augment.text import Segmenter, Token, is_cjk, join
from zhaug.rng import derive_rng

LABEL_RISKS = ("low", "medium", "high")
OPERATIONS: dict[str, type[Operation]] = {}


def register(cls: type[Operation]) -> type[Operation]:
    """Class decorator: make an operation available to recipes by its ``name``."""
    if cls.label_risk not in LABEL_RISKS:
        raise ValueError(f"{cls.__name__}.label_risk must be one of {LABEL_RISKS}")
    OPERATIONS[cls.name] = cls
    return cls


class Operation(ABC):
    """Base class. Subclasses set ``name``, ``label_risk`` (low / medium / high) and implement
    :meth:`apply`; their docstring says what the parameters do and why the risk is what it is."""

    name: ClassVar[str]
    label_risk: ClassVar[str]

    @abstractmethod
    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        """Return edited tokens (a new list; ``tokens`` is not modified). Protected tokens stay."""

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        """Edit many texts at once (one generator each). Model-based operations override this
        to batch their forward passes; each result must depend only on its own input and rng."""
        return [self.apply(tokens, rng) for tokens, rng in zip(batch, rngs)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters and their current values (recorded in each output row); ``deep`` is
        accepted for ``sklearn.base.clone`` (an operation's parameters are plain values)."""
        signature = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name in signature.parameters
            if name != "self" and hasattr(self, name)
        }

    def augment(self, text: str, seed: int = 0, segmenter: Segmenter | None = None) -> str:
        """Convenience for one text: segment, apply with a generator derived from ``seed``, join."""
        tokens = (segmenter or default_segmenter())(text)
        return join(self.apply(tokens, derive_rng(seed, text, self.name)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def n_edits(rate: float, n_units: int, rng: random.Random) -> int:
    """How many of ``n_units`` to edit at ``rate``: 0 when rate is 0, else at least 1.

    The fractional part is resolved at random so that the expected count is ``rate * n_units``.
    """
    if rate <= 0 or n_units == 0:
        return 0
    expected = rate * n_units
    count = math.floor(expected) + (rng.random() < expected - math.floor(expected))
    return min(n_units, max(1, count))


def editable_positions(tokens: Sequence[Token], cjk_only: bool = False) -> list[int]:
    """Indices of tokens that operations may change (optionally only those with Chinese)."""

    return [
        i for i, token in enumerate(tokens)
        if token.editable and (not cjk_only or any(is_cjk(char) for char in token.text))
    ]


_DEFAULT_SEGMENTER: Segmenter | None = None


def default_segmenter() -> Segmenter:
    """A shared segmenter protecting every kind of span (built on first use)."""
    global _DEFAULT_SEGMENTER
    if _DEFAULT_SEGMENTER is None:
        _DEFAULT_SEGMENTER = Segmenter()
    return _DEFAULT_SEGMENTER
