"""Sentence embeddings from a transformers encoder: the ``embed`` function of the similarity gate
and of the attack (:data:`zhaug.protocols.Embed`)."""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModel

from zhaug.train.models.loading import load_tokenizer
from zhaug.train.models.pooling import mean_pool
from zhaug.train.models.resolve import resolve_model


class TransformerEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder.

    ``model`` is a folder, a cached hub id or ``None`` for the embedded multilingual-e5-small
    (``e5-small-zh``); ``prefix`` follows the e5 convention (``"query: "`` for symmetric tasks).
    The model loads on the first call.
    """

    def __init__(self, model: str | None = None, prefix: str = "query: ", batch_size: int = 32, max_length: int = 512):
        self.model, self.prefix, self.batch_size, self.max_length = model, prefix, batch_size, max_length
        self._loaded: tuple | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._loaded is None:
            path = resolve_model(self.model)
            self._loaded = AutoModel.from_pretrained(path, use_safetensors=True).eval(), load_tokenizer(path)
        model, tokenizer = self._loaded
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = tokenizer(
                [self.prefix + texts[i] for i in rows], padding=True, truncation=True,
                max_length=self.max_length, return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
            pooled = mean_pool(hidden, batch["attention_mask"])
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out
