"""``zhaug audit``: robustness of a trained classifier to graded Chinese perturbations."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path

import typer
from rich.table import Table

from zhaug.cli.options import (
    Engine,
    IdCol,
    LabelCol,
    Progress,
    RayAddress,
    TextCol,
    check_engine,
    columns,
    console,
    say,
    say_error,
)
from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.hashing import files_key
from zhaug.io import atomic_write_text, read_records
from zhaug.protocols import Embed
from zhaug.robustness.attack import AttackConfig
from zhaug.robustness.audit import AuditConfig, audit, audit_sample, audit_warnings, load_config, perturb_cells
from zhaug.robustness.compare import compare_models, comparison_markdown
from zhaug.robustness.families import FAMILY_NAMES, select_families
from zhaug.robustness.report import write_report
from zhaug.robustness.thresholds import check, parse_thresholds


def _model_id(model_dir: Path) -> str:
    """The folder and the sizes and times of its files: a retrained model never reuses cached predictions."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and "last" not in p.relative_to(model_dir).parts)
    return f"{model_dir.resolve()}:" + files_key(files)


def _embedder(model: str | None) -> Embed | None:
    """The attack's sentence encoder (loaded now), or ``None`` with a warning when it is not available."""
    from zhaug.train.models.embedder import TransformerEmbedder  # torch: imported when a command needs it

    embed = TransformerEmbedder(model)
    try:
        embed(["测试"])
    except MissingResourceError as exc:
        say(f"warning: no embedding similarity for the attack ({exc})")
        return None
    return embed


def _settings(config: Path | None, seed: int | None, batch_size: int | None, families: str | None,
              severities: str | None, attack: bool) -> AuditConfig:
    """The audit config, with the command line's choices over the file's; bad names fail here,
    before any model is loaded."""
    settings = load_config(config)
    overrides: dict = {"seed": settings.seed if seed is None else seed, "batch_size": batch_size or settings.batch_size}
    if families:
        overrides["families"] = [name.strip() for name in families.split(",") if name.strip()]
    if severities:
        try:
            overrides["severities"] = [int(s) for s in severities.split(",") if s.strip()]
        except ValueError:
            raise typer.BadParameter(f"{severities!r}: write e.g. 1,3,5", param_hint="--severities") from None
    if attack and settings.attack is None:
        overrides["attack"] = AttackConfig()
    settings = dataclasses.replace(settings, **overrides)
    select_families(settings.families)
    return settings


