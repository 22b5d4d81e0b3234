"""Chinese text as a list of tokens, with the spans no operation may edit.

Text is segmented with jieba's dictionary and algorithm (word level, HMM for unknown words);
operations that work per character edit the characters inside word tokens. The default backend
is jieba-rs (the ``rjieba`` binding), faster than the Python ``jieba``, whose ``cut``
was most of an operation's time; both gave the same tokens on all 2,000 review sentences of
``benchmarks/augment_speed.py``. ``Segmenter(backend="jieba")`` uses the Python package. Tokens are re-joined exactly
(``"".join``), so no space is ever inserted into Chinese, and whitespace, Latin words, digits and
punctuation keep their form.

Protected spans (numbers, dates, times, percentages, money, named entities, 《titles》,
quotations, URLs, @mentions, #topics#, emoji, negation words) become tokens with
``protected=True``. For fake-news work, changing one of these changes the truth of the text,
so operations leave them alone unless the user opts in by leaving the kind out of ``protect``.
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
    "emoji": r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]+|\[[\u4e00-\u9fff]{1,4}\]",
}
"""Regex-detected protected kinds, tried in this order (earlier kinds win overlaps)."""

CLASSIFY_CACHE = 200_000
"""Words whose token a segmenter remembers before it starts afresh."""

PROTECTABLE = (*PATTERNS, "entity", "negation")
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
    """A piece of text. ``kind`` is ``word``, ``punct``, ``space`` or a protected kind."""

    text: str
    kind: str = "word"
    protected: bool = False

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
            re.compile("|".join(f"(?P<{kind}>{PATTERNS[kind]})" for kind in kinds)) if kinds else None
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
        return tokens

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
        if "negation" in self.protect and not NEGATION_CHARS.isdisjoint(word):
            return Token(word, "negation", True)
        if "entity" in self.protect and self._is_entity(word):
            return Token(word, "entity", True)
        return Token(word)

    def _is_entity(self, word: str) -> bool:
        """Dictionary POS tag nr/ns/nt/nz; an untagged CJK word (found by jieba's HMM, most often
        a name, or an untagged user word) counts as an entity too."""
        tag = self._tags.get(word)
        if tag is None:
            return len(word) > 1 and all_cjk(word)
        return tag in ENTITY_TAGS


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
