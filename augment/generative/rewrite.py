"""Sentence rewriting with a chat model: paraphrase (zh → zh) and back-translation (zh → pivot → zh).

Links, @mentions, #topics# and emoji at either end of a sentence, and the marks it ends with, are
set aside and put back verbatim: the model only sees the words between them (asked to rewrite a
microblog sentence whole, the 1.5B model often dropped or altered them, and ended exclamations
with 。: 太慢了。！！！).

Each sentence has its own seed; a rewrite that is unchanged, fails the fact check
(:func:`zhaug.augment.gates.facts.fact_problem`) or fails the operation's own gates (judged as a
copy of its sentence: a fluency gate scored by a causal LM, say) is tried again with a seed
derived from it, up to ``tries`` times, and the sentence is kept as it was if no try passes. A
gate at the recipe level would drop the whole copy instead of asking for another try.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from zhaug.augment.base import default_segmenter
from zhaug.augment.gates import build_gate
from zhaug.augment.gates.base import Gate, check_pairs
from zhaug.augment.gates.facts import CLOSING_MARKS, fact_problem, restore_protected
from zhaug.augment.gates.fluency import FluencyGate
from zhaug.augment.generative.backend import LlamaBackend
from zhaug.augment.generative.models import DEFAULT_MODEL
from zhaug.augment.generative.prompts import clean_reply, messages
from zhaug.augment.text import join
from zhaug.rng import derive_seed

TOP_P = 0.9
"""Nucleus sampling mass when the temperature is above 0."""

Attempt = Callable[[list[str], list[int]], list[str]]


@cache
def backend_for(model: str | None, n_ctx: int = 2048) -> LlamaBackend:
    """The backend of ``model`` (``None``: the default packaged model), once per process."""
    return LlamaBackend(model if model is not None else DEFAULT_MODEL, n_ctx=n_ctx)


def sentence_gates(specs: Sequence[str | dict]) -> list[Gate]:
    """Gates from recipe specs, for :func:`first_passing`."""
    return [build_gate(spec) for spec in specs]


def sampling(temperature: float, max_tokens: int, seed: int, min_p: float | None = None) -> dict[str, Any]:
    """Request parameters: greedy at temperature 0, else nucleus sampling seeded by ``seed``;
    ``min_p``: also drop tokens less probable than ``min_p`` times the likeliest (Nguyen et al.
    2024; ``None`` leaves llama.cpp's default, 0.05, and the cache keys of replies made before)."""
    top_p = TOP_P if temperature > 0 else 1.0
    params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed % 2**31}
    return params if min_p is None else {**params, "min_p": min_p}


def first_passing(
    sources: Sequence[str], seeds: Sequence[int], attempt: Attempt, tries: int | Sequence[int],
    gates: Sequence[Gate] = (), pick: int = 1, rank: Rank | None = None, restore: bool = False,
) -> list[str | None]:
    """Per source, the first of ``tries`` attempts (a number, or one per source) that changed its
    words (:func:`words`), kept its facts and passed ``gates``, else ``None``. With ``pick`` > 1,
    attempts go on until ``pick`` have passed (or the tries run out) and the passing one ``rank``
    puts lowest is taken (ties: the earliest). Try ``n`` of a source has the same seed whatever its budget, so a larger
    budget only adds tries. ``restore``: each attempt first gets the source's wording back where it
    only reworded a negator or a number's units (:func:`restore_protected`)."""
    budget = [tries] * len(sources) if isinstance(tries, int) else list(tries)
    passed: list[list[str]] = [[] for _ in sources]
    pending = list(range(len(sources)))
    for n in range(max(budget, default=0)):
        pending = [i for i in pending if n < budget[i]]
        if not pending:
            break
        outputs = attempt([sources[i] for i in pending], [derive_seed(seeds[i], "try", n) for i in pending])
        if restore:
            outputs = [restore_protected(sources[i], out) if out else out for i, out in zip(pending, outputs)]
        kept = [(i, out) for i, out in zip(pending, outputs)
                if out and words(out) != words(sources[i]) and fact_problem(sources[i], out) is None]
        verdicts = check_pairs([(sources[i], out) for i, out in kept], list(gates)) if gates else [None] * len(kept)
        for (i, output), verdict in zip(kept, verdicts):
            if verdict is None:
                passed[i].append(output)
        pending = [i for i in pending if len(passed[i]) < pick]
    if rank is None:
        return [found[0] if found else None for found in passed]
    return [min(found, key=lambda out: rank(source, out)) if found else None for source, found in zip(sources, passed)]


