"""Chinese text as a list of tokens, with the spans no operation may edit.

Text is segmented with jieba's dictionary and algorithm (word level, HMM for unknown words);
operations that work per character edit the characters inside word tokens. The default backend
is jieba-rs (the ``rjieba`` binding), faster than the Python ``jieba``, whose ``cut``
was most of an operation's time; both gave the same tokens on all 2,000 review sentences of
``benchmarks/augment_speed.py``. ``Segmenter(backend="jieba")`` uses the Python package. Tokens are re-joined exactly
(``"".join``), so no space is ever inserted into Chinese, and whitespace, Latin words, digits and
punctuation keep their form.

Protected spans (numbers, dates, times, percentages, money, named entities, 《titles》,
quotations, URLs, @mentions, #topics#, emoji, negation words, idioms) become tokens with
``protected=True``. For fake-news work, changing one of these changes the truth of the text,
so operations leave them alone unless the user opts in by leaving the kind out of ``protect``.
Regexes find the spans with a fixed form; jieba's words and tags then find the Chinese ones,
and adjacent words are merged into one protected token where they belong together:

* a number with its classifier or unit (16个月, 两千五百元, 三十来岁, 第3天);
* an organisation or place: nouns ending in a suffix such as 医院, 委员会, 局, 市
  (雷神山医院, 湖北省卫生健康委员会); Latin words (brand names such as OPPO, iPhone);
* a negator with the word it governs (不方便, 不会入住, 不是很干净).
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path

import jieba

NEGATION_CHARS = frozenset("不没未非无别莫勿")
ENTITY_TAGS = frozenset({"nr", "ns", "nt", "nz", "nrt", "nrfg"})
IDIOM_TAGS = frozenset({"i", "l"})
"""jieba tags of fixed expressions: ``i`` idioms (成语), ``l`` set phrases (习用语, 4+ characters)."""

NUMERAL_CHARS = frozenset("零〇一二两三四五六七八九十百千万亿几半俩")
UNITS = frozenset(
    "个 次 天 年 月 日 号 岁 周 星期 小时 钟头 分钟 秒 秒钟 元 块 块钱 毛 角 分 斤 公斤 克 千克 两 吨 米 公里 里 "
    "厘米 毫米 平 平米 平方 平方米 层 楼 件 台 部 本 张 条 只 位 名 人 家 间 份 盒 瓶 杯 碗 袋 包 箱 双 对 套 种 "
    "点 成 折 倍 星 例 批 辆 架 顿 餐 口 片 颗 粒 根 支 把 门 所 座 栋 届 期 集 页 章 节 段 句 字 声 步 站 度 级 "
    "轮 场 趟 遍 回 下 些 群 串 笔 项 款 篇 首 幅 晚 夜 宿 万 亿 千 百 个月 多 余 来 几 左右 上下 多个 来个".split()
)
"""Classifiers, units and approximators that belong to the number before them (三十来岁, 16个月)."""

ORG_SUFFIXES = frozenset(
    "医院 委员会 委 组织 公司 集团 大学 学院 中学 小学 学校 局 厅 署 部 办 省 市 县 区 镇 乡 村 街道 银行 "
    "中心 协会 政府 法院 检察院 派出所 研究所 研究院 电视台 日报 晚报 报社 出版社 基金会 俱乐部 联合会 办公室 "
    "公园 广场 大厦 机场 火车站 景区 酒店 宾馆 饭店".split()
)
"""Words that end an organisation's or a place's name: with the nouns before them they are a name."""

NEGATORS = frozenset(
    "不 没 没有 未 无 别 莫 勿 非 不要 不会 不能 不是 不用 不必 不再 不太 不怎么 不大 不够 不想 不肯 不愿 不敢 "
    "不让 不该 不应该 不可 不可以 不得 未必 未曾 尚未 并不 并没有 并非 从不 从没 从来不 从未 决不 绝不 毫不 没法 "
    "无法 禁止 不准 别再 请勿 切勿 没人 没什么 不怎么样 没怎么 还没 还没有 都没 也没 也不 都不 就不 还不 "
    "不宜 不许 不必要 不致 无须 无需 毋需 未能".split()
)
"""Negators and prohibitives that govern the next word: they are protected together with it."""

_LINKING = frozenset("很 太 怎么 大 那么 这么 是 够 再 用 会 能 可以 要 想 算 十分 非常 特别 一定 都 也 完全 什么 被 让 给 把 在".split())
"""Words between a negator and what it negates (不是很干净, 没有什么问题): the next word is absorbed too."""

_NOUNISH = frozenset({"n", "nr", "ns", "nt", "nz", "nrt", "nrfg", "j", "an", "a", "vn", "ng", "b", ""})
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.+\-&']*\Z")

_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_DIGITS = r"[0-9０-９]"
_NUM = rf"{_DIGITS}+(?:[.,，．]{_DIGITS}+)*"
PATTERNS: dict[str, str] = {
    "url": r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+",
    "mention": r"@[\w\u4e00-\u9fff\-]{1,30}",
    "hashtag": r"#[^#\s]{1,60}#",
    "title": r"《[^《》]{0,80}》",
    "quote": r"“[^“”]{0,200}”|「[^「」]{0,200}」|『[^『』]{0,200}』|\"[^\"\n]{0,200}\"",
    "date": rf"{_DIGITS}{{2,4}}\s*[年/\-.]\s*{_DIGITS}{{1,2}}\s*[月/\-.]\s*{_DIGITS}{{1,2}}\s*[日号]?"
    rf"|{_DIGITS}{{2,4}}\s*年(?:\s*{_DIGITS}{{1,2}}\s*月)?|{_DIGITS}{{1,2}}\s*月\s*{_DIGITS}{{1,2}}\s*[日号]"
    rf"|[{_CN_NUM}]{{2,4}}年(?:[{_CN_NUM}]{{1,3}}月)?(?:[{_CN_NUM}]{{1,3}}[日号])?",
    "time": rf"{_DIGITS}{{1,2}}\s*[:：]\s*{_DIGITS}{{2}}(?:\s*[:：]\s*{_DIGITS}{{2}})?|{_DIGITS}{{1,2}}\s*[点时]\s*(?:{_DIGITS}{{1,2}}\s*分)?",
    "percent": rf"{_NUM}\s*[%％‰]|百分之[{_CN_NUM}点]+",
    "money": rf"[¥￥$€£]\s*{_NUM}(?:\s*[万亿])?|{_NUM}\s*[万亿]?\s*(?:元|块钱|美元|人民币|欧元|英镑|日元|港币)",
    "number": rf"{_NUM}|[{_CN_NUM}]*[十百千万亿][{_CN_NUM}]*|[{_CN_NUM}]{{3,}}",
    "emoji": r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]+|\[[\u4e00-\u9fffA-Za-z]{1,8}\]",
}
"""Regex-detected protected kinds, tried in this order (earlier kinds win overlaps)."""

_SEGMENT_PATTERNS = {"number": _NUM}
"""The segmenter's own forms: Chinese numerals are left to jieba, whose ``m`` words (三次, 五六天,
第三天) are numbers, so that a numeral inside a word (老百姓, 百货) does not split it; the rules
gate searches raw text with the wider :data:`PATTERNS`."""

CLASSIFY_CACHE = 200_000
"""Words whose token a segmenter remembers before it starts afresh."""

PROTECTABLE = (*PATTERNS, "entity", "negation", "idiom")
"""Every kind of protected span; ``protect`` takes any subset (default: all)."""

BACKENDS = ("jieba-rs", "jieba")
"""Segmentation backends: jieba-rs through ``rjieba`` (the default) or the Python ``jieba``."""

_PUNCT = re.compile(r"^[\s\W_]+$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ALL_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+\Z")


def is_cjk(char: str) -> bool:
    """True for a CJK ideograph."""
    return bool(_CJK.match(char))


def all_cjk(text: str) -> bool:
    """True for a non-empty text of CJK ideographs only."""
    return _ALL_CJK.match(text) is not None


@dataclass(frozen=True)
class Token:
    """A piece of text. ``kind`` is ``word``, ``punct``, ``space`` or a protected kind; ``tag`` is
    jieba's part-of-speech tag of a dictionary word (``""`` when it has none)."""

    text: str
    kind: str = "word"
    protected: bool = False
    tag: str = ""

    @property
    def editable(self) -> bool:
        """A word token that operations may change."""
        return self.kind == "word" and not self.protected

    def with_text(self, text: str) -> Token:
        return replace(self, text=text)


