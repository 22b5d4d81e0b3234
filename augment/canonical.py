"""Canonicalisation, a defence against Chinese character noise (a RobEn-style robust encoding).

A text is rewritten before tokenisation, at training and at prediction time alike, so that the
noise zhaug's families add is undone or collapsed:

1. NFKC: full-width forms become half-width (ＡＢＣ → ABC, ， → ,);
2. zero-width and other invisible format characters (Unicode category Cf) and variation
   selectors are removed;
3. traditional → simplified (OpenCC ``t2s``);
4. every character is replaced by the canonical member of its confusion cluster: its look-alikes
   (:func:`zhaug.augment.ops.glyphs.glyph_neighbours`) and its same-tone homophones
   (:func:`zhaug.augment.ops.homophones.homophone_index`) — the most frequent one. A homophone
   typo (做 → 作) or a look-alike (情 → 请) then reaches the model as the same character as the
   original. Characters ranked among the ``keep_top`` most frequent are left as they are (and
   their clusters are not merged into them), so that mapping does not change the commonest
   words; negations, numerals and units are never mapped (``UNSAFE_CHARS``).

The mapping is a character table built once per process; :class:`Canonicaliser` is a plain
callable ``str → str`` with scikit-learn style parameters.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from zhaug.augment.ops._common import N_COMMON, UNSAFE_CHARS, common_chars
from zhaug.augment.ops.glyphs import glyph_neighbours
from zhaug.augment.ops.homophones import homophone_index
from zhaug.params import Parameters

INVISIBLE_EXTRA = frozenset(chr(c) for c in range(0xFE00, 0xFE10))
"""Variation selectors (category Mn, not Cf) that decorate a character without changing it."""


def _strip_invisible(text: str) -> str:
    return "".join(c for c in text if c not in INVISIBLE_EXTRA and unicodedata.category(c) != "Cf")


@cache
def _t2s():
    from opencc import OpenCC  # the converter loads its dictionaries on first use

    return OpenCC("t2s").convert


def cluster_table(glyphs: bool, homophones: bool, keep_top: int, n_common: int = N_COMMON) -> dict[int, str]:
    """``str.translate`` table: character → the canonical character it is confusable with.

    The character's most frequent same-tone homophone (pypinyin's main reading; characters
    whose reading depends on the word are left alone), then the most frequent of that and its
    look-alikes, then that one's homophone: a homophone typo collapses onto the original's form.
    """
    return _cluster_table(bool(glyphs), bool(homophones), int(keep_top), int(n_common))


@cache
def _cluster_table(glyphs: bool, homophones: bool, keep_top: int, n_common: int) -> dict[int, str]:
    weights = common_chars(n_common)
    rank = {c: i for i, c in enumerate(weights)}
    kept = {c for c in weights if rank[c] < keep_top} | UNSAFE_CHARS

    def most_frequent(char: str, members) -> str:
        if char in kept:
            return char
        return min((m for m in members if m not in kept), key=rank.__getitem__, default=char)

    index = homophone_index("same", n_common)
    groups = {key: chars for key, (chars, _) in index.groups.items()}

    def homophone(char: str) -> str:  # same-tone homophones are a partition
        return most_frequent(char, groups.get(index.main.get(char), (char,))) if homophones else char

    neighbours = glyph_neighbours(n_common) if glyphs else {}
    table = {}
    for c in weights:  # look-alikes are not a partition (their union is one giant cluster): the
        h = homophone(c)  # most frequent of a homophone form and its look-alikes, then its homophone
        table[c] = homophone(most_frequent(h, (h, *neighbours.get(h, ((), ()))[0])))
    return {ord(c): b for c, b in table.items() if b != c}


class Canonicaliser(Parameters):
    """Text → its canonical form (see the module docstring).

    Parameters
    ----------
    width / invisible / script: NFKC, removal of invisible characters, traditional → simplified.
    glyphs / homophones: map characters to their look-alike / same-tone homophone cluster's
        most frequent member.
    keep_top: characters among the ``keep_top`` most frequent are never mapped nor mapped to.
    """

    def __init__(self, width: bool = True, invisible: bool = True, script: bool = True,
                 glyphs: bool = True, homophones: bool = True, keep_top: int = 0):
        self.width, self.invisible, self.script = width, invisible, script
        self.glyphs, self.homophones, self.keep_top = glyphs, homophones, keep_top

    def __call__(self, text: str) -> str:
        if self.width:
            text = unicodedata.normalize("NFKC", text)
        if self.invisible:
            text = _strip_invisible(text)
        if self.script:
            text = _t2s()(text)
        if self.glyphs or self.homophones:
            text = text.translate(cluster_table(self.glyphs, self.homophones, self.keep_top))
        return text
