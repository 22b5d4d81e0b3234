"""nlpaug interop: zhaug operations inside nlpaug flows, nlpaug augmenters inside zhaug —
with no spaces added to Chinese, protected spans kept and results reproducible."""

from __future__ import annotations

import json
import pickle
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhaug.augment import OPERATIONS
from zhaug.augment.base import default_segmenter
from zhaug.augment.nlpaug_bridge import FromNlpaug, chinese_detokenizer, chinese_tokenizer
from zhaug.augment.ops import CharSwap, SynonymSwap
from zhaug.augment.text import join
from zhaug.rng import derive_rng

TEXT = "这家酒店的房间很干净，服务态度也非常好，价格便宜，我不满意张三的说法 hello world！"
TEXTS = [
    TEXT,
    "手机质量不错，就是电池不太耐用。",
    "2023年5月1日 @小明 说《红楼梦》很好看 http://a.cn/x 😀",
    "快递速度很快，东西也漂亮，下次还会再来买的",
]


@pytest.fixture(scope="session")
def naw():
    import nlpaug.augmenter.word as naw  # imports transformers: seconds, once

    return naw


@pytest.fixture(scope="session")
def naf():
    import nlpaug.flow as naf

    return naf


def spaces(text: str) -> Counter:
    return Counter(c for c in text if c.isspace())


def segments_ok(before, after) -> bool:
    """Protected tokens unchanged, in order, and no word moved across one."""
    def runs(tokens):
        out = [[]]
        for t in tokens:
            if t.editable:
                out[-1].append(t.text)
            else:
                out.append([])
        return out

    if [t for t in after if not t.editable] != [t for t in before if not t.editable]:
        return False
    words = {t.text for t in before if t.editable}
    return all(not (set(Counter(new) - Counter(old)) & words) for old, new in zip(runs(before), runs(after)))


@pytest.mark.parametrize("action", ["delete", "swap", "substitute", "crop"])
def test_random_word_aug_inside_zhaug(naw, action):
    op = FromNlpaug(naw.RandomWordAug(action=action, aug_p=0.3))
    seg = default_segmenter()
    changed = 0
    for i, text in enumerate(TEXTS):
        tokens = seg(text)
        py_state, np_state = random.getstate(), np.random.get_state()
        out = op.apply(tokens, derive_rng(1, i))
        assert random.getstate() == py_state, "global random state restored"
        assert np.array_equal(np.random.get_state()[1], np_state[1])
        assert op.apply(tokens, derive_rng(1, i)) == out, "same rng, same output"
        result = join(out)
        assert spaces(result) == spaces(text), f"no spaces added: {result!r}"
        assert segments_ok(tokens, out), result
        changed += result != text
    if action != "crop":  # crop ignores stopwords; its outputs are mostly discarded
        assert changed >= 2


def test_by_name_and_params_are_json(naw):
    op = OPERATIONS["nlpaug"]("RandomWordAug", {"action": "delete", "aug_p": 0.2})
    expected = {"aug": "RandomWordAug", "params": {"action": "delete", "aug_p": 0.2}}
    assert json.loads(json.dumps(op.get_params())) == expected
    wrapped = FromNlpaug(naw.RandomWordAug(action="swap"))
    assert json.dumps(wrapped.get_params())
    assert OPERATIONS["nlpaug"].label_risk == "high"


def test_pickles_for_worker_processes(naw):
    op = FromNlpaug(naw.RandomWordAug(action="delete"))
    clone = pickle.loads(pickle.dumps(op))
    tokens = default_segmenter()(TEXT)
    assert clone.apply(tokens, derive_rng(3)) == op.apply(tokens, derive_rng(3))


def test_char_augmenter_inside_zhaug():
    op = FromNlpaug("RandomCharAug", {"action": "swap", "min_char": 2})
    tokens = default_segmenter()(TEXT)
    out = op.apply(tokens, derive_rng(0))
    assert join(out) != TEXT and spaces(join(out)) == spaces(TEXT)
    assert [t for t in out if not t.editable] == [t for t in tokens if not t.editable]


@settings(max_examples=20, deadline=None)
@given(text=st.lists(st.sampled_from(["我", "不", "喜欢", "这个", "2023年", " ", "，", "张三", "hello", "价格", "便宜"]),
                     min_size=1, max_size=12).map("".join),
       seed=st.integers(0, 2**32), action=st.sampled_from(["delete", "swap", "substitute"]))
def test_property_no_spaces_protected_kept(naw, text, seed, action):
    op = FromNlpaug(naw.RandomWordAug(action=action))
    tokens = default_segmenter()(text)
    out = op.apply(tokens, derive_rng(seed))
    assert spaces(join(out)) == spaces(text)
    assert segments_ok(tokens, out)
    assert out == op.apply(tokens, derive_rng(seed))


def test_zhaug_ops_inside_nlpaug_flows(naw, naf):
    from zhaug.augment.nlpaug_bridge import NlpaugOperation

    def flow(seed):
        return naf.Sequential([
            NlpaugOperation(SynonymSwap(rate=0.3), seed=seed),
            NlpaugOperation(CharSwap(rate=0.2), seed=seed),
            naw.RandomWordAug(action="swap", tokenizer=chinese_tokenizer, reverse_tokenizer=chinese_detokenizer),
        ])

    def run(seed):
        random.seed(0)  # nlpaug's own RandomWordAug draws from the global generators
        np.random.seed(0)
        pipeline = flow(seed)
        return [pipeline.augment(text)[0] for text in TEXTS]

    first = run(7)
    assert run(7) == first, "seeded: same outputs"
    for text, out in zip(TEXTS, first):
        assert spaces(out) == spaces(text) and out != text

    np.random.seed(1)
    sometimes = naf.Sometimes([NlpaugOperation(SynonymSwap(rate=0.5, mode="classic"), seed=1)], aug_p=1.0)
    outs = sometimes.augment(TEXT, n=1)
    assert len(outs) == 1 and outs[0] != TEXT and spaces(outs[0]) == spaces(TEXT)


def test_nlpaug_operation_copies():
    from zhaug.augment.nlpaug_bridge import NlpaugOperation

    aug = NlpaugOperation(CharSwap(rate=0.3), seed=5)
    three = aug.augment(TEXT, n=3)
    assert len(set(three)) == 3 and all(spaces(o) == spaces(TEXT) for o in three)
    fresh = NlpaugOperation(CharSwap(rate=0.3), seed=5)
    assert fresh.augment(TEXT) == three[:1], "the first output depends only on seed and text"
    assert fresh.augment(TEXT) == three[1:2]
    fresh.reset()
    assert fresh.augment(TEXT) == three[:1]
    assert NlpaugOperation(CharSwap(rate=0.3), seed=6).augment(TEXT) != three[:1]
    assert pickle.loads(pickle.dumps(aug)).op.name == "char_swap"
    assert aug.augment("") == [] and aug.augment([TEXT, ""])[1] == ""
