"""Model resolution used by every command: ``--model`` is a hub id, a local folder or nothing.

With nothing, the embedded default (:data:`~zhaug.train.models.embedded.FULL`) is used, built on first use;
the embedded names (``e5-small-zh``, ``e5-small-zh-compact``) and the variant names (``full``,
``compact``, unless a folder of that name exists) resolve the same way. Remote code is
never trusted and only safetensors weights are loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.hashing import file_sha256
from zhaug.train.models.catalog import FULL, VARIANTS, read_card
from zhaug.train.models.embedded import build_model

HUB_FILES = ["*.json", "*.safetensors", "vocab.txt", "*.model"]


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


def model_positions(path: Path) -> int | None:
    """The most tokens the model at ``path`` reads (its position embeddings), if its config says."""
    config = path / "config.json"
    try:
        positions = json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ZhaugError(f"{config}: cannot read the model config ({exc})") from None
    return positions if isinstance(positions, int) else None


def check_max_length(model: str | None, max_length: int) -> None:
    """Refuse a ``max_length`` beyond the model's position embeddings (it would fail mid-training)."""
    positions = model_positions(resolve_model(model))
    if positions is not None and max_length > positions:
        raise ZhaugError(f"--max-length {max_length}: the model {model or FULL} reads at most {positions} tokens")
