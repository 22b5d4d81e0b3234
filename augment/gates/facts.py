"""Facts: reject a generated copy that lost a number, a name or a negation, or is not clean Chinese.

Generative copies (paraphrase, back-translation) rewrite whole sentences, so the token-level
rules gate is too strict for them (非常 → 很 changes its count of 非) and too lax (辟谣称消息不实
→ 否认消息是假的 keeps two markers but reverses the claim). This gate compares what carries
the truth of a text: negations by polarity (their count, in words that negate) and scope (each
negator with the word it governs, verbatim), denial words (否认 辟谣 谣言 不实 假 …) one by
one, words swapped for their opposites (收费 → 免费), regex-detected numbers, dates, money and
quotations both ways, named entities and quantities (2个多小时) as the default segmenter finds
them, paired marks (【】), words in Latin letters (brands, pinyin), personal pronouns (who did
what: 我微笑 → 你微笑), and content a rewrite silently dropped (就一个肉菜 → 一个肉菜, 菜也很好吃 →
菜很好吃: a deletion may only take punctuation and modal particles, and a span may not shrink to
a third). It also rejects a model's refusals, commentary and English leftovers ("Sure, here is…").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from zhaug.augment.base import default_segmenter
from zhaug.augment.gates.base import Candidate, Gate, register_gate
from zhaug.augment.gates.fluency import edits
from zhaug.augment.gates.rules import pattern_spans, span_kind
from zhaug.augment.text import ENTITY_TAGS, NEGATION_CHARS, dictionary_tags

ANTONYMS = tuple(tuple(pair.split("/")) for pair in (
    "收费/免费", "贵/便宜", "快/慢", "高/低", "新/旧", "干净/脏", "安静/吵", "热/冷", "好/差", "好/坏", "满意/失望", "喜欢/讨厌", "长/短",
    "厚/薄", "方便/麻烦", "舒服/难受", "清晰/模糊", "简单/复杂", "容易/难", "增加/减少", "上涨/下跌", "涨/跌", "支持/反对", "成功/失败", "赢/输",
    "优点/缺点", "好评/差评", "提前/推迟", "准时/迟到", "热情/冷淡", "香/臭", "正常/异常", "安全/危险", "男/女",
    *(f"{degree}大/{degree}小" for degree in ("太", "很", "偏", "较", "更", "最", "变")), "扩大/缩小", "大份/小份",
    *(f"{degree}多/{degree}少" for degree in ("太", "很", "偏", "较", "更", "最", "越")), "太咸/太淡", "太硬/太软",
))
"""Word pairs of opposite sense in reviews and news: a rewrite that loses one and gains the other
reversed a claim without a negator (停车竟然要收费 → 停车是免费的, a back-translation the facts
gate let through until 2026-12-05). Negated forms (不合格) and 真 / 假 are the negation and denial
checks' business; 大 / 小, 多 / 少 and 对 / 错 alone are in too many words of other senses (大家, 小时,
差不多, 至少, 不错), so size and amount count only after a degree word (量太小了 → 太大了)."""

NOT_OPPOSITE = ("差不多", "好像", "只好", "正好", "刚好", "好几", "好多", "快递", "快乐", "赶快", "尽快",
                "长期", "长大", "成长", "新闻", "重新", "难道", "难怪", "高兴", "小心")
"""Words holding a character of :data:`ANTONYMS` in another sense (好像 is not 好, 快递 not 快)."""

DEATH_WORDS = (
    "死亡", "身亡", "伤亡", "阵亡", "丧生", "丧命", "遇难", "去世", "逝世", "过世",
    "病逝", "身故", "牺牲", "殒命", "毙命", "击毙", "致死", "死", "亡",
)
"""Words of a death: the rubric counts a death deleted as meaning changed (中毒亡 → 中毒; 打死 →
故意伤害), and a death added too (慢的要死 → 几乎死在了那里). A longer word counts once (死亡 → 身亡
keeps one)."""

NOT_DEATH = (
    "逃亡", "流亡", "亡羊补牢", "死机", "死心", "死板", "死角", "死党", "死忠", "死磕", "死活", "拼死", "半死", "要死",
    "笑死", "累死", "气死", "烦死", "热死", "冷死", "困死", "吓死", "美死", "馋死", "死贵", "死咸", "死甜",
)
"""Words with 死 or 亡 that report no death: fleeing, a frozen computer, and 死 as an intensifier
(笑死, 死贵), which a rewrite may drop (难吃得要死 → 非常难吃)."""

DENIAL_WORDS = ("否认", "辟谣", "谣言", "造谣", "不实", "虚假", "假")
"""Words that deny a claim; each must survive (a longer word is counted before its parts)."""

NOT_NEGATING = frozenset(
    "非常 特别 别人 别的 别处 区别 分别 级别 类别 性别 个别 告别 差别 识别 辨别 鉴别 派别 无论 无比 "
    "不错 不过 不仅 不但 不管 不论 不断 不久 不少 不停 差不多 不然 要不然 无语 别致".split()
)
"""Words with a negation character that do not negate: intensifiers and conjunctions (非常, 不过,
不然 'otherwise', which a rewrite may write 否则), 不错, which is praise (不错 → 挺好 keeps the
polarity), and the rubric's own examples (无语, 别致)."""

