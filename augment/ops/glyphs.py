"""Similar-glyph typos (形近字): replace a character by a common character that looks like it.

Built from char-similar's data files, read directly (its code needs ``macropodus``):
``char_stroke.dict`` (two-part decompositions, 情 = 心 + 青), ``char_struct.dict`` (layout:
left-right, top-bottom, ...), ``char_fourangle.dict`` (four-corner codes) and
``char_number.dict`` (stroke counts). Two common characters look alike when

* they have the same layout and share their larger part, differing only in the smaller one
  (情 请 清 晴 睛 share 青; 这 还 过 share 辶), or
* they have the same four-corner code (己 已, 日 曰, 白 自),

and their stroke counts differ by at most ``MAX_STROKE_DIFF``. The index covers the common
characters only and is built once per process (about half a second).
"""

from __future__ import annotations

import random
from collections import defaultdict
from functools import cache

from zhaug.augment.base import register
from zhaug.augment.ops._common import (
    N_COMMON,
    UNSAFE_CHARS,
    EditOperation,
    char_data,
    cjk_slots,
    common_chars,
    draw,
    replace_chars,
)
from zhaug.augment.ops.homophones import choose_typo
from zhaug.augment.text import Token

MAX_STROKE_DIFF = 2

RADICAL_STROKES = {
    "心": 3, "水": 3, "手": 3, "人": 2, "言": 2, "辵": 3, "肉": 4, "金": 5, "艸": 3, "草": 3, "刀": 2,
    "犬": 3, "衣": 5, "示": 4, "糸": 3, "食": 3, "阜": 2, "邑": 2, "玉": 4, "火": 4, "足": 6, "竹": 6,
    "网": 4, "老": 4, "攴": 4, "牛": 4, "羊": 6,
}
"""Strokes of a part written as a side radical (心 → 忄 has 3, not 4)."""


def glyph_neighbours(n_common: int = N_COMMON) -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    """Each common character's look-alikes among the common characters, with sampling weights."""
    return _glyph_neighbours(int(n_common))


@cache
def _glyph_neighbours(n_common: int) -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    weights = common_chars(n_common)
    parts, layout = char_data("stroke"), char_data("struct")
    corners, strokes = char_data("fourangle"), char_data("number")

    def part_strokes(part: str) -> int:
        return RADICAL_STROKES.get(part, strokes.get(part, 0))

    by_frame: dict[tuple, set[str]] = defaultdict(set)  # (layout, slot, kept part) -> chars
    by_corner: dict[str, set[str]] = defaultdict(set)
    for char in weights:
        pair = parts.get(char)
        if pair and len(pair) == 2 and layout.get(char, "0") != "0":
            for slot in (0, 1):
                if part_strokes(pair[1 - slot]) > part_strokes(pair[slot]):
                    by_frame[layout[char], slot, pair[1 - slot]].add(char)
        if char in corners:
            by_corner[corners[char]].add(char)

    index = {}
    for char in weights:
        alike = set(by_corner.get(corners.get(char, ""), ()))
        pair = parts.get(char)
        if pair and len(pair) == 2:
            for slot in (0, 1):
                if part_strokes(pair[1 - slot]) > part_strokes(pair[slot]):
                    alike |= by_frame.get((layout.get(char, "0"), slot, pair[1 - slot]), set())
        alike = sorted(
            (c for c in alike - {char} if c not in UNSAFE_CHARS
             and abs(strokes.get(c, 0) - strokes.get(char, 0)) <= MAX_STROKE_DIFF),
            key=lambda c: (-weights[c], c),
        )
        if alike:
            index[char] = (tuple(alike), tuple(weights[c] for c in alike))
    return index


CLASSIC_CONFUSIONS = (
    "己已", "已己", "日曰", "曰日", "未末", "末未", "土士", "士土", "人入", "入人", "候侯", "侯候", "即既", "既即",
    "历厉", "厉历", "西酉", "拔拨", "拨拔", "戊戌", "辨辩", "辩辨", "徒徙", "栗粟", "刺剌", "崇祟", "很狠", "狠很",
    "账帐", "帐账", "象像", "像象",
)
"""Near-identical pairs that writers and OCR confuse (己/已, 日/曰, 未/末, 人/入, 拔/拨): used in
safe mode. The component index's looser neighbours (很 → 根, 眼; 大 → 太; 间 → 问) were judged
awkward or misleading rather than a slip readers pass over."""
_CONFUSIONS: dict[str, str] = {}
for _pair in CLASSIC_CONFUSIONS:
    _CONFUSIONS[_pair[0]] = _CONFUSIONS.get(_pair[0], "") + _pair[1]


@register
class GlyphSwap(EditOperation):
    """Replace characters in editable words by a similar-looking common character (情 → 请,
    己 → 已), drawn with probability ∝ frequency; never a vulgar one.

    Parameters
    ----------
    rate:
        Share replaced: of the editable words, at most ``max_edits`` and one per clause (safe
        mode), or of the characters that have a look-alike (classic mode).
    n_common:
        Only the ``n_common`` most frequent characters are replaced or used as substitutes.
    mode, max_edits:
        ``"safe"`` (default): only the classic confusions of :data:`CLASSIC_CONFUSIONS`, never
        making another real word; ``"classic"``: any look-alike of the index, counting
        characters, without a cap.

    Label risk: medium — OCR- and handwriting-like noise; the word becomes a non-word that
    readers decode from its shape, but a replaced key character can hide the label's evidence.
    """

    name = "similar_glyph"
    label_risk = "medium"

    def __init__(self, rate: float = 0.1, n_common: int = N_COMMON, mode: str = "safe", max_edits: int = 2):
        super().__init__(rate, mode, max_edits)
        self.n_common = n_common

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        if self.rate <= 0:
            return list(tokens)
        if self.mode == "safe":
            slots = [(i, j) for i, j in cjk_slots(tokens) if tokens[i].text[j] in _CONFUSIONS]
            edits = {}
            for i, j in draw(self, slots, tokens, rng, lambda slot: slot[0]):
                chars = _CONFUSIONS[tokens[i].text[j]]
                edits[i, j] = choose_typo(self, tokens[i].text, j, chars, [1.0] * len(chars), rng)
            return replace_chars(tokens, {slot: char for slot, char in edits.items() if char})
        index = glyph_neighbours(self.n_common)
        slots = [(i, j) for i, j in cjk_slots(tokens) if tokens[i].text[j] in index]
        edits = {}
        for i, j in draw(self, slots, tokens, rng, lambda slot: slot[0]):
            chars, weights = index[tokens[i].text[j]]
            edits[i, j] = choose_typo(self, tokens[i].text, j, chars, weights, rng)
        return replace_chars(tokens, {slot: char for slot, char in edits.items() if char})
