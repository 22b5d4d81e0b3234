"""The ``zhaug`` command line: one program, a subcommand per job."""

from __future__ import annotations

import os
import signal
import traceback

import typer

from zhaug import __version__
from zhaug.cli.options import QUIET, VERBOSE, say_error
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Errors and warnings only: no bars, tables or status lines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also transformers' messages, and a traceback with each error."),
) -> None:
    """Chinese text augmentation, ALBERT fine-tuning and robustness auditing.

    Example: zhaug augment train.csv -o train_aug.csv -r eda -n 4 --seed 7"""
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose contradict each other")
    if quiet:
        os.environ[QUIET] = "1"
    if verbose:
        os.environ[VERBOSE] = "1"
        os.environ["TRANSFORMERS_VERBOSITY"] = "info"


BUG_EXIT = 70
"""Exit code of an unexpected exception (a bug): not 1, which ``zhaug audit --fail-under`` uses."""


def _interrupted(signum: int, _frame: object) -> None:
    """Ctrl-C and SIGTERM unwind the program (so worker pools are terminated on the way out) and
    exit 128 + the signal number, never 1."""
    signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once
    say_error("interrupted")
    raise SystemExit(128 + signum)


def run() -> None:
    """Entry point. A :class:`ZhaugError` (or an OS error on a named file) is one clear line and
    exit code 2; any other exception is a bug: its traceback and exit code 70."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    try:
        app()
    except ZhaugError as exc:
        if os.environ.get(VERBOSE) == "1":
            traceback.print_exc()
        _fail(f"error: {exc}")
    except OSError as exc:
        if exc.filename is None:
            _bug()
        _fail(f"error: {exc.filename}: {exc.strerror or exc}")
    except Exception:
        _bug()


def _fail(message: str) -> None:
    say_error(message)
    raise SystemExit(2) from None


def _bug() -> None:
    traceback.print_exc()
    say_error(f"zhaug {__version__}: an unexpected error (a bug); please report it with the traceback above")
    raise SystemExit(BUG_EXIT) from None


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
