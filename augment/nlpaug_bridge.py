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
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zhaug.augment.base import Operation, default_segmenter, register
from zhaug.augment.text import Segmenter, Token, join
from zhaug.rng import derive_rng

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
            return cls(**params)
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
        if isinstance(aug, str):
            instance = _resolve_augmenter(aug, dict(params or {}))
            self.aug, self.params = aug, dict(params or {})
        else:
            instance = aug
            self.aug, self.params = type(aug).__name__, _plain_settings(aug)
        self._augmenter = self._configure(instance)

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
        cls = _make_nlpaug_operation()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _make_nlpaug_operation():
    from nlpaug import Augmenter
    from nlpaug.util import Action, Method

    class NlpaugOperation(Augmenter):
        """A zhaug operation as an nlpaug augmenter (for ``nlpaug.flow`` pipelines).

        Parameters
        ----------
        op:
            Any zhaug :class:`~zhaug.augment.base.Operation`.
        seed:
            The ``k``-th output this augmenter makes for a text (``k`` = 0, 1, ...) is ``op``
            applied with ``derive_rng(seed, text, op.name, k)``: the first output for a text
            depends only on the seed and the text, and flows that call an augmenter repeatedly
            (``Sequential.augment(text, n=3)``) still get different outputs. Counts are kept for
            the last ``MEMORY`` texts; :meth:`reset` forgets them.
        segmenter:
            The :class:`~zhaug.augment.text.Segmenter` (default: the shared one, all spans protected).

        nlpaug's ``Sometimes`` flow decides with ``numpy.random``; seed that yourself for
        reproducible flow decisions.
        """

        MEMORY = 4096

        def __init__(self, op: Operation, seed: int = 0, segmenter: Segmenter | None = None, name: str | None = None):
            super().__init__(
                name=name or f"zhaug_{op.name}", method=Method.WORD, action=Action.SUBSTITUTE,
                aug_min=None, aug_max=None, aug_p=None,
            )
            self.op, self.seed, self.segmenter = op, seed, segmenter
            self._calls: OrderedDict[str, int] = OrderedDict()

        def augment_one(self, text: str, copy_index: int | None = None) -> str:
            """Copy ``copy_index`` of ``text``; by default the next copy (0 on the first call for a text)."""
            if copy_index is None:
                copy_index = self._next_copy(text)
            tokens = (self.segmenter or default_segmenter())(text)
            return join(self.op.apply(tokens, derive_rng(self.seed, text, self.op.name, copy_index)))

        def _next_copy(self, text: str) -> int:
            copy_index = self._calls.pop(text, 0)
            self._calls[text] = copy_index + 1
            if len(self._calls) > self.MEMORY:
                self._calls.popitem(last=False)
            return copy_index

        def reset(self) -> None:
            """Forget the call counts: the next call for each text gives copy 0 again."""
            self._calls.clear()

        def augment(self, data, n: int = 1, num_thread: int = 1):
            """Like nlpaug: a list in → one output per item; a text in → up to ``n`` distinct outputs."""
            if isinstance(data, list):
                return [self.augment_one(text) if text else text for text in data]
            if not data:
                return []
            outputs: list[str] = []
            for _ in range(4 * n):  # nlpaug's retry budget: (3 retries + 1) × n
                output = self.augment_one(data)
                if output not in outputs:
                    outputs.append(output)
                if len(outputs) == n:
                    break
            return outputs

        def substitute(self, data):
            return self.augment_one(data)

        @classmethod
        def clean(cls, data):
            return data

        @classmethod
        def is_duplicate(cls, dataset, data):
            return any(d == data for d in dataset)

    NlpaugOperation.__module__, NlpaugOperation.__qualname__ = __name__, "NlpaugOperation"
    return NlpaugOperation
