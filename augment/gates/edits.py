"""Edits: reject a copy whose word edits zhaug's safe operations would not have made.

Copies from EDA, nlpaug or a user's script break Chinese in a few typical ways (docs/copies.md):
words swapped across a clause, content words deleted, a Cilin synonym of another sense, a
synonym dropped far from its word, a mark inside a word. This gate reads the edit off the
(parent, copy) pair and applies the safe operations' own rules to it, so the rules have one home:

- **moves** (the same characters in another order): the copy must be reachable by at most two
  of safe ``random_swap``'s exchanges (coordinated nouns, adjacent adjectives, topic clauses);
- **insertions** (the parent plus some characters): at word boundaries; an inserted Cilin synonym
  of a word of the parent stands next to that word (干净又整洁), as safe ``random_insert`` puts it;
- **substitutions** of one word by a Cilin synonym: the same part of speech, a variant of the
  word (same length and first character, :func:`~zhaug.augment.ops.synonyms.is_variant`) and,
  with ``blocklist``, not a known register shift.

A copy that mixes kinds, or changes words in another way (typos, rewrites), passes: other gates
(rules, fluency, facts) judge it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher
from itertools import combinations

from zhaug.augment.base import default_segmenter
from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.augment.ops.synonyms import REGISTER_SHIFTS, is_variant, load_cilin
from zhaug.augment.ops.word_edits import COORDINATORS, swappable_clauses, swappable_pairs
from zhaug.augment.text import Token, dictionary_tags, join

MAX_SWAPS = 2
"""Most exchanges a moved copy may be made of (safe ``random_swap``'s ``max_edits``)."""


@register_gate
class EditsGate(Gate):
    """Reject a copy whose word edits break the safe operations' rules (see the module docstring).

    Parameters
    ----------
    moves, deletions, insertions, synonyms:
        Turn a check off.
    blocklist:
        Also reject synonyms of :data:`~zhaug.augment.ops.synonyms.REGISTER_SHIFTS` (collected
        from judged copies; off, only the structural rules apply).
    """

    name = "edits"

    def __init__(self, moves: bool = True, insertions: bool = False, synonyms: bool = False, blocklist: bool = True):
        self.moves, self.insertions = moves, insertions
        self.synonyms, self.blocklist = synonyms, blocklist
        self._tokens: dict[str, list[Token]] = {}

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [self._reason(c.parent.text, c.text) for c in candidates]

    def _reason(self, parent: str, text: str) -> str | None:
        if parent == text:
            return None
        if parent not in self._tokens:
            self._tokens[parent] = default_segmenter()(parent)
        tokens = self._tokens[parent]
        if Counter(parent) == Counter(text):
            return moved(tokens, text) if self.moves else None
        kinds = {tag for tag, *_ in SequenceMatcher(None, parent, text, autojunk=False).get_opcodes()} - {"equal"}
        if kinds == {"insert"}:
            return inserted(tokens, text) if self.insertions else None
        return substituted(tokens, text, self.blocklist) if self.synonyms else None


def moved(tokens: list[Token], text: str) -> str | None:
    """``None`` if ``text`` is ``tokens`` after at most :data:`MAX_SWAPS` safe exchanges."""
    swaps = [_swap_words(i, j) for i, j in swappable_pairs(tokens)] + [_swap_clauses(*s) for s in swappable_clauses(tokens)]
    for count in range(1, MAX_SWAPS + 1):
        for chosen in combinations(swaps, count):
            out = list(tokens)
            for swap in chosen:
                out = swap(out)
            if join(out) == text:
                return None
    return "words moved out of place (not an exchange of coordinated words or clauses)"


def _swap_words(i: int, j: int):
    def swap(tokens: list[Token]) -> list[Token]:
        out = list(tokens)
        out[i], out[j] = out[j], out[i]
        return out
    return swap


def _swap_clauses(first: tuple[int, int], second: tuple[int, int]):
    (a, b), (c, d) = first, second

    def swap(tokens: list[Token]) -> list[Token]:
        return [*tokens[:a], *tokens[c:d], *tokens[b:c], *tokens[a:b], *tokens[d:]]
    return swap


def _spans(tokens: list[Token]) -> list[tuple[int, int]]:
    """Each token's (start, end) in characters."""
    out, start = [], 0
    for token in tokens:
        out.append((start, start + len(token.text)))
        start += len(token.text)
    return out


def _changes(parent: str, text: str) -> list[tuple[int, int, int, int]]:
    """The character ranges that differ: (parent start, end, copy start, end)."""
    return [op[1:] for op in SequenceMatcher(None, parent, text, autojunk=False).get_opcodes() if op[0] != "equal"]


def inserted(tokens: list[Token], text: str) -> str | None:
    """``None`` if every insertion is at a word boundary and a synonym stands next to its word."""
    spans, parent = _spans(tokens), join(tokens)
    bounds = {0, *(b for _, b in spans)}
    for at, _, start, end in _changes(parent, text):
        added = text[start:end]
        if at not in bounds:
            return f"{added} was put inside a word ({_word_at(tokens, spans, at)})"
        k = next((k for k, (a, _) in enumerate(spans) if a == at), len(tokens))
        neighbours = {t.text for t in tokens[max(0, k - 2):k + 1] if t.text not in COORDINATORS and t.text != "又"}
        sources = _synonym_sources(added.strip("又和、"), tokens)
        if sources and not sources & neighbours:
            return f"the synonym {added} was put far from its word ({'/'.join(sorted(sources))})"
    return None


def _word_at(tokens: list[Token], spans: list[tuple[int, int]], at: int) -> str:
    return next(tokens[k].text for k, (a, b) in enumerate(spans) if a < at < b)


def _synonym_sources(word: str, tokens: list[Token]) -> set[str]:
    """The words of ``tokens`` that ``word`` shares a Cilin set with."""
    cilin = load_cilin()
    sets = set(cilin.sets_of.get(word, ()))
    return {t.text for t in tokens if t.text != word and sets & set(cilin.sets_of.get(t.text, ()))}


def substituted(tokens: list[Token], text: str, blocklist: bool) -> str | None:
    """``None`` unless a word was replaced by a Cilin synonym that safe ``synonym_swap`` would not use."""
    words = [t.text for t in tokens]
    copy = [t.text for t in default_segmenter()(text)]
    tags, cilin = dictionary_tags(), load_cilin()
    for op, i1, i2, j1, j2 in SequenceMatcher(None, words, copy, autojunk=False).get_opcodes():
        if op != "replace" or i2 - i1 != 1 or j2 - j1 != 1:
            continue
        word, synonym = words[i1], copy[j1]
        if not set(cilin.sets_of.get(word, ())) & set(cilin.sets_of.get(synonym, ())):
            continue
        if tags.get(word) != tags.get(synonym) or not is_variant(word, synonym) or (blocklist and synonym in REGISTER_SHIFTS):
            return f"a synonym of another sense or register ({word}→{synonym})"
    return None