NEGATOR_WORDS = ("没有", "没法", "无法", "不能", "不会", "不要", "不用", "未能", "未曾", "不曾", "没能")
"""Negators of more than one character, which :func:`restore_protected` may swap back (不能上图 →
没法上图); a scope starting with none of them starts with a one-character negator."""

CONDITIONAL_NEGATORS = ("如果", "要是", "若", "要")
"""Openers of an "if not" (要不是 = 如果不是 = 若不是): a rewrite may swap them, keeping 不是 and
what it governs."""

NOT_DENIAL = ("假期", "放假", "请假", "假如", "假设", "暑假", "寒假", "休假", "假日", "度假", "真假")
"""Words containing 假 that deny nothing."""

LEFTOVERS = ("以下是", "改写", "译文", "原文", "翻译", "抱歉", "对不起", "作为一个", "人工智能", "我不能", "我无法", "输出")
"""A model talking about its task instead of doing it (rejected unless the original has the phrase)."""

PRONOUNS = frozenset("我 你 您 他 她 它 我们 你们 您们 他们 她们 它们 咱 咱们 俺 俺们 本人 人家 大家".split())
"""Personal pronouns: their multiset must survive (a rewrite that swaps 我 and 你 swaps who acted)."""

DROPPABLE = frozenset("啊呀吧呢哦噢哈啦嘛呗咯喔哟了的地得么")
"""Characters a rewrite may delete without a trace (modal particles, 了, 的): besides these only
punctuation and spaces may go; dropping a word (就 也 又 多 这次) moves the facts."""

COLLAPSED = 5
"""Letters (not :data:`DROPPABLE`) a replaced span needs before its shrinking to a third counts as
dropped content: on the 126 judged generative pairs of 2026-12-05 this flags 3, two judged meaning
changed by both readers (公司受雇于三星 → 工作) and one shifted (一看这些给 → 看了: whose posts)."""

QUANTITY_KINDS = frozenset({"number", "time", "date", "money", "percent"})
MARK_PAIRS = ("【】", "《》", "〈〉", "“”", "‘’", "「」", "『』", "（）", "()", "[]")
PAIRED_MARKS = frozenset("".join(MARK_PAIRS))
CLOSING_MARKS = {pair[1]: pair[0] for pair in MARK_PAIRS} | {'"': '"'}
"""Closing marks and their openers (the ASCII quote is both; it is not counted by :func:`brackets`)."""

_LATIN = re.compile(r"[A-Za-z]{2,}")
_DIGITS = re.compile(r"\d+")
_DEATH = re.compile("|".join(sorted(DEATH_WORDS, key=len, reverse=True)))
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def negations(text: str) -> list[str]:
    """The words of ``text`` that negate, once per negation character (没有 → [没有])."""
    words = []
    for token in default_segmenter()(text):
        if token.kind == "negation" and token.text not in NOT_NEGATING:
            words.extend([token.text] * sum(char in NEGATION_CHARS for char in token.text))
    return words


def negation_scopes(text: str) -> Counter[str]:
    """Each negating word with the word it governs (the next word, if any): 不要打, 要不是看, 没敢喝.

    The judging rubric counts a replaced negator (没 → 不) or a changed negated word (不要打 →
    不要触摸, 不及进店 → 不及时) as a negation change, so both must survive verbatim (没 → 没有
    too: two readers flagged 饼没完全熟 → 饼还没有完全熟 as one)."""
    tokens = [token for token in default_segmenter()(text) if token.kind != "space"]
    scopes: Counter[str] = Counter()
    for token, following in zip(tokens, [*tokens[1:], None]):
        if token.kind == "negation" and token.text not in NOT_NEGATING:
            governed = following.text if following is not None and following.kind != "punct" else ""
            governed = "" if set(governed) <= DROPPABLE else governed  # 不容易啊 governs 容易, not 啊
            scopes[_unconditional(token.text + governed)] += 1
    return scopes


def _unconditional(scope: str) -> str:
    """``scope`` without the opener of an "if not": 要不是脚崴 → 不是脚崴."""
    opener = next((word for word in CONDITIONAL_NEGATORS if scope.startswith(word + "不是")), "")
    return scope[len(opener):]


