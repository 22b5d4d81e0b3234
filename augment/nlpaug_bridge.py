"""nlpaug interop, both ways.

* :class:`NlpaugOperation` wraps a zhaug operation as an nlpaug augmenter, so it can run inside
  ``nlpaug.flow.Sequential`` / ``Sometimes`` next to nlpaug's own augmenters. Each output is a
  pure function of (seed, text, operation, copy index).
* :class:`FromNlpaug` (operation ``nlpaug``) runs an nlpaug augmenter (e.g.
  ``naw.RandomWordAug``) inside zhaug: the text is split into zhaug's jieba tokens, protected
  tokens are hidden from nlpaug as stopwords, and the pieces are re-joined with ``""`` — so
  nlpaug's default whitespace tokenizer never sees Chinese and no space is ever added.

nlpaug draws from Python's global ``random`` and from ``numpy.random``; :func:`seeded_globals`
seeds both from zhaug's explicit generator and restores their previous state afterwards, so
results are reproducible and the caller's global streams are left as they were.

nlpaug is imported only when one of these is used: ``import nlpaug`` takes seconds (pandas),
and ``nlpaug.augmenter.word`` imports transformers. ``FromNlpaug`` is registered on import of
``zhaug.augment`` all the same, so recipes can name it.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zhaug.augment.base import Operation, default_segmenter, register
from zhaug.augment.text import Token, join
from zhaug.errors import ZhaugError

SEPARATOR = "\ue000"
"""Joins tokens for nlpaug's tokenizer (a private-use character: not whitespace, so nlpaug's
``strip`` keeps it, and never found in real text)."""
KEEP = "\ue001"
"""Marks a placeholder for a token nlpaug must not touch: ``KEEP + index + KEEP``."""

_GLOBAL_RNG_LOCK = threading.RLock()


def chinese_tokenizer(text: str) -> list[str]:
    """A tokenizer for nlpaug augmenters on Chinese text: zhaug's jieba segmentation."""
    return [token.text for token in default_segmenter()(text)]


def chinese_detokenizer(tokens: list[str]) -> str:
    """The matching reverse tokenizer: join with ``""`` (never with spaces)."""
    return "".join(tokens)


@contextmanager
def seeded_globals(rng: random.Random) -> Iterator[None]:
    """Seed ``random`` and ``numpy.random`` from ``rng``; restore their states on exit.

    Holds a lock meanwhile, so zhaug threads do not interleave their global draws.
    """
    import numpy as np

    with _GLOBAL_RNG_LOCK:
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(rng.getrandbits(64))
        np.random.seed(rng.getrandbits(32))
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _split_pieces(text: str) -> list[str]:
    return text.split(SEPARATOR)


def _join_pieces(pieces: list[str]) -> str:
    return SEPARATOR.join(pieces)


def _resolve_augmenter(name: str, params: dict[str, Any]):
    """An nlpaug augmenter by class name, looked up in nlpaug.augmenter.char, then .word."""
    import importlib

    for module in ("nlpaug.augmenter.char", "nlpaug.augmenter.word"):
        cls = getattr(importlib.import_module(module), name, None)
        if cls is not None:
            try:
                return cls(**params)
            except (ImportError, OSError, LookupError) as exc:  # e.g. SynonymAug: nltk and WordNet (English)
                raise ZhaugError(f"nlpaug {name}({params}) cannot be built here: {exc}; for Chinese synonyms "
                                 "use the synonym_swap operation") from None
    raise ValueError(f"nlpaug: no augmenter {name!r} in nlpaug.augmenter.char or nlpaug.augmenter.word")


def _plain_settings(aug) -> dict[str, Any]:
    """The JSON-friendly settings of an augmenter instance (for the ``params`` of output rows)."""
    skip = {"name", "method", "verbose", "include_detail", "parent_change_seq", "device"}
    return {
        key: value for key, value in vars(aug).items()
        if key not in skip and not key.startswith("_") and isinstance(value, (str, int, float, bool, type(None)))
    }


