"""Rules: reject candidates whose negations or protected spans differ from their parent's."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from zhaug.augment.base import default_segmenter
from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.augment.text import NEGATION_CHARS, PATTERNS, protected_spans

_PATTERN = re.compile("|".join(f"(?:{pattern})" for pattern in PATTERNS.values()))
_KINDS = {kind: re.compile(pattern) for kind, pattern in PATTERNS.items()}


def negation_count(text: str) -> int:
    """How many negation characters (不 没 未 非 无 别 莫 勿) ``text`` contains."""
    return sum(char in NEGATION_CHARS for char in text)


def pattern_spans(text: str) -> Counter[str]:
    """The regex-detected protected spans of ``text`` (numbers, dates, URLs, titles, ...), as a multiset."""
    return Counter(match.group() for match in _PATTERN.finditer(text))


def span_kind(span: str) -> str:
    """Which of :data:`~zhaug.augment.text.PATTERNS` a span of :func:`pattern_spans` is (quote,
    title, money, number, ...), for rejection reasons."""
    return next((kind for kind, pattern in _KINDS.items() if pattern.fullmatch(span)), "span")


@register_gate
class RulesGate(Gate):
    """Reject a candidate whose negation count or protected spans changed.

    A protected span of the parent (number, date, money, name, title, quotation, URL, ...; found
    by the default :class:`~zhaug.augment.text.Segmenter`) must still occur in the candidate, and
    the candidate must not contain a regex-detected span (number, date, URL, ...) that the parent
    lacks. Negations are compared by their count of characters, whatever the word around them.
    Only parents are segmented with jieba (once each); candidates are searched with the regexes,
    so the gate is not thrown by a segmentation that shifted around an unchanged span.

    Parameters
    ----------
    negation, spans:
        Turn either check off.
    """

    name = "rules"

    def __init__(self, negation: bool = True, spans: bool = True):
        self.negation, self.spans = negation, spans
        self._parents: dict[str, tuple[Counter[str], Counter[str]]] = {}

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [self._reason(c.parent.text, c.text) for c in candidates]

    def _reason(self, parent: str, text: str) -> str | None:
        if self.negation:
            before, after = negation_count(parent), negation_count(text)
            if before != after:
                return f"negation count changed ({before}→{after})"
        if self.spans:
            if parent not in self._parents:
                tokens = [token for token in default_segmenter()(parent) if token.kind != "negation"]
                self._parents[parent] = Counter(protected_spans(tokens)), pattern_spans(parent)
            spans, patterns = self._parents[parent]
            missing = Counter({span: n - text.count(span) for span, n in spans.items() if text.count(span) < n})
            added = pattern_spans(text) - patterns
            if missing or added:
                return f"protected span changed ({_listing(missing)}→{_listing(added)})"
        return None


def _listing(spans: Counter[str]) -> str:
    return ", ".join(sorted(spans.elements())) or "∅"
