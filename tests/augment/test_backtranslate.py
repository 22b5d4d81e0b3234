"""Back-translation with tiny randomly initialised Marian models built offline in the test."""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import re

import pytest

from zhaug.augment.base import default_segmenter
from zhaug.augment.ops.backtranslate import BackTranslate, _load, _prefix, tidy_spaces
from zhaug.augment.recipes import load_recipe
from zhaug.augment.text import join
from zhaug.errors import MissingResourceError
from zhaug.rng import derive_rng

LINES = [
    "今天天气很好，我们去公园散步吧。", "这部电影非常好看，演员的表演很自然。", "我喜欢吃苹果和香蕉。",
    "The weather is nice today, let's go for a walk in the park.", "This movie is great.", "I like apples and bananas.",
]
TEXTS = ["今天天气很好。", "我喜欢吃苹果和香蕉，你呢？", "演员的表演很自然。", "公园里有很多人在散步。", "这部电影好看。"]
CJK_GAP = re.compile(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]")


def make_marian(folder, seed: int) -> str:
    """A Marian model with 16-dim layers and a 100-piece sentencepiece vocabulary over zh + en."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir()
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(LINES * 3), model_writer=proto, vocab_size=100, character_coverage=1.0,
        bos_id=-1, eos_id=1, unk_id=0, pad_id=-1, hard_vocab_limit=False, minloglevel=2,
    )
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(proto.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    vocab.update({">>cmn_Hans<<": len(vocab), "<pad>": len(vocab) + 1})
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(*(str(folder / name) for name in ("source.spm", "target.spm", "vocab.json")))
    config = MarianConfig(
        vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and much faster on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("marian")
    return {"forward": make_marian(root / "zh-en", 0), "backward": make_marian(root / "en-zh", 1)}


def run(op: BackTranslate, texts: list[str], seed: int = 0) -> list[str]:
    batch = [default_segmenter()(text) for text in texts]
    return [join(tokens) for tokens in op.apply_batch(batch, [derive_rng(seed, text) for text in texts])]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_result_depends_only_on_its_own_text_and_generator(models, temperature):
    op = BackTranslate(**models, temperature=temperature, keep_protected=False, max_tokens=12, batch_size=2)
    together = run(op, TEXTS)
    alone = [run(op, [text])[0] for text in TEXTS]
    reversed_batch = run(op, TEXTS[::-1])[::-1]
    assert together == alone == reversed_batch
    assert all(out != text for out, text in zip(together, TEXTS))


def test_sampling_follows_the_seed(models):
    op = BackTranslate(**models, temperature=1.0, keep_protected=False, max_tokens=12)
    by_seed = [run(op, TEXTS[:1], seed)[0] for seed in range(4)]
    assert len(set(by_seed)) > 1
    assert run(op, TEXTS[:1], 2)[0] == by_seed[2]


def test_no_spaces_between_chinese_characters(models):
    op = BackTranslate(**models, temperature=1.0, keep_protected=False, max_tokens=12)
    outputs = [out for seed in range(3) for out in run(op, TEXTS, seed)]
    assert all(not CJK_GAP.search(out) for out in outputs)
    assert tidy_spaces("我 喜欢 Python 3 个 苹果 ， 好 吗") == "我喜欢 Python 3个苹果，好吗"


def test_k_of_n_sentences(models):
    sentences = ["今天天气很好。", "我们去公园散步吧！", "演员的表演很自然。", "OK!", "我喜欢吃苹果？", "这部电影好看。"]
    text = "".join(sentences)
    for k, kept in ((2, 4), (None, 1)):
        op = BackTranslate(**models, k=k, temperature=1.0, keep_protected=False, max_tokens=8)
        for seed in range(3):
            out = run(op, [text], seed)[0]
            assert sum(sentence in out for sentence in sentences) == kept  # "OK!" has no Chinese: never translated
            assert "OK!" in out


def test_sentences_that_lose_protected_spans_stay_untranslated(models):
    text = "张伟在2023年说这部电影不好看。演员的表演很自然。"
    kept = run(BackTranslate(**models, k=None, temperature=1.0, max_tokens=8), [text])[0]
    assert kept.startswith("张伟在2023年说这部电影不好看。")
    changed = run(BackTranslate(**models, k=None, temperature=1.0, max_tokens=8, keep_protected=False), [text])[0]
    assert "2023年" not in changed


def test_a_round_trip_that_changes_a_fact_is_retried(models, monkeypatch):
    """Every engine retries with the facts gate's check: here the first seed's round trip adds a
    negation, the second's is faithful, and a sentence whose every try fails stays as it was."""
    replies = {}

    def translate(self, model, direction, texts, seeds):
        if direction == "forward":
            return [f"{text}|{seed}" for text, seed in zip(texts, seeds)]
        out = []
        for pivot in texts:
            text, _ = pivot.split("|")
            n = replies.setdefault(text, 0)
            replies[text] = n + 1
            out.append({"演员的表演很自然。": ("演员的表演不自然。", "演员的表演非常自然。")}.get(text, ("它死了。",) * 9)[n])
        return out

    monkeypatch.setattr(BackTranslate, "_translate", translate)
    op = BackTranslate(**models, k=None, temperature=1.0, tries=3)
    assert run(op, ["演员的表演很自然。我喜欢吃苹果。"]) == ["演员的表演非常自然。我喜欢吃苹果。"]
    assert replies == {"演员的表演很自然。": 2, "我喜欢吃苹果。": 3}


