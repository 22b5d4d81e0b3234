"""Perturbation families: every family at every severity keeps protected spans and yields valid,
deterministic text; the noise operations behave as documented."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhaug.augment import OPERATIONS
from zhaug.augment.base import default_segmenter
from zhaug.augment.ops.noise import ZERO_WIDTH, dialect_variants, toggle_width
from zhaug.augment.text import join, protected_spans
from zhaug.errors import ZhaugError
from zhaug.robustness.families import FAMILIES, SEVERITY_RATES, perturb, select_families, severity_rate
from zhaug.rng import derive_rng

FRAGMENTS = [
    "这家店", "的", "菜", "很", "好吃", "服务", "态度", "非常", "好", "价格", "便宜", "我", "满意", "质量",
    "不错", "不", "没有", "喜欢", "微信", "快递", "速度", "但是", "张三", "北京", "2023年5月1日", "12:30",
    "50%", "100元", "3", "《红楼梦》", "“好的”", "http://a.cn/x", "@小明", "#话题#", "😀", "，", "。", "！",
    "？", " ", "\n", "ABC", "ｗｉｆｉ", "ok",
]
TEXTS = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=16).map("".join)
FAMILIES_HERE = [f for f in FAMILIES if not f.needs_models and f.available]


@pytest.mark.parametrize("family", FAMILIES_HERE, ids=lambda f: f.name)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, seed=st.integers(0, 2**32))
def test_every_severity_keeps_protected_spans_and_valid_text(family, text, seed):
    tokens = default_segmenter()(text)
    spans = Counter(protected_spans(tokens))
    for severity in range(1, 6):
        op = family.operation(severity)
        out = op.apply(list(tokens), derive_rng(seed, family.name, severity))
        assert out == op.apply(list(tokens), derive_rng(seed, family.name, severity)), "deterministic"
        if family.op == "traditional":  # converts the protected spans too, on purpose (issue 19)
            out = OPERATIONS["simplified"]().apply(out, derive_rng(0))
        assert Counter(protected_spans(out)) == spans, (family.name, severity)
        result = join(out)
        assert all(span in result for span in spans)
        result.encode("utf-8")
        assert Counter(c for c in result if c.isspace()) == Counter(c for c in text if c.isspace())
        if text.strip():
            assert result.strip()


def test_severity_rates():
    assert [severity_rate(s) for s in range(1, 6)] == list(SEVERITY_RATES) == [0.02, 0.05, 0.1, 0.2, 0.3]
    with pytest.raises(ZhaugError):
        severity_rate(6)
    assert OPERATIONS["homophone"] is type(select_families(["homophone_any_tone"])[0].operation(3))
    assert select_families(["homophone_any_tone"])[0].operation(3).get_params()["rate"] == 0.1


def test_family_declarations():
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    for family in FAMILIES:
        assert family.expectation == ("INV" if family.label_preserving else "ACC")
        assert family.unit in ("char", "word", "sentence")
    assert select_families(["word_delete"])[0].expectation == "ACC"
    with pytest.raises(ZhaugError, match="unknown families"):
        select_families(["nope"])


def test_perturb_is_keyed_by_row_not_position():
    seg = default_segmenter()
    texts = ["这家店的菜很好吃，服务也非常好", "价格便宜，质量满意"]
    family = select_families(["homophone_any_tone"])[0]
    forward = perturb([seg(t) for t in texts], ["a", "b"], family, 5, 0)
    backward = perturb([seg(t) for t in texts[::-1]], ["b", "a"], family, 5, 0)
    assert forward == backward[::-1]
    assert perturb([seg(t) for t in texts], ["a", "b"], family, 5, 1) != forward


def test_noise_operations_golden():
    seg = default_segmenter()
    tokens = seg("服务很好，微信联系")
    pinyin = join(OPERATIONS["to_pinyin"](rate=1.0).apply(tokens, derive_rng(0)))
    assert pinyin == "fuwuhenhao，微信lianxi"  # 微信 is a protected entity
    initials = join(OPERATIONS["pinyin_initials"](rate=1.0).apply(seg("服务态度让人满意"), derive_rng(0)))
    assert initials == "fwtd让人my"  # 让人 is not one word
    zero = join(OPERATIONS["zero_width"](rate=1.0).apply(tokens, derive_rng(0)))
    assert "".join(c for c in zero if c not in ZERO_WIDTH) == "服务很好，微信联系" and len(zero) == 9 + 6
    assert toggle_width("，") == "," and toggle_width("A") == "Ａ" and toggle_width("好") is None
    assert dialect_variants("zhong1") == ["zong1"] and dialect_variants("xing1") == ["xin1"]
    assert dialect_variants("shen2") == ["sen2", "sheng2"]


def test_sentence_shuffle_moves_whole_sentences_only():
    seg = default_segmenter()
    text = "第一句很好。第二句不错！第三句也行？最后没有标点"
    out = join(OPERATIONS["sentence_shuffle"](rate=0.3).apply(seg(text), derive_rng(3)))
    assert out != text and out.endswith("最后没有标点")
    assert sorted(out.removesuffix("最后没有标点").replace("。", "。|").replace("！", "！|").replace("？", "？|")
                  .split("|")) == sorted(["第一句很好。", "第二句不错！", "第三句也行？", ""])
    assert join(OPERATIONS["sentence_shuffle"](rate=1.0).apply(seg("只有一句"), derive_rng(0))) == "只有一句"
