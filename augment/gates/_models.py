"""Loading transformers models for the model-based gates, through zhaug's model resolution."""

from __future__ import annotations

from typing import Any


def load_model(auto_class: Any, model: str | None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a folder, a cached hub id or ``None`` (the embedded default),
    resolved like ``--model`` everywhere; the model in eval mode, safetensors weights only."""
    from zhaug.train.models import load_tokenizer, resolve_model

    path = resolve_model(model)
    return auto_class.from_pretrained(path, use_safetensors=True).eval(), load_tokenizer(path)
