"""De-duplication: reject candidates that repeat their parent, any input text or a sibling."""

from __future__ import annotations

from collections.abc import Sequence

from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.io import Record


def normalize(text: str) -> str:
    """``text`` with whitespace runs collapsed to one space and the ends stripped. Stricter than
    :func:`zhaug.io.comparable` (leakage checks): a copy that only inserted a space is a copy."""
    return " ".join(text.split())


@register_gate
class DedupGate(Gate):
    """Reject a candidate identical, after :func:`normalize`, to its parent, to any input text
    (see :meth:`prepare`) or to an earlier candidate of the same parent.

    Put it last among the gates, so that a sibling rejected by another gate does not count.
    """

    name = "dedup"

    def __init__(self) -> None:
        self._inputs: set[str] = set()

    def prepare(self, records: Sequence[Record]) -> None:
        self._inputs = {normalize(record.text) for record in records}

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        seen: set[tuple[str, str]] = set()
        out: list[str | None] = []
        for candidate in candidates:
            text = normalize(candidate.text)
            key = (candidate.parent.id, text)
            if text == normalize(candidate.parent.text):
                out.append("unchanged")
            elif text in self._inputs:
                out.append("duplicate of an input text")
            elif key in seen:
                out.append("duplicate of a sibling")
            else:
                out.append(None)
            seen.add(key)
        return out
