"""EDA's random edits at word level (Wei & Zou, 2019), on jieba words.

In the default ``safe`` mode they edit only where Chinese stays grammatical: a swap exchanges
two coordinated words (价格和服务 → 服务和价格, 干净整洁 → 整洁干净) and a deletion drops a word
that only colours a clause (很, 真的, 啊). EDA's free swaps and deletions (``mode="classic"``)
were judged broken in 89% and 57% of copies: they scramble word order and delete numbers,
names and the words a negation governs.
"""

from __future__ import annotations

import random

from zhaug.augment.base import editable_positions, n_edits, register
from zhaug.augment.ops._common import EditOperation, draw
from zhaug.augment.text import Token

COORDINATORS = frozenset("和 与 跟 及 以及 或 或者 、 还有".split())
"""Words and marks between two coordinated words, which may change places."""

DELETABLE = frozenset(
    "很 非常 真 真的 挺 蛮 比较 相当 超级 极其 实在 确实 其实 简直 真是 的确 居然 竟然 果然 反正 当然 总之 "
    "啊 呀 吧 呢 哦 啦 嘛 哈 哇 呐 咯 喔 嗯 哈哈 哈哈哈 呵呵 嘻嘻 噢 唉 哎 哎呀".split()
)
"""Words that colour a clause without carrying its facts: degree adverbs, stance adverbs, modal
particles and interjections. Deleting one keeps the sentence grammatical and its claim. 也, 都
and 还 are not here: they pair with other words (既…也, 除了…都, 什么都, 还…还), and deleting
them was judged to break or change the sentence."""



@register
class RandomSwap(EditOperation):
    """Swap the places of two words.

    Parameters
    ----------
    rate:
        Share of the editable words swapped: ``rate`` × (editable words) swaps, at most
        ``max_edits`` and one per clause in safe mode.
    mode:
        ``"safe"``: only two coordinated nouns (X和Y, X、Y) or two adjacent adjectives change
        places; a text without them may get two short comma-separated topic clauses swapped
        (房间很大，早餐丰富 → 早餐丰富，房间很大); otherwise it is left as it is.
        ``"classic"``: EDA's swap of any two editable words.
    max_edits:
        Most swaps per text in safe mode.

    Label risk: low — coordinated words say the same in either order.
    """

    name = "random_swap"
    label_risk = "low"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        out = list(tokens)
        if self.mode == "classic":
            positions = editable_positions(out)
            if len(positions) < 2:
                return out
            for _ in range(n_edits(self.rate, len(positions), rng)):
                i, j = rng.sample(positions, 2)
                out[i], out[j] = out[j], out[i]
            return out
        pairs = swappable_pairs(tokens)
        for i, j in draw(self, pairs, tokens, rng, token_of=lambda pair: pair[0]):
            out[i], out[j] = out[j], out[i]
        if not pairs:
            spans = swappable_clauses(tokens)
            for (a, b), (c, d) in draw(self, spans, tokens, rng, token_of=lambda span: span[0][0])[:1]:
                out[a:d] = [*tokens[c:d], *tokens[b:c], *tokens[a:b]]
        return out


def swappable_pairs(tokens: list[Token]) -> list[tuple[int, int]]:
    """``(i, j)`` of words that may change places: two nouns joined by 和 / 、 (not the first
    part of a compound: 价格和服务态度), or two adjacent two-character adjectives (干净整洁; not
    好小, where 好 is a degree adverb)."""
    pairs = []
    for i in range(len(tokens) - 1):
        a = tokens[i]
        if not a.editable or not a.tag:
            continue
        b = tokens[i + 1]
        if b.editable and a.tag == b.tag == "a" and a.text != b.text and min(len(a.text), len(b.text)) > 1:
            pairs.append((i, i + 1))
        elif b.text in COORDINATORS and i + 2 < len(tokens) and _nominal(a) and not _after_de(tokens, i):
            c = tokens[i + 2]
            if c.editable and _nominal(c) and c.text != a.text and not _continues(tokens, i + 3):
                pairs.append((i, i + 2))
    return pairs


