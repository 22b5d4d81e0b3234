"""``zhaug train`` and ``zhaug predict``. Each command imports the training code when it runs (torch
and transformers take seconds), so ``zhaug --help`` stays fast."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from zhaug.cli.options import IdCol, LabelCol, Progress, TextCol, columns, say, show_progress
from zhaug.errors import ZhaugError
from zhaug.io import Columns, read_records


def train_command(
    train: Path = typer.Option(..., "--train", help="Labelled training table (.csv, .tsv, .jsonl)."),
    out: Path = typer.Option(..., "--out", help="Run folder: best/ checkpoint, metrics.json, tb/ logs."),
    eval: Path | None = typer.Option(None, "--eval", help="Labelled eval table; default: a stratified split by parent."),
    augment: str | None = typer.Option(None, "--augment", help="Online augmentation recipe (fresh copies each epoch)."),
    n_aug: int | None = typer.Option(None, "--n-aug", min=0, help="Online copies per row and epoch."),
    augmented: Path | None = typer.Option(
        None, "--augmented", help="Offline augmentation output (zhaug augment); also read from --train when it "
        "has a parent_id column."),
    model: str | None = typer.Option(None, "--model", help="Hub id or local folder; default: the embedded model."),
    config: Path | None = typer.Option(None, "--config", help="YAML training config (e.g. configs/train/default.yaml)."),
    max_length: int | None = typer.Option(None, "--max-length", min=2),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    epochs: int | None = typer.Option(None, "--epochs", min=1),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Fixed budget of optimizer steps."),
    min_steps: int | None = typer.Option(None, "--min-steps", min=0, help="Whole epochs until at least this many steps."),
    lr: float | None = typer.Option(None, "--lr", help="Encoder learning rate (default: the model's own)."),
    head_lr_multiplier: float | None = typer.Option(None, "--head-lr-multiplier"),
    schedule: str | None = typer.Option(None, "--schedule", help="linear or cosine decay after warm-up."),
    freeze_embeddings: bool | None = typer.Option(None, "--freeze-embeddings/--no-freeze-embeddings"),
    freeze_layers: int | None = typer.Option(None, "--freeze-layers", min=0, help="Freeze the first k layers."),
    cache_frozen: bool | None = typer.Option(
        None, "--cache-frozen/--no-cache-frozen",
        help="Run frozen embeddings and layers once per text (default; no dropout there)."),
    head_only: bool | None = typer.Option(
        None, "--head-only/--no-head-only", help="Never update the encoder; with the probe head: the linear probe."),
    head_init: str | None = typer.Option(None, "--head-init", help="probe (LP-FT, default) or random."),
    contrastive: int | None = typer.Option(
        None, "--contrastive", min=0, help="Contrastive few-shot stage (SetFit) before the probe: pairs per labelled "
        "row (20 is SetFit's; 0 = off). With --head-only: SetFit itself."),
    pooling: str | None = typer.Option(None, "--pooling", help="mean or cls (default: the model's own)."),
    prefix: str | None = typer.Option(None, "--prefix", help="Text put before every input (default: the model's own)."),
    class_weights: str | None = typer.Option(None, "--class-weights", help="none or balanced."),
    eval_every: int | None = typer.Option(None, "--eval-every", min=1, help="Steps between evaluations."),
    patience: int | None = typer.Option(None, "--patience", min=1, help="Early stopping on macro-F1."),
    aug_weight: float | None = typer.Option(None, "--aug-weight", min=0, help="Loss weight of augmented rows."),
    consistency_weight: float | None = typer.Option(None, "--consistency-weight", min=0, help="UDA-style KL weight."),
    seed: int | None = typer.Option(None, "--seed"),
    threads: int | None = typer.Option(None, "--threads", min=1),
    unlabeled: Path | None = typer.Option(
        None, "--unlabeled", help="Unlabelled table (id,text) for semi-supervised training (see --ssl)."),
    ssl: str = typer.Option("auto", "--ssl", help="Semi-supervised method with --unlabeled: auto (the measured "
                            "default: probe-self-training up to 50 labelled rows in the smallest class, the supervised "
                            "default without the pool above, where the pool cost points), probe-self-training (the "
                            "linear probe self-trained on the pool's frozen features; no fine-tuning), self-training "
                            "(pseudo-label rounds of fine-tuning), uda or fixmatch (consistency on augmented copies; "
                            "see docs/train.md)."),
    max_unlabeled: int = typer.Option(5000, "--max-unlabeled", min=1, help="Unlabelled rows used at most."),
    defence: str | None = typer.Option(
        None, "--defence", help="A defence against character noise, recorded in the run and re-applied by predict "
        "and audit: canonical (text canonicalised before tokenisation: width, invisible characters, traditional, "
        "homophone and look-alike clusters), canonical-keep500 (the 500 commonest characters kept), normalise "
        "(width, invisible characters and traditional only), noise-consistency (noise copies + KL term), none; "
        "recommended = the measured best (benchmarks/defence.py)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out."),
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    progress: Progress = None,
) -> None:
    """Fine-tune a classifier, keep the best checkpoint by eval macro-F1, write metrics.json.

    Under torchrun / accelerate launch, each process trains on its shard of every batch and rank 0
    writes (see docs/scale.md).

    Example: zhaug train --train train.csv --eval dev.csv --out runs/r1 [--unlabeled pool.csv]"""
    from zhaug.train.config import defence_settings, load_config  # torch: imported when the command runs
    from zhaug.train.models.resolve import check_max_length

    if augment and augmented:
        raise ZhaugError("use either --augment (online) or --augmented (offline), not both")
    settings = load_config(
        config, model=model, augment=augment, n_aug=n_aug, max_length=max_length, batch_size=batch_size,
        epochs=epochs, max_steps=max_steps, min_steps=min_steps, lr=lr, head_lr_multiplier=head_lr_multiplier, schedule=schedule,
        freeze_embeddings=freeze_embeddings, freeze_layers=freeze_layers, cache_frozen=cache_frozen, head_only=head_only,
        head_init=head_init, contrastive=contrastive, pooling=pooling, prefix=prefix,
        class_weights=class_weights, eval_every=eval_every, patience=patience, aug_weight=aug_weight,
        consistency_weight=consistency_weight, seed=seed, threads=threads,
    ).replace(**defence_settings(defence))
    if max_length is not None:
        check_max_length(settings.model, max_length)
    tables = columns(id_col, text_col, label_col)  # of --train, --eval and --unlabeled
    result = _fit(settings, train, eval, augmented, unlabeled, out, ssl, max_unlabeled, resume, progress, tables)
    best = result["eval"]
    if result.get("cut_to_max_length"):
        say(f"{result['cut_to_max_length']} of {result['train_rows']} training texts are longer than "
            f"{result['max_length']} tokens: the model saw their first {result['max_length']} (raise --max-length to see more)")
    if "contrastive" in result and not contrastive:
        say(f"few labels ({result['train_rows']} training rows): trained SetFit-style, the contrastive stage "
            f"({result['contrastive']['steps']} steps) and the probe, no fine-tuning; few_shot: 0 in --config to fine-tune")
    rows = result.get("eval_rows")
    scored = f" on {rows} dev rows" + (" (too few to trust: pass --eval)" if rows < 30 else "") if rows else ""
    _say_baseline(result)
    say(f"best step {result['best_step']}/{result['steps']}: accuracy {best['accuracy']:.4f}, "
        f"macro-F1 {best['macro_f1']:.4f}{scored}; model in {out / 'best'}, metrics in {out / 'metrics.json'}")
    if result.get("head_refit_rows"):
        say(f"no steps to choose between: the head in best/ was then fitted on all {result['head_refit_rows']} "
            f"labelled rows, the dev rows included (the dev figures above are from before)")


def _say_baseline(result: dict[str, Any]) -> None:
    """The simple baseline beside the result: the head a linear probe fitted before fine-tuning
    (LP-FT), evaluated at step 0 on the same dev rows."""
    history = result.get("history") or []
    if not result.get("steps") or not history or history[0]["step"] != 0:
        return  # no fine-tuning (the probe is the result), or a head that was not a probe
    what = ("the linear probe self-trained on the unlabelled rows" if "pseudo_labelled" in result
            else "the contrastive stage and the linear probe" if "contrastive" in result
            else "the linear probe on the frozen encoder")
    say(f"before fine-tuning, {what}: accuracy {history[0]['accuracy']:.4f}, macro-F1 {history[0]['macro_f1']:.4f}"
        + ("; fine-tuning did not beat it, so best/ holds it" if result["best_step"] == 0 else ""))


def _fit(settings: Any, train: Path, eval: Path | None, augmented: Path | None, unlabeled: Path | None, out: Path,
         ssl: str, max_unlabeled: int, resume: bool, progress: bool, tables: Columns) -> dict[str, Any]:
    """Read the tables, train (supervised, or with the unlabelled table), write the model card."""
    from zhaug.train.checkpoint import write_model_card  # torch: imported when the command runs
    from zhaug.train.data import read_children, read_training_table
    from zhaug.train.trainer import Trainer

    records, children = read_training_table(train, tables)
    for parent, texts in (read_children(augmented, records) if augmented else {}).items():
        children.setdefault(parent, []).extend(texts)
    eval_records = read_records(eval, tables) if eval else None
    if unlabeled is not None:
        result = _semi_supervised(records, unlabeled, eval_records, out, settings, ssl, max_unlabeled, progress,
                                  tables)
    else:
        result = Trainer(settings, progress=progress).fit(records, eval_records, out_dir=out, children=children,
                                                          resume=resume)
    write_model_card(out, result, ["zhaug", *sys.argv[1:]])
    return result


def _semi_supervised(records: list, unlabeled: Path, eval_records: list | None, out: Path, settings: Any,
                     method: str, max_unlabeled: int, progress: bool, tables: Columns) -> dict:
    """Train with the unlabelled table; the result in the shape ``Trainer.fit`` returns it."""
    from zhaug.train.config import POOL_PAYS_UP_TO, SSL_METHODS
    from zhaug.train.self_training import SelfTraining, self_train  # torch: imported when the command runs
    from zhaug.train.trainer import Trainer

    if method not in ("auto", "self-training", *SSL_METHODS):
        raise typer.BadParameter(f"{method!r}: choose auto, self-training, {', '.join(SSL_METHODS)}", param_hint="--ssl")
    pool = read_records(unlabeled, tables, require_label=False)
    if method == "auto":
        smallest = min(Counter(r.label for r in records).values())
        chosen = settings.with_pool(smallest)
        if chosen is None:
            say(f"{unlabeled}: not used — with {smallest} labelled rows in the smallest class (over {POOL_PAYS_UP_TO}) "
                f"an unlabelled pool cost accuracy in zhaug's studies (docs/train.md); pass --ssl to use it anyway")
            return Trainer(settings, progress=progress).fit(records, eval_records, out_dir=out)
        method, settings = chosen.ssl, chosen
    if method in SSL_METHODS:
        config = settings.with_ssl(method).replace(max_unlabeled=max_unlabeled)
        result = Trainer(config, progress=progress).fit(records, eval_records, out_dir=out, unlabeled=pool)
        say(f"{method}: {result['unlabeled']['rows']} unlabelled rows")
        return result
    summary = self_train(records, pool, eval_records, out_dir=out, config=settings,
                         settings=SelfTraining(max_unlabeled=max_unlabeled), progress=progress)
    rounds = summary["rounds"]
    scores = ", ".join(f"{r['eval']['accuracy']:.4f}" for r in rounds)
    say(f"self-training: {summary['pool']['rows']} unlabelled rows; dev accuracy by round {scores}; "
               f"kept round {summary['chosen_round']}")
    return {"eval": summary["eval"], "best_step": rounds[summary["chosen_round"]]["steps"],
            "steps": rounds[summary["chosen_round"]]["steps"]}


def predict_command(
    run_dir: Path = typer.Argument(..., help="A run folder written by zhaug train (or its best/), or a transformers classifier folder."),
    input: Path = typer.Argument(..., help="Table with id and text columns (.csv, .tsv, .jsonl)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write id,label,empty[,p_<label>...]."),
    proba: bool = typer.Option(False, "--proba", help="Also write each class's probability."),
    quantize: str | None = typer.Option(None, "--quantize", help="int8: dynamic quantisation (faster on CPU)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    flag_empty: bool = typer.Option(False, "--flag-empty", help="Add a column empty: 1 where the text is empty or blank."),
    id_col: IdCol = "id",
    text_col: TextCol = "text",
    progress: Progress = None,
) -> None:
    """Predict a label for every row, in input order (id,label); empty texts are predicted too and counted.

    Example: zhaug predict runs/r1 test.csv -o predictions.csv --proba"""
    from zhaug.train.predict import predict_file  # torch: imported when the command runs

    rows = predict_file(run_dir, input, output, proba=proba, quantize=quantize, batch_size=batch_size,
                        columns=columns(id_col, text_col), progress=show_progress(progress), flag_empty=flag_empty)
    empty, cut = sum(r["empty"] for r in rows), sum(r["cut"] for r in rows)
    say(f"wrote {output} ({len(rows)} rows" + (f"; {empty} with an empty text, predicted all the same"
                                               + ("" if flag_empty else ": --flag-empty marks them") if empty else "")
        + (f"; {cut} longer than the model's max length, predicted from their start" if cut else "") + ")")
