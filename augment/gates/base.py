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

from zhaug.errors import ZhaugError
from zhaug.io import Record

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


class Gate(ABC):
    """Base class: constructor takes thresholds, :meth:`reasons` takes candidates."""

    name: ClassVar[str]

    def prepare(self, records: Sequence[Record]) -> None:
        """Called once with every input record before any candidate (e.g. to index input texts)."""

    @abstractmethod
    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        """For each candidate: ``None`` to accept it, or a short reason to reject it."""


def build_gate(spec: str | dict[str, Any]) -> Gate:
    """A gate from ``"name"`` or ``{"name": {params}}`` (the recipe / config form)."""
    if isinstance(spec, str):
        spec = {spec: {}}
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"a gate is written as {{name: {{params}}}}, got {spec!r}")
    (name, params), = spec.items()
    if name not in GATES:
        raise ZhaugError(f"unknown gate {name!r}; choose from {sorted(GATES)}")
    try:
        return GATES[name](**(params or {}))
    except TypeError as exc:
        raise ZhaugError(f"gate {name!r}: {exc}") from None
