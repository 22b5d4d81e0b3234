"""AEDA: insert punctuation marks between tokens (Karimi et al., 2021), with Chinese marks."""

from __future__ import annotations

import random

from zhaug.augment.base import register
from zhaug.augment.ops._common import EditOperation, check_nonempty, draw, insert_marks
from zhaug.augment.text import Token

CHINESE_MARKS = "，。；：？！、"

CLAUSE_OPENERS = frozenset(
    "但是 而且 可是 不过 所以 然后 因为 其实 另外 总之 只是 同时 因此 于是 虽然 真的 确实 总的来说 总体来说 "
    "反正 当然 比如 例如 结果 后来 最后 然而 否则 要不然".split()
)
"""Words that open a clause: a pause before them is where a Chinese writer could put a mark.
Single-character adverbs (也, 都, 还) and coordinators (和, 与) are left out: a mark before them
splits a subject from its predicate or one noun from another (快速入住。和快速退房)."""

_PAUSE_AFTER = CLAUSE_OPENERS - frozenset("因为 虽然 只是 真的 确实".split())
"""Openers a comma may follow (但是，…); 因为, 虽然, 真的 ... bind the words after them."""

_PAUSE_BEFORE = CLAUSE_OPENERS - frozenset("真的 确实 当然 比如 例如 最后 后来".split())
"""Openers a mark may precede: conjunctions; adverbs such as 真的 often start a predicate
(饮料真的太不好喝 → 饮料；真的…)."""

TIME_WORDS = frozenset(
    "今天 昨天 明天 前天 后天 今年 去年 明年 现在 目前 最近 近期 近日 当时 之前 以前 以后 后来 早上 上午 中午 下午 "
    "晚上 凌晨 周末 平时 那天 下次 上次 当天 次日 随后 本来 原来 其实".split()
)
"""Time words after which a clause-opening comma is natural (今天，…); adverbs that jieba also
tags as time (正在, 往后) bind the verb after them and are left out."""

_PARTICLES = frozenset("啊 呀 吧 呢 哦 啦 嘛 哈 哇 呵呵 哈哈".split())
_BINDS_FORWARD = frozenset(
    {"p", "c", "u", "uj", "ul", "uz", "ug", "ud", "uv", "r", "rr", "rz", "d", "zg", "m", "q", "v", "vn", "vd", "vi"}
)
"""Tags of words that take the next word as object or complement (度过|最后三个月) or modify it."""


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
        ``"safe"``: a mark only goes where a writer pauses — a comma after a clause-opening
        connective or time word (但是，… 今天，…), or any mark but 、 before a connective (…！其实…)
        or after a modal particle (啊, 呢, 吧), never after a preposition, pronoun, adverb or
        particle that binds the next word; ``"classic"``:
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
        starts = {k for k in range(len(tokens)) if k == 0 or tokens[k - 1].kind in ("punct", "space")}
        pause = "，" if "，" in self.marks else self.marks
        between = "".join(m for m in self.marks if m != "、") or self.marks
        chosen = []
        for k in places:
            if k - 1 in starts and (tokens[k - 1].text in _PAUSE_AFTER or tokens[k - 1].text in TIME_WORDS) \
                    and tokens[k].tag[:1] not in ("n", "t", "f", "u") and tokens[k].kind == "word" \
                    and not tokens[k].text.startswith("是"):
                chosen.append((k, pause))  # 但是，… / 今天，…
            elif _clause_boundary(tokens[k - 1], tokens[k]):
                chosen.append((k, between))  # …！其实… / …啊，…
        out = list(tokens)
        for k, marks in sorted(draw(self, chosen, tokens, rng, lambda place: place[0] - 1), reverse=True):
            out.insert(k, Token(rng.choice(marks), "punct"))
        return out


def _clause_boundary(before: Token, after: Token) -> bool:
    """Whether a clause may end after ``before`` and start at ``after``."""
    if before.text in _PARTICLES:  # not inside 吧了 / 啊呀 / 飞啊飞
        return after.text not in _PARTICLES and after.tag[:1] not in ("u", "y", "v", "a") and after.kind == "word"
    return after.text in _PAUSE_BEFORE and before.tag not in _BINDS_FORWARD and before.text not in CLAUSE_OPENERS
