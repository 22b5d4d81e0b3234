"""Length and edit-distance bounds: reject candidates that grew, shrank or changed too much."""

from __future__ import annotations

from collections.abc import Sequence

from zhaug.augment.gates.base import Candidate, Gate, register_gate


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insert / delete / substitute), bit-parallel (Myers, 1999).

    Python integers serve as bit vectors as long as the shorter text, so a 5,000-character
    article costs 5,000 big-integer steps rather than 25 million cell updates.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    full, last = (1 << len(b)) - 1, 1 << (len(b) - 1)
    peq: dict[str, int] = {}
    for i, char in enumerate(b):
        peq[char] = peq.get(char, 0) | 1 << i
    pv, mv, score = full, 0, len(b)
    for char in a:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv & full
    return score


def edit_ratio(a: str, b: str) -> float:
    """Levenshtein distance over the longer length: 0 for equal texts, 1 for nothing in common."""
    longest = max(len(a), len(b))
    return levenshtein(a, b) / longest if longest else 0.0


@register_gate
class LengthGate(Gate):
    """Bounds on how much a candidate may differ from its parent, in characters.

    Parameters
    ----------
    min_ratio, max_ratio:
        Allowed range of len(candidate) / len(parent).
    max_edit:
        Largest allowed normalised edit distance (:func:`edit_ratio`); ``1.0`` turns it off.
    """

    name = "length"

    def __init__(self, min_ratio: float = 0.5, max_ratio: float = 2.0, max_edit: float = 0.5):
        if not 0 <= min_ratio <= max_ratio:
            raise ValueError("length: need 0 <= min_ratio <= max_ratio")
        self.min_ratio, self.max_ratio, self.max_edit = min_ratio, max_ratio, max_edit

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [self._reason(c.parent.text, c.text) for c in candidates]

    def _reason(self, parent: str, text: str) -> str | None:
        ratio = len(text) / max(1, len(parent))
        if ratio < self.min_ratio:
            return f"too short ({ratio:.2f}×)"
        if ratio > self.max_ratio:
            return f"too long ({ratio:.2f}×)"
        if self.max_edit < 1.0:
            edit = edit_ratio(parent, text)
            if edit > self.max_edit:
                return f"too different (edit {edit:.2f})"
        return None
