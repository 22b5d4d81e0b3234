"""The correction defence: it undoes character noise and leaves clean Chinese and Latin words alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from zhaug.augment.correction import Corrector, confusables, sound_alike_words
from zhaug.augment.defences import text_defence

CORRECT = Corrector()
CLEAN = ["这家酒店的服务非常好，房间也很干净，下次还会再来。", "快递送得很慢，包装也破了，客服态度很差，不推荐购买。"]


def test_clean_text_and_latin_words_are_left_alone():
    for text in [*CLEAN, "安装不是很方便，特别是sata驱动。", "系统要是Xp就好了，VISta处于换代", "驱动crystal eye也装了"]:
        assert CORRECT(text) == text


def test_homophone_look_alike_pinyin_and_script_noise_is_undone():
    hotel, parcel = CLEAN
    for noisy, clean in [
        ("这家酒店的服务非常好，防兼也很干净，下次还会再来。", hotel),  # two slips in a row: a sound-alike word
        ("快递送得很慢，褒庄也破了，客服态渡很差，不推荐购买。", parcel),  # same-tone homophones
        ("这家酒店的股务非常好，扇间也恨干净，下次还会再来。", hotel),  # look-alikes
        ("这家jiu店的服务非常好，房间也很干净，下次还会zai来。", hotel),  # pinyin
        ("这家酒店的服务非常好，fang间yehengan净，下次还会再来。", hotel),  # pinyin, syllables run together
        ("快遞送得很慢，包裝也破了，客服態度很差，不推薦購買。", parcel),  # traditional script
        ("快递送得很慢，包装也破了，客服态度很差，不推荐购买。\u200b", parcel),  # invisible characters
    ]:
        assert CORRECT(noisy) == clean, noisy


def test_a_larger_margin_corrects_less():
    noisy = "快递送得很慢，褒庄也破了，客服态渡很差，不推荐购买。"
    assert Corrector(margin=1e9, pinyin=False)(noisy) == noisy
    assert Corrector(margin=1e9)("这家jiu店") == "这家酒店"  # pinyin is read back by its own test


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=list("这家酒店的服务非常好房间也很干净下次还会再来防兼冶莱，。"), max_size=30))
def test_replacements_keep_the_length_and_come_from_the_confusion_sets(text):
    out = CORRECT(text)
    assert len(out) == len(text)
    words = {w for found in sound_alike_words().values() for w in found}
    for i, (a, b) in enumerate(zip(text, out)):
        if a != b:
            assert b in confusables().get(a, ()) or out[i - 1 : i + 1] in words or out[i : i + 2] in words


def test_it_is_a_named_defence_with_parameters():
    assert isinstance(text_defence("correct"), Corrector)
    assert clone(Corrector(margin=2.5)).margin == 2.5


def test_a_correction_never_adds_or_removes_a_negation_or_a_numeral():
    from zhaug.augment.ops._common import UNSAFE_CHARS

    assert all(UNSAFE_CHARS.isdisjoint(w) for found in sound_alike_words().values() for w in found)
    assert all(c not in UNSAFE_CHARS for c in confusables()) and all(
        UNSAFE_CHARS.isdisjoint(others) for others in confusables().values())
    for text in ["这家店布是很好，三楼也没有电梯。", "房间不大，但是很干净，一共五十元。"]:
        out = CORRECT(text)
        assert [c for c in out if c in UNSAFE_CHARS] == [c for c in text if c in UNSAFE_CHARS]