def words(text: str) -> str:
    """``text`` without spaces and punctuation: a rewrite that changes only those is no rewrite
    (a try that put back a space, or turned commas into full stops, is asked again)."""
    return "".join(char for char in text if not (char.isspace() or unicodedata.category(char).startswith("P")))


Rank = Callable[[str, str], float]
"""How bad a rewrite of a source is (lower is better): :meth:`FluencyGate.excess`, say."""


def fluency_rank(gates: Sequence[Gate]) -> Rank | None:
    """The first fluency gate's :meth:`~zhaug.augment.gates.fluency.FluencyGate.excess`, if any."""
    return next((gate.excess for gate in gates if isinstance(gate, FluencyGate)), None)


EDGE_KINDS = frozenset({"url", "mention", "hashtag", "emoji", "space"})
"""Token kinds a sentence may start or end with that no rewrite should touch (and, at its end, marks)."""


def edges(text: str) -> tuple[str, str, str]:
    """``(head, core, tail)``: ``text``'s leading run of :data:`EDGE_KINDS` tokens, its trailing
    run of those and punctuation, and what lies between them."""
    tokens = default_segmenter()(text)
    start, end = 0, len(tokens)
    while start < end and tokens[start].kind in EDGE_KINDS:
        start += 1
    while end > start and (tokens[end - 1].kind in EDGE_KINDS or tokens[end - 1].kind == "punct"):
        end -= 1
    head, core, tail = join(tokens[:start]), join(tokens[start:end]), join(tokens[end:])
    while tail and closes_open_mark(core, tail[0]):
        core, tail = core + tail[0], tail[1:]
    return head, core, tail


def closes_open_mark(text: str, char: str) -> bool:
    """Whether ``char`` closes a mark left open in ``text`` (so it belongs to ``text``'s words)."""
    opener = CLOSING_MARKS.get(char)
    if opener is None:
        return False
    if opener == char:
        return text.count(char) % 2 == 1
    return text.count(opener) > text.count(char)


def without_final_marks(text: str) -> str:
    """``text`` without the punctuation and spaces it ends with, but for marks that close one it
    opened (走出“枪门”？ keeps its ”)."""
    end = len(text)
    while end and (text[end - 1].isspace() or unicodedata.category(text[end - 1]).startswith("P")):
        if closes_open_mark(text[: end - 1], text[end - 1]):
            break
        end -= 1
    return text[:end]


def keeping_edges(attempt: Attempt) -> Attempt:
    """``attempt`` on each source's core only, its edges put back in place of the marks the reply
    ends with (no core: an empty result)."""

    def wrapped(sources: list[str], seeds: list[int]) -> list[str]:
        parts = [edges(source) for source in sources]
        asked = [i for i, (_, core, _) in enumerate(parts) if core.strip()]
        replies = attempt([parts[i][1] for i in asked], [seeds[i] for i in asked])
        outputs = {i: without_final_marks(reply) for i, reply in zip(asked, replies)}
        return [head + outputs[i] + tail if outputs.get(i) else "" for i, (head, _, tail) in enumerate(parts)]

    return wrapped


def paraphrase_attempt(backend: LlamaBackend, temperature: float, max_tokens: int,
                       min_p: float | None = None) -> Attempt:
    """One zh → zh rewrite per source."""

    def attempt(sources: list[str], seeds: list[int]) -> list[str]:
        requests = [(messages("paraphrase", s), sampling(temperature, max_tokens, seed, min_p))
                    for s, seed in zip(sources, seeds)]
        return [clean_reply(reply) for reply in backend.generate(requests)]

    return keeping_edges(attempt)


def back_translation_attempt(backend: LlamaBackend, pivot: str, temperature: float, max_tokens: int) -> Attempt:
    """One zh → pivot → zh round trip per source (each direction with its own seed)."""

    def attempt(sources: list[str], seeds: list[int]) -> list[str]:
        forward = [
            (messages("to_pivot", s, pivot), sampling(temperature, max_tokens, derive_seed(seed, "forward")))
            for s, seed in zip(sources, seeds)
        ]
        pivots = [" ".join(reply.split()) for reply in backend.generate(forward)]
        backward = [
            (messages("from_pivot", p, pivot), sampling(temperature, max_tokens, derive_seed(seed, "backward")))
            for p, seed in zip(pivots, seeds)
        ]
        return [clean_reply(reply) for reply in backend.generate(backward)]

    return keeping_edges(attempt)
