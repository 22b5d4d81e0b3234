"""The encoder's input format (prefix, mean pooling) and the probe-initialised head (LP-FT):
recorded in the run, applied identically after reload, old runs unchanged."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from tests.train_helpers import synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.train import Predictor, TrainConfig, fit
from zhaug.train.config import LEGACY
from zhaug.train.data import encode
from zhaug.train.heads import fit_probe, init_head, run_format, set_pooling
from zhaug.train.models.loading import load_classifier, load_tokenizer
from zhaug.train.trainer import budget

PREFIX = "的了"  # characters of the tiny vocabulary, so the prefix changes the token ids


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model(tmp_path_factory.mktemp("model")))


@pytest.fixture(scope="module")
def data():
    return synthetic(60), synthetic(30, seed=1, prefix="e")


def manual_mean(model_dir: str, texts: list[str], prefix: str) -> np.ndarray:
    """L2-normalised masked mean of the last layer, computed without zhaug.train.heads."""
    tokenizer = load_tokenizer(model_dir)
    encoder = load_classifier(model_dir, 2, {0: "neg", 1: "pos"}).albert.eval()
    batch = tokenizer([prefix + t for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


def test_probe_mode_is_logistic_regression_on_mean_pooled_prefixed_features(model, data, tmp_path):
    train, eval = data
    config = TrainConfig(model=model, head_only=True, prefix=PREFIX, pooling="mean", probe_c=3.0, threads=1)
    result = fit(train, eval, out_dir=tmp_path, config=config, progress=False)
    assert result["steps"] == 0 and [h["step"] for h in result["history"]] == [0]
    texts = [r.text for r in eval]
    probe = LogisticRegression(C=3.0, max_iter=2000).fit(manual_mean(model, [r.text for r in train], PREFIX),
                                                         [r.label for r in train])
    expected = probe.predict_proba(manual_mean(model, texts, PREFIX))
    predictor = Predictor(tmp_path)
    assert predictor.labels == list(probe.classes_)
    assert np.allclose(predictor.predict_proba(texts), expected, atol=1e-4)
    info = json.loads((tmp_path / "best" / "zhaug.json").read_text(encoding="utf-8"))
    assert (info["config"]["prefix"], info["config"]["pooling"]) == (PREFIX, "mean")


def test_a_head_only_run_without_an_eval_set_fits_its_head_on_every_labelled_row(model, data, tmp_path):
    train, eval = data
    config = TrainConfig(model=model, head_only=True, prefix=PREFIX, pooling="mean", probe_c=3.0, threads=1)
    result = fit(train, None, out_dir=tmp_path / "split", config=config, progress=False)
    held_out = result["eval_rows"]
    assert result["steps"] == 0 and held_out > 0 and result["head_refit_rows"] == result["train_rows"] + held_out
    texts = [r.text for r in eval]
    everyone = LogisticRegression(C=3.0, max_iter=2000).fit(manual_mean(model, [r.text for r in train], PREFIX),
                                                            [r.label for r in train])  # every labelled row
    assert np.allclose(Predictor(tmp_path / "split").predict_proba(texts),
                       everyone.predict_proba(manual_mean(model, texts, PREFIX)), atol=1e-4)
    given = fit(train, eval, out_dir=tmp_path / "given", config=config, progress=False)
    assert "head_refit_rows" not in given  # a dev set passed in is not trained on


def test_lp_ft_starts_from_the_probe_and_reloads_identically(model, data, tmp_path):
    train, eval = data
    config = TrainConfig(model=model, prefix=PREFIX, pooling="mean", lr=3e-3, max_steps=6, eval_every=3,
                         patience=None, threads=1)
    result = fit(train, eval, out_dir=tmp_path / "run", config=config, progress=False)
    probe = fit(train, eval, out_dir=tmp_path / "probe", config=config.replace(head_only=True), progress=False)
    assert [h["step"] for h in result["history"]] == [0, 3, 6]
    assert result["history"][0] == probe["history"][0]  # step 0 is the probe itself
    predictor = Predictor(tmp_path / "run")
    predicted = predictor.predict([r.text for r in eval])
    labels = predictor.labels
    confusion = [[sum(p == b and r.label == a for p, r in zip(predicted, eval)) for b in labels] for a in labels]
    assert confusion == result["eval"]["confusion_matrix"]
    plain = set_pooling(load_classifier(tmp_path / "run" / "best", 2, dict(enumerate(labels))), "cls").eval()
    tokenizer = load_tokenizer(tmp_path / "run" / "best")
    with torch.inference_mode():
        cls_logits = plain(**tokenizer([PREFIX + r.text for r in eval], padding=True, return_tensors="pt")).logits
    assert not np.allclose(torch.softmax(cls_logits, -1).numpy(), predictor.predict_proba([r.text for r in eval]))


def test_keep_last_keeps_the_end_of_the_budget_not_the_best_evaluation(model, data, tmp_path):
    train, eval = data
    config = TrainConfig(model=model, prefix=PREFIX, pooling="mean", lr=3e-3, max_steps=6, eval_every=3,
                         patience=None, threads=1, keep="last")
    result = fit(train, eval, out_dir=tmp_path, config=config, progress=False)
    assert [h["step"] for h in result["history"]] == [0, 3, 6] and result["best_step"] == 6
    assert result["eval"]["accuracy"] == result["history"][-1]["accuracy"]
    assert json.loads((tmp_path / "best" / "zhaug.json").read_text(encoding="utf-8"))["step"] == 6
    with pytest.raises(ZhaugError, match="keep"):
        TrainConfig(keep="first")


def test_runs_saved_without_format_settings_predict_as_before(model, data, tmp_path):
    config = TrainConfig(model=model, lr=3e-3, max_steps=4, patience=None, threads=1, **LEGACY)
    fit(*data, out_dir=tmp_path, config=config, progress=False)
    texts = [r.text for r in data[1]]
    before = Predictor(tmp_path).predict_proba(texts)
    info_path = tmp_path / "best" / "zhaug.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    for key in ("prefix", "pooling", "head_init", "probe_c", "min_steps"):
        del info["config"][key]
    info_path.write_text(json.dumps(info), encoding="utf-8")
    assert run_format(info["config"]) == ("", "cls")
    assert np.allclose(Predictor(tmp_path).predict_proba(texts), before)


def test_model_own_format_is_resolved_and_recorded(model, data, tmp_path):
    result = fit(*data, out_dir=tmp_path, config=TrainConfig(model=model, max_steps=1, threads=1), progress=False)
    info = json.loads((tmp_path / "best" / "zhaug.json").read_text(encoding="utf-8"))
    assert (info["config"]["prefix"], info["config"]["pooling"]) == ("", "cls")  # not an embedded e5 model
    assert result["history"][0]["step"] == 0


def test_legacy_options_keep_the_old_fingerprint():
    old_fields = set(TrainConfig().to_dict()) - {"prefix", "pooling", "head_init", "probe_c", "min_steps", "keep", "few_shot",
                                                 "cache_frozen"}
    assert set(TrainConfig(**LEGACY).identity()) == old_fields
    assert set(TrainConfig(**LEGACY).replace(probe_c=1.0).identity()) == old_fields
    assert set(TrainConfig(prefix="", pooling="cls").identity()) == old_fields | {"head_init", "probe_c", "few_shot"}
    # the frozen-part cache changes a run only when something below the head is frozen
    top = TrainConfig(**LEGACY).replace(freeze_embeddings=True, freeze_layers=8)
    assert set(top.identity()) == old_fields
    assert set(top.replace(cache_frozen=True).identity()) == old_fields | {"cache_frozen"}
    assert set(TrainConfig(**LEGACY).replace(cache_frozen=True, freeze_layers=8).identity()) == old_fields


def test_budget_whole_epochs_up_to_min_steps():
    assert budget(TrainConfig(min_steps=30, batch_size=16, epochs=3), 50) == (8, 32)
    assert budget(TrainConfig(min_steps=30, batch_size=16, epochs=3), 300) == (3, 57)
    assert budget(TrainConfig(min_steps=30, max_steps=7), 50) == (8, 7)
    assert budget(TrainConfig(head_only=True), 50)[1] == 0
    assert budget(TrainConfig(head_only=True, head_init="random"), 50) == (3, 3 * math.ceil(50 / 16))
    assert budget(TrainConfig(batch_size=16, epochs=3, ssl="uda", unlabeled_ratio=2), 50, pool_rows=2000) == (16, 64)


def test_multiclass_probe_head_and_errors():
    from transformers import AlbertConfig, AlbertForSequenceClassification

    rng = np.random.default_rng(0)
    features, y = rng.normal(size=(30, 32)), np.arange(30) % 3
    weight, bias = fit_probe(features, y, 3, c=1.0)
    classifier = AlbertForSequenceClassification(AlbertConfig(
        vocab_size=10, embedding_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, num_labels=3))
    init_head(classifier, weight, bias)
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(features, y)
    logits = classifier.classifier(torch.tensor(features, dtype=torch.float)).detach().numpy()
    assert np.allclose(torch.softmax(torch.tensor(logits), -1).numpy(), reference.predict_proba(features), atol=1e-5)
    with pytest.raises(ZhaugError, match="head_init"):
        init_head(classifier, weight[:2], bias[:2])
    with pytest.raises(ZhaugError, match="pooling"):
        TrainConfig(pooling="max")


def test_int8_predictor_applies_the_run_format(model, data, tmp_path):
    config = TrainConfig(model=model, prefix=PREFIX, pooling="mean", lr=3e-3, max_steps=4, patience=None, threads=1)
    fit(*data, out_dir=tmp_path, config=config, progress=False)
    texts = [r.text for r in data[1]]
    fp32, int8 = Predictor(tmp_path), Predictor(tmp_path, quantize="int8")
    assert int8.prefix == PREFIX
    assert np.mean(np.array(int8.predict(texts)) == np.array(fp32.predict(texts))) >= 0.9
    tokenizer = load_tokenizer(tmp_path / "best")
    assert encode(tokenizer, [PREFIX + texts[0]], 64) != encode(tokenizer, [texts[0]], 64)
