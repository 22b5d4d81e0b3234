"""Label-preservation gates: pluggable filters that reject candidates which may have lost their label."""

from zhaug.augment.gates import dedup, edits, facts, fluency, length, rules, similarity, teacher  # noqa: F401  (registers the gates)
from zhaug.augment.gates.base import GATES, Candidate, Gate, build_gate, register_gate

__all__ = ["GATES", "Candidate", "Gate", "build_gate", "register_gate"]
