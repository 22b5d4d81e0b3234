"""Teacher: reject candidates that a trained classifier confidently assigns to another label."""

from __future__ import annotations

from collections.abc import Sequence
from zhaug.augment.gates._models import load_model
from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.errors import ZhaugError


@register_gate
class TeacherGate(Gate):
    """Reject a candidate when the teacher predicts a label other than its parent's with
    probability above ``threshold``; an unsure teacher lets it through.

    Parameters
    ----------
    model:
        A sequence-classification folder (e.g. one saved by ``zhaug train``) or cached hub id;
        its ``config.id2label`` names must be the labels of the data.
    threshold:
        Probability of the other label above which the candidate is rejected.
    batch_size, max_length:
        Texts per forward pass and tokens per text.

    Unlabelled parents (label ``None``) are always accepted.
    """

    name = "teacher"

    def __init__(self, model: str, threshold: float = 0.9, batch_size: int = 32, max_length: int = 256):
        self.model, self.threshold, self.batch_size, self.max_length = str(model), threshold, batch_size, max_length
        self._loaded: tuple | None = None

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        import torch
        from transformers import AutoModelForSequenceClassification

        if self._loaded is None:
            self._loaded = load_model(AutoModelForSequenceClassification, self.model)
        model, tokenizer = self._loaded
        names = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
        unknown = {c.parent.label for c in candidates if c.parent.label is not None} - set(names)
        if unknown:
            raise ZhaugError(f"teacher gate: labels {sorted(unknown)} are not among the teacher's labels {names}")
        out: list[str | None] = []
        for start in range(0, len(candidates), self.batch_size):
            batch = candidates[start : start + self.batch_size]
            inputs = tokenizer(
                [c.text for c in batch], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            with torch.inference_mode():
                probs = model(**inputs).logits.float().softmax(-1)
            confidence, predicted = probs.max(-1)
            for candidate, p, k in zip(batch, confidence.tolist(), predicted.tolist()):
                label = candidate.parent.label
                flipped = label is not None and names[k] != label and p > self.threshold
                out.append(f"label flipped ({label}→{names[k]}, p={p:.2f})" if flipped else None)
        return out