_WH_WORDS = frozenset("什么 谁 哪 哪儿 哪里 怎么 怎样 多少 任何 一点".split())
"""Words that 都 / 也 after them make universal (什么都不好 'nothing is good'): the adverb stays."""

_ORDERED = frozenset("也 还 又 再 就 才 却 都 而且 并且 然后 所以 但 但是 可是 不过 因为 结果 后来 最后 终于 已经 然后".split())


def swappable_clauses(tokens: list[Token]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``((a, b), (c, d))``: two adjacent short clauses ``tokens[a:b]`` and ``tokens[c:d]`` with a
    comma ``tokens[b:c]`` between them that may change places: each is a topic and its verdict
    (房间很大，早餐丰富): it opens with a noun, has an adjective and no verb or preposition, at most
    8 characters, no protected span and no word that ties it to what came before (也, 然后 ...)."""
    bounds, start = [], 0
    for k, token in enumerate(tokens):
        if token.kind in ("punct", "space"):
            bounds.append((start, k))
            start = k + 1
    bounds.append((start, len(tokens)))
    pairs = []
    for (a, b), (c, d) in zip(bounds, bounds[1:]):
        if c == b + 1 and tokens[b].text in "，," and _topic_clause(tokens[a:b]) and _topic_clause(tokens[c:d]):
            pairs.append(((a, b), (c, d)))
    return pairs


def _topic_clause(clause: list[Token]) -> bool:
    return (
        1 < len(clause) and sum(len(t.text) for t in clause) <= 8 and clause[0].tag[:1] == "n"
        and all(t.editable or t.kind == "negation" for t in clause) and not any(t.text in _ORDERED for t in clause)
        and any(t.tag == "a" for t in clause) and not any(t.tag[:1] in ("v", "p") for t in clause)
    )


def _alone(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` is its clause's only word (总之，…): deleting it would leave a bare mark."""
    edge = ("punct", "space")
    return (i == 0 or tokens[i - 1].kind in edge) and (i + 1 == len(tokens) or tokens[i + 1].kind in edge)


def _nominal(token: Token) -> bool:
    """A noun, or a verb used as one (服务 vn)."""
    return token.tag[:1] == "n" or token.tag == "vn"


def _continues(tokens: list[Token], k: int) -> bool:
    """Whether ``tokens[k]`` continues the noun before it (价格和服务态度: 态度; 自助餐厅的服务员:
    的), so that the coordination is wider than one word and a swap would split it."""
    return k < len(tokens) and (tokens[k].editable and tokens[k].tag[:1] in ("n", "v") or tokens[k].text == "的")


def _after_de(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` is modified by a 的-phrase before it (前台的服务员和…)."""
    return i > 0 and tokens[i - 1].text == "的"


@register
class RandomDelete(EditOperation):
    """Delete words, never every word.

    Parameters
    ----------
    rate:
        Share of the editable words deleted: ``rate`` × (editable words), at least one, at most
        ``max_edits`` and one per clause in safe mode.
    mode:
        ``"safe"``: only words of :data:`DELETABLE` (很, 真的, 其实, 啊, 呢 ...), never a
        content word, number, name or negated word; ``"classic"``: EDA's deletion of any
        editable words.
    max_edits:
        Most deletions per text in safe mode.

    Label risk: low in safe mode (the sentiment and the facts stay; only intensity can soften),
    medium in classic mode, where a key word (e.g. the only sentiment word) can be deleted.
    """

    name = "random_delete"
    label_risk = "medium"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        positions = editable_positions(tokens)
        if self.mode == "classic":
            if len(positions) < 2:
                return list(tokens)
            count = min(len(positions) - 1, n_edits(self.rate, len(positions), rng))
            dropped = set(rng.sample(positions, count))
        else:
            candidates = [i for i in positions if tokens[i].text in DELETABLE and not _alone(tokens, i)
                          and not (i > 0 and tokens[i - 1].text in _WH_WORDS)]
            if len(candidates) == len(positions):
                candidates = candidates[1:]
            dropped = set(draw(self, candidates, tokens, rng))
        return [token for i, token in enumerate(tokens) if i not in dropped]
