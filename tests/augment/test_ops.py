"""The augmentation operations: golden examples per operation, and property tests over every
registered operation (determinism, protected spans, no inserted spaces, rate 0, valid text)."""

from __future__ import annotations

import inspect
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhaug.augment import OPERATIONS
from zhaug.augment.base import default_segmenter
from zhaug.augment.ops import (
    CharDelete,
    CharInsert,
    CharSwap,
    GlyphSwap,
    HomophoneSwap,
    PunctuationInsert,
    RandomInsert,
    SynonymSwap,
    ToSimplified,
    ToTraditional,
)
from zhaug.augment.ops._common import UNSAFE_CHARS, common_chars
from zhaug.augment.ops.glyphs import glyph_neighbours
from zhaug.augment.ops.homophones import homophone_index
from zhaug.augment.ops.synonyms import load_cilin
from zhaug.augment.text import Token, join
from zhaug.rng import derive_rng

REVIEW = "这家酒店的房间很干净，服务态度也非常好，价格便宜，我很满意！"
MIXED = "我不喜欢2023年5月张三在北京说的《红楼梦》 http://a.cn/x 这件事，质量真的很好！"

# Operations that need models or are exercised in their own test files.
NOT_HERE = {"back_translate", "nlpaug", "paraphrase"}  # model-based: tests/test_backtranslate.py, tests/test_generative.py
NAMES = sorted(set(OPERATIONS) - NOT_HERE)


@pytest.fixture(scope="session")
def cilin():
    return load_cilin()


def run(op, text, seed=0):
    tokens = default_segmenter()(text)
    return tokens, op.apply(tokens, derive_rng(seed, text, op.name))


def protected(tokens):
    return [t for t in tokens if not t.editable]


def is_subsequence(short, long) -> bool:
    it = iter(long)
    return all(item in it for item in short)


# ---------------------------------------------------------------------------------------------
# golden examples


def test_synonym_swap_replaces_words_by_cilin_synonyms(cilin):
    tokens, out = run(SynonymSwap(rate=1.0, mode="classic"), REVIEW, seed=3)
    assert len(out) == len(tokens)
    changed = [(a.text, b.text) for a, b in zip(tokens, out) if a.text != b.text]
    assert changed, "rate 1.0 replaces every word that has a usable synonym"
    for old, new in changed:
        assert new in cilin.candidates(old)[0]
        assert cilin.frequency[new] >= 100 and len(new) >= 2
    assert dict(changed).get("酒店") in {"酒家", "酒楼", "酒馆", "大酒店", "酒吧"}
    assert protected(out) == protected(tokens)


def test_cilin_uses_equal_sets_only_and_frequency_floor(cilin):
    assert "顺民" not in cilin and "众学生" not in cilin  # only on "#" (related) and "@" (alone) lines
    assert "酒家" in cilin.candidates("酒店")[0]
    words, weights = cilin.candidates("喜欢", min_freq=1000)
    assert words and all(cilin.frequency[w] >= 1000 for w in words)
    assert cilin.candidates("东西") == ((), ())  # ambiguous: in several sets, heads none
    assert load_cilin() is cilin  # loaded once per process


def test_random_insert_adds_synonyms_without_touching_the_rest(cilin):
    tokens, out = run(RandomInsert(rate=0.3, mode="classic"), REVIEW, seed=1)
    assert len(out) > len(tokens)
    assert is_subsequence([t.text for t in tokens], [t.text for t in out])
    extra = Counter(t.text for t in out) - Counter(t.text for t in tokens)
    sources = {w for t in tokens for w in cilin.candidates(t.text)[0]}
    assert set(extra) <= sources


def test_random_insert_never_lands_next_to_a_protected_span():
    op = RandomInsert(rate=1.0, mode="classic")
    for seed in range(20):
        tokens, out = run(op, MIXED, seed)
        new = Counter(t.text for t in out) - Counter(t.text for t in tokens)
        for k, token in enumerate(out):
            if token.text in new and token.editable:
                for n in (k - 1, k + 1):
                    if 0 <= n < len(out):
                        assert not out[n].protected or out[n].kind == "space"


