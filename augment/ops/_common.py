"""Shared plumbing for the operations: the ``rate`` parameter, the draw of the units to edit,
mark insertion, parameter checks, character frequencies and character edit slots.

The character data is read once per process (``functools.cache``) straight from the
``char-similar`` package's data folder; its code is not imported.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from functools import cache
from itertools import accumulate
from typing import TypeVar

from zhaug.augment.base import Operation, editable_positions, n_edits
from zhaug.augment.text import NEGATION_CHARS, Token, is_cjk
from zhaug.resources import char_similar_dir

T = TypeVar("T")

N_COMMON = 3500
"""How many characters count as common (the size of the 现代汉语常用字表)."""

UNSAFE_CHARS = frozenset(NEGATION_CHARS | set("零〇一二两三四五六七八九十百千万亿") | set("年月日号点时分秒元块角"))
"""Characters an operation never introduces: a negation, a numeral or a date / time / money unit
would change a protected fact or create a new protected span."""


class RateOperation(Operation):
    """An operation whose only parameter is ``rate``, the share of its units it edits."""

    def __init__(self, rate: float = 0.1):
        self.rate = rate


def pick(units: Sequence[T], rate: float, rng: random.Random) -> list[T]:
    """:func:`~zhaug.augment.base.n_edits` of ``units`` at ``rate``, drawn at random (in draw order)."""
    return rng.sample(units, n_edits(rate, len(units), rng))


def insert_marks(
    tokens: Sequence[Token], places: Sequence[int], marks: str, rate: float, rng: random.Random
) -> list[Token]:
    """A new token list with a mark drawn from ``marks`` inserted before ``rate`` × (``places``)
    of the token indices ``places`` (as a non-word token, so no later operation edits it)."""
    out = list(tokens)
    for k in sorted(pick(places, rate, rng), reverse=True):
        out.insert(k, Token(rng.choice(marks), "punct"))
    return out


def check_choice(op: str, param: str, value: str, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` (naming operation ``op`` and ``param``) unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{op}: {param} must be one of {allowed}, not {value!r}")


def check_nonempty(op: str, param: str, value: str) -> None:
    """Raise ``ValueError`` (naming operation ``op`` and ``param``) if ``value`` is empty."""
    if not value:
        raise ValueError(f"{op}: {param} must not be empty")


@cache
def char_data(name: str) -> dict:
    """One of char-similar's ``char_*.dict`` files (JSON), e.g. ``char_data("frequency")``."""
    with open(char_similar_dir() / f"char_{name}.dict", encoding="utf-8") as f:
        return json.load(f)


def common_chars(n: int = N_COMMON) -> dict[str, float]:
    """The ``n`` most frequent simplified CJK characters, most frequent first, with a sampling
    weight (traditional forms such as 說 are left out: a typo is not a change of script).

    char-similar stores log2 counts (的 26.8, rank 3500 about 12.2); the weight is the square
    root of the count, ``2 ** (log2 / 2)``: common characters are preferred without one of them
    being picked every time (的 : rank-3500 character is about 150 : 1).
    """
    return _common_chars(int(n))


@cache
def _common_chars(n: int) -> dict[str, float]:
    from opencc import OpenCC

    to_simplified = OpenCC("t2s").convert
    frequency = char_data("frequency")
    ranked = sorted((c for c in frequency if len(c) == 1 and is_cjk(c)), key=lambda c: (-frequency[c], c))
    chosen: dict[str, float] = {}
    for c in ranked:
        if len(chosen) == n:
            break
        if to_simplified(c) == c:
            chosen[c] = 2.0 ** (float(frequency[c]) / 2)
    return chosen


def insertable_chars(n: int = N_COMMON) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Common characters that may be inserted, with their *cumulative* sampling weights (for
    ``rng.choices(chars, cum_weights=...)``, which then skips an O(n) sum per draw)."""
    return _insertable_chars(int(n))


@cache
def _insertable_chars(n: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    chars = {c: f for c, f in common_chars(n).items() if c not in UNSAFE_CHARS}
    return tuple(chars), tuple(accumulate(chars.values()))


def fast_is_cjk(char: str) -> bool:
    """:func:`~zhaug.augment.text.is_cjk` without the regex call (it is on the per-character path)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def cjk_slots(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """``(token index, char index)`` of every CJK character inside the editable words."""
    return [(i, j) for i in editable_positions(tokens) for j, char in enumerate(tokens[i].text) if fast_is_cjk(char)]


def replace_chars(tokens: Sequence[Token], edits: dict[tuple[int, int], str]) -> list[Token]:
    """A new token list with the characters at ``(token, char)`` replaced by ``edits`` values
    (a value may be ``""`` to delete or two characters to insert)."""
    by_token: dict[int, dict[int, str]] = {}
    for (i, j), text in edits.items():
        by_token.setdefault(i, {})[j] = text
    out = list(tokens)
    for i, chars in by_token.items():
        text = "".join(chars.get(j, char) for j, char in enumerate(out[i].text))
        out[i] = out[i].with_text(text)
    return [token for token in out if token.text]
