"""The canonicalisation defence: what it undoes, what it keeps, and that a run re-applies it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from tests.train_helpers import synthetic, tiny_model

from zhaug.augment.canonical import Canonicaliser, cluster_table
from zhaug.augment.defences import text_defence
from zhaug.augment.ops._common import UNSAFE_CHARS, common_chars
from zhaug.augment.ops.homophones import homophone_index
from zhaug.errors import ZhaugError
from zhaug.train import Predictor, TrainConfig, fit
from zhaug.train.config import defence_settings
from zhaug.train.data import DefendedTokenizer, defended

CANON = Canonicaliser()
INDEX = homophone_index("same")
HOMOPHONE_PAIRS = sorted(
    (a, b) for chars, _ in INDEX.groups.values() for a in chars for b in chars
    if a < b and a in INDEX.main and b in INDEX.main
)


def test_width_invisible_and_script_noise_is_removed():
    assert CANON("ＡＢＣ１２３") == "ABC123"
    assert CANON("很\u200b好\ufeff用\u2060") == CANON("很好用")
    assert CANON("頭髮") == CANON("头发")
    plain = Canonicaliser(glyphs=False, homophones=False)
    assert plain("這個東西，ＯＫ") == "这个东西,OK"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(HOMOPHONE_PAIRS))
def test_same_tone_homophones_collapse_to_one_character(pair):
    a, b = pair
    assert CANON(a) == CANON(b)


def test_negations_numerals_and_kept_characters_are_never_mapped():
    table = cluster_table(True, True, keep_top=0)
    assert all(ord(c) not in table and c not in table.values() for c in UNSAFE_CHARS)
    top = list(common_chars())[:500]
    kept = Canonicaliser(keep_top=500)
    assert kept("".join(top)) == "".join(top)
    assert CANON("".join(top)) != "".join(top)  # without keep_top some common characters do map


def test_canonical_form_is_a_fixed_point_of_the_character_table():
    text = "这本书写得很好，物流也快，就是价格有点贵。"
    once = CANON(text)
    assert CANON(once) == once


def test_parameters_clone_and_unknown_names_are_refused():
    assert clone(Canonicaliser(keep_top=7)).keep_top == 7
    assert text_defence(None) is None
    with pytest.raises(ZhaugError, match="unknown text defence"):
        text_defence("nope")
    with pytest.raises(ZhaugError, match="unknown defence"):
        defence_settings("nope")
    assert defence_settings("recommended")["defence"] == "correct"
    assert defence_settings("noise-consistency")["consistency_weight"] > 0
    with pytest.raises(ZhaugError, match="defence"):
        TrainConfig(defence="nope")
    assert "defence" not in TrainConfig().to_dict()  # runs without a defence keep their fingerprints
    assert TrainConfig(defence="canonical").to_dict()["defence"] == "canonical"


def test_run_records_the_defence_and_predictor_reapplies_it(tmp_path):
    model = tiny_model(tmp_path / "model")
    config = TrainConfig(model=str(model), epochs=1, max_steps=2, lr=3e-3, patience=None, threads=1,
                         defence="normalise")
    fit(synthetic(40), synthetic(10, seed=1, prefix="e"), out_dir=tmp_path / "run", config=config, progress=False)
    predictor = Predictor(tmp_path / "run")
    assert predictor.defence == "normalise" and isinstance(predictor.tokenizer, DefendedTokenizer)
    # 樂 is not in the tiny vocabulary, 乐 is: only the defended tokenizer reads them alike
    assert predictor.tokenizer(["樂"])["input_ids"] == predictor.tokenizer(["乐"])["input_ids"]
    raw = defended(predictor.tokenizer.tokenizer, None)
    assert raw(["樂"])["input_ids"] != raw(["乐"])["input_ids"]
    assert (predictor.predict_proba(["樂樂好"]) == predictor.predict_proba(["乐乐好"])).all()
