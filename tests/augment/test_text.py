"""Segmentation: exact re-joining, protected spans, backends and user dictionaries."""

import multiprocessing
import pickle
import random
from concurrent.futures import ProcessPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhaug.augment.base import default_segmenter
from zhaug.augment.compose import CLAUSE_END, sentence_jobs, split_long_sentence, split_token_sentences, text_tries
from zhaug.augment.text import BACKENDS, Segmenter, join, protected_spans, split_sentences

SAMPLE = "李明在北京大学说，华为2023年营收增长了12%，这不是假新闻。请看《人民日报》http://t.cn/abc @张三 #热点# 😀"


def test_protected_kinds():
    kinds = {token.text: token.kind for token in default_segmenter()(SAMPLE) if token.protected}
    assert kinds["2023年"] == "date"
    assert kinds["12%"] == "percent"
    assert kinds["不是假新闻"] == "negation"  # a negator is protected with the word it governs
    assert kinds["《人民日报》"] == "title"
    assert kinds["http://t.cn/abc"] == "url"
    assert kinds["@张三"] == "mention"
    assert kinds["#热点#"] == "hashtag"
    assert kinds["😀"] == "emoji"
    assert kinds["李明"] == "entity" and kinds["北京大学"] == "entity"


def test_money_time_and_quotes():
    spans = protected_spans(default_segmenter()('他说“涨价了”，下午3:30起每斤￥12.5，共计300万元。'))
    assert "“涨价了”" in spans and "3:30" in spans and "￥12.5" in spans and "300万元" in spans


def test_opting_out_of_a_kind():
    tokens = Segmenter(protect={"url"})("不是12个人")
    assert not any(token.protected for token in tokens)


cjk_text = st.text(
    alphabet=st.sampled_from(list("我们今天去北京不没有好的吗，。！？ 123abc%年月日《》“”@#😀\n")), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(cjk_text)
def test_segmentation_rejoins_exactly(text):
    tokens = default_segmenter()(text)
    assert join(tokens) == text
    assert "".join(split_sentences(text)) == text
    assert join(t for s in split_token_sentences(tokens) for t in s) == text


@settings(max_examples=150, deadline=None)
@given(cjk_text, st.integers(1, 30))
def test_long_sentences_are_cut_after_commas_only(text, max_chars):
    for sentence in split_token_sentences(default_segmenter()(text)):
        pieces = split_long_sentence(sentence, max_chars)
        assert join(t for piece in pieces for t in piece) == join(sentence)
        for piece in pieces[:-1]:
            assert piece[-1].text[-1] in CLAUSE_END, "a cut falls after a comma"
        for piece in pieces:
            inner_commas = sum(t.kind == "punct" and t.text[-1] in CLAUSE_END for t in piece[:-1])
            assert len(join(piece)) <= max_chars or inner_commas == 0, "an over-long piece is one clause"


def test_a_long_one_sentence_post_gives_several_jobs():
    post = "帮忙转发一下，一位叫徐敬的女孩，二十一岁，请速回县人民医院，妈妈伤的很严重，想见她最后一面。"
    _, jobs = sentence_jobs([default_segmenter()(post)], [random.Random(0)], None)
    cut, cut_jobs = sentence_jobs([default_segmenter()(post)], [random.Random(0)], None, max_chars=20)
    assert len(jobs) == 1 and len(cut_jobs) == len(cut[0]) >= 3
    assert all(len(join(piece)) <= 20 for piece in cut[0])
    assert join(t for piece in cut[0] for t in piece) == post


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.integers(1, 4), st.integers(1, 6))
def test_a_text_shares_the_tries_of_its_k_sentences(sentences_per_text, k, tries):
    texts = ["".join(f"第{i}句话。" for i in range(n)) for n in sentences_per_text]
    _, jobs = sentence_jobs([default_segmenter()(t) for t in texts], [random.Random(i) for i in range(len(texts))], k)
    budget = text_tries(jobs, tries, k)
    for t, n in enumerate(sentences_per_text):
        mine = [b for (text, _, _), b in zip(jobs, budget) if text == t]
        assert len(mine) == min(n, k)
        assert tries * k <= sum(mine) < tries * k + len(mine), "the k sentences' tries, shared, rounded up"
        assert len(set(mine)) == 1 and mine[0] >= tries, "as many for each, never fewer than tries"
    assert text_tries(jobs, tries, None) == [tries] * len(jobs)


PLAIN = [SAMPLE, "这家酒店的服务非常差，不推荐大家入住。", "房间干净整洁，早餐种类丰富，前台小姐态度热情。"]


def test_backends_give_the_same_tokens():
    rust, python = Segmenter(backend="jieba-rs"), Segmenter(backend="jieba")
    for text in PLAIN:
        assert rust(text) == python(text)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"unknown segmentation backend 'hanlp'; choose from \['jieba-rs', 'jieba'\]"):
        Segmenter(backend="hanlp")


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_dictionary_words_and_tags(tmp_path, backend):
    words = tmp_path / "words.txt"
    words.write_text("\ufeff小米 nz\n云栖小镇 8 ns\n\n区块链联盟 n\n", "utf-8")
    tokens = {t.text: t for t in Segmenter(user_dict=words, backend=backend)("小米在云栖小镇参加区块链联盟")}
    assert tokens["小米"].kind == "entity"  # a dictionary noun, tagged nz by the user
    assert tokens["云栖小镇"].kind == "entity"
    assert tokens["区块链联盟"].editable  # kept whole; a common-noun tag is no entity


def test_segmenter_pickles_without_its_tokenizer_and_works_in_a_child_process(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("云栖小镇 ns\n", "utf-8")
    segmenter = Segmenter(user_dict=words)
    words.unlink()  # read when the segmenter was built; its words travel with it
    expected = segmenter(PLAIN[0] + "云栖小镇")
    assert "_cut" not in pickle.loads(pickle.dumps(segmenter)).__dict__
    with ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:  # spawn: nothing inherited
        assert pool.submit(segmenter, PLAIN[0] + "云栖小镇").result() == expected
