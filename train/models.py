"""Model resolution used by every command: ``--model`` is a hub id, a local folder or nothing.

With nothing, the embedded default (:data:`~zhaug.train.embedded.FULL`) is used, built on first use;
the embedded names (``e5-small-zh``, ``e5-small-zh-compact``) and the variant names (``full``,
``compact``, unless a folder of that name exists) resolve the same way. Remote code is
never trusted and only safetensors weights are loaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from zhaug.errors import MissingResourceError
from zhaug.hashing import derive_seed, file_sha256
from zhaug.train.embedded import FINE_TUNING_LRS, FULL, VARIANTS, build_model, read_card

HUB_FILES = ["*.json", "*.safetensors", "vocab.txt", "*.model"]
DEFAULT_LR = 1e-4
"""The encoder learning rate for models without a measured one of their own."""


def resolve_model(name_or_path: str | os.PathLike[str] | None = None) -> Path:
    """A local folder holding the model: the embedded default, a local folder, or a hub snapshot.

    Hub ids are fetched (config, tokenizer and safetensors files only) into the Hugging Face cache;
    offline, an uncached id raises :class:`~zhaug.errors.MissingResourceError` saying what to do.
    """
    name = FULL if name_or_path is None else str(name_or_path)
    variant = {model: variant for variant, model in VARIANTS.items()}.get(name)
    if variant is None and name in VARIANTS and not Path(name).is_dir():  # short aliases: full, compact
        variant = name
    if variant is not None:
        return build_model(variant)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MissingResourceError(f"{path} has no config.json: not a transformers model folder")
        return path
    if path.is_absolute() or name.startswith(".") or name.count("/") != 1:
        raise MissingResourceError(f"no model folder {name!r}, and it is not a hub id (owner/name)")
    return _hub_snapshot(name)


def model_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Which weights a model folder holds: an embedded model's name, build version and weights
    checksum from its card, else the folder and the checksum of its ``model.safetensors``."""
    card = read_card(path)
    if card is not None:
        return {"name": card["name"], "build_version": card["build_version"],
                "weights_sha256": card["files"]["model.safetensors"]}
    weights = Path(path) / "model.safetensors"
    return {"name": str(path), "weights_sha256": file_sha256(weights) if weights.is_file() else None}


def fine_tuning_lr(path: str | os.PathLike[str]) -> float:
    """The encoder learning rate to fine-tune the model at ``path`` with: an embedded model's own
    (:data:`~zhaug.train.embedded.FINE_TUNING_LRS`; the compact student wants a higher one than
    its teacher), else :data:`DEFAULT_LR`."""
    card = read_card(path)
    return FINE_TUNING_LRS.get(card["name"], DEFAULT_LR) if card is not None else DEFAULT_LR


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except (OSError, ValueError, HfHubHTTPError) as exc:  # offline, not cached, unknown repo, HTTP errors
        raise MissingResourceError(
            f"cannot fetch model {repo_id!r} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            f"Without network access, pass a local model folder with --model, or omit --model to use the "
            f"embedded {FULL} model."
        ) from None


def load_tokenizer(path: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """The model's tokenizer. Hub Chinese ALBERTs (``voidful/albert_chinese_*``, ``clue/albert_chinese_*``)
    ship a BERT ``vocab.txt`` although their config says ALBERT: those get a (fast) BERT tokenizer."""
    path = Path(path)
    config_file = path / "tokenizer_config.json"
    declared = json.loads(config_file.read_text(encoding="utf-8")).get("tokenizer_class") if config_file.is_file() else None
    if (path / "vocab.txt").is_file() and (declared is None or declared.startswith("Bert")):
        return BertTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


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
    path: str | os.PathLike[str], num_labels: int, id2label: dict[int, str], *, seed: int = 0
) -> PreTrainedModel:
    """A sequence classifier from the model at ``path`` (safetensors only, no remote code).

    Weights the checkpoint lacks (a new classification head) are initialised from ``seed`` alone.
    """
    try:
        with quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels, id2label=dict(id2label), label2id={v: k for k, v in id2label.items()},
                use_safetensors=True, output_loading_info=True,
            )
    except OSError as exc:
        raise MissingResourceError(f"cannot load {path}: {exc} (zhaug loads safetensors weights only)") from None
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
