"""Homophone typos: replace a character by a common character with the same pinyin.

The pinyin → characters index covers the common characters (char-similar's frequency list,
top :data:`~zhaug.augment.ops._common.N_COMMON`) and is built once per process from pypinyin's
character and phrase dictionaries (read as data: calling ``pypinyin.pinyin`` per word is
~0.2 ms, too slow for the per-sentence budget).
"""

from __future__ import annotations

import random
from collections import Counter
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from zhaug.augment.base import register
from zhaug.augment.ops._common import (
    N_COMMON,
    UNSAFE_CHARS,
    EditOperation,
    check_choice,
    cjk_slots,
    common_chars,
    draw,
    is_real_word,
    replace_chars,
)
from zhaug.augment.text import Token

if TYPE_CHECKING:
    from collections.abc import Sequence

TONES = ("same", "any")


@lru_cache(maxsize=4096)
def reading_key(reading: str, tone: str) -> str:
    """A pinyin reading as an index key: with its tone digit (``tone="same"``) or without (``"any"``)."""
    from pypinyin.contrib.tone_convert import to_normal, to_tone3

    return to_tone3(reading, neutral_tone_with_five=True) if tone == "same" else to_normal(reading)


class HomophoneIndex:
    """Common characters grouped by pinyin (with tone, or without when ``tone="any"``).

    A character's reading is pypinyin's first (most common) one. pypinyin also lists rare
    readings for most characters (好 hào, 大 tài), so a character counts as ambiguous only
    when its phrase dictionary uses a second reading in at least ``AMBIGUOUS_SHARE`` of the
    phrases containing it (行 xíng / háng, 长 cháng / zhǎng). ``main`` maps each unambiguous
    common character to its reading. A character is read in the context of its word when the
    phrase dictionary has the word (银行 → háng); otherwise by its ``main`` reading, and an
    ambiguous one is left alone.
    """

    AMBIGUOUS_SHARE = 0.15

    def __init__(self, tone: str = "same", n_common: int = N_COMMON):
        from pypinyin.phrases_dict import phrases_dict
        from pypinyin.pinyin_dict import pinyin_dict

        self.tone, self.phrases = tone, phrases_dict
        weights = common_chars(n_common)
        uses: dict[str, Counter] = {  # only characters with several readings need counting
            char: Counter() for char in weights
            if len({reading_key(r, tone) for r in pinyin_dict.get(ord(char), "").split(",")}) > 1
        }
        for phrase, readings in phrases_dict.items():
            for j, char in enumerate(phrase):
                if char in uses and len(readings) == len(phrase):
                    uses[char][reading_key(readings[j][0], tone)] += 1
        self.main: dict[str, str] = {}
        self.ambiguous: set[str] = set()
        groups: dict[str, list[str]] = {}
        for char in weights:
            first = pinyin_dict.get(ord(char), "").split(",")[0]
            if not first:
                continue
            key, counts = reading_key(first, tone), uses.get(char, Counter())
            others = sum(n for k, n in counts.items() if k != key)
            if others >= 2 and others >= self.AMBIGUOUS_SHARE * sum(counts.values()):
                self.ambiguous.add(char)
            else:
                self.main[char] = key
            if char not in UNSAFE_CHARS:  # a substitute is read by its most common reading
                groups.setdefault(key, []).append(char)
        self.groups = {key: (tuple(chars), tuple(weights[c] for c in chars)) for key, chars in groups.items()}

    def reading(self, word: str, j: int) -> str | None:
        """The reading of ``word[j]`` in this word, or ``None`` when it is unknown or ambiguous."""
        readings = self.phrases.get(word) if len(word) > 1 else None
        if readings and len(readings) == len(word):
            return reading_key(readings[j][0], self.tone)
        return self.main.get(word[j])

    def candidates(self, key: str, char: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        chars, weights = self.groups.get(key, ((), ()))
        if char in chars:
            k = chars.index(char)
            chars, weights = chars[:k] + chars[k + 1 :], weights[:k] + weights[k + 1 :]
        return chars, weights


def homophone_index(tone: str = "same", n_common: int = N_COMMON) -> HomophoneIndex:
    """The index for ``tone`` (built once per process)."""
    return _homophone_index(tone, int(n_common))


@cache
def _homophone_index(tone: str, n_common: int) -> HomophoneIndex:
    return HomophoneIndex(tone, n_common)


COMMON_SLIPS = {
    "在": "再", "再": "在", "的": "得地", "得": "的", "地": "的", "做": "作", "作": "做", "那": "哪", "哪": "那",
    "很": "狠", "像": "象", "以": "已", "已": "以", "坐": "座", "座": "坐", "带": "戴",
    "戴": "带", "吗": "嘛", "嘛": "吗", "账": "帐", "帐": "账", "即": "既", "既": "即", "吧": "叭",
    "啦": "拉",
}
"""Homophone slips real users make (在/再, 的/得/地, 做/作, 很/狠 ...): preferred in safe mode, as
readers restore them without effort (judged ok where other homophones were awkward)."""


@register
class HomophoneSwap(EditOperation):
    """Replace characters in editable words by homophones.

    Parameters
    ----------
    rate:
        Share replaced: of the editable words, at most ``max_edits`` and one per clause (safe
        mode), or of the characters (classic mode).
    tone:
        ``"same"``: same syllable and tone (的 → 得 is not, 做 → 作 is); ``"any"``: same syllable,
        any tone (a looser, noisier typo).
    n_common:
        Substitutes come from the ``n_common`` most frequent characters, drawn with probability
        ∝ frequency, so that rare characters are not picked. A character with several readings
        is replaced only when its word fixes the reading (银行 → háng). Vulgar characters and
        characters about death or disease are never substitutes (开始 → 开屎).
    mode, max_edits:
        ``"safe"`` (default) prefers the slips real users make (:data:`COMMON_SLIPS`, in
        one-character words: 在 → 再, 的 → 得) and never makes another real word (年轻 → 年青);
        ``"classic"`` counts characters, without a cap.

    Label risk: medium — homophone typos are how Chinese users type (and how they dodge
    filters); the sound is kept, but a replaced key character can hide the label's evidence.
    """

    name = "homophone"
    label_risk = "medium"

    def __init__(
        self, rate: float = 0.1, tone: str = "same", n_common: int = N_COMMON, mode: str = "safe", max_edits: int = 2
    ):
        check_choice(self.name, "tone", tone, TONES)
        super().__init__(rate, mode, max_edits)
        self.tone, self.n_common = tone, n_common

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        if self.rate <= 0:
            return list(tokens)
        index = homophone_index(self.tone, self.n_common)
        slots = [
            (i, j) for i, j in cjk_slots(tokens)
            if tokens[i].text[j] in index.main or tokens[i].text[j] in index.ambiguous
        ]
        slips = {(i, j): chars for i, j in slots if (chars := self._slips(index, tokens[i].text, j))}
        if self.mode == "safe" and slips:
            chosen = draw(self, list(slips), tokens, rng, lambda slot: slot[0])
            return replace_chars(tokens, {slot: rng.choice(slips[slot]) for slot in chosen})
        edits = {}
        for i, j in draw(self, slots, tokens, rng, lambda slot: slot[0]):
            key = index.reading(tokens[i].text, j)
            chars, weights = index.candidates(key, tokens[i].text[j]) if key else ((), ())
            if chars:
                edits[i, j] = choose_typo(self, tokens[i].text, j, chars, weights, rng)
        return replace_chars(tokens, {slot: char for slot, char in edits.items() if char})

    @staticmethod
    def _slips(index: HomophoneIndex, word: str, j: int) -> str:
        """The common slips for ``word[j]`` (a one-character word) that sound as it does here."""
        if len(word) != 1 or word not in COMMON_SLIPS:
            return ""
        key = index.reading(word, j)
        return "".join(c for c in COMMON_SLIPS[word] if key and c in index.groups.get(key, ((), ()))[0])


def choose_typo(
    op: EditOperation, word: str, j: int, chars: Sequence[str], weights: Sequence[float], rng: random.Random
) -> str | None:
    """A substitute for ``word[j]`` drawn from ``chars``; in safe mode one that does not make
    ``word`` another real word (up to three draws, else ``None``: no edit)."""
    tries = 1 if op.mode == "classic" else 3
    for _ in range(tries):
        char = rng.choices(chars, weights)[0]
        if op.mode == "classic" or not is_real_word(word[:j] + char + word[j + 1 :]):
            return char
    return None
