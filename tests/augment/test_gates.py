"""The label-preservation gates: exact accept / reject decisions and reasons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zhaug.augment.gates import GATES, build_gate
from zhaug.augment.gates.base import Candidate
from zhaug.augment.gates.length import edit_ratio, levenshtein
from zhaug.augment.gates.similarity import SimilarityGate
from zhaug.augment.gates.teacher import TeacherGate
from zhaug.augment.pipeline import Augmenter
from zhaug.augment.recipes import recipe_from_dict
from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.io import Record
from zhaug.train.gate_models import bind_gate
from zhaug.train.models.embedder import TransformerEmbedder

PARENT = Record("r1", "张伟在2023年3月5日说这部电影不好看，票房只有3000万元。", "neg")


def candidates(parent: Record, *texts: str) -> list[Candidate]:
    return [Candidate(parent, text, "op", copy) for copy, text in enumerate(texts)]


def test_every_gate_is_registered():
    assert sorted(GATES) == ["dedup", "edits", "facts", "fluency", "length", "rules", "similarity", "teacher"]
    assert build_gate({"length": {"max_edit": 0.3}}).max_edit == 0.3
    with pytest.raises(ZhaugError, match="gate 'teacher'.*model"):
        build_gate("teacher")


def dp_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@given(st.text("不好电影ab ", max_size=40), st.text("不好电影ab ", max_size=70))
def test_levenshtein_matches_dynamic_programming(a, b):
    assert levenshtein(a, b) == dp_levenshtein(a, b)


def test_length_gate():
    parent = Record("p", "今天天气很好，我们去公园散步吧。", "pos")
    gate = build_gate({"length": {"min_ratio": 0.8, "max_ratio": 1.25, "max_edit": 0.3}})
    assert edit_ratio("今天天气很好", "今天天气不错") == pytest.approx(2 / 6)
    assert gate.reasons(candidates(
        parent,
        "今天天气很好，我们去公园走走吧。",  # 2 of 16 characters changed
        "今天天气很好。",
        "今天天气很好，我们一起去附近的公园散步吧，好不好呀。",
        "昨日阴雨绵绵，他们在家里看书。",
    )) == [None, "too short (0.44×)", "too long (1.62×)", "too different (edit 0.81)"]


def test_rules_gate():
    gate = build_gate("rules")
    assert gate.reasons(candidates(
        PARENT,
        "张伟在2023年3月5日说这部影片不好看，票房只有3000万元。",
        "张伟在2023年3月6日说这部电影不好看，票房只有3000万元。",
        "张伟在2023年3月5日说这部电影好看，票房只有3000万元。",
        "张伟在2023年3月5日说这部电影不好看，票房只有3000万元，观众100人。",
        "张伟在2023年3月5日说这部电影不好看，票房只有3000万。",
    )) == [
        None,
        "protected span changed (2023年3月5日→2023年3月6日)",
        "negation count changed (1→0)",
        "protected span changed (∅→100)",
        "protected span changed (3000万元→3000, 万)",
    ]
    assert build_gate({"rules": {"spans": False}}).reasons(candidates(PARENT, "张伟在2023年3月6日说这部电影不好看。")) == [None]


def test_edits_gate_accepts_only_the_moves_safe_random_swap_makes():
    parent = Record("p", "价格和服务都很好，房间干净整洁。", "pos")
    moved = "words moved out of place (not an exchange of coordinated words or clauses)"
    assert build_gate("edits").reasons(candidates(
        parent,
        "服务和价格都很好，房间干净整洁。",  # coordinated nouns
        "服务和价格都很好，房间整洁干净。",  # and adjacent adjectives: two exchanges
        "价格和房间都很好，服务干净整洁。",  # EDA's swap across clauses: word salad
        "房间干净整洁，价格和服务都很好。",  # clauses tied by 都 stay in place
        "价格和服务都很好，房间干净整齐。",  # not a move: left to the other checks (off by default)
    )) == [None, None, moved, moved, None]
    assert build_gate("edits").reasons(candidates(Record("p", "房间很大，早餐丰富，下次还来。", "pos"),
                                                  "早餐丰富，房间很大，下次还来。")) == [None]


def test_edits_gate_strict_checks_of_insertions_and_synonyms():
    parent = Record("p", "这家店的米饭很好吃，环境干净。", "pos")
    strict = build_gate({"edits": {"insertions": True, "synonyms": True}})
    assert strict.reasons(candidates(
        parent,
        "这家店的白玉很好吃，环境干净。",
        "这家店的米饭很好吃，环境干净又整洁。",
        "这家店的米饭很好吃，整洁环境干净。",
        "这家店的米饭很好吃，环境干、净。",
        "这家店的米饭很好次，环境干净。",  # a typo: not a word edit this gate judges
    )) == ["a synonym of another sense or register (米饭→白玉)", None,
           "the synonym 整洁 was put far from its word (干净)", "、 was put inside a word (干净)", None]
    assert strict.reasons(candidates(Record("p", "早餐很丰富，环境干净。", "pos"), "早饭很丰富，环境干净。")) == [None]
    assert build_gate("edits").reasons(candidates(parent, "这家店的白玉很好吃，环境干、净。")) == [None]  # both checks are opt-in


def test_dedup_gate():
    records = [PARENT, Record("r2", "这部电影好看。", "pos")]
    gate = build_gate("dedup")
    gate.prepare(records)
    assert gate.reasons(candidates(
        records[1],
        "这部  电影好看。 ",
        "这部电影好看。",
        "这部影片好看。",
        "这部影片 好看。",
        "这部影片  好看。",
        "张伟在2023年3月5日说这部电影不好看，票房只有3000万元。",
    )) == [None, "unchanged", None, None, "duplicate of a sibling", "duplicate of an input text"]


def fake_embed(calls: list[list[str]]):
    """Embeds a text as (count of 好, count of 坏, 1): texts agree when they share their 好 / 坏."""
    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[t.count("好"), t.count("坏"), 1.0] for t in texts])
    return embed


def test_similarity_gate_with_a_given_embedder():
    calls: list[list[str]] = []
    gate = SimilarityGate(threshold=0.9, embed=fake_embed(calls))
    parent = Record("p", "好", "pos")
    assert gate.reasons(candidates(parent, "好的", "坏", "好坏")) == [
        None, "too dissimilar (cosine 0.500)", "too dissimilar (cosine 0.816)",
    ]
    assert gate.reasons(candidates(parent, "很好")) == [None]
    assert calls == [["好的", "坏", "好坏", "好"], ["很好"]]  # one batch per call, the parent embedded once


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A randomly initialised 2-layer BERT with a character vocabulary, saved as a folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("bert")
    chars = sorted(set("".join(r.text for r in (PARENT,)) + "今天天气很好这部影片好看坏的"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "query", ":", *chars]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        id2label={0: "neg", 1: "pos"},
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


def test_transformer_embedder_is_normalised_and_batch_invariant(tiny_bert):
    embed = TransformerEmbedder(tiny_bert, batch_size=2)
    texts = ["今天天气很好", "这部影片好看", "坏", PARENT.text]
    together = embed(texts)
    assert together.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(together, np.vstack([embed([text]) for text in texts]), atol=1e-5)


def test_similarity_gate_with_a_model_folder(tiny_bert):
    gate = bind_gate(build_gate({"similarity": {"model": str(tiny_bert), "threshold": 0.9999}}))
    parent = Record("p", "今天天气很好", "pos")
    assert gate.reasons(candidates(parent, "今天天气很好")) == [None]
    with pytest.raises(MissingResourceError, match="no model folder"):
        bind_gate(build_gate({"similarity": {"model": "/no/such/model"}})).reasons(candidates(parent, "好"))


def save_teacher(folder, bias: list[float]):
    """The tiny BERT with a classifier that ignores its input: softmax(bias) for every text."""
    import torch
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(folder)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    target = folder.parent / f"teacher-{bias[1]}"
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (target / name).write_bytes((folder / name).read_bytes())
    return target


def test_teacher_rejects_confident_label_flips(tiny_bert):
    sure_pos = save_teacher(tiny_bert, [0.0, 20.0])
    gate = bind_gate(TeacherGate(str(sure_pos), threshold=0.9, batch_size=2))
    pos, neg, unlabelled = Record("a", "好看", "pos"), Record("b", "坏", "neg"), Record("c", "好", None)
    assert gate.reasons(candidates(pos, "很好看") + candidates(neg, "坏的", "坏") + candidates(unlabelled, "好的")) == [
        None, "label flipped (neg→pos, p=1.00)", "label flipped (neg→pos, p=1.00)", None,
    ]
    unsure_pos = save_teacher(tiny_bert, [0.0, 1.0])  # p(pos) = 0.73
    assert bind_gate(TeacherGate(str(unsure_pos), threshold=0.9)).reasons(candidates(neg, "坏的")) == [None]
    flipped = bind_gate(TeacherGate(str(unsure_pos), threshold=0.7)).reasons(candidates(neg, "坏的"))
    assert flipped == ["label flipped (neg→pos, p=0.73)"]
    with pytest.raises(ZhaugError, match="not among the teacher's labels"):
        gate.reasons(candidates(Record("d", "好", "positive"), "好的"))


def test_pipeline_counts_rejections_per_gate_and_reason():
    records = [Record("r1", "这部电影不好看，我们很失望。", "neg"), Record("r2", "这部电影不好看，我们很失望。", "neg")]
    recipe = recipe_from_dict({"op": {"punct_insert": {"rate": 0.0}}, "gates": ["rules", "dedup"]})
    rejected: list[str] = []
    augmenter = Augmenter(recipe, n_aug=2, progress=False)
    rows, stats = augmenter.run(records, on_reject=lambda candidate, reason: rejected.append(reason))
    assert len(rows) == 2 and rejected == ["dedup: unchanged"] * 4
    assert stats.rejected == {("punct_insert", "dedup: unchanged"): 4}
