"""The operations, one small class each, registered by name for recipes."""

from zhaug.augment.nlpaug_bridge import FromNlpaug  # noqa: E402  (registers "nlpaug"; imports nlpaug lazily)
from zhaug.augment.ops.char_edits import CharDelete, CharInsert, CharSwap
from zhaug.augment.ops.glyphs import GlyphSwap
from zhaug.augment.ops.homophones import HomophoneSwap
from zhaug.augment.ops.punctuation import PunctuationInsert
from zhaug.augment.ops.script import ToSimplified, ToTraditional
from zhaug.augment.ops.synonyms import RandomInsert, SynonymSwap
from zhaug.augment.ops.word_edits import RandomDelete, RandomSwap

__all__ = [
    "CharDelete",
    "CharInsert",
    "CharSwap",
    "FromNlpaug",
    "GlyphSwap",
    "HomophoneSwap",
    "PunctuationInsert",
    "RandomDelete",
    "RandomInsert",
    "RandomSwap",
    "SynonymSwap",
    "ToSimplified",
    "ToTraditional",
]
from zhaug.augment.ops import (
    backtranslate,  # noqa: E402,F401  (registers back_translate)
    noise,  # noqa: E402,F401  (registers the noise operations)
    paraphrase,  # noqa: E402,F401  (registers paraphrase; its model loads lazily)
)
