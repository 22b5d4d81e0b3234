"""Figures for a run report (matplotlib figures drawn off-screen, no pyplot state)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure


def training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], path: str | os.PathLike[str]) -> None:
    """Train / eval loss and eval macro-F1 against the step, one line per run."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss, f1 = figure.subplots(1, 2)
    for name, history in histories.items():
        steps = [h["step"] for h in history]
        (line,) = loss.plot(steps, [h["train_loss"] for h in history], marker="o", label=f"{name} train")
        loss.plot(steps, [h["eval_loss"] for h in history], marker="s", linestyle="--", color=line.get_color(),
                  label=f"{name} eval")
        f1.plot(steps, [h["macro_f1"] for h in history], marker="o", label=name)
    loss.set(xlabel="step", ylabel="cross-entropy", title="loss")
    f1.set(xlabel="step", ylabel="macro-F1", title="eval macro-F1")
    loss.legend()
    f1.legend()
    figure.savefig(path, dpi=120)


def confusion_matrices(matrices: Mapping[str, Sequence[Sequence[int]]], labels: Sequence[str],
                       path: str | os.PathLike[str]) -> None:
    """Confusion matrices side by side (rows: true label, columns: predicted), counts annotated."""
    figure = Figure(figsize=(4.5 * len(matrices), 4), layout="constrained")
    axes = figure.subplots(1, len(matrices), squeeze=False)[0]
    for ax, (name, matrix) in zip(axes, matrices.items()):
        ax.imshow(matrix, cmap="Blues")
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
        ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
               xlabel="predicted", ylabel="true", title=name)
    figure.savefig(path, dpi=120)
