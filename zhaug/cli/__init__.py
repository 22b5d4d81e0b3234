"""The ``zhaug`` command line: one program, a subcommand per job."""

from __future__ import annotations

import os

import typer

from zhaug import __version__
from zhaug.errors import ZhaugError

# transformers' load reports and per-file bars say nothing to a zhaug user (zhaug initialises a
# missing head itself, and shows its own progress); as environment defaults, they also reach the
# processes zhaug spawns. Set either variable to see them again.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

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


def run() -> None:
    """Entry point: run the app; a :class:`ZhaugError` becomes one clear line and exit code 2."""
    try:
        app()
    except ZhaugError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise SystemExit(2) from None


from zhaug.cli.audit import audit_command  # noqa: E402  (the subcommands register below)
from zhaug.cli.augment import augment_command, gate_command  # noqa: E402
from zhaug.cli.model import model_app  # noqa: E402
from zhaug.cli.studies import ablate_command, demo_command  # noqa: E402
from zhaug.cli.train import predict_command, train_command  # noqa: E402

app.command("augment")(augment_command)
app.command("gate")(gate_command)
app.command("audit")(audit_command)
app.command("train")(train_command)
app.command("predict")(predict_command)
app.command("demo")(demo_command)
app.command("ablate")(ablate_command)
app.add_typer(model_app, name="model")
