"""Perturbation families: named CheckList-style tests built from the augment operations.

Each family is one registered operation (``zhaug.augment.OPERATIONS``) with fixed parameters,
graded by a severity from 1 to 5 that sets the operation's ``rate`` — the fraction of the
family's units (characters, words or sentences) that is edited (back-translation, whose unit is
a whole sentence, translates 1, 2, 3, 4 or all sentences instead):

=========  ====  ====  ====  ====  ====
severity      1     2     3     4     5
rate       0.02  0.05  0.10  0.20  0.30
=========  ====  ====  ====  ====  ====

Every operation edits at least one unit when a text has any (see ``augment.base.n_edits``), so
severity 1 is "one small edit" on short texts. A family declares whether it preserves the label
for general classification (topic, sentiment, rumour): if so its expectation is CheckList's
``INV`` (the prediction should not change, the flip rate is its failure rate); if not it is
``ACC`` (only accuracy against the gold labels is meaningful). ``may_change`` names the tasks
for which even an ``INV`` family can change the label.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zhaug.augment import OPERATIONS
from zhaug.augment.base import Operation
from zhaug.augment.text import Token, join
from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.rng import derive_rng

SEVERITY_RATES = (0.02, 0.05, 0.1, 0.2, 0.3)
"""``rate`` of the operation at severity 1..5."""

TYPO_TASKS = ("spelling / grammar error detection", "text quality scoring")


def severity_rate(severity: int) -> float:
    """The edit rate of ``severity`` (1..5)."""
    if severity not in range(1, len(SEVERITY_RATES) + 1):
        raise ZhaugError(f"severity must be 1..{len(SEVERITY_RATES)}, got {severity!r}")
    return SEVERITY_RATES[severity - 1]


@dataclass(frozen=True)
class Family:
    """A named perturbation test: operation ``op`` with ``params``, graded by severity.

    ``unit`` is what the severity counts. The severity sets the constructor parameter
    ``severity_param`` to ``severity_values[severity - 1]`` (default: ``rate`` from
    :data:`SEVERITY_RATES`). ``attack`` marks families whose edits stay inside one word, so that
    the attack can use them as substitutions for a single word; ``needs_models`` families are
    available only when their models load.
    """

    name: str
    op: str
    unit: str
    label_preserving: bool
    may_change: tuple[str, ...]
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)
    attack: bool = True
    severity_param: str = "rate"
    severity_values: tuple[Any, ...] = SEVERITY_RATES
    needs_models: bool = False

    @property
    def expectation(self) -> str:
        """``INV`` for label-preserving families, else ``ACC``."""
        return "INV" if self.label_preserving else "ACC"

    @property
    def available(self) -> bool:
        """Whether the operation is registered and, for ``needs_models``, its models load."""
        if self.op not in OPERATIONS:
            return False
        if self.needs_models and self.name not in _AVAILABLE:
            try:
                self.operation(1).augment("你好。今天天气很好。")
                _AVAILABLE[self.name] = True
            except MissingResourceError:
                _AVAILABLE[self.name] = False
        return _AVAILABLE.get(self.name, True)

    def build(self, **values: Any) -> Operation:
        """The operation with ``params`` and ``values``; an operation that has a safe mode runs in
        classic mode (a family is graded noise: its rate must grow with the severity, uncapped)."""
        cls = OPERATIONS[self.op]
        classic = {"mode": "classic"} if "mode" in cls._param_names() else {}
        return cls(**{**classic, **self.params, **values})

    def operation(self, severity: int) -> Operation:
        """The operation at ``severity`` (1..5)."""
        severity_rate(severity)
        return self.build(**{self.severity_param: self.severity_values[severity - 1]})

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "op": self.op, "params": dict(self.params), "unit": self.unit,
            "label_preserving": self.label_preserving, "expectation": self.expectation,
            "may_change": list(self.may_change), "description": self.description,
            "severity_param": self.severity_param, "severity_values": list(self.severity_values),
        }


_AVAILABLE: dict[str, bool] = {}
"""Families probed so far (only ``needs_models`` families are probed, once per process)."""


FAMILIES: tuple[Family, ...] = (
    Family("homophone_same_tone", "homophone", "char", True, TYPO_TASKS,
           "characters replaced by homophones with the same tone (evasion spelling)", {"tone": "same"}),
    Family("homophone_any_tone", "homophone", "char", True, TYPO_TASKS,
           "characters replaced by homophones of any tone", {"tone": "any"}),
    Family("dialect_homophone", "dialect_homophone", "char", True, TYPO_TASKS,
           "southern-accent confusions z/zh c/ch s/sh n/l f/h en/eng in/ing"),
    Family("similar_glyph", "similar_glyph", "char", True, TYPO_TASKS,
           "characters replaced by look-alike characters"),
    Family("pinyin", "to_pinyin", "char", True, TYPO_TASKS, "characters written as toneless pinyin"),
    Family("pinyin_initials", "pinyin_initials", "word", True, TYPO_TASKS,
           "words abbreviated to their pinyin initials (微信 → wx)"),
    Family("traditional", "traditional", "char", True, ("script / region identification",),
           "simplified characters converted to traditional / variant forms"),
    Family("char_insert", "char_insert", "char", True, TYPO_TASKS, "typo: a character inserted"),
    Family("char_delete", "char_delete", "char", True, TYPO_TASKS, "typo: a character deleted"),
    Family("char_swap", "char_swap", "char", True, TYPO_TASKS, "typo: adjacent characters swapped"),
    Family("punct_insert", "punct_insert", "word", True, ("punctuation restoration", "formality"),
           "punctuation marks inserted between words", attack=False),
    Family("emoji", "emoji_insert", "word", True, ("emotion", "sarcasm", "formality"),
           "neutral emoji inserted after words"),
    Family("zero_width", "zero_width", "char", True, (), "invisible zero-width characters inserted"),
    Family("full_width", "width_swap", "char", True, (),
           "full-width and half-width forms swapped (ＡＢＣ ↔ ABC, ， ↔ ,)"),
    Family("synonym_swap", "synonym_swap", "word", True, ("NLI", "paraphrase identification"),
           "words replaced by synonyms"),
    Family("word_swap", "random_swap", "word", True, ("NLI", "relation / event extraction"),
           "two words swap places (local word order)", attack=False),
    Family("word_delete", "random_delete", "word", False, ("any: the deleted word may carry the label",),
           "words deleted", attack=False),
    Family("sentence_shuffle", "sentence_shuffle", "sentence", True, ("coherence", "NLI", "summary quality"),
           "sentences of a multi-sentence text reordered (single sentences unchanged)", attack=False),
    Family("back_translate", "back_translate", "sentence", True, ("style / register", "dialect identification"),
           "round trip zh → en → zh of 1, 2, 3, 4 or all sentences (where translation models are installed)",
           attack=False, severity_param="k", severity_values=(1, 2, 3, 4, None), needs_models=True),
)
"""The catalogue, in report order."""

FAMILY_NAMES = tuple(family.name for family in FAMILIES)


def select_families(names: Sequence[str] | None = None) -> list[Family]:
    """Families by name; ``None`` selects every available one. Unknown or unavailable names raise."""
    by_name = {family.name: family for family in FAMILIES}
    if names is None:
        return [family for family in FAMILIES if family.available]
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ZhaugError(f"unknown families {unknown}; choose from {', '.join(FAMILY_NAMES)}")
    missing = [name for name in names if not by_name[name].available]
    if missing:
        raise MissingResourceError(
            f"families {missing} need operations that are not available here "
            f"({', '.join(by_name[name].op for name in missing)})"
        )
    return [by_name[name] for name in names]


def perturb(
    tokens: Sequence[list[Token]], ids: Sequence[str], family: Family, severity: int, seed: int
) -> list[str]:
    """The perturbed texts of segmented rows; row ``i`` uses ``derive_rng(seed, ids[i], family, severity)``."""
    op = family.operation(severity)
    rngs: list[random.Random] = [derive_rng(seed, rid, family.name, severity) for rid in ids]
    return [join(edited) for edited in op.apply_batch([list(t) for t in tokens], rngs)]