def restore_protected(parent: str, text: str) -> str:
    """``text`` with the parent's own wording put back where a rewrite only reworded a protected
    span: a negator replaced before the same word (无法上图 → 没法上图, 没有被 → 没被), a number,
    date or amount written with other units around the same digits (2月30日 → 2月30号, 100元 → 100).
    What was deleted, added or changed otherwise is left for :func:`fact_problem` to reject."""
    return _restore_spans(parent, _restore_negators(parent, text))


def _restore_negators(parent: str, text: str) -> str:
    """``text`` with each negation scope the parent lacks put back as the parent's, where both negate
    the same words."""
    lost = negation_scopes(parent) - negation_scopes(text)
    for scope in (negation_scopes(text) - negation_scopes(parent)).elements():
        rest = _after_negator(scope)
        old = next((s for s in lost.elements() if rest and _after_negator(s) == rest), None)
        if old is not None and scope in text:
            lost[old] -= 1
            text = text.replace(scope, old, 1)
    return text


def _after_negator(scope: str) -> str:
    """What a negation scope negates: 没法上图 → 上图, 没有被咳出 → 被咳出."""
    negator = next((word for word in NEGATOR_WORDS if scope.startswith(word)), scope[:1])
    return scope[len(negator):]


def _restore_spans(parent: str, text: str) -> str:
    """``text`` with the parent's one lost span back in place of its one gained span, if both hold
    the same digits."""
    lost, gained = pattern_spans(parent) - pattern_spans(text), pattern_spans(text) - pattern_spans(parent)
    if sum(lost.values()) == sum(gained.values()) == 1:
        (old,), (new,) = lost, gained
        if _DIGITS.findall(old) and _DIGITS.findall(old) == _DIGITS.findall(new):
            return text.replace(new, old, 1)
    return text


def denials(text: str) -> Counter[str]:
    """Denial words of ``text`` (虚假 counts once, as 虚假, not also as 假)."""
    for word in NOT_DENIAL:
        text = text.replace(word, "　")
    found: Counter[str] = Counter()
    for word in DENIAL_WORDS:
        found[word] = text.count(word)
        text = text.replace(word, "　")
    return +found


def antonym_flip(parent: str, text: str) -> str | None:
    """``"a → b"`` when ``text`` has fewer of the word ``a`` and more of its opposite ``b`` (one of
    :data:`ANTONYMS`) than ``parent``, else ``None``."""
    before, after = _antonym_counts(parent), _antonym_counts(text)
    for pair in ANTONYMS:
        for lost, gained in (pair, pair[::-1]):
            if after[lost] < before[lost] and after[gained] > before[gained]:
                return f"{lost} → {gained}"
    return None


def _antonym_counts(text: str) -> Counter[str]:
    """How often each word of :data:`ANTONYMS` occurs in ``text``, inside longer words too (the
    segmenter joins 价格便宜 and 太差劲), words of other senses (:data:`NOT_OPPOSITE`) left out."""
    for word in NOT_OPPOSITE:
        text = text.replace(word, "　")
    return Counter({word: text.count(word) for pair in ANTONYMS for word in pair})


def deaths(text: str) -> int:
    """How many :data:`DEATH_WORDS` ``text`` holds, :data:`NOT_DEATH` words left out."""
    for word in NOT_DEATH:
        text = text.replace(word, "　")
    return len(_DEATH.findall(text))


def entities(text: str) -> list[str]:
    """Named entities the default segmenter marks and jieba's dictionary tags as names, places or
    organisations (its other entities are unknown words found by the HMM, which a rewrite may
    rightly change: 送得, 张三说)."""
    tags = dictionary_tags()
    return [
        token.text for token in default_segmenter()(text)
        if token.kind == "entity" and tags.get(token.text) in ENTITY_TAGS
    ]


def pronouns(text: str) -> Counter[str]:
    """The personal pronouns of ``text`` as words (其他 and 他人 are not 他)."""
    return Counter(token.text for token in default_segmenter()(text) if token.text in PRONOUNS)


def quantities(text: str) -> Counter[str]:
    """Numerals with their classifier or unit as the segmenter joins them (2个多小时, 十点多, 6个月):
    the rubric counts a changed classifier or 多 as a changed number."""
    return Counter(token.text for token in default_segmenter()(text) if token.kind in QUANTITY_KINDS)


def latin_words(text: str) -> Counter[str]:
    """Words in Latin letters (two or more): brands, pinyin, handles, English (iPhone, baby, qiao).
    A rewrite of Chinese has no reason to touch them (地壳qiao改为地壳ke → 地壳ke改为地壳ke)."""
    return Counter(_LATIN.findall(text))


