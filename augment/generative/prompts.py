"""Prompt templates per task, and the clean-up of a model's reply into one Chinese sentence.

The instruction comes first and the text last, in a single user turn; the instructions name
what must not change (numbers, names, negations), which the fact gate checks afterwards.
(A prompt asking for a minimal edit, with three worked examples, made the 1.5B model return many
sentences unchanged, at three times the prompt length: the gates, not the prompt, keep the copies
faithful.)
"""

from __future__ import annotations

import re

from zhaug.augment.generative.backend import Messages

PIVOTS = {"en": ("英文", "English"), "ja": ("日文", "Japanese")}
"""Pivot languages for back-translation: code → (name in Chinese, name in English)."""

TEMPLATES: dict[str, tuple[str, str]] = {
    "paraphrase": (
        "你是中文改写助手。",
        "用不同的措辞改写下面这段中文，保持原意和语气；数字、人名、地名和否定词（不、没、未、无、别、否认、辟谣、不实、假等）"
        "必须原样保留。只输出改写后的中文，不要解释。\n{text}",
    ),
    "to_pivot": (
        "You are a translator.",
        "Translate the following Chinese text into {pivot_en}. Keep every number, name and negation. "
        "Output only the translation.\n{text}",
    ),
    "from_pivot": (
        "你是翻译。",
        "把下面的{pivot_en}译成自然的简体中文，保留所有数字、名字和否定。只输出译文。\n{text}",
    ),
}
"""task → (system message, user message with ``{text}`` and, for translation, ``{pivot_en}``)."""


def messages(task: str, text: str, pivot: str = "en") -> Messages:
    """The chat messages asking for ``task`` on ``text``."""
    system, user = TEMPLATES[task]
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user.format(text=text, pivot_en=PIVOTS[pivot][1])},
    ]


_LABEL = re.compile(r"^\s*(?:改写后?的?(?:句子|文本|内容)?|译文|翻译|输出|Translation|Rewritten|Paraphrase)\s*[:：]\s*", re.I)
_QUOTES = "\"'“”‘’「」『』`"


def clean_reply(reply: str) -> str:
    """The reply's first non-empty line, without a leading label (``改写：``) or wrapping quotes."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = _LABEL.sub("", lines[0]).strip()
    if len(line) > 1 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    return line
