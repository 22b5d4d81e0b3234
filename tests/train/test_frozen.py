"""The frozen lower part computed once per text: the encoder cut (:class:`SplitEncoder`), the
classifier on top of it, and the trainer's use of it (``cache_frozen``)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertConfig, BertForSequenceClassification, BertModel

from tests.train_helpers import encoder_and_ids, synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.train import TrainConfig, fit
from zhaug.train.data import pad
from zhaug.train.frozen import FrozenLowerClassifier, SplitEncoder, frozen_depth
from zhaug.train.heads import set_pooling
from zhaug.train.models.loading import load_classifier
from zhaug.train.trainer import parameter_groups


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model(tmp_path_factory.mktemp("model"), groups=2))


def tiny_bert() -> BertModel:
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertModel(config).eval()


@pytest.mark.parametrize("frozen", [0, 1, 2])
def test_split_albert_equals_the_full_encoder(model_dir, frozen):
    encoder, ids, pad_id = encoder_and_ids(model_dir, [r.text for r in synthetic(7)])
    full = encoder(**pad(ids, pad_id)).last_hidden_state
    hidden, mask = SplitEncoder(encoder, frozen, pad_id)(ids)
    assert torch.allclose(hidden[mask.bool()], full[mask.bool()], atol=1e-5)


@pytest.mark.parametrize("frozen", [0, 2, 3])
def test_split_bert_equals_the_full_encoder(frozen):
    bert = tiny_bert()
    ids = [[2, 5, 6, 7, 3], [2, 9, 3], [2, 11, 12, 13, 14, 15, 3]]
    full = bert(**pad(ids, 0)).last_hidden_state
    hidden, mask = SplitEncoder(bert, frozen, 0)(ids)
    assert torch.allclose(hidden[mask.bool()], full[mask.bool()], atol=1e-5)


def test_lower_part_is_computed_once_per_sequence_and_not_trained(model_dir):
    encoder, ids, pad_id = encoder_and_ids(model_dir, [r.text for r in synthetic(5)])
    split = SplitEncoder(encoder, 1, pad_id)
    split(ids)
    split(ids[:3] + ids)
    assert len(split.cache) == len({tuple(s) for s in ids})
    lower = {id(p) for p in encoder.encoder.albert_layer_groups[0].parameters()}
    upper = {id(p) for p in encoder.encoder.albert_layer_groups[1].parameters()}
    assert {id(p) for p in split.trainable()} == upper and not lower & upper


def test_cut_refused_for_shared_layers_and_out_of_range(model_dir, tmp_path):
    shared = load_classifier(str(tiny_model(tmp_path / "shared")), 2, {0: "neg", 1: "pos"}).albert
    with pytest.raises(ZhaugError, match="share weights"):
        SplitEncoder(shared, 1, 0)
    ids = [[2, 5, 6, 3], [2, 7, 3]]
    hidden, mask = SplitEncoder(shared, 0, 0)(ids)  # below the first layer: the whole shared stack above
    assert torch.allclose(hidden[mask.bool()], shared.eval()(**pad(ids, 0)).last_hidden_state[mask.bool()], atol=1e-5)
    encoder, _, pad_id = encoder_and_ids(model_dir, ["好"])
    with pytest.raises(ZhaugError, match="frozen_layers=3"):
        SplitEncoder(encoder, 3, pad_id)


def albert_classifier(model_dir: str) -> torch.nn.Module:
    return load_classifier(model_dir, 2, {0: "neg", 1: "pos"}, seed=0)


def bert_classifier() -> torch.nn.Module:
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, pad_token_id=0, num_labels=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertForSequenceClassification(config)


@pytest.mark.parametrize("arch", ["albert", "bert"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("frozen", [1, 2])
def test_frozen_classifier_gives_the_model_own_logits(model_dir, arch, pooling, frozen):
    model = set_pooling(albert_classifier(model_dir) if arch == "albert" else bert_classifier(), pooling)
    parameter_groups(model, TrainConfig(lr=1e-3, freeze_embeddings=True, freeze_layers=frozen))
    cached = FrozenLowerClassifier.for_model(model, 0, pooling)
    assert cached is not None and cached.depth == frozen
    ids = [[2, 5, 6, 7, 3], [2, 9, 3], [2, 11, 12, 13, 14, 15, 3]]
    model.eval()
    with torch.no_grad():
        assert torch.allclose(cached(ids), model(**pad(ids, 0)).logits, atol=1e-5)
        assert torch.allclose(cached(ids[::-1]), model(**pad(ids[::-1], 0)).logits, atol=1e-5)  # served from the cache
    assert len(cached.split.cache) == len(ids)


def test_frozen_depth_follows_the_freezing_options(model_dir):
    def depth(**options) -> int:
        model = albert_classifier(model_dir)
        parameter_groups(model, TrainConfig(lr=1e-3, **options))
        return frozen_depth(model.albert)

    assert depth() == 0
    assert depth(freeze_layers=2) == 0  # the embeddings train: nothing below can be cached
    assert depth(freeze_embeddings=True) == 0
    assert depth(freeze_embeddings=True, freeze_layers=1) == 1
    assert depth(freeze_embeddings=True, freeze_layers=1, cache_frozen=False) == 0  # ALBERT's projection trains, as before
    assert depth(head_only=True) == 2
    model = albert_classifier(model_dir)
    assert FrozenLowerClassifier.for_model(model, 0, "mean") is None


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.integers(5, 30), min_size=1, max_size=6), min_size=1, max_size=8), st.data())
def test_retain_keeps_exactly_the_sequences_asked_for(sequences, data):
    split = SplitEncoder(tiny_bert(), 1, 0)
    split(sequences)
    keep = data.draw(st.lists(st.sampled_from(sequences), max_size=4))
    before = {seq: hidden for seq, hidden in split.cache.items()}
    split.retain(keep)
    assert set(split.cache) == {tuple(s) for s in keep}
    assert all(split.cache[seq] is before[seq] for seq in split.cache)


def _run(model_dir, tmp_path, name, **options):
    train, eval = synthetic(24), synthetic(16, seed=1, prefix="e")
    config = TrainConfig(model=model_dir, max_steps=6, eval_every=3, lr=5e-3, threads=1, head_init="random", **options)
    result = fit(train, eval, out_dir=tmp_path / name, config=config, progress=False)
    return result, load_classifier(str(tmp_path / name / "best"), 2, {0: "neg", 1: "pos"})


def test_trainer_caches_the_frozen_part_and_trains_the_rest(model_dir, tmp_path):
    options = {"freeze_embeddings": True, "freeze_layers": 1, "augment": "noise", "keep": "last"}
    result, trained = _run(model_dir, tmp_path, "cached", **options)
    start = albert_classifier(model_dir)
    assert result["cached_layers"] == 1
    for name, module in (("embeddings", "embeddings"), ("projection", "encoder.embedding_hidden_mapping_in"),
                         ("layer 0", "encoder.albert_layer_groups.0")):
        before, after = start.albert.get_submodule(module), trained.albert.get_submodule(module)
        assert all(torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters())), name
    upper = zip(start.albert.encoder.albert_layer_groups[1].parameters(),
                trained.albert.encoder.albert_layer_groups[1].parameters())
    assert not all(torch.equal(a, b) for a, b in upper)
    again, _ = _run(model_dir, tmp_path, "again", **options)
    assert again["history"] == result["history"]
    legacy, old = _run(model_dir, tmp_path, "legacy", **options, cache_frozen=False)
    assert "cached_layers" not in legacy
    assert not torch.equal(old.albert.encoder.embedding_hidden_mapping_in.weight,
                           start.albert.encoder.embedding_hidden_mapping_in.weight)


def test_cached_head_only_training_equals_the_uncached(model_dir, tmp_path):
    """The tiny ALBERT has no dropout below its head, so caching changes nothing but the speed."""
    cached, a = _run(model_dir, tmp_path, "cached", head_only=True)
    plain, b = _run(model_dir, tmp_path, "plain", head_only=True, cache_frozen=False)
    assert cached["cached_layers"] == 2 and "cached_layers" not in plain
    assert torch.allclose(a.classifier.weight, b.classifier.weight, atol=1e-5)
    assert [h["accuracy"] for h in cached["history"]] == [h["accuracy"] for h in plain["history"]]
    assert [h["eval_loss"] for h in cached["history"]] == pytest.approx([h["eval_loss"] for h in plain["history"]], abs=1e-5)
