"""Teacher: reject candidates that a trained classifier confidently assigns to another label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.errors import ZhaugError


@register_gate
class TeacherGate(Gate):
    """Reject a candidate when the teacher predicts a label other than its parent's with
    probability above ``threshold``; an unsure teacher lets it through.

    Parameters
    ----------
    model:
        A run folder saved by ``zhaug train`` or a transformers sequence-classification folder;
        its label names must be the labels of the data.
    threshold:
        Probability of the other label above which the candidate is rejected.
    batch_size, max_length:
        Texts per forward pass and tokens per text.

    Unlabelled parents (label ``None``) are always accepted.
    """

    name = "teacher"

    def __init__(self, model: str, threshold: float = 0.9, batch_size: int = 32, max_length: int = 256):
        self.model, self.threshold, self.batch_size, self.max_length = str(model), threshold, batch_size, max_length
        self._loaded: Any = None

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        from zhaug.train.predict import load_predictor

        if self._loaded is None:
            self._loaded = load_predictor(self.model, batch_size=self.batch_size, max_length=self.max_length)
        names = [str(label) for label in self._loaded.labels]
        unknown = {c.parent.label for c in candidates if c.parent.label is not None} - set(names)
        if unknown:
            raise ZhaugError(f"teacher gate: labels {sorted(unknown)} are not among the teacher's labels {names}")
        probs = self._loaded.predict_proba([c.text for c in candidates]) if candidates else []
        out: list[str | None] = []
        for candidate, row in zip(candidates, probs):
            k = int(row.argmax())
            label, p = candidate.parent.label, float(row[k])
            flipped = label is not None and names[k] != label and p > self.threshold
            out.append(f"label flipped ({label}→{names[k]}, p={p:.2f})" if flipped else None)
        return out
