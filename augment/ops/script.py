"""Simplified ↔ traditional script with OpenCC (``opencc-python-reimplemented``).

Words are converted one by one (jieba words are the phrases OpenCC's dictionaries know,
头发 → 頭髮), and each word's conversion is memoised per process. Protected spans (names,
titles, quotations ...) keep their script, so at ``rate`` 1.0 every editable word is converted
and the protected ones are not.
"""

from __future__ import annotations

import random
from functools import cache, lru_cache

from zhaug.augment.base import Operation, register
from zhaug.augment.ops._common import fast_is_cjk, pick
from zhaug.augment.text import Token

_VARIANTS = str.maketrans({"溼": "濕"})
"""Forms OpenCC's Taiwan table still gives that Taiwanese writers rarely use."""


@cache
def _converter(config: str):
    from opencc import OpenCC

    convert = OpenCC(config).convert
    return lru_cache(maxsize=1 << 16)(lambda text: convert(text).translate(_VARIANTS))


class _Convert(Operation):
    config: str

    def __init__(self, rate: float = 1.0):
        self.rate = rate

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        positions = [i for i, token in enumerate(tokens) if any(fast_is_cjk(c) for c in token.text)]
        chosen = positions if self.rate >= 1 else pick(positions, self.rate, rng)
        convert = _converter(self.config)
        out = list(tokens)
        for i in chosen:
            out[i] = tokens[i].with_text(convert(tokens[i].text))
        return out


@register
class ToTraditional(_Convert):
    """Convert ``rate`` × (Chinese words) words to traditional characters (OpenCC ``s2tw``);
    at ``rate`` 1.0 the whole text, protected spans included.

    Label risk: low — the same words in another script; models trained on simplified text see
    different characters, which is what a robustness check wants.
    """

    name = "traditional"
    label_risk = "low"
    config = "s2tw"


@register
class ToSimplified(_Convert):
    """Convert ``rate`` × (Chinese words) words to simplified characters (OpenCC ``t2s``); at
    ``rate`` 1.0 the whole text, protected spans included.

    Label risk: low — the same words in another script.
    """

    name = "simplified"
    label_risk = "low"
    config = "t2s"