@pytest.mark.parametrize("source", ["common", "repeat"])
def test_char_insert_adds_characters_inside_words(source):
    tokens, out = run(CharInsert(rate=0.2, source=source), REVIEW, seed=2)
    before, after = join(tokens), join(out)
    assert len(after) > len(before) and is_subsequence(before, after)
    assert protected(out) == protected(tokens)
    inserted = Counter(after) - Counter(before)
    assert not set(inserted) & UNSAFE_CHARS
    if source == "repeat":
        assert set(inserted) <= set(before)
    else:
        assert set(inserted) <= set(common_chars())


def test_char_delete_removes_characters_from_words_only():
    tokens, out = run(CharDelete(rate=0.3), MIXED, seed=4)
    before, after = join(tokens), join(out)
    assert len(after) < len(before) and is_subsequence(after, before)
    assert protected(out) == protected(tokens)
    assert all(t.text for t in out)


def test_char_delete_keeps_a_character():
    tokens, out = run(CharDelete(rate=1.0, mode="classic"), "你好", seed=0)
    assert len(join(out)) == 1


def test_char_swap_swaps_adjacent_characters_within_words():
    tokens, out = run(CharSwap(rate=0.5), REVIEW, seed=5)
    assert join(out) != join(tokens) and Counter(join(out)) == Counter(join(tokens))
    assert [len(t.text) for t in out] == [len(t.text) for t in tokens]
    for a, b in zip(tokens, out):
        assert Counter(a.text) == Counter(b.text)


def test_punct_insert_adds_marks_between_tokens():
    op = PunctuationInsert(rate=0.5, mode="classic")
    tokens, out = run(op, MIXED, seed=6)
    assert len(out) > len(tokens)
    assert is_subsequence(tokens, out)
    added = [t for t in out if t not in tokens]
    assert added and all(t.kind == "punct" and t.text in op.marks for t in added)
    for k, token in enumerate(out):
        if token in added:
            assert out[k - 1].kind != "negation"
            assert out[k - 1].kind not in ("punct", "space") and out[k + 1].kind not in ("punct", "space")


@pytest.mark.parametrize("tone", ["same", "any"])
def test_homophone_keeps_the_sound(tone):
    from pypinyin import Style, lazy_pinyin

    style = Style.TONE3 if tone == "same" else Style.NORMAL
    tokens, out = run(HomophoneSwap(rate=0.5, tone=tone), REVIEW, seed=7)
    before, after = join(tokens), join(out)
    assert len(after) == len(before) and after != before
    index = homophone_index(tone)
    for word_before, word_after in zip(tokens, out):
        for j, (a, b) in enumerate(zip(word_before.text, word_after.text)):
            if a != b:
                assert b in common_chars() and b not in UNSAFE_CHARS
                assert lazy_pinyin(b, style=style, neutral_tone_with_five=True)[0] == index.reading(word_before.text, j)


def test_homophone_reads_polyphones_in_context():
    index = homophone_index("same")
    assert index.reading("银行", 1) == "hang2"
    assert index.reading("行走", 0) == "xing2"


def test_similar_glyph_uses_look_alikes():
    neighbours = glyph_neighbours()
    assert "请" in neighbours["情"][0] and "己" in neighbours["已"][0]
    tokens, out = run(GlyphSwap(rate=0.5, mode="classic"), REVIEW, seed=8)
    before, after = join(tokens), join(out)
    assert len(after) == len(before) and after != before
    for a, b in zip(before, after):
        if a != b:
            assert b in neighbours[a][0]


def test_traditional_and_back():
    tokens, out = run(ToTraditional(), "头发的质量很好，张三很满意")
    assert join(out) == "頭髮的質量很好，張三很滿意"  # the whole text, the name 张三 included
    back = ToSimplified().apply(out, derive_rng(0))
    assert join(back) == "头发的质量很好，张三很满意"