def brackets(text: str) -> Counter[str]:
    """The paired marks of ``text`` (a rewrite that drops 【 leaves its 】 dangling)."""
    return Counter(char for char in text if char in PAIRED_MARKS)


def dropped_content(parent: str, text: str) -> str | None:
    """What ``text`` deleted from ``parent`` besides punctuation, spaces and :data:`DROPPABLE`
    characters, or ``None``. A replaced span is a rewrite, not a deletion, unless it shrank to a
    third or less from :data:`COLLAPSED` letters or more (可以用垃圾来形容了，能把 → 可以将: the verdict
    went)."""
    for edit in edits(parent, text, gap=1):
        gone = parent[edit.start : edit.end]
        if edit.deletion and any(char.isalnum() and char not in DROPPABLE for char in gone):
            return gone.strip()
        letters, kept = (sum(char.isalnum() and char not in DROPPABLE for char in span)
                         for span in (gone, text[edit.copy_start : edit.copy_end]))
        if letters >= COLLAPSED and 3 * kept <= letters:
            return f"{gone.strip()} → {text[edit.copy_start : edit.copy_end].strip()}"
    return None


def leftover(parent: str, text: str) -> str | None:
    """Why ``text`` is not a clean Chinese rewrite of ``parent``, if it is not."""
    if not text.strip():
        return "empty reply"
    latin = [word for word in _LATIN.findall(text) if word not in parent]
    if latin:
        return f"English leftover ({' '.join(latin[:3])})"
    phrases = [phrase for phrase in LEFTOVERS if phrase in text and phrase not in parent]
    if phrases:
        return f"refusal or commentary ({phrases[0]})"
    if len(_CJK.findall(text)) < 0.5 * len(_CJK.findall(parent)):
        return "not Chinese enough"
    return None


def fact_problem(parent: str, text: str, entities_too: bool = True) -> str | None:
    """The first fact that ``text`` changed relative to ``parent`` (as a rejection reason), or ``None``."""
    reason = leftover(parent, text)
    if reason:
        return reason
    before, after = negations(parent), negations(text)
    if len(before) != len(after):
        change = "dropped" if len(after) < len(before) else "added"
        return f"negation {change} ({'、'.join(before) or '∅'} → {'、'.join(after) or '∅'})"
    changed = negation_scopes(parent) - negation_scopes(text)
    if changed:
        return f"negation scope changed ({'、'.join(sorted(changed.elements()))})"
    lost, gained = denials(parent) - denials(text), denials(text) - denials(parent)
    if lost or gained:
        return f"denial changed ({'、'.join(sorted(lost.elements())) or '∅'} → {'、'.join(sorted(gained.elements())) or '∅'})"
    flip = antonym_flip(parent, text)
    if flip:
        return f"opposite word ({flip})"
    dead_before, dead_after = deaths(parent), deaths(text)
    if dead_before != dead_after:
        return f"death {'dropped' if dead_after < dead_before else 'added'}"
    spans, new_spans = pattern_spans(parent), pattern_spans(text)
    if spans != new_spans:
        lost, gained = sorted((spans - new_spans).elements()), sorted((new_spans - spans).elements())
        return f"{span_kind((lost or gained)[0])} changed ({'、'.join(lost) or '∅'} → {'、'.join(gained) or '∅'})"
    for name, count in (("quantity", quantities), ("bracket", brackets), ("Latin word", latin_words)):
        lost, gained = count(parent) - count(text), count(text) - count(parent)
        if lost or gained:
            return f"{name} changed ({'、'.join(sorted(lost.elements())) or '∅'} → {'、'.join(sorted(gained.elements())) or '∅'})"
    lost, gained = pronouns(parent) - pronouns(text), pronouns(text) - pronouns(parent)
    if lost or gained:
        return f"person changed ({'、'.join(sorted(lost.elements())) or '∅'} → {'、'.join(sorted(gained.elements())) or '∅'})"
    dropped = dropped_content(parent, text)
    if dropped:
        return f"content dropped ({dropped})"
    if entities_too:
        missing = [name for name, n in Counter(entities(parent)).items() if text.count(name) < n]
        if missing:
            return f"entity dropped ({'、'.join(missing)})"
    return None


@register_gate
class FactGate(Gate):
    """Reject a copy whose negations, denials, opposite-sense words, deaths, numbers or quantities, paired
    marks, Latin words, pronouns or named entities differ from its parent's, that dropped content
    words, or that holds a refusal, commentary or English the parent lacks.

    Parameters
    ----------
    entities:
        Also require every named entity of the parent (off for texts full of rare words, which
        the segmenter takes for names).
    """

    name = "facts"

    def __init__(self, entities: bool = True):
        self.entities = entities

    def reasons(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [fact_problem(c.parent.text, c.text, self.entities) for c in candidates]
