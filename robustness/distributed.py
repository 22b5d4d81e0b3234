"""Audit perturbations on a Ray cluster, through Ray Data: the same :func:`perturb`, the same seeds.

Every (family, severity) cell is cut into row chunks; an actor pool (the segmented rows shipped
to each actor once) perturbs them and Ray Data returns them in order, so the audit receives
exactly the texts of :func:`~zhaug.robustness.audit.perturb_cells` (``Operation.apply_batch``
makes each row depend only on itself and its seed), cell by cell while later cells are computed.
Model inference stays in the driver, where the prediction cache lives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from zhaug.augment.text import Token
from zhaug.cluster import cluster_cpus, connect
from zhaug.robustness.families import Family, perturb


class PerturbActor:
    """Ray Data actor: the perturbed texts of rows ``start:stop`` for cell ``cell`` of the plan."""

    def __init__(self, tokens: Sequence[list[Token]], ids: Sequence[str], plan: Sequence[tuple[Family, int]], seed: int):
        self.tokens, self.ids, self.plan, self.seed = tokens, ids, plan, seed

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        texts = []
        for cell, start, stop in zip(batch["cell"], batch["start"], batch["stop"]):
            family, severity = self.plan[cell]
            texts.append(perturb(self.tokens[start:stop], self.ids[start:stop], family, severity, self.seed))
        return {"cell": batch["cell"], "texts": texts}


def ray_cells(
    tokens: Sequence[list[Token]], ids: Sequence[str], plan: Sequence[tuple[Family, int]], seed: int,
    *, address: str | None = None, workers: int | None = None, chunk_size: int = 256,
) -> Iterator[list[str]]:
    """:data:`~zhaug.robustness.audit.Cells` on Ray (``workers`` actors, default every CPU)."""
    ray = connect(address)
    items = [{"cell": cell, "start": start, "stop": min(start + chunk_size, len(ids))}
             for cell in range(len(plan)) for start in range(0, len(ids), chunk_size)]
    dataset = ray.data.from_items(items).map_batches(
        PerturbActor, fn_constructor_args=(list(tokens), list(ids), list(plan), seed),
        batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers or cluster_cpus(ray)),
    )
    texts: list[str] = []
    for row in dataset.iter_rows():
        texts += list(row["texts"])
        if len(texts) == len(ids):
            yield texts
            texts = []

