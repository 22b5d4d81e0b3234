"""Chinese text augmentation: operations, their composition, label gates and the batch pipeline."""

from zhaug.augment import ops  # noqa: F401  (registers the operations)
from zhaug.augment.base import OPERATIONS, Operation
from zhaug.augment.compose import OneOf, PerSentence, Sequential, Sometimes
from zhaug.augment.text import Segmenter, Token, join

__all__ = ["OPERATIONS", "OneOf", "Operation", "PerSentence", "Segmenter", "Sequential", "Sometimes", "Token", "join"]
