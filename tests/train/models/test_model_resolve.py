"""Model resolution: local folders (hub-style Chinese ALBERTs with a BERT vocab.txt), hub ids offline."""

from __future__ import annotations

import json

import huggingface_hub
import pytest
import torch
from transformers import AlbertConfig, AlbertModel, BertTokenizerFast

from zhaug.errors import MissingResourceError
from zhaug.train.models.catalog import CARD, COMPACT, DEFAULT_LR, FINE_TUNING_LRS, FULL, fine_tuning_lr
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import resolve_model

CHARS = "我爱北京天安门今天气很好这家酒店服务差"


@pytest.fixture(scope="module")
def bert_style_albert(tmp_path_factory):
    """A tiny ALBERT saved like ``voidful/albert_chinese_tiny``: ALBERT config, BERT ``vocab.txt``."""
    path = tmp_path_factory.mktemp("albert_chinese_tiny")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARS]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}), encoding="utf-8")
    config = AlbertConfig(vocab_size=len(vocab), embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(0)  # the weights' values do not matter here
    AlbertModel(config).save_pretrained(path, safe_serialization=True)
    return path


def test_local_folder_resolves_to_itself(bert_style_albert):
    assert resolve_model(bert_style_albert) == bert_style_albert
    assert resolve_model(str(bert_style_albert)) == bert_style_albert


def test_bert_vocab_gets_a_bert_tokenizer(bert_style_albert):
    tokenizer = load_tokenizer(bert_style_albert)
    assert isinstance(tokenizer, BertTokenizerFast)
    encoded = tokenizer("我爱北京")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"]) == ["[CLS]", "我", "爱", "北", "京", "[SEP]"]


def test_classifier_head_is_seeded_and_backbone_loaded(bert_style_albert):
    first = load_classifier(bert_style_albert, 3, {0: "a", 1: "b", 2: "c"}, seed=7)
    again = load_classifier(bert_style_albert, 3, {0: "a", 1: "b", 2: "c"}, seed=7)
    other = load_classifier(bert_style_albert, 3, {0: "a", 1: "b", 2: "c"}, seed=8)
    assert first.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert torch.equal(first.classifier.weight, again.classifier.weight)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)
    saved = AlbertModel.from_pretrained(bert_style_albert, use_safetensors=True)
    assert torch.equal(first.albert.embeddings.word_embeddings.weight, saved.embeddings.word_embeddings.weight)
    ids = load_tokenizer(bert_style_albert)(["今天天气很好"], return_tensors="pt")
    assert first(**ids).logits.shape == (1, 3)


def test_pickle_weights_are_refused(tmp_path, bert_style_albert):
    model = AlbertModel.from_pretrained(bert_style_albert, use_safetensors=True)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(MissingResourceError, match="safetensors"):
        load_classifier(tmp_path, 2, {0: "x", 1: "y"})


def test_missing_folder_and_offline_hub_id_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(MissingResourceError, match="no config.json"):
        resolve_model(tmp_path)
    with pytest.raises(MissingResourceError, match="not a hub id"):
        resolve_model(str(tmp_path / "absent"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingResourceError, match="Without network access"):
        resolve_model("voidful/albert_chinese_tiny")


def test_fine_tuning_lr_is_the_embedded_models_own_else_the_default(tmp_path, bert_style_albert):
    assert fine_tuning_lr(bert_style_albert) == DEFAULT_LR  # no card: a hub-style or fine-tuned folder
    for name in (FULL, COMPACT, "someone-elses-model"):
        (tmp_path / CARD).write_text(json.dumps({"name": name}), encoding="utf-8")
        assert fine_tuning_lr(tmp_path) == FINE_TUNING_LRS.get(name, DEFAULT_LR)
    assert FINE_TUNING_LRS[COMPACT] > FINE_TUNING_LRS[FULL]
