"""Training hyper-parameters: one dataclass, loadable from YAML (``configs/train/default.yaml``).

Every run saves its full config beside the checkpoint, so a run can be reproduced or resumed
from its folder alone.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from zhaug.augment.defences import DEFENCES
from zhaug.errors import ZhaugError
from zhaug.machine import usable_cpus
from zhaug.specs import dataclass_from_mapping, read_yaml_mapping

SCHEDULES = ("linear", "cosine")
CLASS_WEIGHTS = ("none", "balanced")
POOLINGS = ("cls", "mean")
CONSISTENCY_METHODS = ("uda", "fixmatch")
SSL_METHODS = (*CONSISTENCY_METHODS, "probe-self-training")
CONTRASTIVE_FIELDS = ("contrastive", "contrastive_lr", "contrastive_layers")
SSL_FIELDS = ("ssl", "unlabeled_ratio", "ssl_weight", "ssl_threshold", "ssl_temperature", "ssl_augment", "max_unlabeled",
              "ssl_align")
POOL_PAYS_UP_TO = 50
"""The smallest class's labelled rows up to which an unlabelled pool pays: the probe self-trained on
it beat the supervised default by 0.4–6.1 points at 10–50 rows a class on three data sets and lost
0.6–1.2 points at 150 (docs/train.md); above, ``zhaug train --unlabeled`` trains without it."""
HEAD_INITS = ("probe", "random")
FEW_SHOT_PAIRS = 20
"""Pairs per row of the contrastive stage when ``few_shot`` applies (SetFit's default iterations)."""
KEEPS = ("best", "last")
LEGACY = {"prefix": "", "pooling": "cls", "head_init": "random", "min_steps": 0, "keep": "best", "few_shot": 0,
          "cache_frozen": False}
"""The values of the options added by issue 21 that reproduce the trainer from before it (what a
config pinning them gets; such configs keep their run fingerprints, see :meth:`TrainConfig.identity`)."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how.

    Parameters
    ----------
    model: hub id or local folder; ``None`` is the embedded default model.
    max_length: tokens per text (longer texts are truncated; batches are padded to their longest).
    epochs / max_steps: the budget; ``max_steps`` (optimizer steps) wins when set, so runs with
        and without augmentation can spend the same compute.
    min_steps: without ``max_steps``, train whole epochs until at least this many steps (small
        sets: 3 epochs of 50 rows are only 12 steps).
    lr / head_lr_multiplier: the encoder's peak learning rate (``None``: the model's own,
        :func:`zhaug.train.models.fine_tuning_lr`), and the new head's as a multiple of it.
    warmup_ratio / schedule: linear warm-up over that share of the steps, then ``linear`` or
        ``cosine`` decay to zero.
    freeze_embeddings / freeze_layers / head_only: keep the embeddings, the first k encoder
        layers, or everything but the classification head fixed. ``head_only`` with
        ``head_init: probe`` is the linear probe itself: no gradient step.
    cache_frozen: when the embeddings and the first k layers are frozen (``freeze_embeddings``
        with ``freeze_layers``, or ``head_only``), compute their outputs once per text and run only
        the layers above on each step (:mod:`zhaug.train.frozen`); the frozen part then runs
        without dropout (and an ALBERT's embedding projection is frozen with its embeddings).
        ``false``: recompute it every step, with dropout, as before.
    prefix / pooling: the text put before every input and what the head reads (``cls``: the
        model's pooler on the first token; ``mean``: the L2-normalised masked mean of the last
        layer); ``None``: the model's own (``"query: "`` and ``mean`` for the embedded e5 models,
        ``""`` and ``cls`` otherwise, :func:`zhaug.train.heads.encoder_format`), recorded in the run.
    contrastive: a contrastive few-shot stage before the probe (SetFit,
        :mod:`zhaug.train.contrastive`): pairs per labelled row; 0 = off. ``contrastive_lr`` /
        ``contrastive_layers``: its learning rate and how many top layers it tunes.
    few_shot: with at most this many training originals in the smallest class, and nothing that
        needs fine-tuning (no step budget, augmentation or pool given; the probe head; no
        contrastive setting), train as SetFit does: ``contrastive: 20`` and ``head_only`` — measured
        ahead of LP-FT at 10 labels per class, level from 25 (docs/train.md). 0 = never.
    head_init / probe_c: ``probe`` sets the head to a logistic regression (inverse regularisation
        ``probe_c``) on the frozen pooled features of the training originals before fine-tuning
        (LP-FT), and evaluates it at step 0; ``random`` draws it from the seed.
    class_weights: ``balanced`` weighs the loss by inverse class frequency.
    group_by_length: batch texts of similar length together (less padding).
    eval_every: evaluate (and checkpoint) every so many steps; ``None`` = once per epoch.
    patience: stop after this many evaluations without a better macro-F1; ``None`` never stops early.
    keep: which evaluated checkpoint is ``best/`` (and the run's ``eval``): ``best`` by eval macro-F1,
        or ``last``, the end of the budget — for studies whose eval set is their test set, which
        must not choose between the probe at step 0 and the fine-tuned model.
    augment / n_aug: online augmentation: a recipe, and fresh copies per row and epoch.
    aug_weight: loss weight of augmented rows (0 = use them only for the consistency loss).
    consistency_weight: weight of the UDA-style KL term between predictions on a row and on one of
        its augmentations (0 = off).
    eval_fraction: share held out (stratified, by parent) when no eval set is given.
    threads: torch threads; ``None`` = the CPUs this process may use.
    defence: a text defence applied to every text before tokenisation, here and again by
        ``predict``, ``audit`` and :class:`~zhaug.train.predict.Predictor`
        (:data:`zhaug.augment.defences.DEFENCES`); ``None`` = none.
    ssl: consistency training on an unlabelled pool (``fit(..., unlabeled=...)``): ``uda``
        (Xie et al. 2020: the prediction on a row, sharpened by ``ssl_temperature``, is the target
        for the prediction on its ``ssl_augment`` copy) or ``fixmatch`` (Sohn et al. 2020: its
        arg-max is); either way only rows predicted with at least ``ssl_threshold`` confidence
        count. Each step adds ``unlabeled_ratio`` × ``batch_size`` pool rows, their loss weighed
        by ``ssl_weight`` (ramped up linearly over the first 30% of steps). ``max_unlabeled``: the
        pool's cap. ``ssl_align``: distribution alignment (ReMixMatch): the targets are rescaled so
        that their mean over the step's pool rows matches the labelled class shares. Or
        ``probe-self-training``: the linear probe (``head_init: probe``) self-trains on the frozen
        features of the pool before any step (:func:`~zhaug.train.heads.self_trained_probe`);
        with ``head_only`` that is the whole method. ``None`` = supervised only.
    """

    model: str | None = None
    max_length: int = 128
    batch_size: int = 16
    eval_batch_size: int = 64
    epochs: int = 3
    max_steps: int | None = None
    min_steps: int = 0
    lr: float | None = None
    head_lr_multiplier: float = 10.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    schedule: str = "linear"
    max_grad_norm: float = 1.0
    freeze_embeddings: bool = False
    freeze_layers: int = 0
    head_only: bool = False
    cache_frozen: bool = True
    prefix: str | None = None
    pooling: str | None = None
    few_shot: int = 16
    contrastive: int = 0
    contrastive_lr: float = 1e-4
    contrastive_layers: int = 4
    head_init: str = "probe"
    probe_c: float = 10.0
    class_weights: str = "none"
    group_by_length: bool = True
    eval_every: int | None = None
    patience: int | None = 3
    keep: str = "best"
    augment: str | None = None
    n_aug: int = 1
    aug_weight: float = 1.0
    consistency_weight: float = 0.0
    eval_fraction: float = 0.1
    seed: int = 0
    threads: int | None = None
    defence: str | None = None
    ssl: str | None = None
    unlabeled_ratio: int = 2
    ssl_weight: float = 1.0
    ssl_threshold: float = 0.7
    ssl_temperature: float = 0.4
    ssl_augment: str = "mixed"
    max_unlabeled: int = 5000
    ssl_align: bool = True

    def __post_init__(self) -> None:
        checks = {
            "schedule": self.schedule in SCHEDULES,
            "class_weights": self.class_weights in CLASS_WEIGHTS,
            "max_length": self.max_length >= 2,
            "batch_size": self.batch_size >= 1 and self.eval_batch_size >= 1,
            "epochs": self.epochs >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "min_steps": self.min_steps >= 0,
            "pooling": self.pooling is None or self.pooling in POOLINGS,
            "head_init": self.head_init in HEAD_INITS and self.probe_c > 0,
            "contrastive": self.few_shot >= 0 and self.contrastive >= 0 and self.contrastive_lr > 0 and self.contrastive_layers >= 1
            and (self.contrastive == 0 or self.head_init == "probe"),
            "keep": self.keep in KEEPS,
            "lr": (self.lr is None or self.lr > 0) and self.head_lr_multiplier > 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "freeze_layers": self.freeze_layers >= 0,
            "eval_every": self.eval_every is None or self.eval_every >= 1,
            "patience": self.patience is None or self.patience >= 1,
            "n_aug": self.n_aug >= 0,
            "aug_weight": self.aug_weight >= 0 and self.consistency_weight >= 0,
            "eval_fraction": 0 < self.eval_fraction < 1,
            "threads": self.threads is None or self.threads >= 1,
            "defence": self.defence is None or self.defence in DEFENCES,
            "ssl": (self.ssl is None or self.ssl in SSL_METHODS) and self.unlabeled_ratio >= 1
            and (self.ssl != "probe-self-training" or self.head_init == "probe")
            and self.ssl_weight >= 0 and 0 <= self.ssl_threshold < 1 and self.ssl_temperature > 0
            and self.max_unlabeled >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ZhaugError(f"invalid training config value(s) for {', '.join(bad)}: see `zhaug train --help`")

    def to_dict(self) -> dict[str, Any]:
        """The fields; ``defence``, the ``contrastive`` and the ``ssl`` settings only when set, so
        runs without them keep the fingerprints (resume keys) they had before the fields existed."""
        values = dataclasses.asdict(self)
        if not values["contrastive"]:
            for key in CONTRASTIVE_FIELDS:
                del values[key]
        if values["defence"] is None:
            del values["defence"]
        if values["ssl"] is None:
            for key in SSL_FIELDS:
                del values[key]
        return values

    def identity(self) -> dict[str, Any]:
        """What a run's fingerprint hashes: :meth:`to_dict` without the options at their
        :data:`LEGACY` values, so a config pinning them keeps the fingerprint it had before they
        existed (and an interrupted old run can be resumed)."""
        values = {k: v for k, v in self.to_dict().items() if not (k in LEGACY and v == LEGACY[k])}
        if not self.steps_over_frozen:  # the cache changes nothing
            values.pop("cache_frozen", None)
        if self.head_init != "probe":  # neither the probe's C nor the few-label switch can apply
            del values["probe_c"]
            values.pop("few_shot", None)
        return values

    @property
    def consistency(self) -> bool:
        """Whether gradient steps read the unlabelled pool (consistency training)."""
        return self.ssl in CONSISTENCY_METHODS

    @property
    def steps_over_frozen(self) -> bool:
        """Whether gradient steps run over a frozen lower part (the embeddings and at least one
        layer), which is what ``cache_frozen`` changes; the linear probe takes no step."""
        frozen = self.head_only or (self.freeze_embeddings and self.freeze_layers > 0)
        return frozen and not (self.head_only and self.head_init == "probe")

    def for_few_labels(self, smallest_class: int, pooled: bool, children: bool) -> TrainConfig:
        """This config, switched to the SetFit-style settings when ``few_shot`` applies (see the
        class docstring) to a training set whose smallest class has ``smallest_class`` originals."""
        untouched = (self.max_steps is None and not self.augment and not self.consistency_weight and not pooled
                     and not children and self.head_init == "probe" and not self.contrastive and not self.head_only)
        if untouched and smallest_class <= self.few_shot:
            return self.replace(contrastive=FEW_SHOT_PAIRS, head_only=True)
        return self

    def with_pool(self, smallest_class: int) -> TrainConfig | None:
        """This config with the measured default use of an unlabelled pool for a training set whose
        smallest class has ``smallest_class`` rows: the probe self-trained on it (head only), or
        ``None`` where the pool did not pay (above :data:`POOL_PAYS_UP_TO`)."""
        if smallest_class > POOL_PAYS_UP_TO:
            return None
        return self.with_ssl("probe-self-training")

    def with_ssl(self, method: str) -> TrainConfig:
        """This config training with the semi-supervised ``method`` (one of :data:`SSL_METHODS`);
        ``probe-self-training`` trains the head only, since it self-trains the linear probe."""
        return self.replace(ssl=method, head_only=True if method == "probe-self-training" else None)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``; ``None`` values are ignored (unset CLI options)."""
        return from_dict({**dataclasses.asdict(self), **{k: v for k, v in changes.items() if v is not None}})

    @property
    def torch_threads(self) -> int:
        return self.threads or usable_cpus()


TRAINING_DEFENCES: dict[str, dict[str, Any]] = {
    "noise-consistency": {"augment": "noise", "n_aug": 1, "consistency_weight": 1.0},
}
"""Defences that are training settings: noise copies of each row every epoch (homophones,
look-alikes, typos) and the KL term between predictions on a row and on its copy."""

RECOMMENDED_DEFENCE = "correct"
"""``--defence recommended``: the defence measured best by ``benchmarks/defence.py`` (fewest flips
and attack successes at no cost in clean accuracy; docs/benchmarks.md)."""

DEFENCE_NAMES = ("none", *DEFENCES, *TRAINING_DEFENCES, "recommended")


def defence_settings(name: str | None) -> dict[str, Any]:
    """The config changes of defence ``name`` (a text defence, a training defence, ``none``,
    ``recommended``); unset (``None``) changes nothing."""
    if name is None:
        return {}
    name = RECOMMENDED_DEFENCE if name == "recommended" else name
    if name in TRAINING_DEFENCES:
        return dict(TRAINING_DEFENCES[name])
    if name == "none" or name in DEFENCES:
        return {"defence": None if name == "none" else name}
    raise ZhaugError(f"unknown defence {name!r}; choose from {', '.join(DEFENCE_NAMES)}")


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A config from a mapping; unknown keys are an error (typos must not pass silently)."""
    return dataclass_from_mapping(TrainConfig, values, "training")


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, updated from a YAML file (a ``train:`` section or the top level), then ``overrides``."""
    values: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml_mapping(path, "training config")
        values = loaded.get("train", loaded)
    try:
        config = from_dict(values)
    except ZhaugError as exc:
        raise ZhaugError(f"{path}: {exc}") from None
    return config.replace(**overrides)
