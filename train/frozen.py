"""An encoder cut after its first k layers, the lower part's outputs computed once per text.

When the embeddings and the first k layers are frozen, their output for a text never changes, so
a stage that sees the same texts many times (contrastive pairs of 20 labelled rows, every epoch
of a small set, the dev set at every evaluation) need not recompute them: :class:`SplitEncoder`
keeps them per token sequence and runs only the trainable top layers on each step. The result
equals the full encoder's (the lower part runs without gradient and in eval mode: no dropout
below the cut). :class:`FrozenLowerClassifier` does the same for a whole sequence classifier,
with the cut where the trainer's freezing options put it (:func:`frozen_depth`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers.masking_utils import create_bidirectional_mask

from zhaug.errors import ZhaugError
from zhaug.train.data import pad
from zhaug.train.heads import POOLER_HEADS, head_logits


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
        with torch.inference_mode(False), torch.no_grad():  # cached for training steps too: no inference tensors
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

    def retain(self, sequences: Sequence[Sequence[int]]) -> None:
        """Forget every cached sequence but ``sequences`` (fresh augmented copies each epoch would
        otherwise pile up)."""
        keep = {tuple(s) for s in sequences}
        self.cache = {seq: hidden for seq, hidden in self.cache.items() if seq in keep}


def frozen_depth(encoder: torch.nn.Module) -> int:
    """How many bottom layers, with the embeddings below them, have no trainable parameter:
    0 when the embeddings train or the architecture cannot be cut."""
    try:
        mapping, layers = _layer_stack(encoder)
    except ZhaugError:
        return 0
    lower = [encoder.embeddings] + ([mapping] if mapping is not None else [])
    if any(p.requires_grad for module in lower for p in module.parameters()):
        return 0
    depth = 0
    while depth < len(layers) and not any(p.requires_grad for p in layers[depth].parameters()):
        depth += 1
    return depth


class FrozenLowerClassifier:
    """A sequence classifier's logits with its frozen lower part (:func:`frozen_depth`) computed
    once per sequence; the upper layers, the pooling and the head run on every call, with
    gradients and dropout as the model's mode says. ``None`` from :meth:`for_model` when nothing
    below the head is frozen or the head is not one :func:`~zhaug.train.heads.head_logits` knows."""

    def __init__(self, model: torch.nn.Module, depth: int, pad_id: int, pooling: str):
        self.model, self.pooling = model, pooling
        self.split = SplitEncoder(getattr(model, model.base_model_prefix), depth, pad_id)

    @classmethod
    def for_model(cls, model: torch.nn.Module, pad_id: int, pooling: str) -> FrozenLowerClassifier | None:
        depth = frozen_depth(getattr(model, model.base_model_prefix))
        return cls(model, depth, pad_id, pooling) if depth and model.config.model_type in POOLER_HEADS else None

    @property
    def depth(self) -> int:
        return self.split.frozen_layers

    def __call__(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        return head_logits(self.model, *self.split(sequences), self.pooling)
