"""``zhaug augment``: expand a labelled table with gated, reproducible augmentations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from zhaug.augment.base import Operation
from zhaug.augment.compose import Compose
from zhaug.augment.gates import Candidate, build_gate
from zhaug.augment.pipeline import FIELDS, Augmenter, AugmentStats
from zhaug.augment.recipes import load_recipe
from zhaug.augment.text import BACKENDS, PROTECTABLE, Segmenter
from zhaug.io import Columns, ResumableWriter, TableWriter, iter_records, table_format, write_table

REJECTED_FIELDS = ["parent_id", "copy", "op", "reason", "text"]


def augment_command(
    input: Path = typer.Argument(..., help="Labelled table: .csv, .tsv, .jsonl or .parquet (UTF-8 or GB18030)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the augmented table."),
    recipe: str = typer.Option("eda", "--recipe", "-r", help="A shipped recipe name or a recipe YAML file."),
    n_aug: int = typer.Option(1, "--n-aug", "-n", min=0, help="Augmented copies per row."),
    balance: bool = typer.Option(False, "--balance", help="Lift every class to the largest class × (1 + n-aug)."),
    seed: int = typer.Option(0, "--seed", help="The only source of randomness."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Processes (Ray actors with --engine ray); the output does not depend on it."),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or ray (a Ray cluster; streams)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help='Ray cluster to join, e.g. "auto" or host:6379 (default: a local one).'),
    stream: bool = typer.Option(False, "--stream", help="Read and write row by row: memory stays flat (no --balance / --resume)."),
    keep_originals: bool = typer.Option(True, "--keep-originals/--no-originals", help="Also write the input rows."),
    gate: list[str] = typer.Option([], "--gate", help="Extra gate by name (length, rules, similarity, dedup)."),
    teacher: Path | None = typer.Option(None, "--teacher", help="Add the teacher gate with this classifier folder."),
    bt_forward: str | None = typer.Option(None, "--bt-forward", help="zh → pivot translation model (folder or hub id; recipe bt-marian)."),
    bt_backward: str | None = typer.Option(None, "--bt-backward", help="pivot → zh translation model (folder or hub id)."),
    no_gates: bool = typer.Option(False, "--no-gates", help="Drop the recipe's gates."),
    allow: list[str] = typer.Option([], "--allow", help=f"Let operations edit this protected kind: {', '.join(PROTECTABLE)}."),
    user_dict: Path | None = typer.Option(None, "--user-dict", help="jieba user dictionary (word [freq] [tag])."),
    segmenter_backend: str = typer.Option("jieba-rs", "--segmenter", help="jieba-rs (fast) or jieba (the Python package): same dictionary and algorithm."),
    id_col: str = typer.Option("id", "--id-col"),
    text_col: str = typer.Option("text", "--text-col"),
    label_col: str = typer.Option("label", "--label-col"),
    no_header: bool = typer.Option(False, "--no-header", help="The table has no header; columns are 0, 1, ..."),
    resume: bool = typer.Option(False, "--resume", help="Skip rows already written by an interrupted run."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Augment a labelled table: originals plus gated copies, each with id, parent_id, op, params, seed."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r}: choose local or ray", param_hint="--engine")
    stream = stream or engine == "ray"
    if stream and (balance or resume):
        raise typer.BadParameter("--balance and --resume need the whole table in memory", param_hint="--stream / --engine ray")
    columns = Columns(id=id_col, text=text_col, label=label_col)
    read = partial(iter_records, input, columns, header=not no_header)
    records = [] if stream else list(read())
    table_format(output)  # refuse an unknown output format before any work
    translation = {key: value for key, value in (("forward", bt_forward), ("backward", bt_backward)) if value}
    the_recipe = load_recipe(recipe, {"back_translate": translation} if translation else None)
    if translation and any(getattr(op, "backend", None) == "llm" for op in leaf_ops(the_recipe.op)):
        raise typer.BadParameter(
            f"recipe {the_recipe.name!r} back-translates with the local chat model; translation folders need "
            "--recipe bt-marian (or a recipe with back_translate backend transformers / ctranslate2)",
            param_hint="--bt-forward / --bt-backward",
        )
    if no_gates:
        the_recipe.gates = []
    the_recipe.gates += [build_gate(name) for name in gate]
    if teacher is not None:
        the_recipe.gates.append(build_gate({"teacher": {"model": str(teacher)}}))
    unknown = set(allow) - set(PROTECTABLE)
    if unknown:
        raise typer.BadParameter(f"unknown kinds {sorted(unknown)}; choose from {', '.join(PROTECTABLE)}", param_hint="--allow")
    if segmenter_backend not in BACKENDS:
        raise typer.BadParameter(f"{segmenter_backend!r}: choose from {', '.join(BACKENDS)}", param_hint="--segmenter")
    segmenter = Segmenter(protect=set(PROTECTABLE) - set(allow), user_dict=user_dict, backend=segmenter_backend)
    settings = {"n_aug": n_aug, "seed": seed, "balance": balance, "keep_originals": keep_originals,
                "workers": workers, "segmenter": segmenter, "progress": progress}
    if engine == "ray":
        from zhaug.augment.distributed import RayAugmenter

        augmenter: Augmenter = RayAugmenter(the_recipe, address=ray_address, **settings)
    else:
        augmenter = Augmenter(the_recipe, **settings)
    rejected_path = output.with_name(f"{output.stem}.rejected{output.suffix}")
    if stream:
        stats = AugmentStats()
        with TableWriter(output, FIELDS) as out, TableWriter(rejected_path, REJECTED_FIELDS) as log:
            out.write_rows(augmenter.stream(read, stats, on_reject=lambda c, reason: log.write(_rejection(c, reason))))
    else:
        rejected: list[dict[str, str]] = []
        writer = ResumableWriter(output, FIELDS, resume=resume)
        rows, stats = augmenter.run(records, writer, on_reject=lambda c, reason: rejected.append(_rejection(c, reason)))
        writer.finish(rows)
        write_table(rejected_path, rejected, REJECTED_FIELDS)
    summary_path = output.with_name(f"{output.stem}.summary.json")
    summary_path.write_text(json.dumps(stats.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    Console(stderr=True).print(summary_table(stats, the_recipe.name))
    typer.echo(f"wrote {output} ({stats.rows_out} rows); rejections in {rejected_path}; summary in {summary_path}", err=True)


def leaf_ops(op: Operation) -> Iterator[Operation]:
    """The operations inside ``op`` (itself if it composes nothing)."""
    children = op.ops if isinstance(op, Compose) else []
    if not children:
        yield op
    for child in children:
        yield from leaf_ops(child)


def _rejection(candidate: Candidate, reason: str) -> dict[str, str]:
    """A row of the rejection log."""
    return {"parent_id": candidate.parent.id, "copy": str(candidate.copy), "op": candidate.op,
            "reason": reason, "text": candidate.text}


def summary_table(stats: AugmentStats, recipe: str) -> Table:
    """Rows in / out, then per operation: generated, accepted, and rejections by reason."""
    table = Table(title=f"zhaug augment · recipe {recipe} · {stats.rows_in} rows in "
                  f"({stats.empty} empty, {stats.resumed} resumed) → {stats.rows_out} rows out")
    for column in ("operation", "generated", "accepted", "rejected: reason"):
        table.add_column(column, justify="left" if column[0] in "or" else "right")
    for op in sorted(stats.generated):
        reasons = "; ".join(f"{n} {reason}" for (o, reason), n in sorted(stats.rejected.items()) if o == op)
        table.add_row(op, str(stats.generated[op]), str(stats.accepted[op]), reasons or "—")
    return table