def test_traditional_rate_converts_some_words():
    tokens, out = run(ToTraditional(rate=0.3), "头发的质量很好，服务态度也非常好，价格便宜", seed=1)
    changed = sum(a.text != b.text for a, b in zip(tokens, out))
    assert 0 < changed < len(tokens)


# ---------------------------------------------------------------------------------------------
# properties over every registered operation

FRAGMENTS = [
    "这家酒店", "的", "房间", "很", "干净", "服务", "态度", "非常", "好", "价格", "便宜", "我", "满意",
    "质量", "不错", "不", "没有", "喜欢", "东西", "电池", "耐用", "快递", "速度", "漂亮", "觉得", "但是",
    "张三", "北京", "2023年5月1日", "12:30", "50%", "100元", "3", "《红楼梦》", "“好的”", "http://a.cn/x",
    "@小明", "#话题#", "😀", "，", "。", "！", " ", "\n", "hello", "world", "OK",
]
TEXTS = st.lists(st.sampled_from(FRAGMENTS) | st.text(alphabet="情行长银说看买卖东西你他们", max_size=4),
                 min_size=1, max_size=14).map("".join)


def build(name, rate=None):
    cls = OPERATIONS[name]
    params = inspect.signature(cls.__init__).parameters
    if rate is None:
        return cls()
    return cls(rate=rate) if "rate" in params else None


PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", NAMES)
@PROPERTY_SETTINGS
@given(text=TEXTS, seed=st.integers(0, 2**32))
def test_properties(name, text, seed):
    op = build(name, 0.5) or build(name)
    tokens = default_segmenter()(text)
    out = op.apply(tokens, derive_rng(seed, name))
    again = op.apply(tokens, derive_rng(seed, name))
    assert out == again, "same seed, same output"
    assert all(isinstance(t, Token) and t.text for t in out)
    assert Counter(protected_spans_tokens(out, name)) == Counter(protected_spans_tokens(tokens, name)), "protected spans"
    result = join(out)
    assert Counter(c for c in result if c.isspace()) == Counter(c for c in text if c.isspace()), "no new spaces"
    result.encode("utf-8")  # valid text (no lone surrogates)
    if text.strip():
        assert result.strip()


SCRIPT_OPS = {"traditional", "simplified"}


def protected_spans_tokens(tokens, name=""):
    """The protected tokens; for the script operations, which convert them too, in simplified form."""
    if name in SCRIPT_OPS:
        from opencc import OpenCC

        to_simplified = OpenCC("t2s").convert
        return [t.with_text(to_simplified(t.text)) for t in tokens if t.protected]
    return [t for t in tokens if t.protected]


@pytest.mark.parametrize("name", [n for n in NAMES if build(n, 0) is not None])
@PROPERTY_SETTINGS
@given(text=TEXTS, seed=st.integers(0, 2**32))
def test_rate_zero_is_identity(name, text, seed):
    tokens = default_segmenter()(text)
    assert join(build(name, 0).apply(tokens, derive_rng(seed))) == text


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    cls = OPERATIONS[name]
    assert cls.label_risk in ("low", "medium", "high")
    assert cls.__doc__ and "Label risk" in cls.__doc__


def test_protected_order_kept_by_these_operations():
    ops = [SynonymSwap(1.0), RandomInsert(0.5), CharInsert(0.5), CharDelete(0.5), CharSwap(0.5),
           PunctuationInsert(0.5), HomophoneSwap(0.5), GlyphSwap(0.5), ToTraditional()]
    for op in ops:
        for seed in range(5):
            tokens, out = run(op, MIXED, seed)
            assert protected_spans_tokens(out, op.name) == protected_spans_tokens(tokens, op.name), op.name


def test_no_cjk_no_change():
    for name in ("synonym_swap", "char_swap", "homophone", "similar_glyph"):
        tokens, out = run(OPERATIONS[name](rate=1.0), "hello world 123")
        assert join(out) == "hello world 123"
