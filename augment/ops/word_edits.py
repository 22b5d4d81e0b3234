"""EDA's random edits at word level (Wei & Zou, 2019), on jieba words."""

from __future__ import annotations

import random

from zhaug.augment.base import editable_positions, n_edits, register
from zhaug.augment.ops._common import RateOperation
from zhaug.augment.text import Token


@register
class RandomSwap(RateOperation):
    """Swap the places of two editable words, ``rate`` × (editable words) times.

    Label risk: low — word order changes rarely change a topic or sentiment label, but can
    change who did what to whom.
    """

    name = "random_swap"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        out = list(tokens)
        positions = editable_positions(out)
        if len(positions) < 2:
            return out
        for _ in range(n_edits(self.rate, len(positions), rng)):
            i, j = rng.sample(positions, 2)
            out[i], out[j] = out[j], out[i]
        return out


@register
class RandomDelete(RateOperation):
    """Delete ``rate`` × (editable words) words, at least one when rate > 0 (never every word).

    Label risk: medium — deleting a key word (e.g. a sentiment word) can remove the evidence
    for the label; negations are protected and never deleted.
    """

    name = "random_delete"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        positions = editable_positions(tokens)
        if len(positions) < 2:
            return list(tokens)
        dropped = set(rng.sample(positions, min(len(positions) - 1, n_edits(self.rate, len(positions), rng))))
        return [token for i, token in enumerate(tokens) if i not in dropped]
