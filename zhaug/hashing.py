"""Every hash zhaug computes, in one place: seeds, cache and resume keys, file checksums.

Three kinds, each kept stable because saved state depends on it:

* :func:`derive_seed` — 64-bit seeds for per-sample generators (:mod:`zhaug.rng`);
* :func:`key` — the hex form of :func:`derive_seed`, for things that must match on resume
  (a run's fingerprint, an ablation cell); any Python values whose ``repr`` is stable;
  :func:`config_key` the same with every mapping's keys sorted, for parts read from a config file;
* :func:`content_key` — SHA-256 of JSON-serialisable parts, for caches of computed results
  (predictions, audits, generated copies);
* :func:`file_sha256` and :func:`files_key` — checksums of files and of folders' file listings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def derive_seed(*parts: object) -> int:
    """A 64-bit integer that depends only on ``parts`` (stable across runs and platforms)."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def key(*parts: object) -> str:
    """16 hex digits of :func:`derive_seed`: resume and cell keys."""
    return f"{derive_seed(*parts):016x}"


def config_key(*parts: object) -> str:
    """:func:`key` of ``parts`` with every mapping's keys sorted, at any depth: a config whose keys
    are written in another order (``yaml.safe_dump`` sorts them) is the same config."""
    return key(*(_sorted_mappings(part) for part in parts))


def _sorted_mappings(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: _sorted_mappings(value[k]) for k in sorted(value, key=repr)}
    if type(value) in (list, tuple):
        return type(value)(_sorted_mappings(v) for v in value)
    return value


def content_key(*parts: Any) -> str:
    """16 hex digits of the SHA-256 of JSON-serialisable ``parts``: cache keys."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_sha256(path: str | os.PathLike[str]) -> str:
    """:func:`file_sha256` of a file; of a folder (e.g. a saved dataset), a key of its files' names
    and checksums."""
    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return content_key([[str(p.relative_to(path)), file_sha256(p)] for p in files])


def files_key(files: Iterable[Path]) -> str:
    """A key of files' paths, sizes and modification times: changes when any file is rewritten."""
    return content_key([(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files])
