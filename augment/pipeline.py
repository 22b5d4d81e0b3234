"""The batch pipeline: propose augmentations for labelled records, gate them, write them.

Determinism: a copy's operation is chosen with ``derive_rng(seed, id, "choose", copy)`` and
applied with ``derive_rng(seed, id, op, copy)``; records are processed in fixed-size chunks
whatever the number of workers, so the output is byte-identical for 1 or N workers.
:meth:`Augmenter.stream` does the same without holding the table (see also
:class:`zhaug.augment.distributed.RayAugmenter`).
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import Any, TypeVar

from zhaug.augment.base import Operation, default_segmenter
from zhaug.augment.compose import OneOf
from zhaug.augment.gates.base import Candidate
from zhaug.augment.recipes import Recipe
from zhaug.augment.text import Segmenter, Token, join
from zhaug.errors import ZhaugError
from zhaug.io import Record, ResumableWriter, comparable, records_from_dataset
from zhaug.progress import progress_bar
from zhaug.rng import derive_rng

FIELDS = ("id", "parent_id", "text", "label", "op", "params", "seed")
"""Columns of every augmentation output."""

Job = tuple[Record, Sequence[int]]
"""A record and the indices of its copies to propose."""
T = TypeVar("T")


def windows(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), reading no further ahead."""
    window: list[T] = []
    for item in items:
        window.append(item)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


@dataclass
class AugmentStats:
    """Counts for the summary table: rows in / out, and per operation what was accepted or why not."""

    rows_in: int = 0
    empty: int = 0
    resumed: int = 0
    rows_out: int = 0
    generated: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)  # (op, reason) -> count
    unchanged: Counter = field(default_factory=Counter)  # op -> candidates identical to their parent

    def mostly_unchanged(self) -> list[str]:
        """Operations that left more than half their candidates unchanged (e.g. an nlpaug
        augmenter that does not understand Chinese): worth a warning."""
        return sorted(op for op, n in self.unchanged.items() if n > self.generated[op] / 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in, "empty": self.empty, "resumed": self.resumed, "rows_out": self.rows_out,
            "generated": dict(self.generated), "accepted": dict(self.accepted),
            "rejected": {f"{op}: {reason}": n for (op, reason), n in self.rejected.items()},
            "unchanged": dict(self.unchanged),
        }


def copies_per_record(records: Sequence[Record], n_aug: int, balance: bool = False) -> list[int]:
    """How many augmented copies each record gets.

    ``n_aug`` copies each; with ``balance``, every class is lifted to (largest class size) ×
    (1 + ``n_aug``) rows, the extra copies spread evenly over the class's non-empty rows.
    """
    usable = [bool(record.text.strip()) for record in records]
    if not balance:
        return [n_aug if ok else 0 for ok in usable]
    by_class: dict[str | None, list[int]] = {}
    for i, record in enumerate(records):
        by_class.setdefault(record.label, []).append(i)
    target = max(len(rows) for rows in by_class.values()) * (1 + n_aug)
    copies = [0] * len(records)
    for rows in by_class.values():
        editable = [i for i in rows if usable[i]]
        needed = target - len(rows)
        for rank, i in enumerate(editable):
            copies[i] = needed // len(editable) + (rank < needed % len(editable))
    return copies


def choose_op(op: Operation, seed: int, record_id: str, copy: int) -> Operation:
    """The operation for one copy: a branch of a top-level ``one_of``, else ``op`` itself."""
    if isinstance(op, OneOf):
        return op.choose(derive_rng(seed, record_id, "choose", copy))
    return op


def fallbacks(op: Operation, chosen: Operation, seed: int, record_id: str, copy: int) -> list[Operation]:
    """The other branches of a top-level ``one_of``, in a seeded order: tried in turn when the
    chosen one cannot edit the text (safe operations decline where an edit would read badly)."""
    if not isinstance(op, OneOf):
        return []
    others = [branch for branch in op.ops if branch is not chosen]
    derive_rng(seed, record_id, "fallback", copy).shuffle(others)
    return others


