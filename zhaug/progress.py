"""Progress bars that show only on a terminal.

Every long job of the Python API and the CLI takes ``progress``: ``None`` (the default) shows a
bar only when stderr is a terminal, so logs of batch jobs and notebooks' captured output stay
clean; ``True`` and ``False`` force it on or off (the CLI's ``--progress/--no-progress``).
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(iterable: Any = None, *, progress: bool | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, shown as ``progress`` says (``None``: only on a terminal)."""
    # tqdm's own rule for disable=None: off when its output (stderr) is not a terminal
    return tqdm(iterable, disable=None if progress is None else not progress, **kwargs)
