"""Correction, a defence against Chinese character noise that leaves clean text alone.

Canonicalisation (:mod:`zhaug.augment.canonical`) maps every character to its confusion
cluster's representative, so it also rewrites about a third of the characters of clean text and
the model sees unfamiliar Chinese. A corrector instead asks a language model, at each character,
whether one of the characters it is confusable with fits its context far better, and only then
replaces it (a spelling corrector, as in Chinese CSC systems, with the packaged character 5-gram
model of :mod:`zhaug.augment.char_lm`):

1. NFKC, invisible characters removed, traditional → simplified (as ``normalise``);
2. lower-case pinyin written between Chinese characters (好jiu店, zai来) is read back into
   characters: the syllables and the characters with that reading chosen together by a beam
   search under the model, kept only when the model prefers them to the letters;
3. a character is replaced by a same-tone homophone or a look-alike, or two neighbouring
   characters by a dictionary word that sounds the same (防兼 → 房间), when the model's
   log-probability of the window around them (the replaced characters and the ``order - 1``
   after them) rises by more than ``margin`` nats; corrections are applied best first, never
   two within one window of each other in a pass, in up to ``passes`` passes.

Chinese punctuation is kept as it is (only full-width letters and digits become half-width),
so that a model trained without this defence still sees the text it knows.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import numpy as np

from zhaug.augment.canonical import Canonicaliser
from zhaug.augment.char_lm import CharNgramLM, packaged_lm
from zhaug.augment.ops._common import UNSAFE_CHARS, fast_is_cjk
from zhaug.augment.ops.glyphs import glyph_neighbours
from zhaug.augment.ops.homophones import homophone_index, reading_key
from zhaug.params import Parameters
from zhaug.resources import package_file

_LATIN_RUN = re.compile(r"[a-z]+")
_MAX_SYLLABLE = 6


@cache
def confusables() -> dict[str, tuple[str, ...]]:
    """Each common character → the characters a noisy one may stand for: same-tone homophones
    and look-alikes (both relations taken both ways); negations, numerals and units (the noise
    families never touch them) are neither replaced nor put in."""
    index, out = homophone_index("same"), {}
    for chars, _ in index.groups.values():
        for char in chars:
            out.setdefault(char, set()).update(c for c in chars if c != char)
    for char, (alike, _) in glyph_neighbours().items():
        out.setdefault(char, set()).update(alike)
        for other in alike:
            out.setdefault(other, set()).add(char)
    return {char: tuple(sorted(others - UNSAFE_CHARS)) for char, others in out.items()
            if char not in UNSAFE_CHARS and others - UNSAFE_CHARS}


MIN_WORD_FREQUENCY = 20
"""Two-character words of jieba's dictionary seen at least this often are word candidates."""


@cache
def sound_alike_words() -> dict[tuple[str, str], tuple[str, ...]]:
    """(reading, reading) with tones → the two-character dictionary words read so: the candidates
    for two neighbouring characters that are both homophone slips (防兼 → 房间). Words with a
    negation or a numeral are left out: a correction never adds or removes one."""
    from pypinyin.phrases_dict import phrases_dict

    main, words = homophone_index("same").main, {}
    with open(package_file("jieba", "dict.txt"), encoding="utf-8") as handle:
        for line in handle:
            word, count, _ = line.split(" ", 2)
            if len(word) != 2 or int(count) < MIN_WORD_FREQUENCY or not UNSAFE_CHARS.isdisjoint(word):
                continue
            readings = phrases_dict.get(word)
            key = tuple(reading_key(r[0], "same") for r in readings) if readings and len(readings) == 2 \
                else (main.get(word[0]), main.get(word[1]))
            if all(key):
                words.setdefault(key, []).append(word)
    return {key: tuple(found) for key, found in words.items()}


@cache
def syllables(per_syllable: int = 25) -> dict[str, tuple[str, ...]]:
    """Toneless pinyin syllable → its most frequent characters (at most ``per_syllable``)."""
    index = homophone_index("any")
    return {key: tuple(c for _, c in sorted(zip(weights, chars), key=lambda p: -p[0])[:per_syllable])
            for key, (chars, weights) in index.groups.items() if key.isascii() and key.isalpha()}


