"""The model side of an audit: any ``predict_proba(list[str]) -> (n, n_classes)`` function,
called in batches, with named prediction sets cached on disk so an interrupted audit resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zhaug.errors import ZhaugError
from zhaug.hashing import content_key
from zhaug.io import atomic_write_text
from zhaug.progress import progress_bar
from zhaug.protocols import PredictProba


class BatchPredictor:
    """Calls ``predict_proba`` on batches of ``batch_size`` texts and checks what it returns.

    ``texts_seen`` and ``batches`` count the forward passes made (cache hits excluded). With a
    ``cache_dir``, :meth:`cached` stores each named prediction set as ``<name>.json`` keyed by
    ``model_id`` and the exact texts, so a rerun skips what is done and a change of model or
    data recomputes (see :func:`cached_json`).
    """

    def __init__(
        self,
        predict_proba: PredictProba,
        n_classes: int,
        batch_size: int = 64,
        cache_dir: str | Path | None = None,
        model_id: str = "",
        progress: bool | None = None,
    ):
        self.predict_proba, self.n_classes, self.batch_size = predict_proba, n_classes, batch_size
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.model_id, self.progress = model_id, progress
        self.texts_seen = self.batches = 0

    def __call__(self, texts: Sequence[str], desc: str = "predict") -> np.ndarray:
        out = np.zeros((len(texts), self.n_classes))
        with progress_bar(total=len(texts), desc=desc, unit="text", leave=False, progress=self.progress) as bar:
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                probs = np.asarray(self.predict_proba(batch), dtype=float)
                if probs.shape != (len(batch), self.n_classes):
                    raise ZhaugError(
                        f"predict_proba returned shape {probs.shape} for {len(batch)} texts; "
                        f"expected ({len(batch)}, {self.n_classes})"
                    )
                out[start : start + len(batch)] = probs
                self.texts_seen += len(batch)
                self.batches += 1
                bar.update(len(batch))
        return out

    def cached(self, name: str, texts: Sequence[str]) -> np.ndarray:
        """Predictions for ``texts``, read from or written to ``<cache_dir>/<name>.json``."""
        path = self.cache_dir / f"{name}.json" if self.cache_dir is not None else None
        key = content_key(self.model_id, list(texts))
        probs = cached_json(path, key, lambda: self(texts, name).tolist())
        return np.asarray(probs, dtype=float).reshape(len(texts), self.n_classes)


def cached_json(path: Path | None, key: str, compute: Callable[[], Any]) -> Any:
    """The value stored in ``path`` under ``key``, else ``compute()`` (then stored atomically).

    A missing, damaged or differently keyed file is recomputed; ``path=None`` disables caching.
    """
    if path is not None and path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("key") == key:
                return stored["value"]
        except (json.JSONDecodeError, AttributeError, KeyError):
            pass
    value = compute()
    if path is not None:
        atomic_write_text(path, json.dumps({"key": key, "value": value}, ensure_ascii=False))
    return value
