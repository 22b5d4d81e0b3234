"""A contrastive few-shot stage (SetFit, Tunstall et al. 2022) before the linear probe.

With a handful of labels per class, fine-tuning a sentence embedder on *pairs* of labelled rows —
cosine similarity pulled to 1 for two rows of a class, to 0 for rows of different classes — gives
many more training signals than the rows themselves, and moves the embeddings so that a linear
probe separates the classes better. As in SetFit, each row is paired ``iterations`` times with a
random row of its class and a random row of another class, one pass over the pairs, mean pooling,
cosine-similarity loss. Unlike SetFit, only the top ``layers`` layers are tuned (all of an ALBERT
whose layers share weights), with the lower layers' outputs computed once per text (:class:`~zhaug.train.frozen.SplitEncoder`): on
a CPU that is what makes the stage affordable. Every random choice derives from the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zhaug.rng import derive_rng
from zhaug.train.frozen import SplitEncoder
from zhaug.train.models.pooling import mean_pool


@dataclass(frozen=True)
class Contrastive:
    """Settings of the stage: pairs per row and pass, batch size (pairs), learning rate, the
    number of top layers tuned (all, if the model has fewer), and a cap on the number of pairs
    (large sets need fewer per row)."""

    iterations: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    layers: int = 4
    max_pairs: int = 2000


def contrastive_pairs(labels: Sequence[int], iterations: int, seed: int, max_pairs: int) -> list[tuple[int, int, float]]:
    """``(i, j, target)`` pairs: per iteration and row, one row of its class (target 1) and one of
    another class (target 0), shuffled; at most ``max_pairs``. Rows alone in their class get no
    positive pair."""
    rng = derive_rng(seed, "contrastive-pairs")
    by_label: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        by_label.setdefault(label, []).append(row)
    pairs = []
    for _ in range(iterations):
        for row, label in enumerate(labels):
            same = [j for j in by_label[label] if j != row]
            other = [j for k, rows in by_label.items() if k != label for j in rows]
            if same:
                pairs.append((row, rng.choice(same), 1.0))
            if other:
                pairs.append((row, rng.choice(other), 0.0))
    rng.shuffle(pairs)
    return pairs[:max_pairs]


@contextmanager
def tuning_top_layers(split: SplitEncoder, lr: float, steps: int) -> Iterator[Callable[[torch.Tensor], None]]:
    """Train ``split``'s upper layers for ``steps`` steps: yields a function that takes one step on
    a loss (AdamW, linear warm-up over 10% of the steps, then linear decay, as SetFit's defaults).
    The layers are made trainable even in a head-only run, and the flags and the encoder's mode are
    restored after."""
    encoder, trainable = split.encoder, split.trainable()
    was_trainable = [p.requires_grad for p in trainable]
    for parameter in trainable:
        parameter.requires_grad_(True)
    warmup = max(1, round(0.1 * steps))
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, (steps - s) / steps))
    training = encoder.training
    encoder.train()

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()

    try:
        yield step
    finally:
        encoder.train(training)
        for parameter, flag in zip(trainable, was_trainable):
            parameter.requires_grad_(flag)


def tune_contrastive(encoder: torch.nn.Module, sequences: Sequence[Sequence[int]], labels: Sequence[int],
                     settings: Contrastive, seed: int, pad_id: int) -> list[float]:
    """Tune ``encoder`` (in place) on pairs of the labelled ``sequences``; returns the loss of
    each step."""
    config = encoder.config
    shared = getattr(config, "num_hidden_groups", config.num_hidden_layers) != config.num_hidden_layers
    split = SplitEncoder(encoder, 0 if shared else max(0, config.num_hidden_layers - settings.layers), pad_id)
    pairs = contrastive_pairs(labels, settings.iterations, seed, settings.max_pairs)
    steps = -(-len(pairs) // settings.batch_size)
    losses = []
    with tuning_top_layers(split, settings.lr, steps) as step:
        for index in range(steps):
            batch = pairs[index * settings.batch_size : (index + 1) * settings.batch_size]
            left = mean_pool(*split([sequences[i] for i, _, _ in batch]))
            right = mean_pool(*split([sequences[j] for _, j, _ in batch]))
            loss = F.mse_loss(F.cosine_similarity(left, right), torch.tensor([t for _, _, t in batch]))
            step(loss)
            losses.append(loss.item())
    return losses
