"""The fine-tuning loop: a lean CPU loop over dynamically padded, length-grouped batches.

Determinism: the eval split, the batch order of epoch ``e`` (a ``torch.Generator`` seeded from
``(seed, "order", e)``), online augmentations (copy numbers ``e * n_aug + k``) and dropout (the
torch RNG is re-seeded from ``(seed, "step", s)`` before step ``s``) are all keyed on the seed,
so the same seed gives the same metrics and a resumed run continues exactly where it stopped.
Under ``torchrun`` each process takes its shard of every batch (see :mod:`zhaug.train.distributed`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from sklearn.utils.class_weight import compute_class_weight
from torch.utils import deterministic
from torch.utils.tensorboard import SummaryWriter
from transformers import get_scheduler

from zhaug import hashing
from zhaug.augment.pipeline import augment_records
from zhaug.augment.recipes import load_recipe
from zhaug.errors import ZhaugError
from zhaug.hashing import derive_seed
from zhaug.io import Record, atomic_write_text, comparable
from zhaug.progress import progress_bar
from zhaug.rng import derive_rng
from zhaug.train.checkpoint import finish_last, last_state, load_last, save_best, save_last
from zhaug.train.config import SSL_METHODS, TrainConfig
from zhaug.train.contrastive import Contrastive, tune_contrastive
from zhaug.train.data import (
    Children,
    Row,
    batch_order,
    check_labels,
    clean_pool,
    defended,
    encode,
    epoch_rows,
    guard_children,
    label_names,
    pad,
    split_by_parent,
    too_long,
)
from zhaug.train.distributed import Ranks, ranks_from_env
from zhaug.train.frozen import FrozenLowerClassifier
from zhaug.train.heads import (
    encoder_format,
    fit_probe,
    init_head,
    pooled_features,
    self_trained_probe,
    set_pooling,
    with_prefix,
)
from zhaug.train.metrics import classification_metrics
from zhaug.train.models.catalog import fine_tuning_lr
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import model_identity, model_positions, resolve_model
from zhaug.train.predict import batched_logits

NO_DECAY = ("bias", "LayerNorm", "layer_norm", "norm")
POOL_EVALUATIONS = 8
"""With an unlabelled pool and no ``eval_every``, evaluations per run (by steps, not epochs: an
epoch of 20 labelled rows is 2 steps, and patience would end the run before the pool's term has
ramped up)."""


@contextlib.contextmanager
def torch_settings(threads: int) -> Iterator[None]:
    """Deterministic kernels, ``threads`` threads and a private RNG state, restored on exit.

    New tensors are not NaN-filled (the deterministic mode's default): that costs time and only
    matters for code that reads uninitialised memory.
    """
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                deterministic.fill_uninitialized_memory)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    deterministic.fill_uninitialized_memory = False
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])
        deterministic.fill_uninitialized_memory = previous[2]


def seed_torch(*key: object) -> None:
    """Seed torch's RNG (used by weight init and dropout) from a key."""
    torch.manual_seed(derive_seed(*key) % 2**63)


def encoder_layers(encoder: torch.nn.Module) -> torch.nn.ModuleList:
    """The stack of transformer layers (ALBERT: its layer groups, usually one shared by all layers)."""
    stack = getattr(encoder, "encoder", encoder)
    for name in ("layer", "albert_layer_groups", "layers"):
        if isinstance(getattr(stack, name, None), torch.nn.ModuleList):
            return getattr(stack, name)
    raise ZhaugError(f"cannot find the layers of {type(encoder).__name__} to freeze")


def parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Apply the freezing options; AdamW groups for the encoder (``lr``) and the head
    (``lr × head_lr_multiplier``), without weight decay for biases and norms."""
    encoder = getattr(model, model.base_model_prefix)
    if config.head_only:
        encoder.requires_grad_(False)
    if config.freeze_embeddings:
        encoder.embeddings.requires_grad_(False)
        mapping = getattr(encoder.encoder, "embedding_hidden_mapping_in", None)  # ALBERT's projection
        if config.cache_frozen and mapping is not None:
            mapping.requires_grad_(False)
    if config.freeze_layers:
        layers = encoder_layers(encoder)
        if config.freeze_layers > len(layers):
            raise ZhaugError(f"freeze_layers={config.freeze_layers}, but the model has {len(layers)} layer (group)s")
        for layer in layers[: config.freeze_layers]:
            layer.requires_grad_(False)
    in_encoder = {id(p) for p in encoder.parameters()}
    groups = []
    for is_encoder, lr in ((True, config.lr), (False, config.lr * config.head_lr_multiplier)):
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad and (id(p) in in_encoder) == is_encoder]
        for decay in (True, False):
            params = [p for n, p in named if any(k in n for k in NO_DECAY) != decay]
            if params:
                groups.append({"params": params, "lr": lr, "weight_decay": config.weight_decay if decay else 0.0})
    return groups


def loss_totals(rows: Sequence[Row], class_weight: torch.Tensor | None) -> tuple[torch.Tensor, int]:
    """What a batch's loss is normalised by: its total row weight (× class weight) and its number of pairs."""
    labels = torch.tensor([r.label for r in rows])
    weights = torch.tensor([r.weight for r in rows])
    scale = weights * (class_weight[labels] if class_weight is not None else 1.0)
    return scale.sum(), sum(r.pair is not None for r in rows)


@dataclass
class TrainData:
    """A run's data once split and checked: originals, eval set, label names, leakage-guarded
    offline children (and what was dropped), the online recipe, and the run's fingerprint."""

    train: list[Record]
    eval: list[Record]
    labels: list[str]
    eval_texts: set[str]
    offline: Children
    dropped: Counter
    recipe: Any
    fingerprint: str
    pool: list[Record] = field(default_factory=list)
    pool_info: dict[str, Any] | None = None
    split_here: bool = False
    """Whether ``eval`` was held out of the given training rows (no eval set was passed)."""

    @property
    def label_ids(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}

    @cached_property
    def prior(self) -> torch.Tensor:
        """The class shares of the labelled training rows (distribution alignment's target)."""
        counts = torch.bincount(torch.tensor([self.label_ids[r.label] for r in self.train]), minlength=len(self.labels))
        return counts.float() / counts.sum()

    @property
    def eval_y(self) -> list[int]:
        return [self.label_ids[r.label] for r in self.eval]


def prepare_data(
    config: TrainConfig, train: list[Record], eval: list[Record] | None, children: Children,
    unlabeled: Sequence[Record] | None = None,
) -> TrainData:
    """Hold out an eval split when none is given, check the labels, guard the offline children,
    clean the unlabelled pool (eval texts, duplicates and rows over ``max_unlabeled`` removed)."""
    if (unlabeled is not None) != (config.ssl is not None):
        raise ZhaugError(f"an unlabelled pool needs ssl: {', '.join(SSL_METHODS)} (or self-training), and ssl needs the pool")
    split_here = eval is None
    if split_here:
        train, eval = split_by_parent(train, config.eval_fraction, config.seed)
    labels = label_names(train)
    check_labels(eval, labels, "eval set")
    eval_texts = {comparable(r.text) for r in eval}
    offline, dropped = guard_children(children, train, eval_texts)
    recipe = load_recipe(config.augment) if config.augment and config.n_aug else None
    pool, pool_info = clean_pool(unlabeled, eval, config.max_unlabeled) if unlabeled is not None else ([], None)
    if unlabeled is not None and not pool:
        raise ZhaugError("the unlabelled pool is empty once eval texts and duplicates are removed")
    identity = (config.identity(), train, eval, sorted(offline.items())) + ((pool_info["checksum"],) if pool else ())
    return TrainData(train, eval, labels, eval_texts, offline, dropped, recipe, hashing.key(*identity), pool, pool_info,
                     split_here)


def pool_views(config: TrainConfig, data: TrainData, epoch: int) -> list[str]:
    """Epoch ``epoch``'s augmented copy of each unlabelled row (the strong view of consistency training)."""
    if not (data.pool and config.consistency):
        return []
    return augment_records(data.pool, load_recipe(config.ssl_augment), seed=config.seed, copy=epoch)


def epoch_data(config: TrainConfig, data: TrainData, epoch: int) -> tuple[list[Row], Counter]:
    """Epoch ``epoch``'s rows (originals, offline children, fresh online copies) and the online
    copies the leakage guard dropped."""
    kids, extra = data.offline, Counter()
    if data.recipe is not None:
        copies = [augment_records(data.train, data.recipe, seed=config.seed, copy=epoch * config.n_aug + k)
                  for k in range(config.n_aug)]
        online = {r.id: data.offline.get(r.id, []) + [texts[i] for texts in copies] for i, r in enumerate(data.train)}
        kids, extra = guard_children(online, data.train, data.eval_texts)
    rows = epoch_rows(data.train, kids, data.label_ids, aug_weight=config.aug_weight,
                      pairs=config.consistency_weight > 0, seed=config.seed, epoch=epoch)
    return rows, extra


def class_weights(config: TrainConfig, data: TrainData) -> torch.Tensor | None:
    """Inverse class frequencies with ``class_weights: balanced``, else ``None``."""
    if config.class_weights != "balanced":
        return None
    y = [data.label_ids[r.label] for r in data.train]
    return torch.tensor(compute_class_weight("balanced", classes=np.arange(len(data.labels)), y=y), dtype=torch.float)


def budget(config: TrainConfig, rows_per_epoch: int, pool_rows: int = 0) -> tuple[int, int]:
    """``(epochs, optimizer steps)``: ``max_steps`` when set, else whole epochs, at least
    ``epochs`` and ``min_steps`` steps, and with an unlabelled pool enough steps to see each of
    its rows once; no step for the linear probe (``head_only`` and ``head_init: probe``)."""
    per_epoch = math.ceil(rows_per_epoch / config.batch_size)
    pool_steps = math.ceil(pool_rows / (config.unlabeled_ratio * config.batch_size)) if pool_rows else 0
    epochs = max(config.epochs, math.ceil(max(config.min_steps, pool_steps) / per_epoch))
    if config.head_only and config.head_init == "probe":
        return epochs, 0
    return epochs, config.max_steps or epochs * per_epoch


@dataclass
class LoopState:
    """Where a run stands; saved as ``last/state.json`` at every evaluation, so ``--resume``
    continues exactly. ``best`` holds the best evaluation's metrics."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    best_f1: float = -1.0
    best_step: int = 0
    bad_evals: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0
    done: bool = False
    fingerprint: str = ""
    best: dict[str, Any] | None = None
    contrastive: dict[str, Any] | None = None
    pseudo_labelled: list[int] | None = None


def previous_state(out: Path, fingerprint: str, resume: bool) -> LoopState | None:
    """The loop state of the run already in ``out`` (``None``: there is none); refuses to
    continue without ``resume`` or with other data or config."""
    state = last_state(out)
    if state is None:
        return None
    if not resume:
        raise ZhaugError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    if state["fingerprint"] != fingerprint:
        raise ZhaugError(f"{out} holds a run with other data or config; choose another --out")
    return LoopState(**state)


@dataclass
class Run:
    """What one ``fit`` works with: config, data, model, optimiser, schedule, the current epoch's
    rows, the encoded eval set, where it writes, the loop state and the running train loss."""

    config: TrainConfig
    data: TrainData
    model_path: Path
    out: Path
    ranks: Ranks
    tokenizer: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    class_weight: torch.Tensor | None
    epochs: int
    total: int
    rows: list[Row]
    loop: LoopState
    eval_ids: list[list[int]] = field(default_factory=list)
    writer: SummaryWriter | None = None
    bar: Any = None
    running: float = 0.0
    seen: int = 0
    clock: float = 0.0
    views: list[str] = field(default_factory=list)
    cached: FrozenLowerClassifier | None = None
    pool_features: np.ndarray | None = None
    refit_rows: int = 0

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def logits(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        """The model's logits for token-id sequences (through the frozen-part cache when there is one)."""
        if self.cached is not None:
            return self.cached(sequences)
        return self.model(**pad(sequences, self.pad_id)).logits

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts`` in the run's input format (prefix, max length)."""
        return encode(self.tokenizer, with_prefix(self.config.prefix, texts), self.config.max_length)


def align(probs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Distribution alignment (ReMixMatch, Berthelot et al. 2020): ``probs`` rescaled so that
    their mean over the rows is ``prior``, then renormalised. Sharpened or arg-max targets from
    a few labels drift towards one class and feed on themselves; this pulls them back."""
    aligned = probs * prior / probs.mean(dim=0).clamp_min(1e-6)
    return aligned / aligned.sum(dim=-1, keepdim=True)


class Trainer:
    """Fine-tunes a sequence classifier (the embedded default model, a hub id or a local folder).

    ``Trainer(config).fit(train, eval, out_dir=...)`` trains, keeps the best checkpoint by eval
    macro-F1 in ``out_dir/best`` and returns the metrics also written to ``out_dir/metrics.json``.
    """

    def __init__(self, config: TrainConfig = TrainConfig(), *, progress: bool | None = None):
        self.config = config
        self.progress = progress

    def fit(
        self,
        train: Sequence[Record],
        eval: Sequence[Record] | None = None,
        *,
        out_dir: str | os.PathLike[str],
        children: Children | None = None,
        resume: bool = False,
        unlabeled: Sequence[Record] | None = None,
    ) -> dict[str, Any]:
        """Train on ``train`` (plus offline augmented ``children`` by parent id, and online
        augmentations when the config names a recipe) and evaluate on ``eval`` (default: a
        stratified split of ``train``). ``unlabeled``: the pool of consistency training (the
        config's ``ssl``). ``resume`` continues the run in ``out_dir``."""
        with torch_settings(self.config.torch_threads):
            return self._fit(list(train), list(eval) if eval is not None else None, Path(out_dir), children or {},
                             resume, unlabeled)

    def _fit(
        self, train: list[Record], eval: list[Record] | None, out: Path, children: Children, resume: bool,
        unlabeled: Sequence[Record] | None = None,
    ) -> dict[str, Any]:
        started, config, model_path = time.perf_counter(), self.config, resolve_model(self.config.model)
        if config.lr is None:
            config = config.replace(lr=fine_tuning_lr(model_path))
        config = config.replace(**{k: v for k, v in encoder_format(model_path).items() if getattr(config, k) is None})
        positions = model_positions(model_path)  # a configured max length beyond them would crash on a long text
        config = config.replace(max_length=min(config.max_length, positions or config.max_length))
        data = prepare_data(config, train, eval, children, unlabeled)
        config = config.for_few_labels(min(Counter(r.label for r in data.train).values()), bool(data.pool),
                                       bool(data.offline))
        state = previous_state(out, data.fingerprint, resume)
        if state is not None and state.done:
            return json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        run = self._start(config, data, model_path, out, state)
        if state is None and config.head_init == "probe":
            self._evaluate(run, final=run.total == 0)  # the probe is the first candidate for best/
            if run.total == 0 and data.split_here:
                self._refit_head(run)
        while not run.loop.done:
            self._train_epoch(run)
        return self._finish(run, started)

    def _start(self, config: TrainConfig, data: TrainData, model_path: Path, out: Path,
               state: LoopState | None) -> Run:
        """Load the model; build the optimiser, the schedule and the first epoch's rows; restore
        the last checkpoint when resuming (else write config.yaml); open the logs."""
        ranks = ranks_from_env()
        tokenizer = defended(load_tokenizer(model_path), config.defence)  # the defence: before tokenisation
        model = load_classifier(model_path, len(data.labels), dict(enumerate(data.labels)), seed=config.seed)
        set_pooling(model, config.pooling)
        optimizer = torch.optim.AdamW(parameter_groups(model, config), fused=True)
        rows, online_dropped = epoch_data(config, data, 0)
        data.dropped.update(online_dropped)
        epochs, total = budget(config, len(rows), len(data.pool) if config.consistency else 0)
        scheduler = get_scheduler(config.schedule, optimizer, num_warmup_steps=round(config.warmup_ratio * total),
                                  num_training_steps=total)
        run = Run(config, data, model_path, out, ranks, tokenizer, model, optimizer, scheduler, class_weights(config, data),
                  epochs, total, rows, state or LoopState(fingerprint=data.fingerprint))
        if state is None and config.head_init == "probe":
            self._init_head_from_probe(run)
        ranks.broadcast(model)
        out.mkdir(parents=True, exist_ok=True)
        run.views = pool_views(config, data, run.loop.epoch)
        if state is not None:
            load_last(out, model, optimizer, scheduler)
            run.rows = epoch_data(config, data, state.epoch)[0]
        elif ranks.main:
            atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
        run.eval_ids = run.encode([r.text for r in data.eval])
        if config.cache_frozen:
            run.cached = FrozenLowerClassifier.for_model(model, run.pad_id, config.pooling)
        run.writer = SummaryWriter(str(out / "tb"), purge_step=run.loop.step or None) if ranks.main else None
        run.bar = progress_bar(total=total, initial=run.loop.step, desc="train", unit="step",
                               progress=self.progress if ranks.main else False)
        model.train()
        run.clock = time.perf_counter()
        return run

    def _init_head_from_probe(self, run: Run) -> None:
        """Set the head to a logistic regression on the frozen pooled features of the originals
        (LP-FT), after the contrastive stage when the config asks for it."""
        config, data = run.config, run.data
        if config.contrastive:
            ids, labels = run.encode([r.text for r in data.train]), [data.label_ids[r.label] for r in data.train]
            seed_torch(config.seed, "contrastive")
            settings = Contrastive(iterations=config.contrastive, lr=config.contrastive_lr,
                                   layers=config.contrastive_layers)
            started = time.perf_counter()
            losses = tune_contrastive(getattr(run.model, run.model.base_model_prefix), ids, labels, settings,
                                      config.seed, run.pad_id)
            run.loop.contrastive = {"steps": len(losses), "first_loss": round(losses[0], 4),
                                    "last_loss": round(losses[-1], 4), "seconds": round(time.perf_counter() - started, 1)}
        self._fit_head(run, data.train)

    def _fit_head(self, run: Run, records: Sequence[Record]) -> None:
        """Set the head to the linear probe on ``records``' frozen features, self-trained on the
        pool's when the config says so (the pool's features are computed once per run)."""
        config, data = run.config, run.data
        ids, labels = run.encode([r.text for r in records]), [data.label_ids[r.label] for r in records]
        features = pooled_features(run.model, ids, config.eval_batch_size, run.pad_id)
        balanced = config.class_weights == "balanced"
        if config.ssl == "probe-self-training":
            if run.pool_features is None:
                run.pool_features = pooled_features(run.model, run.encode([r.text for r in data.pool]),
                                                    config.eval_batch_size, run.pad_id)
            weight, bias, taken = self_trained_probe(features, labels, run.pool_features, len(data.labels),
                                                     config.probe_c, balanced)
            run.loop.pseudo_labelled = taken
        else:
            weight, bias = fit_probe(features, labels, len(data.labels), config.probe_c, balanced)
        init_head(run.model, weight, bias)

    def _refit_head(self, run: Run) -> None:
        """A head-only run takes no steps for its held-out rows to choose between: once they have
        given the dev estimate, the head is fitted again on every labelled row, and ``best/`` holds
        that head (with 50 labels, 5 more rows to learn from)."""
        rows = [*run.data.train, *run.data.eval]
        self._fit_head(run, rows)
        run.refit_rows = len(rows)
        self._save_best(run, refit_rows=run.refit_rows)

    def _save_best(self, run: Run, **extra: Any) -> None:
        """Write the model as ``best/``, with the run's labels, config and its best evaluation."""
        if run.ranks.main:
            save_best(run.out, run.model, run.tokenizer, {"labels": run.data.labels, "config": run.config.to_dict(),
                                                          "step": run.loop.best_step, "eval": run.loop.best, **extra})

    def _train_epoch(self, run: Run) -> None:
        """The current epoch's batches (from where a resumed run stopped), evaluating when due;
        at the epoch's end, the next epoch's rows."""
        config, loop, rows = run.config, run.loop, run.rows
        generator = torch.Generator().manual_seed(derive_seed(config.seed, "order", loop.epoch) % 2**63)
        ids = run.encode([r.text for r in rows])
        paired = [i for i, r in enumerate(rows) if r.pair is not None]
        pair_ids = dict(zip(paired, run.encode([rows[i].pair for i in paired])))
        batches = batch_order([len(s) for s in ids], config.batch_size, generator, config.group_by_length)
        for index in batches[loop.batch :]:
            self._step(run, index, ids, pair_ids)
            epoch_end = loop.batch == len(batches)
            last_epoch = epoch_end and config.max_steps is None and loop.epoch + 1 >= run.epochs
            every = config.eval_every or (max(1, run.total // POOL_EVALUATIONS) if config.consistency else None)
            due = epoch_end if every is None else loop.step % every == 0
            if due or last_epoch or loop.step >= run.total:
                self._evaluate(run, final=last_epoch)
            if loop.done:
                return
        loop.epoch, loop.batch = loop.epoch + 1, 0
        run.rows = epoch_data(config, run.data, loop.epoch)[0]
        run.views = pool_views(config, run.data, loop.epoch)
        if run.cached is not None:  # keep what later steps read again: eval rows, the pool, the next epoch's rows
            pool = run.data.pool if config.consistency else []
            run.cached.split.retain(run.eval_ids + run.encode([r.text for r in run.rows] + [r.text for r in pool]))

    def _step(self, run: Run, index: list[int], ids: list[list[int]], pair_ids: dict[int, list[int]]) -> None:
        """One optimiser step on the batch ``index`` (this rank computes its shard), logged."""
        loop, rows, model = run.loop, run.rows, run.model
        seed_torch(run.config.seed, "step", loop.step)
        totals, mine = loss_totals([rows[i] for i in index], run.class_weight), run.ranks.shard(index)
        loss = torch.zeros(())
        if mine:
            loss = self._loss(run, [rows[i] for i in mine], [ids[i] for i in mine], [pair_ids.get(i) for i in mine],
                              totals)
        if run.config.consistency:
            loss = loss + self._unlabeled_loss(run)
        if loss.requires_grad:
            loss.backward()
        run.ranks.sum_gradients(model)
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.config.max_grad_norm)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
        loop.step, loop.batch, loop.samples = loop.step + 1, loop.batch + 1, loop.samples + len(index)
        batch_loss = run.ranks.sum(loss)
        run.running, run.seen = run.running + batch_loss, run.seen + 1
        if run.writer is not None:
            run.writer.add_scalar("train/loss", batch_loss, loop.step)
            run.writer.add_scalar("train/lr", run.scheduler.get_last_lr()[0], loop.step)
        run.bar.update()

    def _unlabeled_loss(self, run: Run) -> torch.Tensor:
        """Consistency on this step's sample of the pool (``unlabeled_ratio`` × ``batch_size``
        rows, drawn from ``(seed, step)``; this rank's shard): the prediction on each row, without
        gradient, is the target for the prediction on its augmented copy, where it is confident."""
        config, pool = run.config, run.data.pool
        count = min(len(pool), config.unlabeled_ratio * config.batch_size)
        drawn = derive_rng(config.seed, "unlabeled", run.loop.step).sample(range(len(pool)), count)
        picked = run.ranks.shard(drawn)
        if not picked:
            return torch.zeros(())
        with torch.no_grad():
            probs = F.softmax(run.logits(run.encode([pool[i].text for i in picked])), dim=-1)
            if config.ssl_align:
                probs = align(probs, run.data.prior)
        confidence, hard = probs.max(dim=-1)
        mask = (confidence >= config.ssl_threshold).float()
        log_probs = F.log_softmax(run.logits(run.encode([run.views[i] for i in picked])), dim=-1)
        if config.ssl == "fixmatch":
            per_row = F.nll_loss(log_probs, hard, reduction="none")
        else:
            target = F.softmax(probs.log() / config.ssl_temperature, dim=-1)
            per_row = -(target * log_probs).sum(dim=-1)
        ramp = min(1.0, (run.loop.step + 1) / max(1, round(0.3 * run.total)))
        if run.writer is not None:
            run.writer.add_scalar("train/ssl_mask", mask.mean().item(), run.loop.step)
        return config.ssl_weight * ramp * (per_row * mask).sum() / count

    def _evaluate(self, run: Run, final: bool) -> None:
        """Evaluate, keep the best checkpoint, decide whether to stop, save the last checkpoint."""
        config, loop, model = run.config, run.loop, run.model
        loop.seconds += time.perf_counter() - run.clock
        model.eval()
        logits = batched_logits(model, run.eval_ids, config.eval_batch_size, run.pad_id, run.logits)
        model.train()
        metrics = classification_metrics(run.data.eval_y, logits.argmax(-1).tolist(), run.data.labels)
        entry = {"step": loop.step, "epoch": loop.epoch, "lr": run.scheduler.get_last_lr()[0],
                 "train_loss": run.running / max(run.seen, 1),
                 "eval_loss": F.cross_entropy(logits, torch.tensor(run.data.eval_y)).item(),
                 **{k: metrics[k] for k in ("accuracy", "macro_f1", "weighted_f1")}}
        loop.history.append(entry)
        for key in ("eval_loss", "accuracy", "macro_f1", "weighted_f1"):
            if run.writer is not None:
                run.writer.add_scalar(f"eval/{key}", entry[key], loop.step)
        run.running, run.seen = 0.0, 0
        self._keep_if_best(run, metrics)
        patience_out = config.patience is not None and loop.bad_evals >= config.patience
        loop.done = final or patience_out or loop.step >= run.total
        if run.ranks.main:
            save_last(run.out, model, run.optimizer, run.scheduler, asdict(loop))
        run.bar.set_postfix(loss=f"{entry['train_loss']:.3f}", f1=f"{metrics['macro_f1']:.3f}")
        run.clock = time.perf_counter()

    def _keep_if_best(self, run: Run, metrics: dict[str, Any]) -> None:
        """Save the model as ``best/`` when its eval macro-F1 beats every earlier evaluation
        (``keep: last``: at every evaluation, so the last one stays); patience counts the others."""
        loop = run.loop
        better = metrics["macro_f1"] > loop.best_f1
        if better:
            loop.best_f1, loop.bad_evals = metrics["macro_f1"], 0
        else:
            loop.bad_evals += 1
        if not better and run.config.keep == "best":
            return
        loop.best_step, loop.best = loop.step, metrics
        self._save_best(run)

    def _finish(self, run: Run, started: float) -> dict[str, Any]:
        """Close the logs, drop the weights resuming no longer needs, write and return the metrics."""
        loop, data = run.loop, run.data
        run.bar.close()
        result = {
            "eval": loop.best, "best_step": loop.best_step, "steps": loop.step, "epochs": loop.epoch,
            "labels": data.labels, "base_model": model_identity(run.model_path), "train_rows": len(data.train),
            "eval_rows": len(data.eval), "rows_per_epoch": len(run.rows), "dropped_children": dict(data.dropped),
            "max_length": run.config.max_length, "cut_to_max_length": sum(too_long(  # texts the encoder sees only the start of
                run.tokenizer, with_prefix(run.config.prefix, [r.text for r in data.train]), run.config.max_length)),
            "history": loop.history, "train_seconds": round(loop.seconds, 3),
            "samples_per_second": round(loop.samples / max(loop.seconds, 1e-9), 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
        if data.pool_info is not None:
            result["unlabeled"] = data.pool_info
        if loop.contrastive is not None:
            result["contrastive"] = loop.contrastive
        if loop.pseudo_labelled is not None:
            result["pseudo_labelled"] = loop.pseudo_labelled  # rows per round of the probe's self-training
        if run.cached is not None:
            result["cached_layers"] = run.cached.depth
        if run.refit_rows:
            result["head_refit_rows"] = run.refit_rows  # best/ holds a head fitted on the dev rows too
        if run.ranks.main:
            run.writer.close()
            finish_last(run.out)
            atomic_write_text(run.out / "metrics.json", json.dumps(result, ensure_ascii=False, indent=2))
        return result

    def _loss(
        self,
        run: Run,
        rows: list[Row],
        ids: list[list[int]],
        pair_ids: list[list[int] | None],
        totals: tuple[torch.Tensor, int],
    ) -> torch.Tensor:
        """These rows' part of their batch's loss: weighted cross-entropy, plus the consistency term
        for rows that have a pair, each over the whole batch's :func:`loss_totals`."""
        logits = run.logits(ids)
        labels = torch.tensor([r.label for r in rows])
        weights = torch.tensor([r.weight for r in rows])
        per_row = F.cross_entropy(logits, labels, weight=run.class_weight, reduction="none") * weights
        scale, pairs = totals
        loss = per_row.sum() / scale
        paired = [i for i, p in enumerate(pair_ids) if p is not None]
        if paired:
            pair_logits = run.logits([pair_ids[i] for i in paired])
            target = F.softmax(logits[paired].detach(), dim=-1)
            kl = F.kl_div(F.log_softmax(pair_logits, dim=-1), target, reduction="sum") / pairs
            loss = loss + self.config.consistency_weight * kl
        return loss


def fit(
    train: Sequence[Record],
    eval: Sequence[Record] | None = None,
    *,
    out_dir: str | os.PathLike[str],
    config: TrainConfig | None = None,
    children: Children | None = None,
    resume: bool = False,
    progress: bool | None = None,
    unlabeled: Sequence[Record] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """``Trainer(config with overrides).fit(...)``: see :class:`Trainer`."""
    config = (config or TrainConfig()).replace(**overrides)
    return Trainer(config, progress=progress).fit(train, eval, out_dir=out_dir, children=children, resume=resume,
                                                  unlabeled=unlabeled)
