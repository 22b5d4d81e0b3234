"""``zhaug augment``: expand a labelled table with gated, reproducible augmentations."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path

import typer
from rich.table import Table

from zhaug.augment.compose import leaf_ops
from zhaug.augment.gates import Candidate, build_gate
from zhaug.augment.gates.base import check_pairs
from zhaug.augment.gates.fluency import FluencyGate
from zhaug.augment.pipeline import FIELDS, Augmenter, AugmentStats
from zhaug.augment.recipes import Recipe, load_recipe, word_level_gates
from zhaug.augment.text import BACKENDS, PROTECTABLE, Segmenter
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
)
from zhaug.errors import InputError
from zhaug.hashing import files_sha256
from zhaug.io import (
    ResumableWriter,
    TableWriter,
    atomic_write_text,
    check_output,
    iter_records,
    iter_rows,
    output_lock,
    table_format,
    write_table,
)
from zhaug.machine import usable_cpus

REJECTED_FIELDS = ["parent_id", "copy", "op", "reason", "text"]


def augment_command(
    input: Path = typer.Argument(..., help="Labelled table: .csv, .tsv, .jsonl or .parquet (UTF-8 or GB18030)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the augmented table."),
    recipe: str = typer.Option("eda", "--recipe", "-r", help="A shipped recipe name or a recipe YAML file."),
    n_aug: int = typer.Option(1, "--n-aug", "-n", min=0, help="Augmented copies per row."),
    balance: bool = typer.Option(False, "--balance", help="Lift every class to the largest class × (1 + n-aug)."),
    seed: int = typer.Option(0, "--seed", help="The only source of randomness."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Processes (Ray actors with --engine ray); the output does not depend on it."),
    engine: Engine = "local",
    ray_address: RayAddress = None,
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
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    no_header: bool = typer.Option(False, "--no-header", help="The table has no header; columns are 0, 1, ..."),
    resume: bool = typer.Option(False, "--resume", help="Skip rows already written by an interrupted run."),
    progress: Progress = None,
) -> None:
    """Augment a labelled table: originals plus gated copies, each with id, parent_id, op, params, seed.

    Example: zhaug augment train.csv -o train_aug.csv --recipe eda --n-aug 4 --seed 7"""
    check_engine(engine)
    stream = stream or engine == "ray"
    if stream and (balance or resume):
        raise typer.BadParameter("--balance and --resume need the whole table in memory", param_hint="--stream / --engine ray")
    rejected_path = output.with_name(f"{output.stem}.rejected{output.suffix}")
    check_output(output, input)
    check_output(rejected_path, input)
    read = partial(iter_records, input, columns(id_col, text_col, label_col), header=not no_header)
    records = [] if stream else list(read())
    table_format(output)  # refuse an unknown output format before any work
    the_recipe = _recipe(recipe, bt_forward, bt_backward, no_gates, gate, teacher)
    settings = {"n_aug": n_aug, "seed": seed, "balance": balance, "keep_originals": keep_originals,
                "workers": cap_workers(workers) if engine == "local" else workers, "segmenter": _segmenter(allow, user_dict, segmenter_backend),
                "progress": progress}
    if engine == "ray":
        from zhaug.augment.distributed import RayAugmenter  # ray: an optional dependency

        augmenter: Augmenter = RayAugmenter(the_recipe, address=ray_address, **settings)
    else:
        augmenter = Augmenter(the_recipe, **settings)
    with output_lock(output):
        if stream:
            stats = AugmentStats()
            with TableWriter(output, FIELDS) as out, TableWriter(rejected_path, REJECTED_FIELDS) as log:
                out.write_rows(augmenter.stream(read, stats, on_reject=lambda c, reason: log.write(_rejection(c, reason))))
        else:
            made_from = {"input": files_sha256(input), "recipe": the_recipe.op.spec(),
                         "gates": [g.name for g in the_recipe.gates], "n_aug": n_aug, "seed": seed, "balance": balance,
                         "keep_originals": keep_originals, "columns": [id_col, text_col, label_col, no_header],
                         "allow": sorted(allow), "user_dict": user_dict and files_sha256(user_dict)}
            stats = _run_resumable(augmenter, records, output, rejected_path, ResumableWriter(
                output, FIELDS, resume=resume, made_from=made_from))
    summary_path = output.with_name(f"{output.stem}.summary.json")
    atomic_write_text(summary_path, json.dumps(stats.as_dict(), ensure_ascii=False, indent=2))
    console().print(summary_table(stats, the_recipe.name))
    remedy = "mode: classic edits anywhere, with more broken copies" + (
        "; --recipe mixed gives most rows a copy" if the_recipe.name != "mixed" else "")
    for op in stats.mostly_unchanged():  # zhaug's own operations abstain where no edit is safe; nlpaug may not know Chinese
        n, of = stats.unchanged[op], stats.generated[op]
        alarming = op == "nlpaug" or n == of  # an operation that never edits: misconfigured, or blind to Chinese
        say(f"{'warning: ' if alarming else ''}{op} left {n} of {of} copies unchanged (dropped); "
            + ("does it work on Chinese?" if op == "nlpaug" else "it found no safe edit there"
               + (f"; safe mode edits only where the copy still reads as Chinese ({remedy})" if alarming else "")))
    say(f"wrote {output} ({stats.rows_out} rows); rejections in {rejected_path}; summary in {summary_path}")


def _run_resumable(augmenter: Augmenter, records: list, output: Path, rejected_path: Path,
                   writer: ResumableWriter) -> AugmentStats:
    """Run, recording finished rows for ``--resume``; a failed run leaves no empty partial file."""
    rejected: list[dict[str, str]] = []
    try:
        rows, stats = augmenter.run(records, writer, on_reject=lambda c, reason: rejected.append(_rejection(c, reason)))
    except BaseException:
        writer.abandon()
        raise
    writer.finish(rows)
    write_table(rejected_path, rejected, REJECTED_FIELDS)
    return stats


def cap_workers(workers: int) -> int:
    """``--workers`` on this machine, at most the CPUs this process may use (each worker may load
    a model: 64 workers on 2 cores exhaust the memory). Ray actors are placed by Ray."""
    cpus = usable_cpus()
    if workers > cpus:
        say(f"--workers {workers}: only {cpus} CPUs available; using {cpus} workers")
    return min(workers, cpus)


def _recipe(name: str, bt_forward: str | None, bt_backward: str | None, no_gates: bool, gates: list[str],
            teacher: Path | None) -> Recipe:
    """The recipe with the command line's translation models and gates, its model gates bound."""
    from zhaug.train.gate_models import bind_models  # torch: imported when a command needs it

    translation = {key: value for key, value in (("forward", bt_forward), ("backward", bt_backward)) if value}
    recipe = load_recipe(name, {"back_translate": translation} if translation else None)
    if translation and any(getattr(op, "backend", None) == "llm" for op in leaf_ops(recipe.op)):
        raise typer.BadParameter(
            f"recipe {recipe.name!r} back-translates with the local chat model; translation folders need "
            "--recipe bt-marian (or a recipe with back_translate backend transformers / ctranslate2)",
            param_hint="--bt-forward / --bt-backward",
        )
    extra = [build_gate(spec) for spec in gates]
    if teacher is not None:
        extra.append(build_gate({"teacher": {"model": str(teacher)}}))
    return bind_models(replace(recipe, gates=([] if no_gates else recipe.gates) + extra))


