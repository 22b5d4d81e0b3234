"""AEDA: insert punctuation marks between tokens (Karimi et al., 2021), with Chinese marks."""

from __future__ import annotations

import random

from zhaug.augment.base import register
from zhaug.augment.ops._common import EditOperation, check_nonempty, draw, insert_marks
from zhaug.augment.text import Token

CHINESE_MARKS = "，。；：？！、"

CLAUSE_OPENERS = frozenset(
    "也 还 都 又 就 却 而且 但是 但 可是 不过 所以 然后 因为 其实 另外 并且 总之 只是 而 同时 因此 于是 如果 虽然 "
    "真的 确实 总的来说 总体来说 反正 而且还 当然 可能 尤其 特别是 包括 甚至 比如 例如 结果 后来 最后 希望 感觉".split()
)
"""Words that may open a clause: a pause before them is where a Chinese writer could put a mark."""

_PARTICLES = frozenset("啊 呀 吧 呢 哦 啦 嘛 哈 哇 呵呵 哈哈".split())
_BINDS_FORWARD = frozenset({"p", "c", "u", "uj", "ul", "uz", "ug", "ud", "uv", "r", "rr", "rz", "d", "zg", "m", "q"})


@register
class PunctuationInsert(EditOperation):
    """Insert full-width punctuation marks between tokens.

    Parameters
    ----------
    rate:
        Share of the places that get a mark: of the editable words, at most ``max_edits`` and
        one per clause (safe mode); of the places between two tokens (classic mode).
    marks:
        The marks to choose from, uniformly (default ``，。；：？！、``).
    mode:
        ``"safe"``: a mark only goes where a clause can start — before a conjunction or clause
        adverb (但是, 而且, 也, 还, 其实 ...) or after a modal particle (啊, 呢, 吧) — and never
        after a preposition, pronoun, adverb or particle that binds the next word; ``"classic"``:
        AEDA's places, any boundary between two tokens (judged broken in 74% of copies, as
        full stops split verb and object or 很 and its adjective).
    max_edits:
        Most marks per text in safe mode.

    In both modes a place qualifies only when neither neighbour is punctuation or whitespace and
    the token before it is not a negation (``不，好`` would change the meaning); protected spans
    (names, numbers with their units) are whole tokens, so nothing is ever inserted inside one,
    and nothing is added at the very start or end.

    Label risk: low — AEDA keeps every word and its order; only the rhythm of the text changes.
    """

    name = "punct_insert"
    label_risk = "low"

    def __init__(self, rate: float = 0.2, marks: str = CHINESE_MARKS, mode: str = "safe", max_edits: int = 2):
        check_nonempty(self.name, "marks", marks)
        super().__init__(rate, mode, max_edits)
        self.marks = marks

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        places = [
            k
            for k in range(1, len(tokens))
            if tokens[k - 1].kind not in ("punct", "space", "negation") and tokens[k].kind not in ("punct", "space")
        ]
        if self.mode == "classic":
            return insert_marks(tokens, places, self.marks, self.rate, rng)
        places = [k for k in places if _clause_boundary(tokens[k - 1], tokens[k])]
        out = list(tokens)
        for k in sorted(draw(self, places, tokens, rng, lambda k: k - 1), reverse=True):
            out.insert(k, Token(rng.choice(self.marks), "punct"))
        return out


def _clause_boundary(before: Token, after: Token) -> bool:
    """Whether a clause may end after ``before`` and start at ``after``."""
    if before.text in _PARTICLES:
        return after.text not in _PARTICLES
    return (after.text in CLAUSE_OPENERS or after.tag == "c") and before.tag not in _BINDS_FORWARD \
        and before.text not in CLAUSE_OPENERS
