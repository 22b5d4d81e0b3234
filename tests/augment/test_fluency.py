"""The character n-gram language model, the fluency gate and ``zhaug gate``, on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from typer.testing import CliRunner

from zhaug.augment import char_lm
from zhaug.augment.causal_lm import spread_over_characters
from zhaug.augment.char_lm import CharNgramLM, fold
from zhaug.augment.gates import build_gate
from zhaug.augment.gates.base import Candidate
from zhaug.augment.gates.base import check_pairs as gate_pairs
from zhaug.augment.gates.fluency import CALIBRATED, Edit, FluencyGate, edits
from zhaug.cli import app
from zhaug.io import Record, read_table

SENTENCES = [
    "这家酒店的服务非常好，下次还来。",
    "这家饭店的菜非常好吃，下次还来。",
    "房间很干净，服务也非常好。",
    "送餐速度很快，东西也很好吃。",
    "酒店的位置很好，交通非常方便。",
    "服务员的态度非常好，我们很满意。",
    "下次还会再来这家酒店。",
    "东西很好吃，速度也很快。",
]


@pytest.fixture(scope="module")
def lm() -> CharNgramLM:
    return CharNgramLM(order=4, min_count=1).train(SENTENCES * 3)


def candidates(original: str, *texts: str) -> list[Candidate]:
    parent = Record("p", original)
    return [Candidate(parent, text, "op", i) for i, text in enumerate(texts)]


@given(st.text(max_size=30))
def test_fold_keeps_length(text):
    assert len(fold(text)) == len(text)


def test_fold_merges_widths_digits_and_letters():
    assert fold("１２3，Ab") == fold("987,xy") == "000,aa"


def test_next_character_probabilities_sum_to_one(lm):
    for context in ("服务非常", "", "下次还来。"):
        ends = np.exp(lm.char_logprobs(context)[-1])
        nexts = sum(np.exp(lm.char_logprobs(context + char)[len(context)]) for char in lm.vocab)
        unknown = np.exp(lm.char_logprobs(context + "鑫")[len(context)])
        assert ends + nexts + unknown == pytest.approx(1.0, abs=1e-4)


def test_seen_text_is_likelier_than_its_scramble(lm):
    assert lm.char_logprobs("房间很干净，服务也非常好。").sum() > lm.char_logprobs("房间服务很，干净也好非常。").sum() + 10


def test_save_and_load_give_the_same_scores(lm, tmp_path):
    lm.save(tmp_path / "lm.npz")
    loaded = CharNgramLM.load(tmp_path / "lm.npz")
    assert loaded.vocab == lm.vocab
    np.testing.assert_allclose(loaded.char_logprobs("酒店服务很好吃"), lm.char_logprobs("酒店服务很好吃"))


def test_token_logprobs_are_spread_over_their_characters():
    # tokens 服务 | 很 | (a zero-width token) | 好, then the end
    scores = spread_over_characters("服务很好", [(0, 2), (2, 3), (3, 3), (3, 4)], np.array([-4.0, -1.0, -0.5, -2.0]), -3.0)
    np.testing.assert_allclose(scores, [-2.0, -2.0, -1.0, -2.5, -3.0])


def test_packaged_lm_is_built_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHAUG_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(char_lm, "packaged_corpus", lambda: calls.append(1) or SENTENCES)
    first = char_lm.packaged_lm(order=3)
    second = char_lm.packaged_lm(order=3)
    assert calls == [1] and len(list((tmp_path / "lm").glob("*.npz"))) == 1
    np.testing.assert_allclose(first.char_logprobs("服务很好"), second.char_logprobs("服务很好"))


@pytest.mark.parametrize("original, copy, expected", [
    ("服务非常好", "服务非常好", []),
    ("服务非常好", "服务很非常好", [Edit(2, 2, 2, 3)]),  # insert
    ("服务非常好", "服务好", [Edit(2, 4, 2, 2)]),  # delete
    ("服务非常好", "服务特别好", [Edit(2, 4, 2, 4)]),  # replace
    ("服务非常好，下次还来", "服务很好，下次不来", [Edit(2, 4, 2, 3), Edit(8, 9, 7, 8)]),
])
def test_edits_find_inserts_deletes_and_replacements(original, copy, expected):
    assert edits(original, copy) == expected


@given(st.text("服务好，。很不a", max_size=40), st.text("服务好，。很不a", max_size=40), st.integers(0, 4))
def test_edits_rebuild_the_copy_from_the_original(original, copy, gap):
    rebuilt, last = [], 0
    for edit in edits(original, copy, gap):
        assert last <= edit.start <= edit.end and edit.copy_start <= edit.copy_end
        rebuilt += [original[last : edit.start], copy[edit.copy_start : edit.copy_end]]
        last = edit.end
    assert "".join(rebuilt) + original[last:] == copy


def test_nearby_edits_merge_into_one_window():
    assert len(edits("服务非常好，下次还来", "服务很好，下次不来", gap=3)) == 2
    assert edits("服务非常好，下次还来", "服务很好，下次不来", gap=4) == [Edit(2, 9, 2, 8)]


def test_gate_rejects_a_scramble_and_accepts_a_fitting_edit(lm):
    gate = FluencyGate(score=lm.char_logprobs)
    reasons = gate.reasons(candidates(
        "这家酒店的服务非常好，下次还来。",
        "这家饭店的服务非常好，下次还来。",  # a word seen in this slot
        "这家酒店的服务非常好，下次还来。",  # unchanged
        "这家酒店的好非常服务，下次还来。",  # scrambled
        "这家酒店的服务非常好，下次还干净来。",  # a word inserted where it does not fit
    ))
    assert reasons[:2] == [None, None]
    assert reasons[2].startswith("disfluent edit (−") and reasons[2].endswith("at 5–10)")
    assert reasons[3] is not None


def test_a_deletion_is_judged_by_what_follows(lm):
    gate = FluencyGate(score=lm.char_logprobs)
    original = "送餐速度很快，东西也很好吃。"
    (_, fine), = gate.edit_drops(original, "送餐速度很快，东西很好吃。")  # as seen in training
    (_, cut), = gate.edit_drops(original, "送餐速度很快，东西也很吃。")
    assert fine < cut
    gate.set_params(deletion_threshold=(fine + cut) / 2)
    assert gate.reasons(candidates(original, "送餐速度很快，东西很好吃。", "送餐速度很快，东西也很吃。")) == [
        None, f"disfluent deletion (−{cut:.1f} nats at 11)"]


def test_excess_ranks_what_the_gate_accepts(lm):
    gate = FluencyGate(threshold=1e9, score=lm.char_logprobs)
    original = "这家酒店的服务非常好，下次还来。"
    fitting, scrambled = "这家饭店的服务非常好，下次还来。", "这家酒店的好非常服务，下次还来。"
    assert gate.reasons(candidates(original, fitting, scrambled)) == [None, None], "both pass a lax threshold"
    assert gate.excess(original, fitting) < gate.excess(original, scrambled), "but the scramble ranks worse"
    assert gate.excess(original, original) == float("-inf")


def test_threshold_decides(lm):
    pair = candidates("这家酒店的服务非常好，下次还来。", "这家酒店的好非常服务，下次还来。")
    assert FluencyGate(threshold=1e9, score=lm.char_logprobs).reasons(pair) == [None]
    assert FluencyGate(threshold=0.0, score=lm.char_logprobs).reasons(pair) != [None]
    deletion = candidates("这家酒店的服务非常好，下次还来。", "这家酒店的服务好，下次还来。")
    assert FluencyGate(deletion_threshold=1e9, score=lm.char_logprobs).reasons(deletion) == [None]
    assert FluencyGate(deletion_threshold=-1e9, score=lm.char_logprobs).reasons(deletion) != [None]


def test_gate_clones_and_builds_from_a_recipe_spec(lm, tmp_path):
    gate = FluencyGate(threshold=3.0, deletion_threshold=2.0, context=4, score=lm.char_logprobs)
    copy = clone(gate)  # deep-copies the score function's model, as scikit-learn does
    assert copy is not gate and {**copy.get_params(), "score": None} == {**gate.get_params(), "score": None}
    np.testing.assert_allclose(copy.score("服务很好"), gate.score("服务很好"))
    assert build_gate({"fluency": {"threshold": 2}}).get_params() == {
        "threshold": 2, "deletion_threshold": None, "context": None, "model": None, "score": None}
    assert build_gate({"fluency": {"threshold": 2}}).settings() == (2.0, *CALIBRATED[None][1:])
    assert FluencyGate(context=3, model="gemma3-270m").settings() == (8.25, 4.25, 3)
    lm.save(tmp_path / "lm.npz")
    from_file = build_gate({"fluency": {"model": str(tmp_path / "lm.npz")}})
    pair = candidates("这家酒店的服务非常好，下次还来。", "这家酒店的好非常服务，下次还来。")
    assert from_file.reasons(pair) == gate.set_params(**dict(zip(("threshold", "deletion_threshold", "context"), CALIBRATED[None]))).reasons(pair)


def test_gate_pairs_reports_the_first_rejecting_gate(lm):
    gates = [FluencyGate(score=lm.char_logprobs), build_gate("dedup")]
    verdicts = gate_pairs([
        ("服务非常好，下次还来。", "服务非常好，下次还来。"),
        ("服务非常好，下次还来。", "服务好非常，还来下次。"),
        ("服务非常好，下次还来。", "服务很好，下次还来。"),
        ("服务非常好，下次还来。", "服务很好，下次还来。"),
    ], gates)
    assert verdicts[0] == "dedup: unchanged" and verdicts[1].startswith("fluency: disfluent edit")
    assert verdicts[2:] == [None, "dedup: duplicate of a sibling"]


def test_cli_gate_end_to_end(lm, tmp_path):
    lm.save(tmp_path / "lm.npz")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "id,original,text,label\n"
        "a,这家酒店的服务非常好，下次还来。,这家饭店的服务非常好，下次还来。,1\n"
        "b,这家酒店的服务非常好，下次还来。,这家酒店的好非常服务，下次还来。,1\n"
        "c,服务员的态度非常好，我们很满意。,服务员的态度非常好，我们不满意。,0\n", "utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["gate", str(pairs), "-o", str(out), "--lm", str(tmp_path / "lm.npz")])
    assert result.exit_code == 0, result.output
    rows = read_table(out)
    assert list(rows[0]) == ["id", "original", "text", "label", "accepted", "reason"]
    assert [row["accepted"] for row in rows] == ["1", "0", "0"]
    assert rows[1]["reason"].startswith("edits: words moved out of place")  # the edits gate runs before fluency
    assert rows[2]["reason"].startswith("rules: negation count changed")
    again = CliRunner().invoke(app, ["gate", str(out), "-o", str(out), "--gate", "dedup"])  # its own output
    assert again.exit_code == 0, again.output
    assert list(read_table(out)[0]) == ["id", "original", "text", "label", "accepted", "reason"]


def test_cli_gate_checks_augment_output_against_the_parents(tmp_path):
    table = tmp_path / "aug.csv"
    table.write_text(
        "id,parent_id,text,label,op\n"
        "a,,这家酒店的服务非常好，下次还来。,1,original\n"
        "a-aug0,a,这家酒店的服务非常好，下次还来。,1,random_delete\n"
        "a-aug1,a,这家酒店的服务很好，下次还来。,1,random_delete\n", "utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["gate", str(table), "-o", str(out), "--gate", "dedup"])
    assert result.exit_code == 0, result.output
    rows = read_table(out)
    assert [(row["id"], row["original"], row["accepted"], row["reason"]) for row in rows] == [
        ("a-aug0", "这家酒店的服务非常好，下次还来。", "0", "dedup: unchanged"),
        ("a-aug1", "这家酒店的服务非常好，下次还来。", "1", "")]
    (tmp_path / "orphan.csv").write_text("id,parent_id,text,label\nb-aug0,b,好,1\n", "utf-8")
    result = CliRunner().invoke(app, ["gate", str(tmp_path / "orphan.csv"), "-o", str(out), "--gate", "dedup"])
    assert "orphan.csv, line 2: parent_id 'b' is no row of the table" in str(result.exception)


def test_cli_gate_names_a_missing_column(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("original,copy\n好,很好\n", "utf-8")
    result = CliRunner().invoke(app, ["gate", str(pairs), "-o", str(tmp_path / "out.csv"), "--gate", "dedup"])
    assert result.exit_code != 0
    assert "pairs.csv, line 2" in str(result.exception) and "no column 'text'" in str(result.exception)
    assert not (tmp_path / "out.csv").exists()


def test_causal_lm_scores_persist_and_follow_the_model_file(tmp_path, monkeypatch):
    from zhaug.augment.causal_lm import CausalLMScore
    from zhaug.augment.generative.backend import ReplyCache

    model, store, calls = tmp_path / "m.gguf", ReplyCache(tmp_path / "scores.sqlite"), []
    model.write_bytes(b"weights")

    def fake_score(self, text):
        calls.append(text)
        return np.arange(len(text) + 1, dtype=float) / 3

    monkeypatch.setattr(CausalLMScore, "_score", fake_score)
    first = CausalLMScore(str(model), store=store)("快递很慢")
    again = CausalLMScore(str(model), store=store)("快递很慢")
    assert calls == ["快递很慢"] and np.array_equal(first, again), "a second process reads the stored score"
    model.write_bytes(b"other weights")
    CausalLMScore(str(model), store=store)("快递很慢")
    assert calls == ["快递很慢"] * 2, "a rewritten model file is scored afresh"


def test_a_packaged_generative_model_scores_through_its_checked_file(tmp_path, monkeypatch):
    from zhaug.augment.gates import fluency
    from zhaug.augment.generative import models

    checked = tmp_path / "qwen.gguf"
    monkeypatch.setattr(fluency, "resolve_model", lambda name: (checked, "sha") if name in models.MODELS else None)
    fluency.lm_score.cache_clear()
    try:
        score = fluency.lm_score("qwen2.5-coder-1.5b-instruct")
    finally:
        fluency.lm_score.cache_clear()
    assert score.model == str(checked), "the registry's assembled, sha256-checked file"
    assert FluencyGate(model="qwen2.5-coder-1.5b-instruct").settings() == CALIBRATED["qwen2.5-coder-1.5b-instruct"]
