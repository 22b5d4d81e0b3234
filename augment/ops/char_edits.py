"""Character-level noise inside editable words: insert, delete, swap (typo-like edits).

Only CJK characters inside editable word tokens are touched, so protected spans (numbers,
names, negations, titles, URLs ...) and Latin words keep their form, and Chinese numerals inside
words are skipped too. In the default ``safe`` mode the number of edits is counted on words,
capped at ``max_edits`` and spread one per clause, and a swap never turns a word into another
real word (子女 → 女子); ``mode="classic"`` counts characters, without a cap.
"""

from __future__ import annotations

import random

from zhaug.augment.base import editable_positions, register
from zhaug.augment.ops._common import (
    N_COMMON,
    EditOperation,
    check_choice,
    cjk_slots,
    draw,
    insertable_chars,
    is_real_word,
    replace_chars,
)
from zhaug.augment.text import NUMERAL_CHARS, Token, is_cjk

INSERT_SOURCES = ("common", "repeat")


def _token(slot: tuple[int, int]) -> int:
    return slot[0]


@register
class CharInsert(EditOperation):
    """Insert ``rate`` × (CJK characters in editable words) characters next to random ones.

    Parameters
    ----------
    rate:
        Fraction of characters after (or before) which one character is inserted.
    source:
        ``"common"``: a character drawn from the ``n_common`` most frequent ones, weighted by
        frequency (never a negation, numeral or date / money unit); ``"repeat"``: the neighbouring
        character is doubled (a frequent typing slip, e.g. 很很好).
    mode, max_edits:
        ``"safe"``: ``rate`` × (editable words) insertions, at most ``max_edits``, one per
        clause; ``"classic"``: ``rate`` × (characters) insertions.

    Label risk: medium — a stray character is usually read past, but it can form a new word
    (e.g. a sentiment word) next to its neighbours.
    """

    name = "char_insert"
    label_risk = "medium"

    def __init__(
        self, rate: float = 0.1, source: str = "common", n_common: int = N_COMMON, mode: str = "safe", max_edits: int = 2
    ):
        check_choice(self.name, "source", source, INSERT_SOURCES)
        super().__init__(rate, mode, max_edits)
        self.source, self.n_common = source, n_common

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        chosen = draw(self, cjk_slots(tokens), tokens, rng, _token)
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
class CharDelete(EditOperation):
    """Delete CJK characters of the editable words.

    ``"safe"`` mode: ``rate`` × (editable words) characters, at most ``max_edits``, one per
    clause, only slips readers restore: a particle (的 地 得 了 着 过) inside a clause or the
    second of a reduplicated verb or adverb (看看 → 看); cutting a character out of a word (舒服 → 服) was judged broken in
    72% of classic copies. ``"classic"``: each character with probability ``rate``. At least one editable character is always kept; a word whose
    characters are all deleted disappears.

    Label risk: medium — in classic mode, deleting a character of a key word (e.g. 满意 → 满)
    can blur or remove the evidence for the label.
    """

    name = "char_delete"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        slots = cjk_slots(tokens)
        if self.rate <= 0 or len(slots) < 2:
            return list(tokens)
        if self.mode == "safe":
            slips = [(i, j) for i, j in slots if _droppable(tokens, i, j)]
            return replace_chars(tokens, dict.fromkeys(draw(self, slips, tokens, rng, _token), ""))
        dropped = [slot for slot in slots if rng.random() < self.rate]
        if len(dropped) == len(slots):
            dropped.remove(rng.choice(slots))
        return replace_chars(tokens, dict.fromkeys(dropped, ""))


DROPPED_PARTICLES = frozenset("的地得了着过")
"""Particles that fast typists drop (睡觉的时候 → 睡觉时候) without losing the sentence."""


_REDUPLICATED_TAGS = frozenset({"v", "vn", "d", "o"})


def _droppable(tokens: list[Token], i: int, j: int) -> bool:
    """A character whose loss is a slip readers restore: a particle inside a clause (等了2个小时 →
    等2个小时; not at its end, 水放多了 → 水放多, nor before 是), or the second of a reduplicated
    verb, adverb or sound (看看 → 看, 常常 → 常, 哈哈 → 哈; not a name such as 婷婷, nor 拳拳)."""
    word = tokens[i].text
    if word in DROPPED_PARTICLES:
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        return after is not None and after.kind not in ("punct", "space") and not after.text.startswith("是")
    return j > 0 and word[j] == word[j - 1] and tokens[i].tag in _REDUPLICATED_TAGS


@register
class CharSwap(EditOperation):
    """Swap two adjacent, different CJK characters inside an editable word (e.g. 质量 → 量质):
    ``rate`` × (such pairs) times in classic mode; in safe mode ``rate`` × (editable words), at
    most ``max_edits``, one per clause, and never into another real word (子女 → 女子).

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
            if a != b and is_cjk(a) and is_cjk(b) and a not in NUMERAL_CHARS and b not in NUMERAL_CHARS
        ]
        if self.mode == "safe":
            pairs = [(i, j) for i, j in pairs if not is_real_word(_swapped(tokens[i].text, j))]
        out = list(tokens)
        for i, j in draw(self, pairs, tokens, rng, _token):
            out[i] = out[i].with_text(_swapped(out[i].text, j))
        return out


def _swapped(text: str, j: int) -> str:
    return text[:j] + text[j + 1] + text[j] + text[j + 2 :]
