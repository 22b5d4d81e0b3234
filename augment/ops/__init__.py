"""The operations, one small class each, registered by name for recipes."""

from zhaug.augment.ops.word_edits import RandomDelete, RandomSwap

__all__ = ["RandomDelete", "RandomSwap"]
