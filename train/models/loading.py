"""Loading models and tokenizers from a local folder: safetensors weights only, no remote code."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.hashing import derive_seed


def load_tokenizer(path: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """The model's tokenizer. Hub Chinese ALBERTs (``voidful/albert_chinese_*``, ``clue/albert_chinese_*``)
    ship a BERT ``vocab.txt`` although their config says ALBERT: those get a (fast) BERT tokenizer."""
    path = Path(path)
    config_file = path / "tokenizer_config.json"
    try:
        declared = json.loads(config_file.read_text(encoding="utf-8")).get("tokenizer_class") if config_file.is_file() else None
        if (path / "vocab.txt").is_file() and (declared is None or declared.startswith("Bert")):
            return BertTokenizerFast.from_pretrained(path)
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, AttributeError) as exc:  # a damaged folder: its JSON, or no tokenizer files left
        if not any((path / name).is_file() for name in TOKENIZER_FILES):
            raise ZhaugError(f"{path}: no tokenizer files (one of {', '.join(TOKENIZER_FILES)}); the folder is damaged") from None
        raise ZhaugError(f"{path}: cannot load the tokenizer ({' '.join(str(exc).split())[:200]}); the folder is damaged") from None


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars (zhaug initialises a missing head itself)."""
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_classifier(
    path: str | os.PathLike[str], num_labels: int, id2label: dict[int, str], *, seed: int = 0, strict: bool = False
) -> PreTrainedModel:
    """A sequence classifier from the model at ``path`` (safetensors only, no remote code).

    Weights the checkpoint lacks (a new classification head) are initialised from ``seed`` alone.
    With ``strict`` (a trained classifier, to predict with) every weight must be in the checkpoint,
    match its shape and be finite, and the checkpoint may hold no other weights: a damaged folder
    is an error, never random predictions.
    """
    try:
        with quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels, id2label=dict(id2label), label2id={v: k for k, v in id2label.items()},
                use_safetensors=True, output_loading_info=True,
            )
    except OSError as exc:
        raise MissingResourceError(f"cannot load {path}: {exc} (zhaug loads safetensors weights only)") from None
    except (ValueError, RuntimeError, SafetensorError) as exc:
        raise ZhaugError(f"{path}: cannot load the model ({' '.join(str(exc).split())[:300]})") from None
    if strict:
        check_loaded(path, model, info)
    generator = torch.Generator().manual_seed(derive_seed(seed, "init") % 2**63)
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        for name in info["missing_keys"]:
            parameter = model.get_parameter(name)
            if name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.normal_(0.0, std, generator=generator)
    return model


def check_loaded(path: str | os.PathLike[str], model: PreTrainedModel, info: dict[str, Any]) -> None:
    """Refuse missing, unexpected, reshaped or non-finite weights of a trained classifier."""
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        names = [str(name[0] if isinstance(name, tuple) else name) for name in info.get(kind) or []]
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            raise ZhaugError(f"{path}: the weights file is damaged or not this classifier's: "
                             f"{kind.replace('_keys', '')} weights {shown}")
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ZhaugError(f"{path}: weight {name} holds NaN or infinite values; the checkpoint is damaged")


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json")


def check_tokenizer(path: str | os.PathLike[str], tokenizer: PreTrainedTokenizerBase) -> None:
    """Refuse a tokenizer that cannot be the model's: its files are gone (transformers then builds
    one from the special tokens alone, and every text gets the same prediction)."""
    if not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        raise ZhaugError(f"{path}: no tokenizer files (one of {', '.join(TOKENIZER_FILES)}); the folder is damaged")
    if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        raise ZhaugError(f"{path}: the tokenizer knows only its {len(tokenizer)} special tokens; its files are damaged")
