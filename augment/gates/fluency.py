"""Fluency: reject a copy whose edited window a language model finds much less likely than the original's.

The judgement is local: the copy is aligned with its parent character by character, and each
edit is scored with the few characters after it (where an n-gram model feels the edit), so a
long text is judged where it changed, not diluted by what stayed the same.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.augment.generative.models import MODELS, resolve_model

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

    @property
    def deletion(self) -> bool:
        """Whether the copy has nothing in place of ``original[start:end]``."""
        return self.copy_end == self.copy_start

    def where(self) -> str:
        """The edit's place in the copy: ``start–end`` (end excluded), one position for a deletion."""
        return f"{self.copy_start}" if self.deletion else f"{self.copy_start}–{self.copy_end}"


_CLAUSE = re.compile(r"[^，。！？；：,.!?;:\n]*[，。！？；：,.!?;:\n]?")


def edits(original: str, copy: str, gap: int = 0) -> list[Edit]:
    """The changed spans of a character alignment of ``original`` and ``copy``; spans at most
    ``gap`` unchanged characters apart are merged into one.

    Clauses are aligned first and only differing clauses character by character, so a long
    text with a few edits costs little (a character alignment of whole texts grows with the
    product of their lengths).
    """
    clauses = [[match.group() for match in _CLAUSE.finditer(text) if match.group()] for text in (original, copy)]
    starts = [np.cumsum([0] + [len(clause) for clause in side]) for side in clauses]
    out: list[Edit] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *clauses, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        a, b = "".join(clauses[0][i1:i2]), "".join(clauses[1][j1:j2])
        at, copy_at = int(starts[0][i1]), int(starts[1][j1])
        for tag, k1, k2, l1, l2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            if out and at + k1 - out[-1].end <= gap:
                out[-1] = Edit(out[-1].start, at + k2, out[-1].copy_start, copy_at + l2)
            else:
                out.append(Edit(at + k1, at + k2, copy_at + l1, copy_at + l2))
    return out


def edit_drop(original_lp: np.ndarray, copy_lp: np.ndarray, edit: Edit, context: int) -> float:
    """How many nats less likely the copy is around ``edit``, over the ``context`` characters after
    it (or the text's end) and, unless the edit is a pure deletion, the edit itself:

    * a deletion: the following characters only, original minus copy (removing characters always
      raises a total, but when they cut a word or phrase, what follows fits badly);
    * an insertion or replacement: the larger of that and the whole window's drop (the new
      characters' own cost included: a word that does not fit its slot).
    """
    after = original_lp[edit.end : edit.end + context + 1].sum() - copy_lp[edit.copy_end : edit.copy_end + context + 1].sum()
    if edit.deletion:
        return float(after)
    window = after + original_lp[edit.start : edit.end].sum() - copy_lp[edit.copy_start : edit.copy_end].sum()
    return float(max(window, after))


CAUSAL_LMS = {"gemma3-270m": None, "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b-instruct"}
"""Causal LMs by name (see :mod:`zhaug.augment.causal_lm`): name → GGUF file (``None``: the packaged
Gemma), or a packaged generative model (:data:`~zhaug.augment.generative.models.MODELS`, assembled
and sha256-checked)."""
CALIBRATED = {None: (11.0, 5.0, 2), "gemma3-270m": (8.25, 4.25, 8), "qwen2.5-coder-1.5b-instruct": (6.5, 5.0, 4)}
"""Default (threshold, deletion_threshold, context) per model. The n-gram model's were chosen on
all word-level pairs of ``../shared/judged``, after the rules and edits gates, keeping 85% of the
fluent ones (``benchmarks/fluency_gate.py --calibrate-on all``), and checked on fresh judged pairs
(docs/copies.md); Gemma's on the calibration half (``--lm gemma3-270m --context 8``); Qwen's set by
hand between the fluent and the broken copies of 32 judged paraphrases (docs/generative.md) and
checked on fresh judged copies there.
Any other model or score function gets the n-gram model's."""


