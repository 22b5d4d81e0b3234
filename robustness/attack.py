"""A budgeted greedy black-box attack with the perturbation families as substitutions.

For each row the model gets right: rank its editable words by leave-one-out importance (the
drop of the gold-class probability when the word is deleted), then, most important first,
replace one word at a time by the candidate — one word edited by each attack family — that
lowers the gold probability most, until the prediction changes (success), the query budget is
spent, the modification-rate cap is reached or the words run out. Protected spans are never
edited (they are not editable words). All rows advance in lockstep, so every step is one
batched call of the model.

Queries per row count the clean prediction, the leave-one-out texts and every candidate.
The modification rate is changed words / words (tokens that are not punctuation or space).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from zhaug.augment.base import Operation, editable_positions
from zhaug.augment.text import Token, join
from zhaug.errors import ZhaugError
from zhaug.progress import progress_bar
from zhaug.protocols import Embed
from zhaug.rng import derive_rng, derive_seed
from zhaug.robustness.families import FAMILIES, Family, select_families
from zhaug.robustness.metrics import bootstrap_indices, mean_estimate
from zhaug.vectors import row_cosines


@dataclass
class AttackConfig:
    """Attack settings (the ``attack:`` section of an audit config).

    ``families``: substitution sources (default: every available label-preserving family whose
    edits stay inside a word); ``draws``: candidates per family and word; ``rate``: edit rate
    inside the word; ``max_samples``: rows attacked (a seeded sample of the correctly
    predicted rows).
    """

    families: list[str] | None = None
    query_budget: int = 200
    max_mod_rate: float = 0.2
    draws: int = 1
    rate: float = 0.5
    max_samples: int = 100

    def __post_init__(self) -> None:
        if self.query_budget < 1 or not 0 < self.max_mod_rate <= 1 or self.draws < 1 or self.max_samples < 1:
            raise ZhaugError("attack: query_budget, draws and max_samples must be >= 1 and max_mod_rate in (0, 1]")

    def substitution_families(self) -> list[Family]:
        if self.families is None:
            return [f for f in FAMILIES if f.attack and f.label_preserving and f.available]
        chosen = select_families(self.families)
        unusable = [f.name for f in chosen if not (f.attack and f.label_preserving)]
        if unusable:
            raise ZhaugError(f"attack: families {unusable} do not edit within one word or may change the label")
        return chosen


@dataclass
class _Row:
    """The search state of one attacked row."""

    index: int
    tokens: list[Token]
    n_words: int
    max_changes: int
    order: list[int] = field(default_factory=list)
    pointer: int = 0
    queries: int = 0
    changed: int = 0
    p_gold: float = 1.0
    done: bool = False
    success: bool = False
    pred: int = -1


def _replace(tokens: Sequence[Token], i: int, text: str) -> list[Token]:
    return [*tokens[:i], tokens[i].with_text(text), *tokens[i + 1 :]]


def _candidates(
    token: Token, ops: Sequence[tuple[str, Operation]], draws: int, seed: int, rid: str, i: int
) -> list[str]:
    """Distinct edits of one word, one per family and draw (the word itself excluded)."""
    out: dict[str, None] = {}
    for family, op in ops:
        for k in range(draws):
            text = join(op.apply([token], derive_rng(seed, rid, "attack", family, i, k)))
            if text and text != token.text:
                out[text] = None
    return list(out)


def attack(
    predict: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    tokens: Sequence[list[Token]],
    ids: Sequence[str],
    gold: np.ndarray,
    clean: np.ndarray,
    classes: Sequence[str],
    config: AttackConfig,
    *,
    seed: int = 0,
    n_resamples: int = 1000,
    embed: Embed | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Attack a seeded sample of the rows that ``clean`` (the clean probabilities) gets right.

    ``predict`` maps texts to probabilities (batching is its business). Each round asks every
    unfinished row for its next word's candidates and scores them all in one batch. Returns the
    summary figures and one entry per attacked row (``rows``).
    """
    started = time.perf_counter()
    ops = [(f.name, f.build(rate=config.rate)) for f in config.substitution_families()]
    rows = _sample_rows(tokens, gold, clean, config, seed)
    bar = progress_bar(total=len(rows), desc="attack", unit="row", leave=False, progress=progress)
    _rank_positions(rows, predict, gold, config.query_budget)
    while step := [proposal for row in rows if (proposal := _next_proposal(row, ops, config, seed, ids, bar))]:
        probs = predict([join(_replace(row.tokens, i, text)) for row, i, found in step for text in found])
        offset = 0
        for row, i, found in step:
            _take_best(row, i, found, probs[offset : offset + len(found)], int(gold[row.index]), bar)
            offset += len(found)
    bar.close()
    return _summary(rows, texts, ids, gold, classes, embed, seed, n_resamples, time.perf_counter() - started)


