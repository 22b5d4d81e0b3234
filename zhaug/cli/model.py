"""``zhaug model``: build, list and describe the embedded models."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from zhaug.errors import MissingResourceError
from zhaug.train.models.catalog import VARIANTS, fine_tuning_lr, list_models, models_dir, read_card

model_app = typer.Typer(help="Build and inspect the embedded pretrained Chinese ALBERT models.", no_args_is_help=True)


@model_app.command("build")
def build_command(
    variant: str = typer.Option("full", "--variant", help=f"Which model: {' | '.join(VARIANTS)}."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if an up-to-date build exists."),
) -> None:
    """Build an embedded model from installed packages (offline; skipped when already up to date)."""
    from zhaug.train.models.embedded import build_model  # torch: imported when a command needs it

    typer.echo(build_model(variant, force=force))


@model_app.command("list")
def list_command() -> None:
    """List the built models."""
    table = Table("name", "variant", "vocabulary", "parameters", "fine-tuning lr", "path")
    for card in list_models():
        table.add_row(card["name"], card["variant"], str(card["vocab_size"]), f"{card['parameters']:,}",
                      f"{fine_tuning_lr(models_dir() / card['name']):g}", str(models_dir() / card["name"]))
    Console().print(table if table.row_count else f"no models built yet in {models_dir()}: run `zhaug model build`")


@model_app.command("info")
def info_command(name: str = typer.Argument(..., help="Model name, e.g. e5-small-zh.")) -> None:
    """Print a built model's card (sources, versions, licences, checksums) as JSON."""
    card = read_card(models_dir() / name)
    if card is None:
        raise MissingResourceError(f"no built model {name!r} in {models_dir()}: run `zhaug model build`")
    typer.echo(json.dumps(card, ensure_ascii=False, indent=2))