def test_backward_model_gets_the_simplified_chinese_token(models):
    _, tokenizer = _load("transformers", models["backward"], "backward", "cpu")
    assert _prefix(tokenizer, "backward") == ">>cmn_Hans<< "
    assert _prefix(tokenizer, "forward") == ""


def test_missing_model_says_what_to_pass(tmp_path):
    op = BackTranslate(forward=str(tmp_path / "nowhere"), max_tokens=8)
    with pytest.raises(MissingResourceError) as error:
        run(op, ["今天天气很好。"])
    message = str(error.value)
    for part in (
        "--bt-forward PATH --bt-backward PATH", "forward: PATH, backward: PATH",
        "huggingface-cli download Helsinki-NLP/opus-mt-zh-en", "huggingface-cli download Helsinki-NLP/opus-mt-en-zh",
    ):
        assert part in message


@pytest.mark.skipif(importlib.util.find_spec("ctranslate2") is not None, reason="ctranslate2 is installed")
def test_ctranslate2_backend_without_the_package(models):
    op = BackTranslate(**models, backend="ctranslate2")
    with pytest.raises(MissingResourceError, match="pip install ctranslate2"):
        run(op, ["今天天气很好。"])


def test_bt_recipe_builds_without_loading_models():
    recipe = load_recipe("bt-marian")
    assert recipe.op.name == "back_translate" and recipe.op.forward == "Helsinki-NLP/opus-mt-zh-en"
    assert [gate.name for gate in recipe.gates] == ["facts", "similarity", "dedup"]
    assert len(pickle.dumps(recipe.op)) < 1000


def test_ctranslate2_backend_matches_transformers(models, tmp_path):
    converters = pytest.importorskip("ctranslate2.converters")
    folders = {}
    for direction, folder in models.items():
        folders[direction] = str(tmp_path / direction)
        converters.TransformersConverter(
            folder, copy_files=["source.spm", "target.spm", "vocab.json", "tokenizer_config.json"]
        ).convert(folders[direction])
    options = {"keep_protected": False, "max_tokens": 12, "batch_size": 2}
    fast = BackTranslate(**folders, backend="ctranslate2", **options)
    assert run(fast, TEXTS) == run(BackTranslate(**models, **options), TEXTS)
    sampled = BackTranslate(**folders, backend="ctranslate2", temperature=1.0, **options)
    assert run(sampled, TEXTS) == [run(sampled, [text])[0] for text in TEXTS]
