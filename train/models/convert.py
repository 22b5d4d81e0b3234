"""Weight conversion: ``E5S1`` tensors to a BERT-form state dict, and BERT to an equivalent ALBERT.

An ALBERT with ``embedding_size == hidden_size``, an identity embedding projection and one layer
group per layer computes exactly what the BERT encoder computes: the layer maths (post-LayerNorm
attention and GELU feed-forward blocks) is the same, only the parameter names differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from transformers import AlbertConfig, BertConfig

from zhaug.train.models.e5_format import E5File

# E5S1 per-layer tensor -> BERT parameter (under ``encoder.layer.<i>.``) -> ALBERT parameter
# (under ``encoder.albert_layer_groups.<i>.albert_layers.0.``).
LAYER_NAMES = {
    "q": ("attention.self.query", "attention.query"),
    "k": ("attention.self.key", "attention.key"),
    "v": ("attention.self.value", "attention.value"),
    "ao": ("attention.output.dense", "attention.dense"),
    "aln": ("attention.output.LayerNorm", "attention.LayerNorm"),
    "fi": ("intermediate.dense", "ffn"),
    "fo": ("output.dense", "ffn_output"),
    "oln": ("output.LayerNorm", "full_layer_layer_norm"),
}
EMBEDDING_NAMES = {
    "emb.word": "word_embeddings.weight",
    "emb.pos": "position_embeddings.weight",
    "emb.type": "token_type_embeddings.weight",
    "emb.ln.w": "LayerNorm.weight",
    "emb.ln.b": "LayerNorm.bias",
}


def bert_from_e5(e5: E5File, rows: Sequence[int] | None = None) -> tuple[BertConfig, dict[str, torch.Tensor]]:
    """The dequantised encoder as a ``BertModel`` config and state dict (no pooler).

    ``rows`` keeps only those word-embedding rows (a trimmed vocabulary, in the given order).
    """
    c, tok = e5.config, e5.tokenizer
    keep = None if rows is None else np.asarray(rows)
    new_id = (lambda old: old) if keep is None else (lambda old: int(np.flatnonzero(keep == old)[0]))
    state = {}
    for short, name in EMBEDDING_NAMES.items():
        values = e5.tensors[short].dequantise(keep if short == "emb.word" else None)
        state[f"embeddings.{name}"] = torch.from_numpy(values)
    for layer in range(c.layers):
        for part, (bert_name, _) in LAYER_NAMES.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                values = e5.tensors[f"l{layer}.{part}.{suffix}"].dequantise()
                state[f"encoder.layer.{layer}.{bert_name}.{kind}"] = torch.from_numpy(values)
    config = BertConfig(
        vocab_size=c.vocab if keep is None else len(keep),
        hidden_size=c.hidden,
        num_hidden_layers=c.layers,
        num_attention_heads=c.heads,
        intermediate_size=c.ffn,
        hidden_act="gelu",
        max_position_embeddings=c.max_positions,
        type_vocab_size=c.type_vocab,
        layer_norm_eps=c.eps,
        pad_token_id=new_id(tok.pad),
        bos_token_id=new_id(tok.bos),
        eos_token_id=new_id(tok.eos),
    )
    return config, state


def albert_from_bert(
    config: BertConfig, state: Mapping[str, torch.Tensor]
) -> tuple[AlbertConfig, dict[str, torch.Tensor]]:
    """An ``AlbertModel`` config and state dict computing exactly what the BERT weights compute.

    ``state`` uses ``BertModel`` names (a ``bert.`` prefix is accepted). Without a BERT pooler the
    ALBERT pooler is the identity (``tanh`` of the first token's state).
    """
    state = {name.removeprefix("bert."): value for name, value in state.items()}
    h = config.hidden_size
    albert = AlbertConfig(
        vocab_size=config.vocab_size,
        embedding_size=h,
        hidden_size=h,
        num_hidden_layers=config.num_hidden_layers,
        num_hidden_groups=config.num_hidden_layers,
        inner_group_num=1,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        classifier_dropout_prob=config.hidden_dropout_prob,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        layer_norm_eps=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        pad_token_id=config.pad_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
    )
    out = {f"embeddings.{name}": state[f"embeddings.{name}"] for name in EMBEDDING_NAMES.values()}
    out["encoder.embedding_hidden_mapping_in.weight"] = torch.eye(h)
    out["encoder.embedding_hidden_mapping_in.bias"] = torch.zeros(h)
    for layer in range(config.num_hidden_layers):
        for bert_name, albert_name in LAYER_NAMES.values():
            for kind in ("weight", "bias"):
                target = f"encoder.albert_layer_groups.{layer}.albert_layers.0.{albert_name}.{kind}"
                out[target] = state[f"encoder.layer.{layer}.{bert_name}.{kind}"]
    out["pooler.weight"] = state.get("pooler.dense.weight", torch.eye(h))
    out["pooler.bias"] = state.get("pooler.dense.bias", torch.zeros(h))
    return albert, {name: value.contiguous() for name, value in out.items()}