class Corrector(Parameters):
    """Text → the text with likely homophone, look-alike, pinyin and script noise corrected
    (see the module docstring). A plain callable ``str → str`` with scikit-learn style parameters.

    Parameters
    ----------
    margin: nats by which a replacement must raise the window's log-probability.
    passes: correction passes over the text.
    pinyin: read pinyin between Chinese characters back into characters.
    beam: hypotheses kept while reading pinyin back.
    """

    def __init__(self, margin: float = 6.0, passes: int = 2, pinyin: bool = True, beam: int = 8):
        self.margin, self.passes, self.pinyin, self.beam = margin, passes, pinyin, beam

    def __call__(self, text: str) -> str:
        return _corrected(text, self.margin, self.passes, self.pinyin, self.beam)

    def correct(self, text: str) -> str:
        """The corrected text, computed (``__call__`` memoises it: training encodes the same
        texts every epoch, and an audit predicts the clean texts more than once)."""
        text = _normalise(text)
        if self.pinyin:
            text = self.read_pinyin(text)
        for _ in range(self.passes):
            corrected = self.correct_chars(text)
            if corrected == text:
                break
            text = corrected
        return text

    def correct_chars(self, text: str) -> str:
        """One pass of character replacements (step 3 of the module docstring)."""
        n = _lm().order - 1
        proposals = _proposals(text)
        if not proposals:
            return text
        originals = sorted({(i, text[i : i + len(c)]) for i, c in proposals})
        scores = _window_scores(text, originals + proposals)
        own = dict(zip(originals, scores))
        gains = sorted(((score - own[i, text[i : i + len(c)]], i, c) for (i, c), score
                        in zip(proposals, scores[len(originals):])), reverse=True)
        chars, taken = list(text), []
        for gain, i, c in gains:
            if gain <= self.margin:
                break
            if all(abs(i - j) > n + 1 for j in taken):
                chars[i : i + len(c)] = c
                taken.append(i)
        return "".join(chars)

    def read_pinyin(self, text: str) -> str:
        """Lower-case Latin runs between Chinese characters or marks (not inside a Latin word,
        not after a space) that parse as pinyin, read back when the model prefers the characters
        to the letters (特别是sata驱动 stays)."""
        out, last, n = [], 0, _lm().order - 1
        for match in _LATIN_RUN.finditer(text):
            a, b = match.span()
            sides = (text[a - 1] if a else "", text[b] if b < len(text) else "")
            if any(side.isascii() and (side.isalnum() or side.isspace()) for side in sides if side) \
                    or not any(fast_is_cjk(side) for side in sides if side):
                continue
            before, after = text[max(0, a - n) : a], text[b : b + n]
            chars = self._decode(before, match.group(), after)
            if chars is None:
                continue
            kept, read = _lm().batch_logprobs([before + match.group() + after, before + chars + after])
            if read[len(before):].sum() > kept[len(before):].sum():
                out += [text[last:a], chars]
                last = b
        return "".join(out) + text[last:]

    def _decode(self, before: str, run: str, after: str) -> str | None:
        """The characters that ``run`` most likely spells between ``before`` and ``after``, or
        ``None`` when it is not a sequence of pinyin syllables."""
        lm, table, n = _lm(), syllables(), _lm().order - 1
        beams = [(0.0, 0, "")]  # (log-probability, characters of run read, characters so far)
        finished = []
        while beams:
            grown = []
            for score, at, chars in beams:
                for size in range(1, min(_MAX_SYLLABLE, len(run) - at) + 1):
                    for char in table.get(run[at : at + size], ()):
                        grown.append((score, at + size, chars + char))
            if not grown:
                break
            contexts = [(before + chars)[-n - 1 :] for _, _, chars in grown]
            gains = [lp[-2] for lp in lm.batch_logprobs(contexts)]
            scored = sorted(((s + g, at, chars) for (s, at, chars), g in zip(grown, gains)), reverse=True)
            finished += [b for b in scored if b[1] == len(run)]
            beams = [b for b in scored if b[1] < len(run)][: self.beam]
        if not finished:
            return None
        best = sorted(finished, reverse=True)[: self.beam]
        tails = lm.batch_logprobs([(before + chars)[-n:] + after for _, _, chars in best])
        totals = [score + lp[min(n, len(chars) + len(before)) :].sum() for (score, _, chars), lp in zip(best, tails)]
        return best[int(np.argmax(totals))][2]


@lru_cache(maxsize=2**16)
def _corrected(text: str, margin: float, passes: int, pinyin: bool, beam: int) -> str:
    return Corrector(margin, passes, pinyin, beam).correct(text)


def _proposals(text: str) -> list[tuple[int, str]]:
    """(position, replacement): a confusable character for each Chinese one, and a sound-alike
    word for each pair of neighbouring Chinese characters that is not a dictionary word."""
    table, words, main = confusables(), sound_alike_words(), homophone_index("same").main
    out = [(i, c) for i, char in enumerate(text) if fast_is_cjk(char) for c in table.get(char, ())]
    for i in range(len(text) - 1):
        pair = text[i : i + 2]
        key = (main.get(pair[0]), main.get(pair[1]))
        if all(key) and fast_is_cjk(pair[0]) and fast_is_cjk(pair[1]) and UNSAFE_CHARS.isdisjoint(pair):
            out += [(i, word) for word in words.get(key, ()) if word != pair]
    return out


_SCORES: dict[tuple[str, int, bool], float] = {}
"""Window scores already computed: texts that differ in a few characters (an audit's noisy
copies, an attack's queries) share most of their windows. Emptied when it holds a million."""


def _window_scores(text: str, edits: list[tuple[int, str]]) -> list[float]:
    """For each (position, replacement): the model's log-probability of the replacement and the
    ``order - 1`` characters after it, in ``text`` with the replacement made."""
    lm = _lm()
    n = lm.order - 1
    keys = []
    for i, c in edits:
        start, end = max(0, i - n), min(len(text), i + len(c) + n)
        keys.append((text[start:i] + c + text[i + len(c) : end], i - start, end == len(text)))
    new = list(dict.fromkeys(key for key in keys if key not in _SCORES))
    if len(_SCORES) + len(new) > 1_000_000:
        _SCORES.clear()
    for (window, at, last), lp in zip(new, lm.batch_logprobs([window for window, _, _ in new])):
        _SCORES[window, at, last] = float(lp[at : len(lp) - (0 if last else 1)].sum())
    return [_SCORES[key] for key in keys]


@cache
def _lm() -> CharNgramLM:
    return packaged_lm()


_normalise_script = Canonicaliser(width=False, glyphs=False, homophones=False)
_HALF_WIDTH = {code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}


def _normalise(text: str) -> str:
    """Full-width letters and digits → half-width, invisible characters removed, traditional →
    simplified; Chinese punctuation kept."""
    return _normalise_script(text.translate(_HALF_WIDTH))
