"""``zhaug model``: build, list and describe the embedded models and the packaged GGUF models."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zhaug.augment.generative.models import MODELS, model_dir, model_status
from zhaug.errors import MissingResourceError
from zhaug.train.models.catalog import VARIANTS, fine_tuning_lr, list_models, models_dir, read_card

model_app = typer.Typer(help="Build and inspect the embedded pretrained Chinese ALBERT models and the GGUF models "
                        "of the generative recipes.", no_args_is_help=True)


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
    """List the built models, then the packaged GGUF models (paraphrase, bt) and their state."""
    table = Table("name", "variant", "vocabulary", "parameters", "fine-tuning lr", "path")
    for card in list_models():
        table.add_row(card["name"], card["variant"], str(card["vocab_size"]), f"{card['parameters']:,}",
                      f"{fine_tuning_lr(models_dir() / card['name']):g}", str(models_dir() / card["name"]))
    console = Console()
    console.print(table if table.row_count else f"no models built yet in {models_dir()}: run `zhaug model build`")
    generative = Table("GGUF model", "licence", "size", "sha256", "state", "install")
    for spec in MODELS.values():
        generative.add_row(spec.name, spec.licence, f"{spec.size / 1e6:,.0f} MB", spec.sha256[:16] + "…",
                           model_status(spec), escape(spec.pip))
    console.print(generative)


@model_app.command("info")
def info_command(name: str = typer.Argument(..., help="Model name, e.g. e5-small-zh or qwen2.5-coder-1.5b-instruct.")) -> None:
    """Print a built model's card (sources, versions, licences, checksums), or a packaged GGUF
    model's licence, size, pinned sha256 and state, as JSON."""
    if name in MODELS:
        spec = MODELS[name]
        card = {**asdict(spec), "state": model_status(spec), "path": str(model_dir() / spec.file)}
        typer.echo(json.dumps(card, ensure_ascii=False, indent=2))
        return
    card = read_card(models_dir() / name)
    if card is None:
        raise MissingResourceError(f"no built model {name!r} in {models_dir()}: run `zhaug model build` "
                                   f"(packaged GGUF models: {', '.join(MODELS)})")
    typer.echo(json.dumps(card, ensure_ascii=False, indent=2))