def audit_command(
    paths: list[Path] = typer.Argument(  # noqa: B008
        ..., metavar="MODEL_DIR [MODEL_DIR_B] TEST", help="MODEL_DIR TEST: a `zhaug train` run folder or a transformers classifier folder, and a labelled "
        "test table (.csv, .tsv, .jsonl); or RUN_A RUN_B TEST: two models side by side on the same perturbed "
        "texts, with paired differences B − A (comparison.md / .json; --fail-under then applies to B − A)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (report.json / .md / .html, and a cache to resume)."),
    families: str | None = typer.Option(None, "--families", help=f"Comma-separated: {', '.join(FAMILY_NAMES)}."),
    severities: str | None = typer.Option(None, "--severities", help="Comma-separated severities 1..5 (default 1,3,5)."),
    attack: bool = typer.Option(False, "--attack", help="Also run the budgeted greedy attack."),
    fail_under: str | None = typer.Option(
        None, "--fail-under", help='Release gate, e.g. "flip_rate<=0.10,accuracy_drop<=0.05"; exits 1 when it fails.'
    ),
    config: Path | None = typer.Option(None, "--config", help="Audit config YAML (default: configs/audit/default.yaml)."),
    seed: int | None = typer.Option(None, "--seed", help="Overrides the config's seed."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Texts per model call."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Audit a seeded sample of N rows, stratified by label (--seed)."),
    embed_model: str | None = typer.Option(
        None, "--embed-model", help="Encoder for the attack's similarity (default: the embedded e5-small-zh)."
    ),
    engine: Engine = "local",
    ray_address: RayAddress = None,
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    progress: Progress = None,
) -> None:
    """Audit a classifier: accuracy, flip rates and calibration under every perturbation family × severity.

    Example: zhaug audit runs/r1 test.csv --out audit/ --fail-under "flip_rate<=0.10"  (or RUN_A RUN_B test.csv)"""
    check_engine(engine)
    if len(paths) not in (2, 3):
        raise typer.BadParameter("give MODEL_DIR TEST, or RUN_A RUN_B TEST", param_hint="PATHS")
    *models, test = paths
    thresholds = parse_thresholds(fail_under) if fail_under is not None else []
    settings = _settings(config, seed, batch_size, families, severities, attack)
    records = audit_sample(read_records(test, columns(id_col, text_col, label_col)), limit, settings.seed)
    for warning in audit_warnings(records):
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    from zhaug.train.predict import load_predictor  # torch: imported when a command needs it

    if len(models) == 2:
        _compare(models, records, settings, thresholds, out, progress)
        return
    model_dir = models[0]

    classifier = load_predictor(model_dir, batch_size=settings.batch_size)
    embed = _embedder(embed_model) if settings.attack is not None else None
    cells = perturb_cells
    if engine == "ray":
        from zhaug.robustness.distributed import ray_cells  # ray: an optional dependency

        cells = partial(ray_cells, address=ray_address)
    report = audit(
        classifier.predict_proba, records, settings, labels=list(classifier.labels), embed=embed, cache_dir=out / "cache",
        model_id=_model_id(model_dir), progress=progress, cells=cells,
    )
    failures = check(report, thresholds)
    if thresholds:
        report["gate"] = {"thresholds": [str(t) for t in thresholds], "failures": failures}
    paths = write_report(report, out)
    console().print(summary_table(report))
    say(f"wrote {paths['html']}, {paths['md'].name}, {paths['json'].name}")
    for failure in failures:
        say_error(f"release gate: {failure}")
    if failures:
        raise typer.Exit(1)


def _compare(models: list[Path], records: list, settings: AuditConfig, thresholds: list, out: Path,
             progress: bool) -> None:
    """``zhaug audit RUN_A RUN_B TEST``: both models on the same perturbed texts (no attack)."""
    from zhaug.train.predict import load_predictor  # torch: imported when a command needs it

    a, b = (load_predictor(path, batch_size=settings.batch_size) for path in models)
    if list(a.labels) != list(b.labels):
        raise ZhaugError(f"the two models have different classes: {list(a.labels)} and {list(b.labels)}")
    comparison = compare_models(a.predict_proba, b.predict_proba, records, settings, labels=list(a.labels),
                                names=(str(models[0]), str(models[1])), progress=progress)
    failures = check(comparison, thresholds)
    if thresholds:
        comparison["gate"] = {"thresholds": [str(t) for t in thresholds], "failures": failures}
    atomic_write_text(out / "comparison.json", json.dumps(comparison, ensure_ascii=False, indent=2))
    atomic_write_text(out / "comparison.md", comparison_markdown(comparison))
    say(comparison_markdown(comparison))
    for failure in failures:
        typer.secho(f"release gate (B − A): {failure}", fg="red", err=True)
    if failures:
        raise typer.Exit(1)


def summary_table(report: dict) -> Table:
    """Per family at the highest severity audited: accuracy, its drop and the flip rate."""
    top = max(report["meta"]["severities"])
    clean = report["clean"]["accuracy"]["value"]
    score = "—" if report["score"] is None else f"{report['score']:.1f}"
    table = Table(title=f"zhaug audit · {report['meta']['n_rows']} rows · clean accuracy {clean:.3f} · "
                  f"robustness score {score} · severity {top}")
    for column in ("family", "exp.", "accuracy", "acc. drop", "flip rate"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for cell in report["cells"]:
        if cell["severity"] == top:
            table.add_row(cell["family"], cell["expectation"], f"{cell['accuracy']['value']:.3f}",
                          f"{cell['accuracy_drop']['value']:.3f}", f"{cell['flip_rate']['value']:.3f}")
    attack = report.get("attack")
    if attack and attack["success_rate"]:
        table.caption = (f"attack: success {attack['success_rate']['value']:.3f} on {attack['n_attacked']} rows, "
                         f"{attack['queries_per_sample']:.1f} queries / row, {attack['seconds_per_sample']:.2f} s / row")
    return table
