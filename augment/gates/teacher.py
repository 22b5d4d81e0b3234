"""Teacher: reject candidates that a trained classifier confidently assigns to another label."""

from __future__ import annotations

from collections.abc import Sequence

from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.errors import ZhaugError
from zhaug.protocols import Classifier


@register_gate
class TeacherGate(Gate):
    """Reject a candidate when the teacher predicts a label other than its parent's with
    probability above ``threshold``; an unsure teacher lets it through.

    Parameters
    ----------
    model:
        A run folder saved by ``zhaug train`` or a transformers sequence-classification folder;
        its label names must be the labels of the data. The gate never loads it itself:
        :func:`zhaug.train.gate_models.bind_models` turns it into ``classifier``.
    threshold:
        Probability of the other label above which the candidate is rejected.
    batch_size, max_length:
        Texts per forward pass and tokens per text of the loaded ``model``.
    classifier:
        Instead of ``model``: any :class:`~zhaug.protocols.Classifier` (labels and predict_proba).

    Unlabelled parents (label ``None``) are always accepted.
    """

    name = "teacher"

    def __init__(self, model: str | None = None, threshold: float = 0.9, batch_size: int = 32, max_length: int = 256,
                 classifier: Classifier | None = None):
        if model is None and classifier is None:
            raise ValueError("the teacher gate needs a model (a classifier folder) or a classifier")
        self.model, self.threshold, self.batch_size, self.max_length = model, threshold, batch_size, max_length
        self.classifier = classifier

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        if self.classifier is None:
            raise ZhaugError("the teacher gate has no classifier: pass classifier=..., or bind the recipe's "
                             "models with zhaug.train.gate_models.bind_models(recipe)")
        names = [str(label) for label in self.classifier.labels]
        unknown = {c.parent.label for c in candidates if c.parent.label is not None} - set(names)
        if unknown:
            raise ZhaugError(f"teacher gate: labels {sorted(unknown)} are not among the teacher's labels {names}")
        probs = self.classifier.predict_proba([c.text for c in candidates]) if candidates else []
        out: list[str | None] = []
        for candidate, row in zip(candidates, probs):
            k = int(row.argmax())
            label, p = candidate.parent.label, float(row[k])
            flipped = label is not None and names[k] != label and p > self.threshold
            out.append(f"label flipped ({label}→{names[k]}, p={p:.2f})" if flipped else None)
        return out
