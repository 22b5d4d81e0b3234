"""AEDA: insert punctuation marks between tokens (Karimi et al., 2021), with Chinese marks."""

from __future__ import annotations

import random

from zhaug.augment.base import Operation, register
from zhaug.augment.ops._common import check_nonempty, insert_marks
from zhaug.augment.text import Token

CHINESE_MARKS = "，。；：？！、"


@register
class PunctuationInsert(Operation):
    """Insert full-width punctuation marks between tokens, ``rate`` × (places) of them.

    Parameters
    ----------
    rate:
        Fraction of the places between two tokens that get a mark.
    marks:
        The marks to choose from, uniformly (default ``，。；：？！、``).

    A place qualifies when neither neighbour is punctuation or whitespace and the token before it
    is not a negation (``不，好`` would change the meaning); protected spans are whole tokens, so
    nothing is ever inserted inside one, and nothing is added at the very start or end.

    Label risk: low — AEDA keeps every word and its order; only the rhythm of the text changes.
    """

    name = "punct_insert"
    label_risk = "low"

    def __init__(self, rate: float = 0.2, marks: str = CHINESE_MARKS):
        check_nonempty(self.name, "marks", marks)
        self.rate, self.marks = rate, marks

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        places = [
            k
            for k in range(1, len(tokens))
            if tokens[k - 1].kind not in ("punct", "space", "negation") and tokens[k].kind not in ("punct", "space")
        ]
        return insert_marks(tokens, places, self.marks, self.rate, rng)
