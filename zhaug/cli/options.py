"""Options several commands share, declared once (typer ``Annotated`` types)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from zhaug.io import Columns
from zhaug.progress import watched

IdCol = Annotated[str, typer.Option("--id-col", help="Column holding row ids (generated when absent).")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column holding the text.")]
LabelCol = Annotated[str, typer.Option("--label-col", help="Column holding the label.")]


def say_error(message: str) -> None:
    """One line on stderr, red on a terminal unless ``NO_COLOR`` is set (https://no-color.org)."""
    typer.secho(message, fg=None if os.environ.get("NO_COLOR") else "red", err=True)


QUIET, VERBOSE = "ZHAUG_QUIET", "ZHAUG_VERBOSE"
"""Environment variables set by ``zhaug --quiet`` / ``--verbose`` (so worker processes see them too)."""


def quiet() -> bool:
    """Whether ``--quiet`` was given: errors and warnings only."""
    return os.environ.get(QUIET) == "1"


def say(message: str) -> None:
    """A status line on stderr, unless ``--quiet`` (warnings always)."""
    if not quiet() or message.startswith("warning"):
        typer.echo(message, err=True)


def console() -> Console:
    """Where summary tables go: stderr, silent under ``--quiet``."""
    return Console(stderr=True, quiet=quiet(), no_color=bool(os.environ.get("NO_COLOR")))


def show_progress(value: bool | None) -> bool:
    """``--progress`` / ``--no-progress`` as given; by default, bars only when stderr is a terminal
    (piped to a file, a bar's carriage returns and cursor moves are noise) and not ``--quiet``."""
    return watched() and not quiet() if value is None else value


Progress = Annotated[bool | None, typer.Option(
    "--progress/--no-progress", callback=show_progress,
    help="Show progress bars [default: when stderr is a terminal].", show_default=False)]
Engine = Annotated[str, typer.Option("--engine", help="local (processes on this machine) or ray (a Ray cluster).")]
RayAddress = Annotated[str | None, typer.Option(
    "--ray-address", help='Ray cluster to join, e.g. "auto" or host:6379 (default: a local one).')]

ENGINES = ("local", "ray")


def columns(id_col: str = "id", text_col: str = "text", label_col: str = "label") -> Columns:
    """The table's column names as the readers take them."""
    return Columns(id=id_col, text=text_col, label=label_col)


def check_engine(engine: str) -> None:
    """Refuse an unknown ``--engine`` before any work."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"{engine!r}: choose {' or '.join(ENGINES)}", param_hint="--engine")
