"""The ``zhaug`` command line: one program, a subcommand per job."""

from __future__ import annotations

import typer

from zhaug import __version__

app = typer.Typer(
    name="zhaug",
    help="Chinese text augmentation, ALBERT fine-tuning and robustness auditing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zhaug {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Chinese text augmentation, ALBERT fine-tuning and robustness auditing."""