@cache
def lm_score(model: str | None = None) -> Score:
    """A :data:`Score` by model: ``None`` for the packaged character 5-gram model, a file saved by
    :meth:`~zhaug.augment.char_lm.CharNgramLM.save`, a name in :data:`CAUSAL_LMS` or a ``.gguf``
    file (a causal LM: far slower); loaded once per process."""
    from zhaug.augment.char_lm import CharNgramLM, packaged_lm

    if model in CAUSAL_LMS or str(model).endswith(".gguf"):
        from zhaug.augment.causal_lm import CausalLMScore

        target = CAUSAL_LMS.get(model, model)
        return CausalLMScore(str(resolve_model(target)[0]) if target in MODELS else target)
    return (packaged_lm() if model is None else CharNgramLM.load(model)).char_logprobs


@register_gate
class FluencyGate(Gate):
    """Reject a copy when an edit makes its window too much less likely (see :func:`edit_drop`).

    The reason names the drop and where the worst edit is in the copy (characters ``start–end``,
    end excluded; a single position for a deletion).

    Parameters
    ----------
    threshold, deletion_threshold:
        Largest accepted drop in nats, for insertions and replacements and for pure deletions
        (judged by what follows them only, hence smaller). ``None``: the model's calibrated
        value (:data:`CALIBRATED`); ``benchmarks/fluency_gate.py`` reports the held-out half.
    context:
        Characters after an edit that belong to its window; edits closer than this are judged
        together. ``None``: the model's calibrated value.
    model:
        A character n-gram model file (:meth:`~zhaug.augment.char_lm.CharNgramLM.save`);
        ``None`` (default) is the packaged one (:func:`~zhaug.augment.char_lm.packaged_lm`),
        built on first use (about 20 s) and cached. ``gemma3-270m`` or a ``.gguf`` file: a
        causal LM (:func:`lm_score`), which needs its own thresholds (see the benchmark).
    score:
        Instead of ``model``: any :data:`Score` function.
    """

    name = "fluency"

    def __init__(
        self, threshold: float | None = None, deletion_threshold: float | None = None, context: int | None = None,
        model: str | None = None, score: Score | None = None,
    ):
        self.threshold, self.deletion_threshold, self.context = threshold, deletion_threshold, context
        self.model, self.score = model, score

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """The constructor's parameters (scikit-learn's protocol, so ``sklearn.base.clone`` works)."""
        return {"threshold": self.threshold, "deletion_threshold": self.deletion_threshold, "context": self.context,
                "model": self.model, "score": self.score}

    def set_params(self, **params: object) -> FluencyGate:
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"fluency gate has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        out: list[str | None] = []
        for candidate in candidates:
            excess, drop, worst = self._worst(candidate.parent.text, candidate.text)
            if worst is None or excess <= 0:
                out.append(None)
            else:
                kind = "deletion" if worst.deletion else "edit"
                out.append(f"disfluent {kind} (−{drop:.1f} nats at {worst.where()})")
        return out

    def excess(self, original: str, copy: str) -> float:
        """How far the worst edit's drop lies above its threshold (≤ 0: accepted; lower is more
        fluent), to rank copies that all pass; ``-inf`` for a copy without edits."""
        excess, _, worst = self._worst(original, copy)
        return excess if worst is not None else float("-inf")

    def _worst(self, original: str, copy: str) -> tuple[float, float, Edit | None]:
        """(drop − threshold, drop, edit) of the edit furthest over its threshold."""
        drops = self.edit_drops(original, copy)
        return max(((drop - self._limit(edit), drop, edit) for edit, drop in drops),
                   key=lambda item: item[0], default=(0.0, 0.0, None))

    def settings(self) -> tuple[float, float, int]:
        """(threshold, deletion_threshold, context): as given, else calibrated for the model."""
        defaults = CALIBRATED.get(None if self.score is not None else self.model, CALIBRATED[None])
        given = (self.threshold, self.deletion_threshold, self.context)
        threshold, deletion_threshold, context = (d if g is None else g for g, d in zip(given, defaults))
        return float(threshold), float(deletion_threshold), int(context)

    def _limit(self, edit: Edit) -> float:
        threshold, deletion_threshold, _ = self.settings()
        return deletion_threshold if edit.deletion else threshold

    def edit_drops(self, original: str, copy: str) -> list[tuple[Edit, float]]:
        """Each edit of ``copy`` with its :func:`edit_drop` (none if the texts are equal)."""
        context = self.settings()[2]
        found = edits(original, copy, context)
        if not found:
            return []
        score = self.score if self.score is not None else lm_score(None if self.model is None else str(self.model))
        original_lp, copy_lp = score(original), score(copy)
        return [(edit, edit_drop(original_lp, copy_lp, edit, context)) for edit in found]
