"""An encoder cut after its first k layers, the lower part's outputs computed once per text.

When the embeddings and the first k layers are frozen, their output for a text never changes, so
a stage that sees the same texts many times (contrastive pairs of 20 labelled rows, every epoch
of a small set) need not recompute them: :class:`SplitEncoder` keeps them per token sequence and
runs only the trainable top layers on each step. The result equals the full encoder's (the
lower part runs without gradient and in eval mode: no dropout below the cut).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers.masking_utils import create_bidirectional_mask

from zhaug.errors import ZhaugError
from zhaug.train.data import pad


def _layer_stack(encoder: torch.nn.Module) -> tuple[torch.nn.Module | None, list[torch.nn.Module]]:
    """``(input mapping or None, the module applied at each layer)`` of a BERT- or ALBERT-style
    encoder (ALBERT applies its groups in turn; one group may serve every layer)."""
    stack, config = encoder.encoder, encoder.config
    if hasattr(stack, "albert_layer_groups"):
        per_group = config.num_hidden_layers / config.num_hidden_groups
        groups = stack.albert_layer_groups
        return stack.embedding_hidden_mapping_in, [groups[int(i / per_group)] for i in range(config.num_hidden_layers)]
    if isinstance(getattr(stack, "layer", None), torch.nn.ModuleList):
        return None, list(stack.layer)
    raise ZhaugError(f"cannot cut {type(encoder).__name__} between layers (BERT or ALBERT layers expected)")


class SplitEncoder:
    """``encoder`` run as a frozen lower part (embeddings and ``frozen_layers`` layers, cached per
    sequence) and a trainable upper part; calling it returns the last hidden states and the mask."""

    def __init__(self, encoder: torch.nn.Module, frozen_layers: int, pad_id: int):
        self.encoder, self.frozen_layers, self.pad_id = encoder, frozen_layers, pad_id
        self.mapping, self.layers = _layer_stack(encoder)
        if not 0 <= frozen_layers <= len(self.layers):
            raise ZhaugError(f"frozen_layers={frozen_layers}, but the model has {len(self.layers)} layers")
        if {id(m) for m in self.layers[:frozen_layers]} & {id(m) for m in self.layers[frozen_layers:]}:
            raise ZhaugError("the layers of this ALBERT share weights: it can only be cut below its first layer")
        self.cache: dict[tuple[int, ...], torch.Tensor] = {}

    def trainable(self) -> list[torch.nn.Parameter]:
        """The parameters of the layers above the cut (a shared layer's once)."""
        upper = dict.fromkeys(self.layers[self.frozen_layers :])
        return [p for layer in upper for p in layer.parameters()]

    def _run(self, hidden: torch.Tensor, mask: torch.Tensor, layers: Sequence[torch.nn.Module]) -> torch.Tensor:
        full_mask = create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden, attention_mask=mask)
        for layer in layers:
            hidden = layer(hidden, full_mask)
        return hidden

    def _lower(self, sequences: Sequence[Sequence[int]], batch_size: int = 32) -> None:
        missing = list(dict.fromkeys(tuple(s) for s in sequences if tuple(s) not in self.cache))
        training = self.encoder.training
        self.encoder.eval()
        with torch.no_grad():
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                batch = pad(chunk, self.pad_id)
                hidden = self.encoder.embeddings(batch["input_ids"])
                hidden = self.mapping(hidden) if self.mapping is not None else hidden
                hidden = self._run(hidden, batch["attention_mask"], self.layers[: self.frozen_layers])
                for row, seq in enumerate(chunk):
                    self.cache[seq] = hidden[row, : len(seq)].clone()
        self.encoder.train(training)

    def __call__(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        self._lower(sequences)
        lowers = [self.cache[tuple(s)] for s in sequences]
        width = max(len(h) for h in lowers)
        hidden = torch.zeros(len(lowers), width, lowers[0].shape[-1], dtype=lowers[0].dtype)
        mask = torch.zeros(len(lowers), width, dtype=torch.long)
        for row, lower in enumerate(lowers):
            hidden[row, : len(lower)], mask[row, : len(lower)] = lower, 1
        return self._run(hidden, mask, self.layers[self.frozen_layers :]), mask
