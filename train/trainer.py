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
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from sklearn.utils.class_weight import compute_class_weight
from torch.utils import deterministic
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm
from transformers import get_scheduler

from zhaug import hashing
from zhaug.augment.pipeline import augment_records
from zhaug.augment.recipes import load_recipe
from zhaug.errors import ZhaugError
from zhaug.hashing import derive_seed
from zhaug.io import Record, atomic_write_text, comparable
from zhaug.train.checkpoint import finish_last, last_state, load_last, save_best, save_last
from zhaug.train.config import TrainConfig
from zhaug.train.data import (
    Children,
    Row,
    batch_order,
    check_labels,
    defended,
    encode,
    epoch_rows,
    guard_children,
    label_names,
    pad,
    split_by_parent,
)
from zhaug.train.distributed import ranks_from_env
from zhaug.train.metrics import classification_metrics
from zhaug.train.models.catalog import fine_tuning_lr
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import model_identity, resolve_model
from zhaug.train.predict import batched_logits

NO_DECAY = ("bias", "LayerNorm", "layer_norm", "norm")


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


class Trainer:
    """Fine-tunes a sequence classifier (the embedded default model, a hub id or a local folder).

    ``Trainer(config).fit(train, eval, out_dir=...)`` trains, keeps the best checkpoint by eval
    macro-F1 in ``out_dir/best`` and returns the metrics also written to ``out_dir/metrics.json``.
    """

    def __init__(self, config: TrainConfig = TrainConfig(), *, progress: bool = True):
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
    ) -> dict[str, Any]:
        """Train on ``train`` (plus offline augmented ``children`` by parent id, and online
        augmentations when the config names a recipe) and evaluate on ``eval`` (default: a
        stratified split of ``train``). ``resume`` continues the run in ``out_dir``."""
        with torch_settings(self.config.torch_threads):
            return self._fit(list(train), list(eval) if eval is not None else None, Path(out_dir), children or {}, resume)

    def _fit(
        self, train: list[Record], eval: list[Record] | None, out: Path, children: Children, resume: bool
    ) -> dict[str, Any]:
        config, started, ranks = self.config, time.perf_counter(), ranks_from_env()
        model_path = resolve_model(config.model)
        if config.lr is None:
            config = config.replace(lr=fine_tuning_lr(model_path))
        if eval is None:
            train, eval = split_by_parent(train, config.eval_fraction, config.seed)
        labels = label_names(train)
        check_labels(eval, labels, "eval set")
        label_ids = {name: i for i, name in enumerate(labels)}
        eval_texts = {comparable(r.text) for r in eval}
        offline, dropped = guard_children(children, train, eval_texts)
        recipe = load_recipe(config.augment) if config.augment and config.n_aug else None
        run_id = hashing.key(config.to_dict(), train, eval, sorted(offline.items()))
        state = last_state(out)
        if state is not None and not resume:
            raise ZhaugError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
        if state is not None and state["fingerprint"] != run_id:
            raise ZhaugError(f"{out} holds a run with other data or config; choose another --out")
        if state is not None and state["done"]:
            return json.loads((out / "metrics.json").read_text(encoding="utf-8"))

        tokenizer = defended(load_tokenizer(model_path), config.defence)  # the defence: before tokenisation
        model = load_classifier(model_path, len(labels), dict(enumerate(labels)), seed=config.seed)
        ranks.broadcast(model)
        optimizer = torch.optim.AdamW(parameter_groups(model, config), fused=True)

        def rows_for(epoch: int) -> tuple[list[Row], Counter]:
            kids, extra = offline, Counter()
            if recipe is not None:
                copies = [augment_records(train, recipe, seed=config.seed, copy=epoch * config.n_aug + k)
                          for k in range(config.n_aug)]
                online = {r.id: offline.get(r.id, []) + [texts[i] for texts in copies] for i, r in enumerate(train)}
                kids, extra = guard_children(online, train, eval_texts)
            rows = epoch_rows(train, kids, label_ids, aug_weight=config.aug_weight,
                              pairs=config.consistency_weight > 0, seed=config.seed, epoch=epoch)
            return rows, extra

        rows, online_dropped = rows_for(0)
        dropped.update(online_dropped)
        total = config.max_steps or config.epochs * math.ceil(len(rows) / config.batch_size)
        scheduler = get_scheduler(config.schedule, optimizer, num_warmup_steps=round(config.warmup_ratio * total),
                                  num_training_steps=total)
        class_weight = None
        if config.class_weights == "balanced":
            y = [label_ids[r.label] for r in train]
            weights = compute_class_weight("balanced", classes=np.arange(len(labels)), y=y)
            class_weight = torch.tensor(weights, dtype=torch.float)

        loop = {"step": 0, "epoch": 0, "batch": 0, "best_f1": -1.0, "best_step": 0, "bad_evals": 0,
                "history": [], "samples": 0, "seconds": 0.0, "done": False, "fingerprint": run_id}
        out.mkdir(parents=True, exist_ok=True)
        if state is not None:
            load_last(out, model, optimizer, scheduler)
            loop = state
            rows = rows_for(loop["epoch"])[0]
        elif ranks.main:
            atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
        eval_ids = encode(tokenizer, [r.text for r in eval], config.max_length)
        eval_y = [label_ids[r.label] for r in eval]
        pad_id = tokenizer.pad_token_id
        writer = SummaryWriter(str(out / "tb"), purge_step=loop["step"] or None) if ranks.main else None
        bar = tqdm(total=total, initial=loop["step"], desc="train", unit="step", disable=not self.progress or not ranks.main)
        model.train()
        running, seen, clock = 0.0, 0, time.perf_counter()

        def evaluate(final: bool) -> None:
            """Evaluate, keep the best checkpoint, decide whether to stop, save the last checkpoint."""
            nonlocal running, seen, clock
            loop["seconds"] += time.perf_counter() - clock
            model.eval()
            logits = batched_logits(model, eval_ids, config.eval_batch_size, pad_id)
            model.train()
            metrics = classification_metrics(eval_y, logits.argmax(-1).tolist(), labels)
            entry = {"step": loop["step"], "epoch": loop["epoch"], "lr": scheduler.get_last_lr()[0],
                     "train_loss": running / max(seen, 1),
                     "eval_loss": F.cross_entropy(logits, torch.tensor(eval_y)).item(),
                     **{k: metrics[k] for k in ("accuracy", "macro_f1", "weighted_f1")}}
            loop["history"].append(entry)
            for key in ("eval_loss", "accuracy", "macro_f1", "weighted_f1"):
                if writer is not None:
                    writer.add_scalar(f"eval/{key}", entry[key], loop["step"])
            running, seen = 0.0, 0
            if metrics["macro_f1"] > loop["best_f1"]:
                loop.update(best_f1=metrics["macro_f1"], best_step=loop["step"], bad_evals=0, best=metrics)
                if ranks.main:
                    save_best(out, model, tokenizer, {"labels": labels, "config": config.to_dict(),
                                                      "step": loop["step"], "eval": metrics})
            else:
                loop["bad_evals"] += 1
            patience_out = config.patience is not None and loop["bad_evals"] >= config.patience
            loop["done"] = final or patience_out or loop["step"] >= total
            if ranks.main:
                save_last(out, model, optimizer, scheduler, loop)
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}", f1=f"{metrics['macro_f1']:.3f}")
            clock = time.perf_counter()

        while not loop["done"]:
            generator = torch.Generator().manual_seed(derive_seed(config.seed, "order", loop["epoch"]) % 2**63)
            ids = encode(tokenizer, [r.text for r in rows], config.max_length)
            paired = [i for i, r in enumerate(rows) if r.pair is not None]
            pair_ids = dict(zip(paired, encode(tokenizer, [rows[i].pair for i in paired], config.max_length)))
            batches = batch_order([len(s) for s in ids], config.batch_size, generator, config.group_by_length)
            for index in batches[loop["batch"] :]:
                seed_torch(config.seed, "step", loop["step"])
                totals, mine = loss_totals([rows[i] for i in index], class_weight), ranks.shard(index)
                loss = torch.zeros(())
                if mine:
                    loss = self._loss(model, [rows[i] for i in mine], [ids[i] for i in mine],
                                      [pair_ids.get(i) for i in mine], pad_id, class_weight, totals)
                    loss.backward()
                ranks.sum_gradients(model)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                loop.update(step=loop["step"] + 1, batch=loop["batch"] + 1, samples=loop["samples"] + len(index))
                batch_loss = ranks.sum(loss)
                running, seen = running + batch_loss, seen + 1
                if writer is not None:
                    writer.add_scalar("train/loss", batch_loss, loop["step"])
                    writer.add_scalar("train/lr", scheduler.get_last_lr()[0], loop["step"])
                bar.update()
                epoch_end = loop["batch"] == len(batches)
                last_epoch = epoch_end and config.max_steps is None and loop["epoch"] + 1 >= config.epochs
                due = epoch_end if config.eval_every is None else loop["step"] % config.eval_every == 0
                if due or last_epoch or loop["step"] >= total:
                    evaluate(final=last_epoch)
                if loop["done"]:
                    break
            else:
                loop.update(epoch=loop["epoch"] + 1, batch=0)
                rows = rows_for(loop["epoch"])[0]
        bar.close()
        result = {
            "eval": loop["best"], "best_step": loop["best_step"], "steps": loop["step"], "epochs": loop["epoch"],
            "labels": labels, "base_model": model_identity(model_path), "train_rows": len(train),
            "eval_rows": len(eval), "rows_per_epoch": len(rows), "dropped_children": dict(dropped), "history": loop["history"],
            "train_seconds": round(loop["seconds"], 3),
            "samples_per_second": round(loop["samples"] / max(loop["seconds"], 1e-9), 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
        if ranks.main:
            writer.close()
            finish_last(out)
            atomic_write_text(out / "metrics.json", json.dumps(result, ensure_ascii=False, indent=2))
        return result

    def _loss(
        self,
        model: torch.nn.Module,
        rows: list[Row],
        ids: list[list[int]],
        pair_ids: list[list[int] | None],
        pad_id: int,
        class_weight: torch.Tensor | None,
        totals: tuple[torch.Tensor, int],
    ) -> torch.Tensor:
        """These rows' part of their batch's loss: weighted cross-entropy, plus the consistency term
        for rows that have a pair, each over the whole batch's :func:`loss_totals`."""
        logits = model(**pad(ids, pad_id)).logits
        labels = torch.tensor([r.label for r in rows])
        weights = torch.tensor([r.weight for r in rows])
        per_row = F.cross_entropy(logits, labels, weight=class_weight, reduction="none") * weights
        scale, pairs = totals
        loss = per_row.sum() / scale
        paired = [i for i, p in enumerate(pair_ids) if p is not None]
        if paired:
            pair_logits = model(**pad([pair_ids[i] for i in paired], pad_id)).logits
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
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """``Trainer(config with overrides).fit(...)``: see :class:`Trainer`."""
    config = (config or TrainConfig()).replace(**overrides)
    return Trainer(config, progress=progress).fit(train, eval, out_dir=out_dir, children=children, resume=resume)
