"""Segmentation: exact re-joining and protected spans."""

from hypothesis import given, settings
from hypothesis import strategies as st

from zhaug.augment.base import default_segmenter
from zhaug.augment.compose import split_token_sentences
from zhaug.augment.text import Segmenter, join, protected_spans, split_sentences

SAMPLE = "李明在北京大学说，华为2023年营收增长了12%，这不是假新闻。请看《人民日报》http://t.cn/abc @张三 #热点# 😀"


def test_protected_kinds():
    kinds = {token.text: token.kind for token in default_segmenter()(SAMPLE) if token.protected}
    assert kinds["2023年"] == "date"
    assert kinds["12%"] == "percent"
    assert kinds["不是"] == "negation"
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