def made_by(op: Operation, seed: int, candidate: Candidate) -> Operation:
    """The branch that made ``candidate``: the drawn one, else the first fallback of its name (a
    ``one_of`` holding one operation twice, with other parameters, may name the wrong twin)."""
    chosen = choose_op(op, seed, candidate.parent.id, candidate.copy)
    if chosen.name == candidate.op:
        return chosen
    return next(b for b in fallbacks(op, chosen, seed, candidate.parent.id, candidate.copy) if b.name == candidate.op)


def propose(jobs: Sequence[Job], op: Operation, seed: int, segmenter: Segmenter) -> list[Candidate]:
    """Candidates for ``(record, copy indices)`` jobs, batched per operation. A copy that its drawn
    branch of a ``one_of`` left unchanged is made by the next of its :func:`fallbacks`."""
    planned = [
        (record, copy, choose_op(op, seed, record.id, copy)) for record, copies in jobs for copy in copies
    ]
    queue = {i: fallbacks(op, leaf, seed, record.id, copy) for i, (record, copy, leaf) in enumerate(planned)}
    tokens = {record.id: segmenter(record.text) for record, copies in jobs if copies}
    texts: dict[int, str] = {}
    pending = list(range(len(planned)))
    while pending:
        texts.update(_apply(planned, pending, tokens, seed))
        pending = [i for i in pending if texts[i] == planned[i][0].text and queue[i]]
        for i in pending:
            record, copy, _ = planned[i]
            planned[i] = (record, copy, queue[i].pop(0))
    return [Candidate(record, texts[i], leaf.name, copy) for i, (record, copy, leaf) in enumerate(planned)]


def _apply(planned: Sequence[tuple[Record, int, Operation]], items: Sequence[int], tokens: dict[str, list[Token]],
           seed: int) -> dict[int, str]:
    """The texts of the ``items`` of ``planned``, one batch per operation."""
    texts: dict[int, str] = {}
    for leaf in {id(planned[i][2]): planned[i][2] for i in items}.values():
        mine = [i for i in items if planned[i][2] is leaf]
        rngs = [derive_rng(seed, planned[i][0].id, leaf.name, planned[i][1]) for i in mine]
        try:
            edited = leaf.apply_batch([list(tokens[planned[i][0].id]) for i in mine], rngs)
        except (TypeError, ValueError) as exc:  # a parameter of the wrong type or out of range
            raise ZhaugError(f"operation {leaf.name!r} {leaf.spec()}: {exc}; check its parameters") from None
        texts.update((i, join(result)) for i, result in zip(mine, edited))
    return texts


_WORKER: tuple[Operation, int, Segmenter] | None = None


