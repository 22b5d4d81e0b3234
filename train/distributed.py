"""Training on several processes or machines: ``torchrun`` / ``accelerate launch`` set ``WORLD_SIZE``
and ``RANK`` (and ``MASTER_ADDR`` / ``MASTER_PORT``), :func:`ranks_from_env` joins their group.

Every rank builds the same global batch (same seed, same order) and takes every ``world``-th row
of it; the shards' losses are parts of the global batch loss and their gradients are summed
with one all-reduce, so each step equals the single-process step on the whole batch, up to
float summation order (dropout masks aside: each rank draws its own). Only rank 0 writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's ``rank`` among ``world`` training processes (``Ranks()``: a single process)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints, metrics and logs."""
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's part of a global batch: every ``world``-th item from position ``rank``."""
        return list(items[self.rank :: self.world])

    def broadcast(self, model: torch.nn.Module) -> None:
        """Give every rank rank 0's weights."""
        if self.world > 1:
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, 0)

    def sum_gradients(self, model: torch.nn.Module) -> None:
        """Sum the trainable parameters' gradients over the ranks (a rank without rows adds zeros)."""
        if self.world == 1:
            return
        params = [p for p in model.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        for param, grad in zip(params, _unflatten_dense_tensors(flat, grads)):
            param.grad = grad

    def sum(self, value: torch.Tensor) -> float:
        """A scalar summed over the ranks (e.g. the shards' parts of the batch loss)."""
        if self.world > 1:
            value = value.detach().clone()
            dist.all_reduce(value)
        return value.item()


def ranks_from_env() -> Ranks:
    """Join the process group described by ``WORLD_SIZE`` / ``RANK`` (gloo for CPU tensors, nccl
    for CUDA ones when a GPU is present); without them, a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks()
    if not dist.is_initialized():
        dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size())
