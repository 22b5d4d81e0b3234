"""Augmentation on a Ray cluster, through Ray Data: the local pipeline's functions, seeds and chunks.

A read task streams the records with zhaug's own reader (same encodings, ids and checks), an
actor pool of ``workers`` runs :func:`~zhaug.augment.pipeline.propose` on them (each actor
builds the operation once), and Ray Data hands the candidates back in input order. The driver
regroups them into the same fixed-size chunks as :class:`~zhaug.augment.pipeline.Augmenter`
and gates and writes them there, so the output is byte-identical to ``--workers 1``: proposals
depend only on each record and its seeds (``Operation.apply_batch``'s contract), and gates (dedup
against every input text, model-based gates) see exactly the local chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import pyarrow as pa
from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from zhaug.augment.base import Operation
from zhaug.augment.gates.base import Candidate
from zhaug.augment.pipeline import Augmenter, AugmentStats, Job, copies_per_record, propose, windows
from zhaug.augment.text import Segmenter
from zhaug.cluster import connect
from zhaug.io import Record

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.string())])


class RecordSource(Datasource):
    """A Ray Data source of the records ``read()`` streams, one block per ``chunk_size`` records.

    One read task reads the table in order (generated ids count positions, duplicate ids are
    refused), so ``read`` must work where Ray runs it: a path on a shared or local disk.
    """

    def __init__(self, read: Callable[[], Iterable[Record]], chunk_size: int):
        self.read, self.chunk_size = read, chunk_size

    def estimate_inmemory_data_size(self) -> None:
        return None

    def get_read_tasks(self, parallelism: int, **_: Any) -> list[ReadTask]:
        return [ReadTask(self._blocks, BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None))]

    def _blocks(self) -> Iterator[pa.Table]:
        for chunk in windows(self.read(), self.chunk_size):
            yield pa.Table.from_pylist([{"id": r.id, "text": r.text, "label": r.label} for r in chunk], schema=SCHEMA)


class ProposeActor:
    """Ray Data actor: per record, the texts and operations of its candidates, in copy order."""

    def __init__(self, op: Operation, seed: int, segmenter: Segmenter, n_aug: int):
        self.op, self.seed, self.segmenter, self.n_aug = op, seed, segmenter, n_aug

    def __call__(self, batch: pa.Table) -> dict[str, list]:
        records = [Record(row["id"], row["text"], row["label"]) for row in batch.to_pylist()]
        jobs = list(zip(records, map(range, copies_per_record(records, self.n_aug))))
        candidates = iter(propose(jobs, self.op, self.seed, self.segmenter))
        per_record = [list(islice(candidates, len(copies))) for _, copies in jobs]
        return {
            "id": [record.id for record in records],
            "texts": [[c.text for c in cs] for cs in per_record],
            "ops": [[c.op for c in cs] for cs in per_record],
        }


class RayAugmenter(Augmenter):
    """:class:`Augmenter` whose :meth:`stream` proposes on Ray (``workers`` actors; ``address``:
    the cluster, see :func:`zhaug.cluster.connect`). :meth:`run` stays local."""

    def __init__(self, *args: Any, address: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.address = address

    def _stream_proposals(
        self, read: Callable[[], Iterable[Record]], stats: AugmentStats
    ) -> Iterator[tuple[list[Job], list[Candidate]]]:
        ray = connect(self.address)
        # The read task is light and must not wait for a CPU that the actors hold.
        dataset = ray.data.read_datasource(RecordSource(read, self.chunk_size), num_cpus=0).map_batches(
            ProposeActor, fn_constructor_args=(self.recipe.op, self.seed, self.segmenter, self.n_aug),
            batch_size=self.chunk_size, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=self.workers),
        )
        outputs = (row for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow")
                   for row in batch.to_pylist())
        for chunk in self._jobs(read(), stats):
            candidates = []
            for (record, _), out in zip(chunk, islice(outputs, len(chunk)), strict=True):
                if out["id"] != record.id:
                    raise RuntimeError(f"Ray returned row {out['id']!r} where {record.id!r} was expected")
                candidates += [Candidate(record, text, op, copy) for copy, (text, op) in enumerate(zip(out["texts"], out["ops"]))]
            yield chunk, candidates
