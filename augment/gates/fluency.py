"""Fluency: reject a copy whose edited window a language model finds much less likely than the original's.

The judgement is local: the copy is aligned with its parent character by character, and each
edit is scored with the few characters after it (where an n-gram model feels the edit), so a
long text is judged where it changed, not diluted by what stayed the same.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from zhaug.augment.gates.base import Candidate, Gate, register_gate

Score = Callable[[str], np.ndarray]
"""``text -> len(text) + 1`` natural-log probabilities: each character given those before it, then
the text's end (see :meth:`zhaug.augment.char_lm.CharNgramLM.char_logprobs`)."""


@dataclass(frozen=True)
class Edit:
    """``original[start:end]`` became ``copy[copy_start:copy_end]`` (either side may be empty)."""

    start: int
    end: int
    copy_start: int
    copy_end: int


def edits(original: str, copy: str, gap: int = 0) -> list[Edit]:
    """The changed spans of a character alignment of ``original`` and ``copy``; spans at most
    ``gap`` unchanged characters apart are merged into one."""
    matcher = difflib.SequenceMatcher(None, original, copy, autojunk=False)
    out: list[Edit] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if out and i1 - out[-1].end <= gap:
            out[-1] = Edit(out[-1].start, i2, out[-1].copy_start, j2)
        else:
            out.append(Edit(i1, i2, j1, j2))
    return out


def edit_drop(original_lp: np.ndarray, copy_lp: np.ndarray, edit: Edit, context: int) -> float:
    """How many nats less likely the copy is around ``edit``: the larger of two drops, each over
    the edit and the ``context`` characters after it (or the text's end):

    * the window's total log-probability, original minus copy (catches a word that does not fit);
    * the same over the following characters only (catches a deletion that cuts a word or
      phrase: removing characters always raises a total, but what follows then fits badly).
    """
    after_original = original_lp[edit.end : edit.end + context + 1].sum()
    after_copy = copy_lp[edit.copy_end : edit.copy_end + context + 1].sum()
    window = original_lp[edit.start : edit.end].sum() + after_original
    window -= copy_lp[edit.copy_start : edit.copy_end].sum() + after_copy
    return float(max(window, after_original - after_copy))


@cache
def lm_score(model: str | None = None) -> Score:
    """:meth:`~zhaug.augment.char_lm.CharNgramLM.char_logprobs` of a model saved at ``model``, or of
    the packaged character 5-gram model for ``None`` (built or loaded once per process)."""
    from zhaug.augment.char_lm import CharNgramLM, packaged_lm

    return (packaged_lm() if model is None else CharNgramLM.load(model)).char_logprobs


@register_gate
class FluencyGate(Gate):
    """Reject a copy when any edit makes its window more than ``threshold`` nats less likely.

    The reason names the drop and where the worst edit is in the copy (characters ``start–end``,
    end excluded; a single position for a deletion).

    Parameters
    ----------
    threshold:
        Largest accepted drop, in nats over an edit's window (see :func:`edit_drop`). 8.5 was
        chosen on half of ``../shared/judged`` with the packaged model; see
        ``benchmarks/fluency_gate.py`` for the held-out precision and recall.
    context:
        Characters after an edit that belong to its window; edits closer than this are judged
        together.
    model:
        A character n-gram model file (:meth:`~zhaug.augment.char_lm.CharNgramLM.save`);
        ``None`` (default) is the packaged one (:func:`~zhaug.augment.char_lm.packaged_lm`),
        built on first use (about 20 s) and cached.
    score:
        Instead of ``model``: any :data:`Score` function.
    """

    name = "fluency"

    def __init__(self, threshold: float = 8.5, context: int = 2, model: str | None = None, score: Score | None = None):
        self.threshold, self.context, self.model, self.score = threshold, context, model, score

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """The constructor's parameters (scikit-learn's protocol, so ``sklearn.base.clone`` works)."""
        return {"threshold": self.threshold, "context": self.context, "model": self.model, "score": self.score}

    def set_params(self, **params: object) -> FluencyGate:
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"fluency gate has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        out: list[str | None] = []
        for candidate in candidates:
            drop, worst = self.worst_drop(candidate.parent.text, candidate.text)
            if worst is None or drop <= self.threshold:
                out.append(None)
                continue
            where = f"{worst.copy_start}–{worst.copy_end}" if worst.copy_end > worst.copy_start else f"{worst.copy_start}"
            out.append(f"disfluent edit (−{drop:.1f} nats at {where})")
        return out

    def worst_drop(self, original: str, copy: str) -> tuple[float, Edit | None]:
        """The largest :func:`edit_drop` of the copy's edits, and that edit (``0, None`` if unchanged)."""
        found = edits(original, copy, self.context)
        if not found:
            return 0.0, None
        score = self.score if self.score is not None else lm_score(None if self.model is None else str(self.model))
        original_lp, copy_lp = score(original), score(copy)
        drops = [edit_drop(original_lp, copy_lp, edit, self.context) for edit in found]
        return max(zip(drops, found), key=lambda pair: pair[0])