@register
class FromNlpaug(Operation):
    """Run an nlpaug augmenter on the editable words of the text.

    Parameters
    ----------
    aug:
        An nlpaug augmenter instance (e.g. ``naw.RandomWordAug(action="swap")``), or its class
        name, built with ``params`` (``FromNlpaug("RandomWordAug", {"action": "delete"})``).
    params:
        Constructor arguments when ``aug`` is a name.

    The augmenter sees zhaug's jieba tokens, with every token that is not an editable word
    (protected spans, punctuation, whitespace) replaced by a placeholder matched by its
    ``stopwords_regex``, and its output is joined with ``""``. An output in which a placeholder
    was changed, lost or reordered (``crop`` ignores stopwords), or a word moved across one
    (``swap`` picks neighbours regardless of stopwords: 不 满意 → 满意 不), is discarded; after
    ``attempts`` discarded outputs the text is returned unchanged. nlpaug's draws from the
    global ``random`` / ``numpy.random`` are seeded from ``rng`` (and the global state restored).

    Label risk: high — zhaug cannot know what the wrapped augmenter does (deletion and cropping
    can remove the words that carry the label); gate its output.
    """

    name = "nlpaug"
    label_risk = "high"

    def __init__(self, aug: Any = "RandomWordAug", params: dict[str, Any] | None = None):
        self.aug, self.params = aug, params
        instance = _resolve_augmenter(aug, dict(params or {})) if isinstance(aug, str) else aug
        self._augmenter = self._configure(instance)

    def spec(self) -> dict[str, Any]:
        if isinstance(self.aug, str):
            return {"aug": self.aug, "params": dict(self.params or {})}
        return {"aug": type(self.aug).__name__, "params": _plain_settings(self.aug)}

    @staticmethod
    def _configure(instance):
        configured = copy.copy(instance)
        configured.tokenizer = _split_pieces
        configured.reverse_tokenizer = _join_pieces
        own = getattr(instance, "stopwords_regex", None)
        pattern = re.escape(KEEP) + (f"|(?:{own.pattern})" if own is not None else "")
        configured.stopwords_regex = re.compile(pattern)
        return configured

    attempts = 3
    """Tries before giving up and returning the text unchanged."""

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        if not any(token.editable for token in tokens):
            return list(tokens)
        kept: dict[str, Token] = {}
        pieces = []
        for i, token in enumerate(tokens):
            if token.editable:
                pieces.append(token.text)
            else:
                placeholder = f"{KEEP}{i}{KEEP}"
                kept[placeholder] = token
                pieces.append(placeholder)
        for _ in range(self.attempts):
            with seeded_globals(rng):
                result = self._augmenter.augment(SEPARATOR.join(pieces))
            if isinstance(result, list):
                result = result[0] if result else ""
            out = self._restore(str(result).split(SEPARATOR), pieces, kept)
            if out is not None:
                return out
        return list(tokens)

    @staticmethod
    def _restore(result: list[str], pieces: list[str], kept: dict[str, Token]) -> list[Token] | None:
        """The tokens of nlpaug's output, or ``None`` if a kept token was changed, lost or
        reordered, or an original word crossed a kept token (nlpaug's ``swap`` ignores stopwords
        when it picks the neighbour)."""
        if [p for p in result if p in kept] != list(kept) or any(KEEP in p for p in result if p not in kept):
            return None
        words = {p for p in pieces if p not in kept}
        before, after = _segments(pieces, kept), _segments(result, kept)
        for old, new in zip(before, after):
            if any(word in words for word in Counter(new) - Counter(old)):
                return None
        out = [kept[p] if p in kept else Token(p) for p in result if p]
        return out if join(out).strip() else None


def _segments(pieces: list[str], kept: dict[str, Token]) -> list[list[str]]:
    """The runs of words between kept tokens."""
    runs: list[list[str]] = [[]]
    for piece in pieces:
        if piece in kept:
            runs.append([])
        elif piece:
            runs[-1].append(piece)
    return runs


def __getattr__(name: str):
    # NlpaugOperation subclasses nlpaug's Augmenter, so it is built on first access: importing
    # this module (which registers FromNlpaug) must not import nlpaug.
    if name == "NlpaugOperation":
        from zhaug.augment.nlpaug_operation import NlpaugOperation  # imports nlpaug (seconds): on first use only

        globals()[name] = NlpaugOperation
        return NlpaugOperation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
