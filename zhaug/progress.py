"""Progress bars that show only where someone is watching.

Every long job of the Python API and the CLI takes ``progress``: ``None`` (the default) shows a
bar only when stderr is a terminal or the code runs in a Jupyter kernel, so logs of batch jobs
stay clean; ``True`` and ``False`` force it on or off (the CLI's ``--progress/--no-progress``).
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def watched() -> bool:
    """Whether a person sees stderr as it is written: a terminal, or a notebook's output cell
    (whose stream says it is no terminal)."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def progress_bar(iterable: Any = None, *, progress: bool | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, shown as ``progress`` says (``None``: when :func:`watched`)."""
    return tqdm(iterable, disable=not (watched() if progress is None else progress), **kwargs)
