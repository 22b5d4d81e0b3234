"""Shared plumbing for the operations: the ``rate`` parameter, the draw of the units to edit
(EDA's free draw, or the safe draw: few edits, spread over the clauses), mark insertion,
parameter checks, character frequencies and character edit slots.

The character data is read once per process (``functools.cache``) straight from the
``char-similar`` package's data folder; its code is not imported.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from functools import cache
from itertools import accumulate
from typing import TypeVar

from zhaug.augment.base import Operation, editable_positions, n_edits
from zhaug.augment.text import NEGATION_CHARS, NUMERAL_CHARS, Token, dictionary_tags, is_cjk
from zhaug.resources import char_similar_dir

T = TypeVar("T")

N_COMMON = 3500
"""How many characters count as common (the size of the 现代汉语常用字表)."""

VULGAR_CHARS = frozenset("屎粪尿屁婊妓娼嫖淫奸屌屄逼肏操骚贱尸死亡杀屠葬坟丧癌毒蛆痰粪裸睾阴茎乳臀孕妾奴贼")
"""Characters a typo must not bring in: vulgar, sexual, or about death and disease (开屎了, 婊态,
大部粪; a 死 or 毒 typo in a news post reads as a claim)."""

UNSAFE_CHARS = frozenset(
    NEGATION_CHARS | NUMERAL_CHARS | set("零〇一二两三四五六七八九十百千万亿") | set("年月日号点时分秒元块角") | VULGAR_CHARS
)
"""Characters an operation never introduces: a negation, a numeral or a date / time / money unit
would change a protected fact or create a new protected span; a vulgar one changes the register."""

MODES = ("safe", "classic")
"""``safe`` (default): at most ``max_edits`` edits, one per clause, their number counted on words,
and only edits that keep Chinese readable; ``classic``: the published method (EDA, AEDA) as is."""

CLAUSE_MARKS = frozenset("，,。！？!?；;：:、…～~\n")


class RateOperation(Operation):
    """An operation whose only parameter is ``rate``, the share of its units it edits."""

    def __init__(self, rate: float = 0.1):
        self.rate = rate


def check_mode(op: str, mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of :data:`MODES`."""
    check_choice(op, "mode", mode, MODES)


def clauses(tokens: Sequence[Token]) -> list[int]:
    """The clause of each token: clauses end at punctuation such as ，。！？、 and at line breaks."""
    out, clause = [], 0
    for token in tokens:
        out.append(clause)
        if token.kind in ("punct", "space") and not CLAUSE_MARKS.isdisjoint(token.text):
            clause += 1
    return out


def spread(
    units: Sequence[T], tokens: Sequence[Token], rate: float, max_edits: int, rng: random.Random,
    token_of: Callable[[T], int] | None = None,
) -> list[T]:
    """The safe draw: ``rate`` × (editable words) of ``units``, at most ``max_edits`` and at most
    one per clause (``token_of(unit)`` gives a unit's token index; default: the unit is one).

    Rates count words, not characters, so a long post gets no more edits per word than a
    review; more than one edit per clause or a handful per text is what turns a copy into a
    broken one (4+ character edits: 74 of 75 copies judged broken in ../shared/judged)."""
    if rate <= 0 or not units:
        return []
    count = min(max_edits, n_edits(rate, len(editable_positions(tokens)) or 1, rng))
    clause_of = clauses(tokens)
    chosen: list[T] = []
    used: set[int] = set()
    for unit in rng.sample(list(units), len(units)):
        clause = clause_of[token_of(unit) if token_of else unit]  # type: ignore[index]
        if clause not in used:
            used.add(clause)
            chosen.append(unit)
            if len(chosen) == count:
                break
    return chosen


def draw(op: EditOperation, units: Sequence[T], tokens: Sequence[Token], rng: random.Random,
         token_of: Callable[[T], int] | None = None) -> list[T]:
    """The units ``op`` edits: :func:`spread` in safe mode, :func:`pick` in classic mode."""
    if op.mode == "classic":
        return pick(units, op.rate, rng)
    return spread(units, tokens, op.rate, op.max_edits, rng, token_of)


class EditOperation(Operation):
    """An operation with a ``rate``, a ``mode`` (:data:`MODES`) and a cap ``max_edits`` per text
    (used in safe mode)."""

    def __init__(self, rate: float = 0.1, mode: str = "safe", max_edits: int = 2):
        check_mode(self.name, mode)
        self.rate, self.mode, self.max_edits = rate, mode, max_edits


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
    """``(token index, char index)`` of every CJK character inside the editable words, numerals
    and time words aside (五六天 → 互六天, 周日 → 周曰 change or blur a fact)."""
    return [
        (i, j) for i in editable_positions(tokens) if tokens[i].tag != "t" for j, char in enumerate(tokens[i].text)
        if fast_is_cjk(char) and char not in NUMERAL_CHARS
    ]


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


def is_real_word(text: str) -> bool:
    """Whether ``text`` (2+ characters) is a word of jieba's dictionary: a typo that makes one is
    read as a different word (年轻 → 年青, 子女 → 女子), not as a typo."""
    return len(text) > 1 and text in dictionary_tags()