def _init_worker(op: Operation, seed: int, segmenter: Segmenter) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group: the parent stops the pool; SIGTERM (the pool's
    # terminate) ends a worker at once, whatever handler the parent had installed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER = (op, seed, segmenter)


CHUNKS_PER_TASK = 4
"""Chunks sent to a worker in one message: the parent's cost per message (pickling, Pool's
handler threads) then weighs less per row, while each chunk is still proposed on its own."""


def _propose_in_worker(task: Sequence[Sequence[tuple[str, str, Sequence[int]]]]) -> list[list[tuple[str, str]]]:
    """Per chunk of ``(id, text, copies)`` jobs, the text and operation of each candidate: only
    strings and ints cross the process boundary (pickled records and candidates cost the parent
    as much as a cheap operation)."""
    assert _WORKER is not None
    chunks = ([(Record(record_id, text), copies) for record_id, text, copies in jobs] for jobs in task)
    return [[(c.text, c.op) for c in propose(chunk, *_WORKER)] for chunk in chunks]


def _collect(task: list[list[Job]], result: AsyncResult) -> Iterator[tuple[list[Job], list[Candidate]]]:
    """Each chunk of a task and its candidates, rebuilt from the worker's ``(text, op)`` pairs."""
    for chunk, proposed in zip(task, result.get(), strict=True):
        planned = [(record, copy) for record, copies in chunk for copy in copies]
        pairs = zip(planned, proposed, strict=True)
        yield chunk, [Candidate(record, text, op, copy) for (record, copy), (text, op) in pairs]


class Augmenter:
    """Runs a :class:`Recipe` over records.

    Parameters
    ----------
    recipe: the operation and its gates.
    n_aug: augmented copies per record (see :func:`copies_per_record` for ``balance``).
    seed: the only source of randomness.
    keep_originals: also output each input row (``op = "original"``).
    workers: processes generating candidates; the output does not depend on it.
    chunk_size: records per unit of work (fixed, so batching never depends on ``workers``).
    """

    def __init__(
        self,
        recipe: Recipe,
        *,
        n_aug: int = 1,
        seed: int = 0,
        balance: bool = False,
        keep_originals: bool = True,
        workers: int = 1,
        chunk_size: int = 64,
        segmenter: Segmenter | None = None,
        progress: bool | None = None,
    ):
        if n_aug < 0:
            raise ValueError("n_aug must be >= 0")
        self.recipe, self.n_aug, self.seed, self.balance = recipe, n_aug, seed, balance
        self.keep_originals, self.workers, self.chunk_size = keep_originals, max(1, workers), chunk_size
        self.segmenter = segmenter or default_segmenter()
        self.progress = progress
        self._params_json: dict[int, str] = {}

    def run(
        self,
        records: Sequence[Record],
        writer: ResumableWriter | None = None,
        on_reject: Callable[[Candidate, str], None] | None = None,
    ) -> tuple[list[dict[str, Any]], AugmentStats]:
        """Output rows (in input order: each original, then its accepted copies) and counts.
        ``records`` may be a ``datasets.Dataset`` with ``id`` (optional), ``text`` and ``label`` columns."""
        if hasattr(records, "features"):
            records = records_from_dataset(records)
        stats = AugmentStats(rows_in=len(records), empty=sum(not r.text.strip() for r in records))
        done = writer.done if writer else {}
        copies = copies_per_record(records, self.n_aug, self.balance)
        jobs = [(r, range(n)) for r, n in zip(records, copies) if r.id not in done]
        stats.resumed = len(records) - len(jobs)
        for gate in self.recipe.gates:
            gate.prepare(records)
        produced: dict[str, list[dict[str, Any]]] = dict(done)
        chunks = windows(jobs, self.chunk_size)
        bar = progress_bar(total=len(jobs), desc=f"augment ({self.recipe.name})", unit="row", progress=self.progress)
        for chunk, candidates in self._proposals(chunks):
            for record, rows in self._chunk_rows(chunk, candidates, stats, on_reject):
                produced[record.id] = rows
                if writer:
                    writer.write_group(record.id, rows)
            bar.update(len(chunk))
        bar.close()
        rows = [row for record in records for row in produced[record.id]]
        stats.rows_out = len(rows)
        return rows, stats

    def stream(
        self,
        read: Callable[[], Iterable[Record]],
        stats: AugmentStats,
        on_reject: Callable[[Candidate, str], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`run`, in the same order, without holding the table in memory.

        ``read()`` streams the records; it is called once more for each gate's
        :meth:`~zhaug.augment.gates.base.Gate.prepare` (only the dedup gate reads it, keeping the
        set of input texts). ``stats`` is filled as rows go by. ``balance`` needs every class
        size up front, so it is not supported here.
        """
        if self.balance:
            raise ValueError("balance needs the whole table: use run()")
        for gate in self.recipe.gates:
            gate.prepare(read())
        bar = progress_bar(desc=f"augment ({self.recipe.name})", unit="row", progress=self.progress)
        for chunk, candidates in self._stream_proposals(read, stats):
            for _, rows in self._chunk_rows(chunk, candidates, stats, on_reject):
                stats.rows_out += len(rows)
                yield from rows
            bar.update(len(chunk))
        bar.close()

    def _jobs(self, records: Iterable[Record], stats: AugmentStats) -> Iterator[list[Job]]:
        """Fixed-size chunks of jobs for streamed records (no balance), counting rows in."""
        for chunk in windows(records, self.chunk_size):
            stats.rows_in += len(chunk)
            stats.empty += sum(not record.text.strip() for record in chunk)
            yield list(zip(chunk, map(range, copies_per_record(chunk, self.n_aug))))

    def _stream_proposals(
        self, read: Callable[[], Iterable[Record]], stats: AugmentStats
    ) -> Iterator[tuple[list[Job], list[Candidate]]]:
        return self._proposals(self._jobs(read(), stats))

    def _proposals(self, chunks: Iterable[list[Job]]) -> Iterator[tuple[list[Job], list[Candidate]]]:
        """(chunk, candidates) in order. With workers, chunks go out :data:`CHUNKS_PER_TASK` at a
        time, two tasks per worker in flight: the next task is sent as soon as the oldest result is
        taken, so workers never wait for a whole batch to finish."""
        if self.workers == 1:
            for chunk in chunks:
                yield chunk, propose(chunk, self.recipe.op, self.seed, self.segmenter)
            return
        # Forking a process whose torch thread pool is running can deadlock the children; once
        # torch is loaded (model-based gates or operations), workers start from a fresh server.
        context = multiprocessing.get_context("forkserver" if "torch" in sys.modules else "fork")
        with context.Pool(
            self.workers, _init_worker, (self.recipe.op, self.seed, self.segmenter)
        ) as pool:
            in_flight: deque[tuple[list[list[Job]], AsyncResult]] = deque()
            for task in windows(chunks, CHUNKS_PER_TASK):
                jobs = [[(record.id, record.text, tuple(copies)) for record, copies in chunk] for chunk in task]
                in_flight.append((task, pool.apply_async(_propose_in_worker, (jobs,))))
                if len(in_flight) == 2 * self.workers:
                    yield from _collect(*in_flight.popleft())
            while in_flight:
                yield from _collect(*in_flight.popleft())

    def _chunk_rows(
        self, chunk: list[Job], candidates: list[Candidate], stats: AugmentStats,
        on_reject: Callable[[Candidate, str], None] | None,
    ) -> Iterator[tuple[Record, list[dict[str, Any]]]]:
        """Gate one chunk's candidates; per record, its output rows (the original, then accepted copies)."""
        accepted = self._gate(candidates, stats, on_reject)
        for record, _ in chunk:
            yield record, ([self._original_row(record)] if self.keep_originals else []) + [
                self._row(c) for c in accepted.get(record.id, [])
            ]

    def _gate(
        self, candidates: list[Candidate], stats: AugmentStats, on_reject: Callable[[Candidate, str], None] | None
    ) -> dict[str, list[Candidate]]:
        stats.generated.update(c.op for c in candidates)
        stats.unchanged.update(c.op for c in candidates if comparable(c.text) == comparable(c.parent.text))
        active = candidates
        for gate in self.recipe.gates:
            if not active:
                break
            kept = []
            for candidate, reason in zip(active, gate.reasons(active)):
                if reason is None:
                    kept.append(candidate)
                    continue
                reason = f"{gate.name}: {reason}"
                stats.rejected[(candidate.op, reason.split(" (")[0])] += 1
                if on_reject:
                    on_reject(candidate, reason)
            active = kept
        stats.accepted.update(c.op for c in active)
        accepted: dict[str, list[Candidate]] = {}
        for candidate in active:
            accepted.setdefault(candidate.parent.id, []).append(candidate)
        return accepted

    def _original_row(self, record: Record) -> dict[str, Any]:
        return {"id": record.id, "parent_id": "", "text": record.text, "label": record.label,
                "op": "original", "params": "{}", "seed": self.seed}

    def _row(self, candidate: Candidate) -> dict[str, Any]:
        return {
            "id": f"{candidate.parent.id}-aug{candidate.copy}",
            "parent_id": candidate.parent.id,
            "text": candidate.text,
            "label": candidate.parent.label,
            "op": candidate.op,
            "params": self._params(made_by(self.recipe.op, self.seed, candidate)),
            "seed": self.seed,
        }

    def _params(self, op: Operation) -> str:
        """The operation's parameters as JSON (computed once per operation)."""
        if id(op) not in self._params_json:
            self._params_json[id(op)] = json.dumps(op.spec(), ensure_ascii=False, sort_keys=True)
        return self._params_json[id(op)]


def augment_records(records: Sequence[Record], recipe: Recipe, *, seed: int = 0, copy: int = 0) -> list[str]:
    """Copy number ``copy`` of each record, ungated: the same text the pipeline would propose.
    Used for online augmentation in training (one fresh copy per epoch) and from Python."""
    candidates = propose([(r, [copy]) for r in records], recipe.op, seed, default_segmenter())
    return [c.text for c in candidates]
