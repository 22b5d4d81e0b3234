"""The compact student's construction and distillation, on a tiny synthetic teacher (fast, no real model)."""

from __future__ import annotations

import pytest
import torch
from transformers import AlbertConfig, AlbertModel

from zhaug.train.models import resolve as models
from zhaug.train.models.catalog import COMPACT
from zhaug.train.models.compact import (
    corpus_directions,
    distil,
    distillation_texts,
    embedding_energy,
    student_from_teacher,
    zero_sum_basis,
)
from zhaug.train.models.vocab_trim import trimming_corpus

HIDDEN = 16


@pytest.fixture(scope="module")
def teacher() -> AlbertModel:
    """A random 6-layer ALBERT shaped like the full model: embedding_size == hidden, identity projection."""
    config = AlbertConfig(vocab_size=50, embedding_size=HIDDEN, hidden_size=HIDDEN, num_hidden_layers=6,
                          num_hidden_groups=6, num_attention_heads=2, intermediate_size=32, hidden_act="gelu",
                          max_position_embeddings=32, pad_token_id=1)
    model = AlbertModel(config)
    generator = torch.Generator().manual_seed(0)
    state = {name: 0.02 + 0.3 * torch.randn(value.shape, generator=generator) for name, value in model.state_dict().items()}
    state["encoder.embedding_hidden_mapping_in.weight"] = torch.eye(HIDDEN)
    state["encoder.embedding_hidden_mapping_in.bias"] = torch.zeros(HIDDEN)
    model.load_state_dict(state)
    return model.eval()


