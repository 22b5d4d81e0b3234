"""Back-translation: zh → pivot → zh with MarianMT (transformers), CTranslate2 for speed, or a
local chat model through llama.cpp (``backend="llm"``, works offline).

Texts are translated sentence by sentence, ``k`` sentences per text, all the sentences of a
batch of texts in one batch of forward passes. Models load on first use, once per process,
so the operation itself pickles cheaply to worker processes.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from zhaug.augment.base import Operation, default_segmenter, register
from zhaug.augment.compose import replace_sentences, sentence_jobs, text_tries
from zhaug.augment.text import Token, join
from zhaug.errors import MissingResourceError
from zhaug.rng import derive_seed

DEFAULT_FORWARD = "Helsinki-NLP/opus-mt-zh-en"
DEFAULT_BACKWARD = "Helsinki-NLP/opus-mt-en-zh"
ZH_TOKEN = ">>cmn_Hans<<"
"""Target-language token that multi-target Marian models (opus-mt-en-zh) need for Simplified Chinese."""

BACKENDS = ("transformers", "ctranslate2", "llm")
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}0-9])|(?<=[{_CJK}0-9])\s+(?=[{_CJK}])")


@register
class BackTranslate(Operation):
    """Translate sentences to a pivot language and back.

    Parameters
    ----------
    forward, backward:
        zh → pivot and pivot → zh models: hub names (found in the local Hugging Face cache,
        never downloaded) or local folders; CTranslate2 folders with ``backend="ctranslate2"``.
    k:
        Sentences translated per text (chosen at random among those with Chinese); the others
        are kept verbatim. ``None`` translates every sentence.
    temperature:
        0 decodes with beam search (deterministic); above 0 samples each token at this
        temperature, from a generator seeded per sentence, so a text's result does not depend
        on the other texts in its batch. CTranslate2 cannot seed its sampler per sentence, so
        there it picks one of the ``num_beams`` best translations, weighted by
        ``exp(score / temperature)``.
    num_beams:
        Beam size for ``temperature=0`` (and the n-best size for CTranslate2 sampling).
    batch_size, max_tokens:
        Sentences per forward pass; tokens generated per sentence at most.
    keep_protected:
        Check each round trip with the facts gate's check (numbers, names, negations and their
        scope, denials, opposite words, deaths, dropped words; :func:`~zhaug.augment.gates.facts.fact_problem`)
        and the ``gates``; one that fails, or is unchanged, is retried with another seed, up to
        ``tries`` (one try at ``temperature=0``), then the sentence is kept untranslated.
    backend, device:
        ``transformers``, ``ctranslate2`` (optional, ``pip install ctranslate2``) or ``llm``: a local
        chat model through llama.cpp (``pip install 'zhaug[llm]'``), which needs no translation
        models and ignores ``forward``, ``backward``, ``num_beams`` and ``batch_size``; torch device.
    model, pivot:
        For ``backend="llm"``: a packaged model name or GGUF path (``None``: Qwen2.5-Coder-1.5B-Instruct)
        and the pivot language (``en`` or ``ja``).
    tries, share_tries, gates, restore:
        Attempts per sentence with ``keep_protected`` (``share_tries``: a text with fewer than ``k``
        sentences shares the tries of all ``k``), gate specs each round trip must also pass, and
        the source's wording put back where only a negator or units were reworded: as in
        :class:`Paraphrase`.

    Label risk: medium — a paraphrase can weaken or drop the words that carry the label
    (sentiment intensity, hedges); protected facts are kept by ``keep_protected``.
    """

    name = "back_translate"
    label_risk = "medium"

    def __init__(
        self,
        forward: str = DEFAULT_FORWARD,
        backward: str = DEFAULT_BACKWARD,
        k: int | None = 3,
        temperature: float = 0.0,
        num_beams: int = 4,
        batch_size: int = 16,
        max_tokens: int = 256,
        keep_protected: bool = True,
        backend: str = "transformers",
        device: str = "cpu",
        model: str | None = None,
        pivot: str = "en",
        tries: int = 3,
        gates: Sequence[str | dict] = (),
        share_tries: bool = False,
        restore: bool = False,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"back_translate: backend must be one of {BACKENDS}, got {backend!r}")
        if temperature < 0 or (k is not None and k < 1) or num_beams < 1:
            raise ValueError("back_translate: need temperature >= 0, k >= 1 (or None), num_beams >= 1")
        self.forward, self.backward, self.k, self.temperature = str(forward), str(backward), k, temperature
        self.num_beams, self.batch_size, self.max_tokens = num_beams, batch_size, max_tokens
        self.keep_protected, self.backend, self.device = keep_protected, backend, device
        self.model, self.pivot, self.tries, self.gates = model, pivot, tries, gates
        self.share_tries, self.restore = share_tries, restore

    def apply(self, tokens: list[Token], rng: random.Random) -> list[Token]:
        return self.apply_batch([tokens], [rng])[0]

    def apply_batch(self, batch: Sequence[list[Token]], rngs: Sequence[random.Random]) -> list[list[Token]]:
        from zhaug.augment.generative.rewrite import first_passing, sentence_gates

        texts, jobs = sentence_jobs(batch, rngs, self.k)
        sources = [join(texts[t][i]).strip() for t, i, _ in jobs]
        seeds = [seed for _, _, seed in jobs]
        attempt = self._llm_attempt() if self.backend == "llm" else self._round_trip
        if self.keep_protected:
            tries = text_tries(jobs, self.tries, self.k) if self.share_tries else self.tries
            results = first_passing(sources, seeds, attempt, tries if self.temperature > 0 else 1,
                                    sentence_gates(self.gates), restore=self.restore)
        else:
            results = list(attempt(sources, seeds))
        return replace_sentences(texts, jobs, results, default_segmenter())

    def _llm_attempt(self):
        """zh → pivot → zh with a chat model (see :func:`~zhaug.augment.generative.rewrite.back_translation_attempt`)."""
        from zhaug.augment.generative.rewrite import back_translation_attempt, backend_for

        return back_translation_attempt(backend_for(self.model), self.pivot, self.temperature, self.max_tokens)

    def _round_trip(self, sources: list[str], seeds: list[int]) -> list[str]:
        """zh → pivot → zh with the translation models, each direction with its own seed."""
        pivots = self._translate(self.forward, "forward", sources, [derive_seed(s, "forward") for s in seeds])
        backs = self._translate(self.backward, "backward", pivots, [derive_seed(s, "backward") for s in seeds])
        return [tidy_spaces(back) for back in backs]

    def _translate(self, model: str, direction: str, texts: list[str], seeds: list[int]) -> list[str]:
        if not texts:
            return []
        translate = _hf_translate if self.backend == "transformers" else _ct2_translate
        loaded = _load(self.backend, model, direction, self.device)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [""] * len(texts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            results = translate(loaded, [texts[i] for i in rows], [seeds[i] for i in rows], self, direction)
            for i, result in zip(rows, results):
                out[i] = result
        return out


def tidy_spaces(text: str) -> str:
    """Remove the spaces a detokeniser puts between Chinese characters (and digits beside them)."""
    return _CJK_SPACE.sub("", text).strip()


def missing_model_message(model: str, direction: str, backend: str) -> str:
    """What to pass, and how to get the default models on a networked machine."""
    convert = (
        " and convert each with `ct2-transformers-converter --model DIR --output_dir DIR-ct2 --copy_files "
        "source.spm target.spm vocab.json tokenizer_config.json`"
        if backend == "ctranslate2" else ""
    )
    return (
        f"back_translate: the {direction} model {model!r} is not available offline. Pass local model folders: "
        f"`zhaug augment ... --bt-forward PATH --bt-backward PATH`, or in a recipe "
        f"`back_translate: {{forward: PATH, backward: PATH}}`. To get the defaults, on a machine with internet run "
        f"`huggingface-cli download {DEFAULT_FORWARD} --local-dir opus-mt-zh-en` and "
        f"`huggingface-cli download {DEFAULT_BACKWARD} --local-dir opus-mt-en-zh`{convert}, then copy the folders here."
    )


@cache
def _load(backend: str, model: str, direction: str, device: str) -> tuple[Any, Any]:
    """(model or translator, tokenizer), once per process."""
    from transformers import AutoTokenizer

    local = Path(model).is_dir()
    if backend == "ctranslate2":
        try:
            import ctranslate2
        except ImportError:
            raise MissingResourceError(
                "back_translate: backend 'ctranslate2' needs the ctranslate2 package: pip install ctranslate2"
            ) from None
        if not local:
            raise MissingResourceError(missing_model_message(model, direction, backend))
        return ctranslate2.Translator(model, device=device), AutoTokenizer.from_pretrained(model)
    from transformers import AutoModelForSeq2SeqLM

    try:
        network = AutoModelForSeq2SeqLM.from_pretrained(model, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    except OSError:
        raise MissingResourceError(missing_model_message(model, direction, backend)) from None
    return network.to(device).eval(), tokenizer


def _prefix(tokenizer: Any, direction: str) -> str:
    """The Simplified Chinese target token for a backward model that has one, else nothing."""
    return f"{ZH_TOKEN} " if direction == "backward" and ZH_TOKEN in tokenizer.get_vocab() else ""


class _RowSampler:
    """Logits processor that samples each row's next token from that row's own generator and
    masks every other token, so greedy decoding then picks the sample."""

    def __init__(self, seeds: Sequence[int], temperature: float):
        import torch

        self.temperature = temperature
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = (scores.float() / self.temperature).softmax(-1)
        picks = [torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators)]
        masked = torch.full_like(scores, -math.inf)
        return masked.scatter(1, torch.stack(picks), 0.0)


def _hf_translate(
    loaded: tuple[Any, Any], texts: list[str], seeds: list[int], op: BackTranslate, direction: str
) -> list[str]:
    import torch

    model, tokenizer = loaded
    prefix = _prefix(tokenizer, direction)
    inputs = tokenizer([prefix + text for text in texts], return_tensors="pt", padding=True, truncation=True)
    options: dict[str, Any] = {"max_new_tokens": op.max_tokens, "do_sample": False}
    if op.temperature > 0:
        options.update(num_beams=1, logits_processor=[_RowSampler(seeds, op.temperature)])
    else:
        options.update(num_beams=op.num_beams)
    with torch.inference_mode():
        generated = model.generate(**inputs.to(op.device), **options)
    return tokenizer.batch_decode(generated, skip_special_tokens=True)


def _ct2_translate(
    loaded: tuple[Any, Any], texts: list[str], seeds: list[int], op: BackTranslate, direction: str
) -> list[str]:
    translator, tokenizer = loaded
    prefix = _prefix(tokenizer, direction)
    sources = [tokenizer.convert_ids_to_tokens(tokenizer.encode(prefix + text)) for text in texts]
    sampling = op.temperature > 0
    results = translator.translate_batch(
        sources, beam_size=op.num_beams, num_hypotheses=op.num_beams if sampling else 1,
        return_scores=sampling, max_decoding_length=op.max_tokens,
    )
    outputs = []
    for result, seed in zip(results, seeds):
        hypothesis = result.hypotheses[0]
        if sampling:
            top = max(result.scores)
            weights = [math.exp((score - top) / op.temperature) for score in result.scores]
            hypothesis = random.Random(seed).choices(result.hypotheses, weights=weights)[0]
        outputs.append(tokenizer.decode(tokenizer.convert_tokens_to_ids(hypothesis), skip_special_tokens=True))
    return outputs
