"""Composition of operations: in sequence, one of several, sometimes, and per sentence."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from zhaug.augment.base import Operation
from zhaug.augment.text import Token, is_cjk, join
from zhaug.rng import child_rng, derive_seed

SENTENCE_END = frozenset("。！？!?；;…\n")


class Compose(Operation):
    """Base for operations built from others: its label risk is the highest of its parts."""

    label_risk = "low"

    def __init__(self, ops: Sequence[Operation]):
        if not ops:
            raise ValueError(f"{type(self).__name__} needs at least one operation")
        self.ops = ops

    @property
    def risk(self) -> str:
        order = ("low", "medium", "high")
        return max((getattr(op, "risk", op.label_risk) for op in self.ops), key=order.index)

    def spec(self) -> dict:
        return {"ops": [{op.name: op.spec()} for op in self.ops]}


class Sequential(Compose):
    """Apply every operation in turn."""

    name = "sequence"

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return self.apply_batch([tokens], [rng])[0]

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        batch = list(batch)
        for i, op in enumerate(self.ops):
            batch = op.apply_batch(batch, [child_rng(rng, f"{i}:{op.name}") for rng in rngs])
        return batch


class OneOf(Compose):
    """Apply one operation chosen at random (uniformly, or by ``weights``)."""

    name = "one_of"

    def __init__(self, ops: Sequence[Operation], weights: Sequence[float] | None = None):
        super().__init__(ops)
        if weights is not None and len(weights) != len(self.ops):
            raise ValueError("one_of: weights must match the operations one to one")
        self.weights = weights

    def choose(self, rng: random.Random) -> Operation:
        """The operation to apply, drawn from ``rng``."""
        return self.ops[rng.choices(range(len(self.ops)), weights=self.weights)[0]]

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return self.apply_batch([tokens], [rng])[0]

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        chosen = [self.choose(rng) for rng in rngs]
        out: list[list[Token]] = [[] for _ in batch]
        for op in self.ops:
            items = [i for i, c in enumerate(chosen) if c is op]
            if items:
                edited = op.apply_batch([batch[i] for i in items], [child_rng(rngs[i], op.name) for i in items])
                for i, tokens in zip(items, edited):
                    out[i] = tokens
        return out

    def spec(self) -> dict:
        return {**super().spec(), "weights": None if self.weights is None else list(self.weights)}


class Sometimes(Compose):
    """Apply ``op`` with probability ``p``, else leave the text as it is."""

    name = "sometimes"

    def __init__(self, op: Operation, p: float = 0.5):
        super().__init__([op])
        if not 0.0 <= p <= 1.0:
            raise ValueError("sometimes: p must be in [0, 1]")
        self.op, self.p = op, p

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return self.apply_batch([tokens], [rng])[0]

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        op = self.ops[0]
        out = [list(tokens) for tokens in batch]
        items = [i for i, rng in enumerate(rngs) if rng.random() < self.p]
        edited = op.apply_batch([batch[i] for i in items], [child_rng(rngs[i], op.name) for i in items])
        for i, tokens in zip(items, edited):
            out[i] = tokens
        return out

    def spec(self) -> dict:
        return {"op": {self.op.name: self.op.spec()}, "p": self.p}


class PerSentence(Compose):
    """For long documents: split at sentence ends and apply ``op`` to ``k`` of the n sentences.

    Texts shorter than ``min_chars`` are edited whole. The other sentences are untouched, so a
    5,000-character article gets a few local edits rather than a rewrite.
    """

    name = "per_sentence"

    def __init__(self, op: Operation, k: int = 3, min_chars: int = 300):
        super().__init__([op])
        self.op, self.k, self.min_chars = op, k, min_chars
        self.name = op.name  # outputs are reported under the operation that made the edits

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        op = self.ops[0]
        if sum(len(token.text) for token in tokens) < self.min_chars:
            return op.apply(tokens, child_rng(rng, op.name))
        sentences = split_token_sentences(tokens)
        chosen = set(rng.sample(range(len(sentences)), min(self.k, len(sentences))))
        out: list[Token] = []
        for i, sentence in enumerate(sentences):
            out.extend(op.apply(sentence, child_rng(rng, f"{i}:{op.name}")) if i in chosen else sentence)
        return out

    def spec(self) -> dict:
        return {"op": {self.op.name: self.op.spec()}, "k": self.k, "min_chars": self.min_chars}


def split_token_sentences(tokens: Sequence[Token]) -> list[list[Token]]:
    """Group tokens into sentences, each ending after a sentence-final punctuation token."""
    sentences: list[list[Token]] = [[]]
    for token in tokens:
        sentences[-1].append(token)
        if token.text and token.text[-1] in SENTENCE_END:
            sentences.append([])
    return [sentence for sentence in sentences if sentence]


CLAUSE_END = frozenset("，,")
"""Marks a long sentence is cut after (not 、 inside a list, not ： before what it introduces)."""


def split_long_sentence(sentence: list[Token], max_chars: int) -> list[list[Token]]:
    """``sentence`` in pieces of at most ``max_chars`` characters where it can be, cut only after
    a comma and filled greedily; a clause longer than ``max_chars`` stays whole."""
    clauses: list[list[Token]] = [[]]
    for token in sentence:
        clauses[-1].append(token)
        if token.kind == "punct" and token.text and token.text[-1] in CLAUSE_END:
            clauses.append([])
    pieces: list[list[Token]] = []
    for clause in filter(None, clauses):
        if pieces and len(join(pieces[-1])) + len(join(clause)) <= max_chars:
            pieces[-1].extend(clause)
        else:
            pieces.append(list(clause))
    return pieces


SentenceJob = tuple[int, int, int]
"""(text index, sentence index, seed) of a sentence to rewrite."""


def sentence_jobs(
    batch: Sequence[list[Token]], rngs: Sequence[random.Random], k: int | None, max_chars: int | None = None
) -> tuple[list[list[list[Token]]], list[SentenceJob]]:
    """Split each text into sentences and choose ``k`` of those with Chinese to rewrite (all if
    ``k`` is ``None``), each with a seed of its own: sentence models (back-translation,
    paraphrase) rewrite long texts a few sentences at a time. ``max_chars``: a longer sentence
    is cut at its commas into pieces, which count as sentences (a rewrite of a 140-character
    sentence nearly always breaks one of its facts)."""
    texts = [split_token_sentences(tokens) for tokens in batch]
    if max_chars is not None:
        texts = [[piece for sentence in sentences for piece in split_long_sentence(sentence, max_chars)]
                 for sentences in texts]
    jobs: list[SentenceJob] = []
    for t, (sentences, rng) in enumerate(zip(texts, rngs)):
        chinese = [i for i, s in enumerate(sentences) if any(is_cjk(char) for char in join(s))]
        chosen = chinese if k is None or len(chinese) <= k else sorted(rng.sample(chinese, k))
        base = rng.getrandbits(64)
        jobs.extend((t, i, derive_seed(base, i)) for i in chosen)
    return texts, jobs


def text_tries(jobs: Sequence[SentenceJob], tries: int, k: int | None) -> list[int]:
    """Tries per job when each text has ``tries`` × ``k`` in all, shared among its chosen
    sentences: a text with one sentence to rewrite gets every try of the ``k`` it lacks, so that
    short texts are not the ones left without a copy (with ``k`` None, ``tries`` each)."""
    if k is None:
        return [tries] * len(jobs)
    chosen = Counter(t for t, _, _ in jobs)
    return [-(-tries * k // chosen[t]) for t, _, _ in jobs]


def replace_sentences(
    texts: list[list[list[Token]]], jobs: Sequence[SentenceJob], results: Sequence[str | None],
    segment: Callable[[str], list[Token]],
) -> list[list[Token]]:
    """The texts with each job's sentence replaced by its result (``None`` or empty keeps the
    sentence), keeping the sentence's leading and trailing whitespace."""
    out = [[list(sentence) for sentence in sentences] for sentences in texts]
    for (t, i, _), result in zip(jobs, results):
        if result:
            text = join(texts[t][i])
            lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
            out[t][i] = segment(lead + result + trail)
    return [[token for sentence in sentences for token in sentence] for sentences in out]


def leaf_ops(op: Operation) -> Iterator[Operation]:
    """The operations inside ``op`` (itself if it composes nothing)."""
    children = op.ops if isinstance(op, Compose) else []
    if not children:
        yield op
    for child in children:
        yield from leaf_ops(child)