def join(tokens: Iterable[Token]) -> str:
    """The text of ``tokens``, joined exactly (never with spaces)."""
    return "".join(token.text for token in tokens)


class Segmenter:
    """Splits text into :class:`Token` s, marking protected spans.

    Parameters
    ----------
    protect:
        Kinds of spans to protect (see :data:`PROTECTABLE`); ``None`` protects all.
    user_dict:
        Optional jieba user dictionary (UTF-8, one ``word [freq] [tag]`` per line), read now and
        loaded into this segmenter's own tokenizer, not jieba's global one. A word without a
        frequency gets one that keeps it whole; its tag (e.g. ``nr``, ``ns``) counts for entity
        detection like a dictionary tag.
    backend:
        ``"jieba-rs"`` (default): jieba-rs through ``rjieba``, the same dictionary and algorithm
        as jieba, and faster;
        ``"jieba"``: the Python package.
    """

    def __init__(
        self, protect: Iterable[str] | None = None, user_dict: str | Path | None = None, backend: str = "jieba-rs"
    ):
        self.protect = frozenset(PROTECTABLE if protect is None else protect)
        unknown = self.protect - set(PROTECTABLE)
        if unknown:
            raise ValueError(f"unknown protected kinds {sorted(unknown)}; choose from {list(PROTECTABLE)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown segmentation backend {backend!r}; choose from {list(BACKENDS)}")
        self.backend = backend
        self.user_words = read_user_dict(user_dict) if user_dict else []
        kinds = [kind for kind in PATTERNS if kind in self.protect]
        self._pattern = (
            re.compile("|".join(f"(?P<{kind}>{_SEGMENT_PATTERNS.get(kind, PATTERNS[kind])})" for kind in kinds))
            if kinds else None
        )

    @cached_property
    def _cut(self) -> Callable[[str], Iterable[str]]:
        """The backend's ``cut`` (HMM on), on a tokenizer of its own holding the user words."""
        if self.backend == "jieba":
            tokenizer = jieba.Tokenizer()
            jieba.setLogLevel(60)
            tokenizer.initialize()
        else:
            import rjieba  # 0.4 s to import (its dictionary): only when segmenting, see dictionary_tags

            tokenizer = rjieba.Jieba()
        for word, freq, tag in self.user_words:
            tokenizer.add_word(word, freq, tag)  # both backends: freq None -> suggest_freq(word)
        return tokenizer.cut

    @cached_property
    def _tags(self) -> Mapping[str, str]:
        """Part-of-speech tags by word: the user dictionary's, then jieba's dictionary's."""
        return ChainMap({word: tag for word, _, tag in self.user_words if tag}, dictionary_tags())

    @cached_property
    def _classified(self) -> dict[str, Token]:
        """Tokens by word: a word's token depends only on the word (tokens are immutable)."""
        return {}

    def __getstate__(self) -> dict:
        # Worker processes rebuild the tokenizer and caches lazily instead of pickling them.
        return {k: v for k, v in self.__dict__.items() if k not in ("_cut", "_tags", "_classified")}

    def __call__(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        start = 0
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                tokens.extend(self._words(text[start : match.start()]))
                tokens.append(Token(match.group(), match.lastgroup or "number", True))
                start = match.end()
        tokens.extend(self._words(text[start:]))
        return self._merge(tokens)

    def _merge(self, tokens: list[Token]) -> list[Token]:
        """Join the words that are protected together: a number and its unit, an organisation's
        nouns and its suffix, a negator and the word it governs (see the module docstring)."""
        out: list[Token] = []
        absorb = 0  # words a negator still governs
        for token in tokens:
            last = out[-1] if out else None
            if last is None or token.kind in ("space", "punct"):
                absorb = 0
            elif absorb and token.kind != "negation":
                out[-1] = _joined(last, token, "negation")
                absorb = absorb - 1 if token.text in _LINKING else 0
                continue
            elif last.kind == "number" and "number" in self.protect and (_is_unit(token.text) or token.kind == "number"):
                out[-1] = _joined(last, token, "number")
                continue
            elif token.kind == "number" and last.text in ("第", "每") and not last.protected:
                out[-1] = _joined(last, token, "number")
                continue
            elif "entity" in self.protect and _is_org_suffix(token) and last.kind in ("word", "entity"):
                k = len(out)
                while k > 0 and len(out) - k < 3 and out[k - 1].kind in ("word", "entity") \
                        and out[k - 1].tag in _NOUNISH and all_cjk(out[k - 1].text):
                    k -= 1
                if k < len(out):
                    name = Token("".join(t.text for t in out[k:]) + token.text, "entity", True, "nt")
                    out[k:] = [name]
                    continue
            if "entity" in self.protect and token.kind == "word" and _is_named_place(token.text):
                token = Token(token.text, "entity", True, token.tag)  # 人民广场, 协和医院 as one word
            out.append(token)
            if token.kind == "negation" and (token.text in NEGATORS or token.text[-1] in "不没未"):
                absorb = 2  # 不方便; also a negator at the end of a word jieba made (特不舒服: 特不 + 舒服)
        return out

    def _words(self, text: str) -> list[Token]:
        if not text:
            return []
        cache = self._classified
        if len(cache) > CLASSIFY_CACHE:
            cache.clear()
        out = []
        for word in self._cut(text):
            token = cache.get(word)
            if token is None:
                token = cache[word] = self._classify(word)
            out.append(token)
        return out

    def _classify(self, word: str) -> Token:
        if word.isspace():
            return Token(word, "space", True)
        if _PUNCT.match(word):
            return Token(word, "punct")
        tag = self._tags.get(word) or ""
        if "negation" in self.protect and (not NEGATION_CHARS.isdisjoint(word) or word in NEGATORS):
            return Token(word, "negation", True, tag)
        if "number" in self.protect and _is_numeral(word, tag):
            return Token(word, "number", True, tag)
        if "idiom" in self.protect and tag in IDIOM_TAGS and len(word) >= 4:
            return Token(word, "idiom", True, tag)
        if "entity" in self.protect and (self._is_entity(word) or _LATIN.match(word)):
            return Token(word, "entity", True, tag)
        return Token(word, tag=tag)

    def _is_entity(self, word: str) -> bool:
        """Dictionary POS tag nr/ns/nt/nz; an untagged CJK word (found by jieba's HMM, most often
        a name, or an untagged user word) counts as an entity too."""
        tag = self._tags.get(word)
        if tag is None:
            return len(word) > 1 and all_cjk(word)
        return tag in ENTITY_TAGS


def _is_numeral(word: str, tag: str) -> bool:
    """A jieba numeral or quantity word (三次, 五六天, 一个多, 点 in 那么点), a word ending in a numeral
    (周五, 初一) or a run of Chinese numerals jieba did not know. Quantities are facts a copy keeps."""
    if tag in ("m", "mq"):
        return True
    return word[-1] in NUMERAL_CHARS and tag != "i" or not tag and all(c in NUMERAL_CHARS for c in word)


def _is_unit(word: str) -> bool:
    """A classifier or unit, possibly after an approximator (多元 in 20多元)."""
    return word in UNITS or (len(word) > 1 and word[0] in "多余几来" and word[1:] in UNITS)


def _is_org_suffix(token: Token) -> bool:
    """A word that ends an organisation's or place's name (医院, 委), alone or at its end (公安局)."""
    if token.kind not in ("word", "entity"):
        return False
    text = token.text
    return text in ORG_SUFFIXES or (
        len(text) > 2 and token.tag in ("n", "nt", "ns", "") and (text[-2:] in ORG_SUFFIXES or text[-1:] in ORG_SUFFIXES)
    )


def _is_named_place(word: str) -> bool:
    """A single word that ends in a two-character organisation / place suffix after at least
    two characters of its own (人民广场, 协和医院), i.e. a name jieba keeps whole."""
    return len(word) >= 4 and word[-2:] in ORG_SUFFIXES and all_cjk(word)


def _joined(first: Token, second: Token, kind: str) -> Token:
    return Token(first.text + second.text, kind, True, first.tag)


@cache
def dictionary_tags() -> dict[str, str]:
    """jieba's part-of-speech tag of every dictionary word (read once per process; do not modify)."""
    import jieba.posseg  # 0.8 s to import: only when tags are needed, so `zhaug --version` stays fast

    return jieba.posseg.POSTokenizer(jieba.Tokenizer()).word_tag_tab


def read_user_dict(path: str | Path) -> list[tuple[str, int | None, str | None]]:
    """The ``(word, freq, tag)`` entries of a jieba user dictionary, parsed as jieba parses them."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            word, freq, tag = jieba.re_userdict.match(line.strip()).groups()
            entries.append((word, int(freq) if freq else None, tag.strip() if tag else None))
    return entries


def protected_spans(tokens: Sequence[Token]) -> list[str]:
    """The texts of the protected, non-space tokens, in order (what a label gate compares)."""
    return [token.text for token in tokens if token.protected and token.kind != "space"]


_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])")


def split_sentences(text: str) -> list[str]:
    """Split after sentence-ending punctuation; ``"".join`` of the result is ``text``."""
    return [part for part in _SENTENCE_END.split(text) if part]
