"""Copies a native speaker would accept (issue 19): Chinese protected spans survive every
operation, punctuation never lands inside a word, no vulgar typo, full script conversion, and
the safe / classic modes of the operations."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from zhaug.augment import OPERATIONS
from zhaug.augment.base import default_segmenter
from zhaug.augment.ops import (
    CharDelete,
    CharInsert,
    CharSwap,
    GlyphSwap,
    HomophoneSwap,
    PunctuationInsert,
    RandomDelete,
    RandomInsert,
    RandomSwap,
    SynonymSwap,
    ToTraditional,
)
from zhaug.augment.ops._common import MODES, VULGAR_CHARS, clauses
from zhaug.augment.ops.glyphs import glyph_neighbours
from zhaug.augment.ops.homophones import homophone_index
from zhaug.augment.ops.synonyms import load_cilin
from zhaug.augment.ops.word_edits import DELETABLE
from zhaug.augment.text import NUMERAL_CHARS, PROTECTABLE, Segmenter, dictionary_tags, join
from zhaug.rng import derive_rng

SPANS = {  # text -> (span that must be one protected token, its kind)
    "修了三次还是坏": ("三次", "number"),
    "又放了五六天才送到": ("五六天", "number"),
    "第三天就坏了": ("第三天", "number"),
    "三分之一的人": ("三分之一", "number"),
    "百分之五的人": ("百分之五", "percent"),
    "花了两千五百元买的": ("两千五百元", "number"),
    "用了16个月就坏": ("16个月", "number"),
    "等了一个多小时": ("一个多小时", "number"),
    "打98折很划算": ("98折", "number"),
    "雷神山医院新增出院病例": ("雷神山医院", "entity"),
    "武汉市卫生健康委通报": ("武汉市卫生健康委", "entity"),
    "苹果的iPhone很好用": ("iPhone", "entity"),
    "服务一如既往的好": ("一如既往", "idiom"),
    "停车不方便": ("不方便", "negation"),
    "他是不会入住的": ("不会入住", "negation"),
    "希望这不是真的": ("不是真的", "negation"),
}


@pytest.mark.parametrize("text", SPANS)
def test_chinese_spans_are_protected_whole(text):
    span, kind = SPANS[text]
    tokens = {t.text: t for t in default_segmenter()(text)}
    assert span in tokens and tokens[span].protected and tokens[span].kind == kind


def test_numerals_inside_words_do_not_split_them():
    tokens = [t.text for t in default_segmenter()("老百姓说百货大楼很好")]
    assert "老百姓" in tokens and "百货大楼" in tokens


def test_a_place_noun_alone_stays_editable():
    tokens = {t.text: t for t in default_segmenter()("这家医院的环境很好，酒店也不错")}
    assert tokens["医院"].editable and tokens["酒店"].editable


@pytest.mark.parametrize("kind", ["idiom", "number", "entity", "negation"])
def test_each_new_kind_can_be_allowed(kind):
    text = {"idiom": "服务一如既往的好", "number": "修了三次还是坏", "entity": "雷神山医院新增",
            "negation": "停车不方便"}[kind]
    tokens = Segmenter(protect=set(PROTECTABLE) - {kind})(text)
    assert join(tokens) == text and not any(t.kind == kind for t in tokens)


# ---------------------------------------------------------------------------------------------
# properties: every operation, both modes

FRAGMENTS = [*SPANS, "，", "。", "！", "房间很干净", "价格和服务都不错", "干净整洁", "早餐很丰富啊", "也",
             "真的很好吃", "速度快", "但是", "今天", "的", "天天", "在家", "味道", "我很满意"]
TEXTS = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=10).map("".join)
NAMES = sorted(set(OPERATIONS) - {"back_translate", "nlpaug", "paraphrase"})  # model-based: see test_generative
SCRIPT_OPS = {"traditional", "simplified"}
PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(name, mode):
    cls = OPERATIONS[name]
    params = cls().get_params()
    kwargs = {"mode": mode} if "mode" in params else {}
    if "rate" in params and name not in SCRIPT_OPS:
        kwargs["rate"] = 0.5
    return cls(**kwargs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [n for n in NAMES if n not in SCRIPT_OPS])
@PROPERTY
@given(text=TEXTS, seed=st.integers(0, 2**32))
def test_chinese_spans_survive_every_operation(name, mode, text, seed):
    op = build(name, mode)
    tokens = default_segmenter()(text)
    result = join(op.apply(tokens, derive_rng(seed, name)))
    for original, (span, _) in SPANS.items():
        if original in text:
            assert result.count(span) >= text.count(span), (name, span, result)


@pytest.mark.parametrize("mode", MODES)
@PROPERTY
@given(text=TEXTS, seed=st.integers(0, 2**32))
def test_punct_insert_never_splits_a_token(mode, text, seed):
    tokens = default_segmenter()(text)
    out = PunctuationInsert(rate=0.5, mode=mode).apply(tokens, derive_rng(seed))
    k = 0
    for token in out:  # every token whole, in order; only new mark tokens in between
        if k < len(tokens) and token == tokens[k]:
            k += 1
        else:
            assert token.kind == "punct" and len(token.text) == 1
    assert k == len(tokens)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", [HomophoneSwap, GlyphSwap, CharInsert])
@PROPERTY
@given(seed=st.integers(0, 2**32))
def test_no_vulgar_character_is_introduced(cls, mode, seed):
    text = "开始了，表态说大部分都很好，他是仕途上的人，时间不多"
    out = join(cls(rate=1.0, mode=mode).apply(default_segmenter()(text), derive_rng(seed)))
    assert not (set(out) - set(text)) & VULGAR_CHARS


def test_no_vulgar_substitute_in_the_indexes():
    for tone in ("same", "any"):
        assert not any(VULGAR_CHARS & set(chars) for chars, _ in homophone_index(tone).groups.values())
    assert not any(VULGAR_CHARS & set(chars) for chars, _ in glyph_neighbours().values())


@PROPERTY
@given(text=TEXTS)
def test_traditional_converts_the_whole_text(text):
    from opencc import OpenCC

    out = join(ToTraditional().apply(default_segmenter()(text), derive_rng(0)))
    assert OpenCC("s2tw").convert(out) == out  # nothing simplified is left, names included
    assert OpenCC("t2s").convert(out) == OpenCC("t2s").convert(text)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", [CharDelete, CharInsert, CharSwap, HomophoneSwap, GlyphSwap])
def test_character_operations_skip_chinese_numerals(cls, mode):
    text = "一直很好，统一发货，唯一的问题是太慢，万一坏了呢"
    for seed in range(10):
        out = join(cls(rate=1.0, mode=mode).apply(default_segmenter()(text), derive_rng(seed)))
        assert Counter(c for c in out if c in NUMERAL_CHARS) == Counter(c for c in text if c in NUMERAL_CHARS)


# ---------------------------------------------------------------------------------------------
# safe mode versus classic mode

LONG = ("房间很干净，早餐很丰富，服务员态度非常好，价格也很便宜，位置真的很方便，周边吃饭也挺多，"
        "晚上很安静，床很舒服，浴室很大，下次还会来的啊")
WORD_OPS = [SynonymSwap, RandomInsert, RandomSwap, RandomDelete, PunctuationInsert, CharDelete, CharInsert,
            CharSwap, HomophoneSwap, GlyphSwap]


@pytest.mark.parametrize("cls", WORD_OPS)
def test_safe_mode_caps_the_edits_and_spreads_them_over_clauses(cls):
    op = cls(rate=0.5, max_edits=2)
    tokens = default_segmenter()(LONG)
    for seed in range(10):
        out = op.apply(tokens, derive_rng(seed))
        before, after = Counter(t.text for t in tokens), Counter(t.text for t in out)
        assert sum(((before - after) + (after - before)).values()) <= 2 * 2 + 2  # ≤ 2 edits (a swap or insert counts 2-3)
    chosen = [k for k in op.__class__(rate=1.0, max_edits=50).apply(tokens, derive_rng(1)) if k not in tokens]
    assert len(chosen) <= max(clauses(tokens)) + 1 or cls in (RandomSwap,)


def test_classic_mode_is_not_capped():
    tokens = default_segmenter()(LONG)
    classic = RandomDelete(rate=0.5, mode="classic").apply(tokens, derive_rng(0))
    safe = RandomDelete(rate=0.5).apply(tokens, derive_rng(0))
    assert len(tokens) - len(classic) > 2 >= len(tokens) - len(safe)


def test_safe_synonyms_keep_the_part_of_speech_and_a_character():
    tags, cilin = dictionary_tags(), load_cilin()
    tokens = default_segmenter()(LONG)
    for seed in range(10):
        out = SynonymSwap(rate=1.0, max_edits=10).apply(tokens, derive_rng(seed))
        for a, b in zip(tokens, out):
            if a.text != b.text:
                assert tags[b.text] == tags[a.text] and len(a.text) == len(b.text) and set(a.text) & set(b.text)
                assert b.text in cilin.candidates(a.text)[0] or b.text in [w for i in cilin.sets_of[a.text] for w in cilin.sets[i]]


def test_safe_insert_joins_an_adjective_synonym_with_you():
    tokens = default_segmenter()("房间宽敞，早餐很丰富")
    out = [t.text for t in RandomInsert(rate=1.0).apply(tokens, derive_rng(0))]
    k = out.index("又")
    assert out[k - 1] == "宽敞" and out[k + 1] in load_cilin().candidates("宽敞", tag="a")[0]


def test_safe_swap_exchanges_coordinated_nouns_or_adjectives_only():
    out = join(RandomSwap(rate=1.0).apply(default_segmenter()("价格和服务都不错"), derive_rng(0)))
    assert out == "服务和价格都不错"
    out = join(RandomSwap(rate=1.0).apply(default_segmenter()("房间干净整洁"), derive_rng(0)))
    assert out == "房间整洁干净"
    assert join(RandomSwap(rate=1.0).apply(default_segmenter()("我吃了饭就去上班"), derive_rng(0))) == "我吃了饭就去上班"


def test_safe_delete_drops_only_words_that_colour_a_clause():
    tokens = default_segmenter()(LONG)
    for seed in range(10):
        out = RandomDelete(rate=1.0, max_edits=10).apply(tokens, derive_rng(seed))
        assert set((Counter(t.text for t in tokens) - Counter(t.text for t in out))) <= DELETABLE


def test_safe_char_delete_drops_particles_and_reduplicated_characters_only():
    text = "看看他吃的饭，睡觉的时候也想，张婷婷来了"
    for seed in range(10):
        out = join(CharDelete(rate=1.0).apply(default_segmenter()(text), derive_rng(seed)))
        gone = Counter(text) - Counter(out)
        assert gone and set(gone) <= {"的", "看"} and "张婷婷来了" in out


def test_homophone_prefers_real_slips_in_safe_mode():
    out = join(HomophoneSwap(rate=1.0).apply(default_segmenter()("我在公司上班"), derive_rng(0)))
    assert out == "我再公司上班"


@pytest.mark.parametrize("cls", WORD_OPS + [ToTraditional])
def test_operations_clone_with_their_mode(cls):
    op = cls(mode="classic") if "mode" in cls().get_params() else cls()
    assert clone(op).get_params() == op.get_params()


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        SynonymSwap(mode="eda")


def test_safe_glyph_uses_the_classic_confusions_only():
    from zhaug.augment.ops.glyphs import CLASSIC_CONFUSIONS

    pairs = set(CLASSIC_CONFUSIONS)
    text = "我已经到了，今天很开心，他入住了，自己去问问"
    for seed in range(10):
        out = join(GlyphSwap(rate=1.0).apply(default_segmenter()(text), derive_rng(seed)))
        assert len(out) == len(text) and out != text
        assert all(a + b in pairs for a, b in zip(text, out) if a != b)


def test_safe_punct_insert_pauses_where_a_writer_would():
    text = "我们今天去了那家店吃饭但是太贵了啊下次不来了"
    tokens = default_segmenter()(text)
    seen = set()
    for seed in range(20):
        out = join(PunctuationInsert(rate=1.0, max_edits=1).apply(tokens, derive_rng(seed)))
        k = next(i for i, (a, b) in enumerate(zip(out, text + " ")) if a != b)
        seen.add(out[k - 2 : k + 3])
        assert text[:k].endswith(("饭", "但是", "啊")), out  # before 但是, after 但是, after the particle
    assert len(seen) > 1


def test_a_negator_inside_a_jieba_word_still_governs_the_next_word():
    tokens = {t.text: t for t in default_segmenter()("到了酒店后感觉特不舒服.客观评价一下")}
    assert tokens["特不舒服"].kind == "negation"


def test_safe_swap_leaves_de_phrases_alone():
    text = "前台的服务员和自助餐厅的服务员都很好"
    assert join(RandomSwap(rate=1.0).apply(default_segmenter()(text), derive_rng(0))) == text


def test_safe_delete_keeps_dou_after_a_question_word():
    text = "设施什么都不好还贵，房间也很小"
    for seed in range(10):
        out = join(RandomDelete(rate=1.0, max_edits=5).apply(default_segmenter()(text), derive_rng(seed)))
        assert "什么都" in out


def test_a_one_word_place_name_is_protected():
    tokens = {t.text: t for t in default_segmenter()("走到人民广场还是很方便的")}
    assert tokens["人民广场"].kind == "entity"


def test_safe_delete_keeps_adverbs_that_pair_with_other_words():
    text = "这一天既是纪念日，也是国难日，除了粥都好吃，还便宜还送沙拉"
    for seed in range(10):
        out = join(RandomDelete(rate=1.0, max_edits=5).apply(default_segmenter()(text), derive_rng(seed)))
        assert out == text
