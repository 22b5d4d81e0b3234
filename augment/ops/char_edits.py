"""Character-level noise inside editable words: insert, delete, swap (typo-like edits).

Only CJK characters inside editable word tokens are touched, so protected spans (numbers,
names, negations, titles, URLs ...) and Latin words keep their form.
"""

from __future__ import annotations

import random

from zhaug.augment.base import Operation, editable_positions, register
from zhaug.augment.ops._common import (
    N_COMMON,
    RateOperation,
    check_choice,
    cjk_slots,
    insertable_chars,
    pick,
    replace_chars,
)
from zhaug.augment.text import Token, is_cjk

INSERT_SOURCES = ("common", "repeat")


@register
class CharInsert(Operation):
    """Insert ``rate`` × (CJK characters in editable words) characters next to random ones.

    Parameters
    ----------
    rate:
        Fraction of characters after (or before) which one character is inserted.
    source:
        ``"common"``: a character drawn from the ``n_common`` most frequent ones, weighted by
        frequency (never a negation, numeral or date / money unit); ``"repeat"``: the neighbouring
        character is doubled (a frequent typing slip, e.g. 很很好).

    Label risk: medium — a stray character is usually read past, but it can form a new word
    (e.g. a sentiment word) next to its neighbours.
    """

    name = "char_insert"
    label_risk = "medium"

    def __init__(self, rate: float = 0.1, source: str = "common", n_common: int = N_COMMON):
        check_choice(self.name, "source", source, INSERT_SOURCES)
        self.rate, self.source, self.n_common = rate, source, n_common

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        chosen = pick(cjk_slots(tokens), self.rate, rng)
        if not chosen:
            return list(tokens)
        chars, cum_weights = insertable_chars(self.n_common)
        edits = {}
        for i, j in sorted(chosen):
            char = tokens[i].text[j]
            new = char if self.source == "repeat" else rng.choices(chars, cum_weights=cum_weights)[0]
            edits[i, j] = new + char if rng.random() < 0.5 else char + new
        return replace_chars(tokens, edits)


@register
class CharDelete(RateOperation):
    """Delete each CJK character of the editable words with probability ``rate``.

    At least one editable character is always kept; a word whose characters are all deleted
    disappears.

    Label risk: medium — deleting a character of a key word (e.g. 满意 → 满) can blur or
    remove the evidence for the label.
    """

    name = "char_delete"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        slots = cjk_slots(tokens)
        if self.rate <= 0 or len(slots) < 2:
            return list(tokens)
        dropped = [slot for slot in slots if rng.random() < self.rate]
        if len(dropped) == len(slots):
            dropped.remove(rng.choice(slots))
        return replace_chars(tokens, dict.fromkeys(dropped, ""))


@register
class CharSwap(RateOperation):
    """Swap two adjacent, different CJK characters inside an editable word, ``rate`` × (such
    pairs) times (e.g. 质量 → 量质).

    Label risk: low — readers (and models trained on noisy text) usually restore the order; the
    characters of the text stay the same.
    """

    name = "char_swap"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        pairs = [
            (i, j)
            for i in editable_positions(tokens)
            for j, (a, b) in enumerate(zip(tokens[i].text, tokens[i].text[1:]))
            if a != b and is_cjk(a) and is_cjk(b)
        ]
        out = list(tokens)
        for i, j in pick(pairs, self.rate, rng):
            text = out[i].text
            out[i] = out[i].with_text(text[:j] + text[j + 1] + text[j] + text[j + 2 :])
        return out
