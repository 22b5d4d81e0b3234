"""Simplified ↔ traditional script with OpenCC (``opencc-python-reimplemented``).

Words are converted one by one (jieba words are the phrases OpenCC's dictionaries know,
头发 → 頭髮), and each word's conversion is memoised per process. Protected spans (names,
titles, quotations ...) keep their script, so at ``rate`` 1.0 every editable word is converted
and the protected ones are not.
"""

from __future__ import annotations

import random
from functools import cache, lru_cache

from zhaug.augment.base import Operation, editable_positions, register
from zhaug.augment.ops._common import pick
from zhaug.augment.text import Token


@cache
def _converter(config: str):
    from opencc import OpenCC

    return lru_cache(maxsize=1 << 16)(OpenCC(config).convert)


class _Convert(Operation):
    config: str

    def __init__(self, rate: float = 1.0):
        self.rate = rate

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        positions = editable_positions(tokens, cjk_only=True)
        chosen = positions if self.rate >= 1 else pick(positions, self.rate, rng)
        convert = _converter(self.config)
        out = list(tokens)
        for i in chosen:
            out[i] = tokens[i].with_text(convert(tokens[i].text))
        return out


@register
class ToTraditional(_Convert):
    """Convert ``rate`` × (editable Chinese words) words to traditional characters (OpenCC
    ``s2t``); at ``rate`` 1.0 every editable word.

    Label risk: low — the same words in another script; models trained on simplified text see
    different characters, which is what a robustness check wants.
    """

    name = "traditional"
    label_risk = "low"
    config = "s2t"


@register
class ToSimplified(_Convert):
    """Convert ``rate`` × (editable Chinese words) words to simplified characters (OpenCC
    ``t2s``); at ``rate`` 1.0 every editable word.

    Label risk: low — the same words in another script.
    """

    name = "simplified"
    label_risk = "low"
    config = "t2s"