def _sample_rows(tokens: Sequence[list[Token]], gold: np.ndarray, clean: np.ndarray, config: AttackConfig,
                 seed: int) -> list[_Row]:
    """The rows to attack: a seeded sample of those predicted correctly, each with its budget."""
    correct = [i for i in range(len(tokens)) if clean[i].argmax() == gold[i]]
    chosen = sorted(derive_rng(seed, "attack-sample").sample(correct, min(config.max_samples, len(correct))))
    rows = []
    for i in chosen:
        n_words = sum(t.kind not in ("punct", "space") for t in tokens[i])
        rows.append(_Row(i, list(tokens[i]), n_words, max(1, int(config.max_mod_rate * n_words)),
                         queries=1, p_gold=float(clean[i, gold[i]]), pred=int(gold[i])))
    return rows


def _rank_positions(rows: Sequence[_Row], predict: Callable[[list[str]], np.ndarray], gold: np.ndarray,
                    query_budget: int) -> None:
    """Order each row's editable words by leave-one-out importance, in one batch for every row;
    a row with more editable words than its budget allows ranks only the first ones."""
    loo = [(row, i) for row in rows for i in editable_positions(row.tokens)[: query_budget - 1]]
    loo_probs = predict([join(row.tokens[:i] + row.tokens[i + 1 :]) for row, i in loo])
    importance: dict[int, list[tuple[float, int]]] = {}
    for (row, i), probs in zip(loo, loo_probs):
        row.queries += 1
        importance.setdefault(row.index, []).append((row.p_gold - probs[gold[row.index]], i))
    for row in rows:
        row.order = [i for _, i in sorted(importance.get(row.index, []), key=lambda x: (-x[0], x[1]))]


def _next_proposal(row: _Row, ops: Sequence[tuple[str, Operation]], config: AttackConfig, seed: int,
                   ids: Sequence[str], bar: tqdm) -> tuple[_Row, int, list[str]] | None:
    """The row's next word and its substitutes within the budget, or ``None`` once it is done."""
    while not row.done:
        if row.pointer >= len(row.order) or row.queries >= config.query_budget or row.changed >= row.max_changes:
            row.done = True
            bar.update(1)
            break
        i = row.order[row.pointer]
        row.pointer += 1
        # each position is visited once, so row.tokens[i] is still the original word
        found = _candidates(row.tokens[i], ops, config.draws, seed, ids[row.index], i)
        found = found[: config.query_budget - row.queries]
        if found:
            return row, i, found
    return None


def _take_best(row: _Row, i: int, found: list[str], block: np.ndarray, g: int, bar: tqdm) -> None:
    """Keep the substitute that flips the prediction (the most confident flip), else the one that
    lowers the gold probability most, if it lowers it at all."""
    row.queries += len(found)
    best = int(np.argmin(block[:, g]))
    flipped = np.flatnonzero(block.argmax(axis=1) != g)
    if flipped.size:
        best = int(flipped[np.argmin(block[flipped, g])])
    if flipped.size or block[best, g] < row.p_gold:
        row.tokens = _replace(row.tokens, i, found[best])
        row.changed += 1
        row.p_gold, row.pred = float(block[best, g]), int(block[best].argmax())
    if flipped.size:
        row.success = row.done = True
        bar.update(1)


def _summary(
    rows: Sequence[_Row],
    texts: Sequence[str],
    ids: Sequence[str],
    gold: np.ndarray,
    classes: Sequence[str],
    embed: Embed | None,
    seed: int,
    n_resamples: int,
    seconds: float,
) -> dict[str, Any]:
    details = []
    for row in rows:
        adversarial = join(row.tokens)
        details.append({
            "id": ids[row.index], "label": classes[gold[row.index]], "success": row.success,
            "prediction": classes[row.pred], "gold_probability": row.p_gold, "queries": row.queries,
            "changed_words": row.changed, "modification_rate": row.changed / max(1, row.n_words),
            "char_similarity": difflib.SequenceMatcher(None, texts[row.index], adversarial).ratio(),
            "original": texts[row.index], "adversarial": adversarial,
        })
    won = [d for d in details if d["success"]]
    if embed is not None and won:
        a = np.asarray(embed([d["original"] for d in won]), dtype=float)
        b = np.asarray(embed([d["adversarial"] for d in won]), dtype=float)
        cosine = row_cosines(a, b)
        for d, c in zip(won, cosine):
            d["embedding_cosine"] = float(c)
    success = np.array([d["success"] for d in details], dtype=float)

    def mean(key: str, items: Sequence[dict[str, Any]]) -> float | None:
        values = [d[key] for d in items if key in d]
        return float(np.mean(values)) if values else None

    return {
        "n_attacked": len(rows),
        "success_rate": mean_estimate(success, bootstrap_indices(len(success), n_resamples, derive_seed(seed, "attack")))
        if len(success) else None,
        "queries_per_sample": mean("queries", details),
        "modification_rate": mean("modification_rate", won),
        "char_similarity": mean("char_similarity", won),
        "embedding_cosine": mean("embedding_cosine", won),
        "seconds": seconds,
        "seconds_per_sample": seconds / len(rows) if rows else None,
        "rows": details,
    }
