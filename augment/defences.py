"""Text defences by name: transforms applied to every text before tokenisation, at training and
prediction time alike (``zhaug train --defence NAME``; the run records the name)."""

from __future__ import annotations

from collections.abc import Callable

from zhaug.augment.canonical import Canonicaliser
from zhaug.augment.correction import Corrector
from zhaug.errors import ZhaugError

DEFENCES: dict[str, tuple[type, dict[str, object]]] = {
    "canonical": (Canonicaliser, {}),
    "canonical-keep500": (Canonicaliser, {"keep_top": 500}),
    "normalise": (Canonicaliser, {"glyphs": False, "homophones": False}),
    "correct": (Corrector, {}),
}
"""Name → (transform class, its parameters). ``normalise``: width, invisible characters and script
only; ``correct``: :class:`~zhaug.augment.correction.Corrector` (leaves clean text alone)."""


def text_defence(name: str | None) -> Callable[[str], str] | None:
    """The text transform of defence ``name`` (``None``: no transform, returns ``None``)."""
    if name is None:
        return None
    if name not in DEFENCES:
        raise ZhaugError(f"unknown text defence {name!r}; choose from {', '.join(DEFENCES)}")
    kind, params = DEFENCES[name]
    return kind(**params)
