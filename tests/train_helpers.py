"""Shared by the trainer tests: a tiny random ALBERT and a trivially separable synthetic set."""

from __future__ import annotations

from pathlib import Path

from zhaug.io import Record
from zhaug.rng import derive_rng

POSITIVE = "好棒赞美优佳喜爱乐甜"
NEGATIVE = "差坏烂糟劣臭苦恨厌痛"
NEUTRAL = "的了是在我有这个们来"
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_model(folder: Path, groups: int = 1) -> Path:
    """A randomly initialised 2-layer ALBERT (``groups`` = 2: a weight set per layer, as the
    embedded models) and a character tokenizer, saved with safetensors."""
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + list(POSITIVE + NEGATIVE + NEUTRAL)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"))
    config = AlbertConfig(
        vocab_size=len(tokenizer), embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=0, num_hidden_groups=groups,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        AlbertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def synthetic(n: int, seed: int = 0, prefix: str = "r") -> list[Record]:
    """``n`` rows: ``pos`` texts use positive characters, ``neg`` texts negative ones (plus filler)."""
    records = []
    for i in range(n):
        rng = derive_rng(seed, prefix, i)
        label, chars = ("pos", POSITIVE) if i % 2 == 0 else ("neg", NEGATIVE)
        text = "".join(rng.choice(chars + NEUTRAL) for _ in range(rng.randint(4, 12))) + rng.choice(chars)
        records.append(Record(f"{prefix}{i}", text, label))
    return records


def encoder_and_ids(model_dir: str, texts: list[str]):
    """The encoder of the classifier in ``model_dir`` (eval mode), ``texts`` as token ids (at most
    24), and the pad id."""
    from zhaug.train.data import encode
    from zhaug.train.models.loading import load_classifier, load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    encoder = load_classifier(model_dir, 2, {0: "neg", 1: "pos"}).albert.eval()
    return encoder, encode(tokenizer, texts, 24), tokenizer.pad_token_id
