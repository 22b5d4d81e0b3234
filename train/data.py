"""Training data: the eval split, leakage guard, augmented children, per-epoch rows and batches.

Originals and their augmented *children* (rows with a ``parent_id``) are kept apart until each
epoch's rows are built, so a child can never reach the eval set and a child that duplicates an
eval text is dropped. Every random choice is keyed on the seed (see :mod:`zhaug.rng`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from sklearn.model_selection import train_test_split

from zhaug.augment.defences import text_defence
from zhaug.errors import InputError, ZhaugError
from zhaug.hashing import content_key
from zhaug.io import Columns, Record, comparable, iter_rows, read_table, records_from_rows
from zhaug.rng import derive_rng, derive_seed

Children = dict[str, list[str]]
"""Augmented texts by parent id."""


@dataclass(frozen=True)
class Row:
    """One training row of an epoch; ``pair`` is an augmentation of the same parent (consistency loss)."""

    text: str
    label: int
    weight: float
    pair: str | None = None


def label_names(records: Sequence[Record], source: object = None) -> list[str]:
    """The sorted labels of a training set; at least two are needed (``source``: the file, named in the error)."""
    names = sorted({r.label for r in records if r.label is not None})
    if len(names) < 2:
        problem = f"training needs at least two labels, found {names}"
        raise ZhaugError(problem) if source is None else InputError(source, problem)
    return names


def check_labels(records: Sequence[Record], names: Sequence[str], source: str) -> None:
    """Refuse an empty set, or records whose label the model cannot predict."""
    if not records:
        raise ZhaugError(f"{source}: no rows")
    unknown = sorted({r.label for r in records} - set(names))
    if unknown:
        raise ZhaugError(f"{source}: label(s) {unknown} do not occur in the training set {list(names)}")


def split_by_parent(records: Sequence[Record], fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """A stratified (train, eval) split of original rows; children follow their parent later."""
    counts = Counter(r.label for r in records)
    n_eval = max(len(counts), round(fraction * len(records)))
    if min(counts.values()) < 2 or len(records) - n_eval < len(counts):
        raise ZhaugError("too few rows per label to hold out an eval set: pass --eval")
    train, held = train_test_split(
        list(records), test_size=n_eval, stratify=[r.label for r in records],
        random_state=derive_seed(seed, "eval-split") % 2**32,
    )
    return list(train), list(held)


def clean_pool(unlabeled: Sequence[Record], held_out: Sequence[Record], cap: int) -> tuple[list[Record], dict[str, Any]]:
    """The pool without empty rows, duplicates and rows equal to a held-out (eval or test) text,
    capped at ``cap`` rows (the first ones); what was removed is counted."""
    held = {comparable(r.text) for r in held_out}
    seen: set[str] = set()
    pool, removed = [], {"empty": 0, "duplicate": 0, "held_out": 0, "over_cap": 0}
    for record in unlabeled:
        key = comparable(record.text)
        reason = "empty" if not key else "held_out" if key in held else "duplicate" if key in seen else None
        if reason:
            removed[reason] += 1
            continue
        seen.add(key)
        if len(pool) == cap:
            removed["over_cap"] += 1
            continue
        pool.append(record)
    return pool, {"rows": len(pool), "removed": removed, "checksum": content_key([r.text for r in pool])}


def read_training_table(path: str | os.PathLike[str], columns: Columns = Columns()) -> tuple[list[Record], Children]:
    """Originals, and their children when the table has a ``parent_id`` column (``zhaug augment``
    output passed as the training table), so children never land in an eval split."""
    rows = list(iter_rows(path))
    records, children = records_from_rows(rows, columns, path), {}
    if rows and "parent_id" in rows[0][1]:  # the texts as the columns say, for children too
        children = children_from_rows([{"parent_id": row["parent_id"], "text": r.text} for r, (_, row) in zip(records, rows)])
        records = [r for r, (_, row) in zip(records, rows) if not row["parent_id"]]
    if not records:
        raise InputError(path, "no rows to train on")
    label_names(records, path)
    return records, children


def read_children(path: str | os.PathLike[str], train: Sequence[Record] | None = None) -> Children:
    """Augmented texts by parent id from an augmentation output (rows without ``parent_id`` are originals).

    Given the training records, the table must have been made from them: a child whose parent is
    not among them, or whose label is not its parent's, and an original whose text differs from
    the training row of the same id, are refused (an unrelated table would attach children to
    whichever rows happen to share their ids)."""
    rows = read_table(path)
    if rows and not {"parent_id", "text"} <= set(rows[0]):
        raise InputError(path, "an augmented table needs 'parent_id' and 'text' columns (zhaug augment output)")
    if train is not None:
        check_made_from(path, rows, train)
    return children_from_rows(rows)


def check_made_from(path: str | os.PathLike[str], rows: Sequence[Mapping[str, str]], train: Sequence[Record]) -> None:
    """See :func:`read_children`: refuse an augmented table not made from ``train``."""
    by_id = {r.id: r for r in train}
    problems: Counter = Counter()
    for row in rows:
        parent = by_id.get(row["parent_id"] or row.get("id", ""))
        if row["parent_id"] and parent is None:
            problems["children whose parent is not in the training table"] += 1
        elif row["parent_id"] and row.get("label") not in (None, "", parent.label):
            problems["children labelled differently from their parent"] += 1
        elif not row["parent_id"] and parent is not None and comparable(row["text"]) != comparable(parent.text):
            problems["originals whose text differs from the training row of that id"] += 1
    if problems:
        found = "; ".join(f"{n} {problem}" for problem, n in problems.items())
        raise InputError(path, f"not made from this training table ({found}); augment the training table itself")


def children_from_rows(rows: Sequence[Mapping[str, Any]]) -> Children:
    """Augmented texts by parent id from rows such as :meth:`Augmenter.run` returns."""
    children: Children = {}
    for row in rows:
        if row.get("parent_id"):
            children.setdefault(str(row["parent_id"]), []).append(str(row["text"]))
    return children


def guard_children(children: Children, train: Sequence[Record], eval_texts: set[str]) -> tuple[Children, Counter]:
    """Keep children of training rows that are not empty and do not duplicate an eval text.

    Returns the kept children and the counts of dropped ones by reason.
    """
    parents = {r.id for r in train}
    kept: Children = {}
    dropped: Counter = Counter()
    for parent, texts in children.items():
        for text in texts:
            if parent not in parents:
                dropped["parent not in the training split"] += 1
            elif not text.strip():
                dropped["empty"] += 1
            elif comparable(text) in eval_texts:
                dropped["duplicates an eval text"] += 1
            else:
                kept.setdefault(parent, []).append(text)
    return kept, dropped


def epoch_rows(
    train: Sequence[Record],
    children: Children,
    label_ids: Mapping[str, int],
    *,
    aug_weight: float,
    pairs: bool,
    seed: int,
    epoch: int,
) -> list[Row]:
    """The originals (weight 1, each paired with one child when ``pairs``), then the children
    (weight ``aug_weight``, left out when it is 0)."""
    rows = []
    for record in train:
        own = children.get(record.id, [])
        pair = derive_rng(seed, record.id, "pair", epoch).choice(own) if pairs and own else None
        rows.append(Row(record.text, label_ids[record.label], 1.0, pair))
    if aug_weight > 0:
        rows += [
            Row(text, label_ids[record.label], aug_weight)
            for record in train
            for text in children.get(record.id, [])
        ]
    return rows


def batch_order(lengths: Sequence[int], batch_size: int, generator: torch.Generator, by_length: bool) -> list[list[int]]:
    """Shuffled batches of indices. With ``by_length``, indices are sorted by length within
    windows of 50 batches, then the batches are shuffled (similar lengths, little padding)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    if by_length:
        window = batch_size * 50
        order = [
            i for start in range(0, len(order), window)
            for i in sorted(order[start : start + window], key=lambda j: -lengths[j])
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if by_length:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids with special tokens, truncated to ``max_length`` (no padding: see :func:`pad`)."""
    if not texts:
        return []
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def too_long(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[bool]:
    """Which ``texts`` are longer than ``max_length`` tokens: :func:`encode` keeps only their start."""
    if not texts:
        return []
    return [len(ids) > max_length for ids in tokenizer(list(texts), verbose=False)["input_ids"]]


class DefendedTokenizer:
    """A tokenizer that applies a text defence (:func:`zhaug.augment.defences.text_defence`)
    to every text before tokenising it; everything else (``pad_token_id``, ``save_pretrained``)
    is the wrapped tokenizer's."""

    def __init__(self, tokenizer: Any, defence: Callable[[str], str]):
        self.tokenizer, self.defence = tokenizer, defence

    def __call__(self, texts: Sequence[str], **kwargs: Any) -> Any:
        return self.tokenizer([self.defence(text) for text in texts], **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)

    def __len__(self) -> int:
        return len(self.tokenizer)


def defended(tokenizer: Any, defence: str | None) -> Any:
    """``tokenizer``, wrapped to apply text defence ``defence`` first when one is named."""
    transform = text_defence(defence)
    return tokenizer if transform is None else DefendedTokenizer(tokenizer, transform)


def pad(sequences: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` padded to the longest sequence (dynamic padding)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, sequence in enumerate(sequences):
        ids[i, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[i, : len(sequence)] = 1
    return {"input_ids": ids, "attention_mask": mask}
