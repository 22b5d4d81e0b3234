"""The embedded models' names, cards and fine-tuning rates: what ``zhaug model list / info`` and
the trainer's defaults read, without importing torch (building lives in :mod:`.embedded`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zhaug.errors import ZhaugError
from zhaug.resources import zhaug_home

FULL = "e5-small-zh"
COMPACT = "e5-small-zh-compact"
VARIANTS = {"full": FULL, "compact": COMPACT}
FINE_TUNING_LRS = {FULL: 1e-4, COMPACT: 2e-4}
"""Each embedded model's best encoder learning rate on 500 rows (``benchmarks/finetune_lr.py``)."""
BUILD_VERSION = 3
CARD = "zhaug_card.json"
UPSTREAM = {"model": "intfloat/multilingual-e5-small", "licence": "MIT",
            "url": "https://huggingface.co/intfloat/multilingual-e5-small"}


def models_dir() -> Path:
    """Where built models live: ``zhaug_home()/models``."""
    return zhaug_home() / "models"


def read_card(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A built model's card, or ``None`` if ``path`` holds no finished build."""
    card = Path(path) / CARD
    return json.loads(card.read_text(encoding="utf-8")) if card.is_file() else None


def list_models() -> list[dict[str, Any]]:
    """Cards of the models built under :func:`models_dir`, by name."""
    root = models_dir()
    cards = [read_card(p) for p in sorted(root.iterdir())] if root.is_dir() else []
    return [card for card in cards if card is not None]


def variant_name(variant: str) -> str:
    """The model name of a variant (``full`` or ``compact``)."""
    if variant not in VARIANTS:
        raise ZhaugError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[variant]


DEFAULT_LR = 1e-4
"""The encoder learning rate for models without a measured one of their own."""


def fine_tuning_lr(path: str | os.PathLike[str]) -> float:
    """The encoder learning rate to fine-tune the model at ``path`` with: an embedded model's own
    (:data:`FINE_TUNING_LRS`; the compact student wants a higher one than
    its teacher), else :data:`DEFAULT_LR`."""
    card = read_card(path)
    return FINE_TUNING_LRS.get(card["name"], DEFAULT_LR) if card is not None else DEFAULT_LR