def student(teacher: AlbertModel, layers: list[int], embedding_size: int, corpus: list[list[int]] | None = None) -> AlbertModel:
    directions, _ = corpus_directions(embedding_energy(teacher.state_dict(), corpus or ids(40, 8).tolist()), embedding_size - 1)
    config, state = student_from_teacher(teacher.config, teacher.state_dict(), layers, directions)
    model = AlbertModel(config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def ids(rows: int = 3, width: int = 9) -> torch.Tensor:
    return torch.randint(2, 50, (rows, width), generator=torch.Generator().manual_seed(1))


def test_zero_sum_basis_is_orthonormal_and_orthogonal_to_ones():
    basis = zero_sum_basis(8)
    assert basis.shape == (8, 7)
    assert torch.allclose(basis.T @ basis, torch.eye(7, dtype=basis.dtype), atol=1e-12)
    assert torch.allclose(basis.sum(0), torch.zeros(7, dtype=basis.dtype), atol=1e-12)


def test_full_rank_student_with_all_layers_is_the_teacher(teacher):
    same = student(teacher, list(range(6)), HIDDEN)
    with torch.inference_mode():
        assert torch.allclose(same(ids()).last_hidden_state, teacher(ids()).last_hidden_state, atol=1e-4)


def test_the_factorisation_keeps_the_directions_the_corpus_uses(teacher):
    """Four tokens, one position: their embedding sums span 4 dimensions, so a 5-wide
    factorised embedding (4 directions) reproduces the teacher's embedding output on them exactly,
    whatever the other 46 rows of the table hold."""
    corpus = [[token] for token in (2, 3, 4, 5)]
    directions, kept = corpus_directions(embedding_energy(teacher.state_dict(), corpus), 4)
    assert kept == pytest.approx(1.0)
    assert corpus_directions(embedding_energy(teacher.state_dict(), corpus), 3)[1] < 0.99
    assert torch.allclose(directions.T @ directions, torch.eye(4, dtype=directions.dtype), atol=1e-10)
    assert torch.allclose(directions.sum(0), torch.zeros(4, dtype=directions.dtype), atol=1e-10)
    small = student(teacher, list(range(6)), 5, corpus)
    tokens = torch.tensor(corpus)
    with torch.inference_mode():
        mapped = small.encoder.embedding_hidden_mapping_in(small.embeddings(tokens))
        assert torch.allclose(mapped, teacher.embeddings(tokens), atol=1e-5)
        assert torch.allclose(small(tokens).last_hidden_state, teacher(tokens).last_hidden_state, atol=1e-4)
        other = torch.tensor([[40], [41]])  # unused rows are projected away
        mapped = small.encoder.embedding_hidden_mapping_in(small.embeddings(other))
        assert not torch.allclose(mapped, teacher.embeddings(other), atol=1e-2)


def test_layer_selection_and_shapes(teacher):
    small = student(teacher, [0, 2, 5], 8)
    assert (small.config.num_hidden_layers, small.config.num_hidden_groups, small.config.embedding_size) == (3, 3, 8)
    assert small.embeddings.word_embeddings.weight.shape == (50, 8)
    assert small.encoder.embedding_hidden_mapping_in.weight.shape == (HIDDEN, 8)
    for new, old in enumerate([0, 2, 5]):
        kept, source = small.encoder.albert_layer_groups[new], teacher.encoder.albert_layer_groups[old]
        assert all(torch.equal(a, b) for a, b in zip(kept.state_dict().values(), source.state_dict().values()))
    with torch.inference_mode():
        assert small(ids()).last_hidden_state.shape == (3, 9, HIDDEN)


def test_invalid_layers_or_rank_are_rejected(teacher):
    directions, _ = corpus_directions(embedding_energy(teacher.state_dict(), ids().tolist()), 7)
    for layers in ([2, 1], [0, 6], []):
        with pytest.raises(ValueError):
            student_from_teacher(teacher.config, teacher.state_dict(), layers, directions)
    for count in (0, HIDDEN):
        with pytest.raises(ValueError):
            corpus_directions(embedding_energy(teacher.state_dict(), ids().tolist()), count)


def test_distillation_is_seeded_and_lowers_the_loss(teacher):
    sequences = ids(40, 8).tolist()
    runs = [distil(student(teacher, [0, 5], 8), teacher, sequences, pad_id=1, layers=[0, 5], steps=30,
                   batch_size=8, lr=3e-3, warmup_ratio=0.1, seed=0, progress=False) for _ in range(2)]
    assert runs[0] == runs[1]
    assert sum(runs[0][-5:]) < sum(runs[0][:5])


def test_distillation_texts_add_seeded_augmented_copies_of_the_corpus():
    corpus = trimming_corpus()
    texts = distillation_texts("noise", 30, seed=0)
    added = texts[len(corpus):]
    assert texts[: len(corpus)] == corpus and 0 < len(added) <= 30
    assert set(added).isdisjoint(corpus)  # edited copies, not originals
    assert distillation_texts("noise", 30, seed=0) == texts != distillation_texts("noise", 30, seed=1)


def test_compact_names_resolve_to_the_variant_unless_a_folder_has_that_name(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "build_model", lambda variant: f"built {variant}")
    assert models.resolve_model("compact") == models.resolve_model(COMPACT) == "built compact"
    (tmp_path / "compact").mkdir()
    (tmp_path / "compact" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert models.resolve_model("compact") == tmp_path.joinpath("compact").relative_to(tmp_path)


def test_a_compact_model_built_with_other_settings_is_rebuilt(tmp_path, monkeypatch):
    from zhaug.train.models import compact, embedded

    builds = []

    def fake_build(out, progress):
        builds.append(dict(compact.SETTINGS))
        (out / "model.safetensors").write_bytes(b"weights")
        return {"settings": compact.SETTINGS, "vocab_size": 1, "parameters": 1, "description": "fake"}

    monkeypatch.setenv("ZHAUG_HOME", str(tmp_path))
    monkeypatch.setattr(embedded, "compact_sources", lambda: {})
    monkeypatch.setattr(embedded, "_build_compact", fake_build)
    embedded.build_model("compact", progress=False)
    embedded.build_model("compact", progress=False)
    assert len(builds) == 1  # up to date: not rebuilt
    monkeypatch.setitem(compact.SETTINGS, "steps", compact.SETTINGS["steps"] + 1)
    embedded.build_model("compact", progress=False)
    assert len(builds) == 2 and builds[1]["steps"] == builds[0]["steps"] + 1
