"""Real-world input noise: accent homophones, pinyin, pinyin initials, invisible and width
characters, emoji, and sentence order.

Readings come from the homophone index (:func:`~zhaug.augment.ops.homophones.homophone_index`),
so a character is read in the context of its word and an ambiguous one is left alone.
"""

from __future__ import annotations

import random

from zhaug.augment.base import Operation, editable_positions, n_edits, register
from zhaug.augment.compose import SENTENCE_END, split_token_sentences
from zhaug.augment.ops._common import RateOperation, check_nonempty, cjk_slots, insert_marks, pick, replace_chars
from zhaug.augment.ops.homophones import homophone_index
from zhaug.augment.text import Token, is_cjk

INITIAL_CONFUSIONS = {
    "zh": "z", "z": "zh", "ch": "c", "c": "ch", "sh": "s", "s": "sh", "n": "l", "l": "n", "f": "h", "h": "f",
}
FINAL_CONFUSIONS = {"eng": "en", "en": "eng", "ing": "in", "in": "ing"}
ZERO_WIDTH = "\u200b\u200c\u2060\ufeff"
NEUTRAL_EMOJI = "📌📍🔹🔸💬📷📎📝"
WIDTH_SPECIALS = {"。": ".", "、": ","}


def dialect_variants(key: str) -> list[str]:
    """Toned syllables one accent confusion away from ``key`` (``zhong1`` → ``zong1``)."""
    syllable, tone = key[:-1], key[-1]
    variants = []
    initial = next((i for i in sorted(INITIAL_CONFUSIONS, key=len, reverse=True) if syllable.startswith(i)), None)
    if initial:
        variants.append(INITIAL_CONFUSIONS[initial] + syllable[len(initial):])
    final = next((f for f in sorted(FINAL_CONFUSIONS, key=len, reverse=True) if syllable.endswith(f)), None)
    if final:
        variants.append(syllable[: -len(final)] + FINAL_CONFUSIONS[final])
    return [variant + tone for variant in variants]


@register
class DialectHomophone(RateOperation):
    """Replace ``rate`` × (readable CJK characters in editable words) characters by a common
    character whose reading differs by one southern-accent confusion, same tone: z/zh, c/ch,
    s/sh, n/l, f/h, en/eng, in/ing (是 shì → 四 sì, 南 nán → 蓝 lán, 星 xīng → 心 xīn). Only
    confusions that land on a syllable with common characters are used.

    Label risk: medium — as homophones: the sound a speaker of the accent hears is kept, but a
    replaced key character can hide the label's evidence.
    """

    name = "dialect_homophone"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        index = homophone_index("same")
        slots = []
        for i, j in cjk_slots(tokens):
            key = index.reading(tokens[i].text, j)
            options = [index.groups[v] for v in dialect_variants(key) if v in index.groups] if key else []
            if options:
                slots.append((i, j, options))
        edits = {}
        for i, j, options in pick(slots, self.rate, rng):
            chars, weights = options[rng.randrange(len(options))]
            edits[i, j] = rng.choices(chars, weights)[0]
        return replace_chars(tokens, edits)


@register
class ToPinyin(RateOperation):
    """Write ``rate`` × (readable CJK characters in editable words) characters as toneless
    pinyin (好 → hao), as people do when they do not know or do not want to type a character.

    Label risk: medium — readers decode pinyin from context, but a key word in pinyin can be
    lost to a model trained on characters.
    """

    name = "to_pinyin"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        index = homophone_index("any")
        slots = [
            (i, j, key) for i, j in cjk_slots(tokens)
            if (key := index.reading(tokens[i].text, j))
        ]
        return replace_chars(tokens, {(i, j): key for i, j, key in pick(slots, self.rate, rng)})


@register
class PinyinInitials(RateOperation):
    """Abbreviate ``rate`` × (editable all-CJK words of two or more characters) words to the
    initials of their pinyin (微信 → wx, 喜欢 → xh), the internet shorthand.

    Label risk: medium — common shorthands are understood, rare ones are opaque.
    """

    name = "pinyin_initials"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        index = homophone_index("any")
        words = {}
        for i in editable_positions(tokens):
            text = tokens[i].text
            keys = [index.reading(text, j) for j in range(len(text))] if all(map(is_cjk, text)) else []
            if len(keys) > 1 and all(keys):
                words[i] = "".join(key[0] for key in keys)
        out = list(tokens)
        for i in pick(sorted(words), self.rate, rng):
            out[i] = out[i].with_text(words[i])
        return out


@register
class ZeroWidth(RateOperation):
    """Insert an invisible zero-width character (U+200B, U+200C, U+2060, U+FEFF) after
    ``rate`` × (CJK characters in editable words) characters — the text looks unchanged.

    Label risk: low — a reader sees nothing; only the model's input changes.
    """

    name = "zero_width"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        chosen = pick(cjk_slots(tokens), self.rate, rng)
        return replace_chars(tokens, {(i, j): tokens[i].text[j] + rng.choice(ZERO_WIDTH) for i, j in chosen})


def toggle_width(char: str) -> str | None:
    """The half-width form of a full-width character and vice versa (``None`` if it has none)."""
    if char in WIDTH_SPECIALS:
        return WIDTH_SPECIALS[char]
    code = ord(char)
    if 0x21 <= code <= 0x7E:
        return chr(code + 0xFEE0)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    return None


@register
class WidthSwap(RateOperation):
    """Swap full-width and half-width forms (ＡＢＣ ↔ ABC, ， ↔ ,, 。 → .) of ``rate`` × (such
    characters in editable words and punctuation) characters, as different input methods do.

    Label risk: low — the characters read the same.
    """

    name = "width_swap"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        slots = [
            (i, j) for i, token in enumerate(tokens) if token.kind in ("word", "punct") and not token.protected
            for j, char in enumerate(token.text) if toggle_width(char)
        ]
        chosen = pick(slots, self.rate, rng)
        return replace_chars(tokens, {(i, j): toggle_width(tokens[i].text[j]) for i, j in chosen})


@register
class EmojiInsert(Operation):
    """Insert a neutral emoji (📌 📍 🔹 💬 ...) after ``rate`` × (editable words) words.

    Emoji are inserted as non-word tokens, so no later operation edits them. Only emoji without
    a sentiment of their own are used: a 😡 would be evidence, not noise.

    Label risk: low.
    """

    name = "emoji_insert"
    label_risk = "low"

    def __init__(self, rate: float = 0.1, emoji: str = NEUTRAL_EMOJI):
        check_nonempty(self.name, "emoji", emoji)
        self.rate, self.emoji = rate, emoji

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return insert_marks(tokens, [i + 1 for i in editable_positions(tokens)], self.emoji, self.rate, rng)


@register
class SentenceShuffle(RateOperation):
    """Swap two sentences, ``rate`` × (sentences) times; a single-sentence text is unchanged.

    Only complete sentences move: a last fragment without a sentence-final mark stays last.

    Label risk: low for topic and sentiment; coherence, argument and NLI labels can change.
    """

    name = "sentence_shuffle"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        sentences = split_token_sentences(tokens)
        tail = [] if not sentences or sentences[-1][-1].text[-1:] in SENTENCE_END else sentences.pop()
        if len(sentences) < 2:
            return list(tokens)
        for _ in range(n_edits(self.rate, len(sentences), rng)):
            i, j = rng.sample(range(len(sentences)), 2)
            sentences[i], sentences[j] = sentences[j], sentences[i]
        return [token for sentence in sentences for token in sentence] + tail
