"""BERT -> ALBERT conversion computes exactly the same function; E5S1 -> BERT-form weights."""

from __future__ import annotations

import numpy as np
import torch
from transformers import AlbertModel, BertConfig, BertModel

from zhaug.train.models.convert import albert_from_bert, bert_from_e5
from zhaug.train.models.e5_format import synthetic_e5

PIECES = ["<s>", "<pad>", "</s>", "<unk>"] + [f"p{i}" for i in range(60)]


def _inputs(vocab: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (3, 12), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = 1
    return ids, mask


def _albert(config: BertConfig, state: dict) -> AlbertModel:
    albert_config, albert_state = albert_from_bert(config, state)
    model = AlbertModel(albert_config)
    model.load_state_dict(albert_state, strict=True)
    return model.eval()


def test_random_bert_and_converted_albert_agree():
    torch.manual_seed(0)  # BertModel's own initialisation; the comparison does not depend on it
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32, hidden_act="gelu", pad_token_id=1)
    bert = BertModel(config).eval()
    albert = _albert(config, bert.state_dict())
    assert albert.config.num_hidden_groups == 3 and albert.config.embedding_size == 32
    ids, mask = _inputs(50)
    with torch.no_grad():
        expected, got = bert(input_ids=ids, attention_mask=mask), albert(input_ids=ids, attention_mask=mask)
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, atol=1e-5, rtol=0)


def test_e5_weights_as_bert_and_albert_agree_and_trimming_selects_rows():
    e5 = synthetic_e5(PIECES, hidden=64, layers=2, heads=4, ffn=128, seed=4)
    config, state = bert_from_e5(e5)
    assert np.array_equal(state["encoder.layer.1.intermediate.dense.weight"].numpy(),
                          e5.tensors["l1.fi.w"].dequantise())
    bert = BertModel(config, add_pooling_layer=False).eval()
    bert.load_state_dict(state, strict=True)
    keep = [0, 1, 2, 3] + list(range(10, 40))
    albert = _albert(*bert_from_e5(e5, keep))
    assert albert.config.vocab_size == len(keep) and albert.config.pad_token_id == 1
    ids, mask = _inputs(34, seed=1)
    old_ids = torch.tensor(keep)[ids]
    with torch.no_grad():
        expected = bert(input_ids=old_ids, attention_mask=mask).last_hidden_state
        got = albert(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
