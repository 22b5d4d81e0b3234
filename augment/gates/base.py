"""The gate interface: label-preservation filters run after generation (TextAttack's constraints).

A gate looks at a batch of candidates and returns, for each, ``None`` (accept) or a short
reason for rejecting it. Gates are independent and pluggable; the pipeline runs them in order,
counts rejections per operation and reason, and logs every rejected candidate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from zhaug.hashing import key
from zhaug.io import Record
from zhaug.params import Parameters
from zhaug.specs import build, parse_spec

GATES: dict[str, type[Gate]] = {}


def register_gate(cls: type[Gate]) -> type[Gate]:
    """Class decorator: make a gate available to recipes and ``--gate`` by its ``name``."""
    GATES[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Candidate:
    """A proposed augmentation of ``parent`` made by operation ``op`` (copy number ``copy``)."""

    parent: Record
    text: str
    op: str
    copy: int


class Gate(Parameters, ABC):
    """Base class: constructor takes thresholds, :meth:`reasons` takes candidates."""

    name: ClassVar[str]

    def prepare(self, records: Sequence[Record]) -> None:
        """Called once with every input record before any candidate (e.g. to index input texts)."""

    @abstractmethod
    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        """For each candidate: ``None`` to accept it, or a short reason to reject it."""


def build_gate(spec: str | dict[str, Any]) -> Gate:
    """A gate from ``"name"`` or ``{"name": {params}}`` (the recipe / config form)."""
    return build(GATES, "gate", *parse_spec(spec, "gate"))


def check_pairs(pairs: list[tuple[str, str]], gates: list[Gate]) -> list[str | None]:
    """For each (original, copy): ``None`` if every gate accepts the copy, else the first rejecting
    gate's reason (``"gate: reason"``). Copies of the same original are siblings (for dedup)."""
    parents = {original: Record(key("original", original), original) for original, _ in pairs}
    candidates = [Candidate(parents[original], copy, "given", i) for i, (original, copy) in enumerate(pairs)]
    out: list[str | None] = [None] * len(pairs)
    for each in gates:
        each.prepare(list(parents.values()))
        active = [c for c in candidates if out[c.copy] is None]
        for candidate, reason in zip(active, each.reasons(active) if active else []):
            if reason is not None:
                out[candidate.copy] = f"{each.name}: {reason}"
    return out