def _segmenter(allow: list[str], user_dict: Path | None, backend: str) -> Segmenter:
    """The segmenter protecting every kind of span but those ``--allow`` names."""
    unknown = set(allow) - set(PROTECTABLE)
    if unknown:
        raise typer.BadParameter(f"unknown kinds {sorted(unknown)}; choose from {', '.join(PROTECTABLE)}", param_hint="--allow")
    if backend not in BACKENDS:
        raise typer.BadParameter(f"{backend!r}: choose from {', '.join(BACKENDS)}", param_hint="--segmenter")
    return Segmenter(protect=set(PROTECTABLE) - set(allow), user_dict=user_dict, backend=backend)


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


def _copies_with_their_originals(path: Path, numbered: list, original_col: str, text_col: str) -> list:
    """``zhaug augment`` output as pairs: each copy with its parent's text (the originals are no pairs)."""
    parents = {row.get("id"): row.get(text_col) for _, row in numbered if not row["parent_id"]}
    pairs = []
    for lineno, row in numbered:
        if row["parent_id"]:
            if row["parent_id"] not in parents:
                raise InputError(path, f"parent_id {row['parent_id']!r} is no row of the table", lineno)
            first = {name: row[name] for name in ("id", "parent_id") if name in row}
            pairs.append((lineno, {**first, original_col: parents[row["parent_id"]], **row}))
    return pairs


def gate_command(
    input: Path = typer.Argument(..., help="Pairs: .csv, .tsv, .jsonl or .parquet with columns original and text (optional id, label); or zhaug augment output (its copies are checked against their parent rows)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the pairs with accepted (1/0) and reason."),
    gate: list[str] = typer.Option([], "--gate", help="Gate by name (rules, fluency, length, similarity, dedup); default: the gates of the word-level recipes."),
    lm: str | None = typer.Option(None, "--lm", help="The fluency gate's LM: a character n-gram file, gemma3-270m or a .gguf file (slow; set its thresholds in a recipe). Default: the packaged n-gram."),
    original_col: str = typer.Option("original", "--original-col"),
    text_col: str = typer.Option("text", "--text-col"),
) -> None:
    """Check given (original, copy) pairs from any tool with zhaug's gates.

    Example: zhaug gate pairs.csv -o checked.csv --gate rules --gate fluency"""
    table_format(output)  # refuse an unknown output format before any work
    numbered = list(iter_rows(input))
    if numbered and original_col not in numbered[0][1] and "parent_id" in numbered[0][1]:
        numbered = _copies_with_their_originals(input, numbered, original_col, text_col)
    rows = []
    for lineno, row in numbered:
        missing = [name for name in (original_col, text_col) if name not in row]
        if missing:
            raise InputError(input, f"no column {missing[0]!r} (columns: {', '.join(row)})", lineno)
        rows.append(row)
    from zhaug.train.gate_models import bind_gates  # torch: imported when a command needs it

    gates = [build_gate(name) for name in gate] or word_level_gates()
    for each in gates:
        if lm is not None and isinstance(each, FluencyGate):
            each.set_params(model=lm)
    gates = bind_gates(gates)
    fields = list(dict.fromkeys([*(rows[0] if rows else (original_col, text_col)), "accepted", "reason"]))
    verdicts = check_pairs([(row[original_col], row[text_col]) for row in rows], gates)
    for row, reason in zip(rows, verdicts):
        row.update(accepted="0" if reason else "1", reason=reason or "")
    write_table(output, rows, fields)
    say(f"wrote {output}: {sum(r is None for r in verdicts)} of {len(rows)} pairs accepted ({', '.join(g.name for g in gates)})")
