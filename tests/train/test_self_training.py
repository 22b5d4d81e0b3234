"""Self-training on unlabelled rows: pool hygiene, balanced confident pseudo-labels, the dev check;
consistency training; the probe self-trained on frozen features."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.train_helpers import synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.io import Record
from zhaug.train.config import POOL_PAYS_UP_TO, TrainConfig
from zhaug.train.data import clean_pool
from zhaug.train.heads import PROBE_ROUNDS, _confident_rows, fit_probe, self_trained_probe
from zhaug.train.predict import Predictor
from zhaug.train.self_training import SelfTraining, pseudo_labels, self_train
from zhaug.train.trainer import align, fit


def test_pool_drops_empty_duplicate_and_held_out_rows_and_counts_them():
    unlabeled = [Record("u0", "好 棒"), Record("u1", "好棒"), Record("u2", " "), Record("u3", "差劲"),
                 Record("u4", "甜甜"), Record("u5", "苦苦")]
    pool, info = clean_pool(unlabeled, [Record("t0", "差 劲", "neg")], cap=2)
    assert [r.id for r in pool] == ["u0", "u4"]
    assert info["removed"] == {"empty": 1, "duplicate": 1, "held_out": 1, "over_cap": 1} and info["rows"] == 2
    assert clean_pool(list(reversed(unlabeled)), [], cap=9)[1]["checksum"] != info["checksum"]


def test_pseudo_labels_are_confident_and_class_balanced():
    pool = [Record(f"u{i}", f"t{i}") for i in range(6)]
    probs = np.array([[0.99, 0.01], [0.95, 0.05], [0.6, 0.4], [0.05, 0.95], [0.3, 0.7], [0.97, 0.03]])
    chosen = pseudo_labels(pool, probs, ["neg", "pos"], SelfTraining(threshold=0.9))
    assert [(r.id, r.label) for r in chosen] == [("pseudo-u0", "neg"), ("pseudo-u3", "pos")]
    assert pseudo_labels(pool, probs, ["neg", "pos"], SelfTraining(threshold=0.99)) == []
    with pytest.raises(ZhaugError):
        SelfTraining(share=0)


def test_self_training_rounds_keep_the_best_dev_score(tmp_path):
    model = str(tiny_model(tmp_path / "model"))
    config = TrainConfig(model=model, epochs=3, lr=3e-3, batch_size=16, patience=None, threads=1)
    train, dev = synthetic(12, seed=0), synthetic(40, seed=1, prefix="e")
    unlabeled = [Record(r.id, r.text) for r in synthetic(200, seed=2, prefix="u")]
    summary = self_train(train, unlabeled, dev, out_dir=tmp_path / "run", config=config,
                         settings=SelfTraining(rounds=2, threshold=0.6), progress=False)
    scores = [r["eval"]["accuracy"] for r in summary["rounds"]]
    chosen = summary["chosen_round"]
    assert scores[chosen] == max(scores[: chosen + 1]) and summary["eval"]["accuracy"] == scores[chosen]
    assert all(r["pseudo_labelled"] > 0 for r in summary["rounds"][1:]) and summary["pool"]["rows"] == 200
    recorded = json.loads((tmp_path / "run" / "self_training.json").read_text(encoding="utf-8"))
    assert recorded["chosen_round"] == chosen
    assert Predictor(tmp_path / "run").predict(["好棒赞", "差坏烂"]) == Predictor(
        tmp_path / "run" / f"round{chosen}").predict(["好棒赞", "差坏烂"])


def _consistency_run(tmp_path, name: str, **changes):
    config = TrainConfig(model=str(tiny_model(tmp_path / "model")), epochs=2, lr=3e-3, batch_size=8, patience=None,
                         threads=1, ssl_augment="noise", ssl_threshold=0.0,
                         few_shot=0).replace(**changes)  # the plain run stays LP-FT, not SetFit-style
    train, dev = synthetic(16, seed=0), synthetic(20, seed=1, prefix="e")
    unlabeled = [Record(r.id, r.text) for r in synthetic(60, seed=2, prefix="u")] + [Record("dup", dev[0].text)]
    return fit(train, dev, out_dir=tmp_path / name, config=config, progress=False,
               unlabeled=unlabeled if config.ssl else None)


@pytest.mark.parametrize("method", ["uda", "fixmatch"])
def test_consistency_training_uses_the_pool_reproducibly(tmp_path, method):
    first, again = (_consistency_run(tmp_path, f"{method}{k}", ssl=method) for k in range(2))
    plain = _consistency_run(tmp_path, "plain")
    losses = [[h["train_loss"] for h in run["history"]] for run in (first, again, plain)]
    assert losses[0] == losses[1], "same seed, same pool: the same run"
    assert losses[0] != losses[2], "the pool's loss term changes training"
    assert first["unlabeled"]["rows"] == 60 and first["unlabeled"]["removed"]["held_out"] == 1
    assert [h["step"] for h in first["history"]] == [0, 1, 2, 3, 4], "with a pool, evaluations go by steps"
    assert [h["step"] for h in plain["history"]] == [0, 2, 4]
    assert "unlabeled" not in plain


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3), min_size=1, max_size=8),
       st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3))
def test_distribution_alignment_pulls_the_mean_prediction_to_the_prior(rows, shares):
    probs = torch.tensor(rows) / torch.tensor(rows).sum(dim=1, keepdim=True)
    prior = torch.tensor(shares) / sum(shares)
    aligned = align(probs, prior)
    assert torch.allclose(aligned.sum(dim=1), torch.ones(len(rows)), atol=1e-5)
    assert torch.allclose(align(probs, probs.mean(dim=0)), probs, atol=1e-5)  # already aligned: unchanged
    assert torch.allclose(align(probs[:1].repeat(3, 1), prior), prior.repeat(3, 1), atol=1e-5)  # one-class drift undone


def test_alignment_changes_consistency_training_and_is_recorded(tmp_path):
    aligned, plain = (_consistency_run(tmp_path, f"uda-{flag}", ssl="uda", ssl_align=flag) for flag in (True, False))
    assert [h["train_loss"] for h in aligned["history"]] != [h["train_loss"] for h in plain["history"]]
    assert TrainConfig(ssl="uda").to_dict()["ssl_align"] is True and "ssl_align" not in TrainConfig().to_dict()


def test_consistency_training_needs_both_the_method_and_the_pool(tmp_path):
    with pytest.raises(ZhaugError, match="unlabelled pool"):
        fit(synthetic(8), synthetic(8, prefix="e"), out_dir=tmp_path / "a", progress=False,
            config=TrainConfig(ssl="uda"))
    with pytest.raises(ZhaugError, match="unlabelled pool"):
        fit(synthetic(8), synthetic(8, prefix="e"), out_dir=tmp_path / "b", progress=False,
            unlabeled=[Record("u", "好")])
    with pytest.raises(ZhaugError):
        TrainConfig(ssl="mixmatch")


def _clusters(counts: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``counts[k]`` points around class ``k``'s centre in 64 dimensions, most of them noise: a few
    labelled points cannot find the direction that separates the clusters; a pool can."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return np.eye(len(counts), 64)[y] * 3.0 + rng.normal(size=(len(y), 64)), y


def test_self_trained_probe_learns_from_the_pool_in_the_labelled_class_shares():
    x, y = _clusters((6, 3), seed=0)
    pool, _ = _clusters((400, 200), seed=1)
    test, test_y = _clusters((1000, 500), seed=2)
    probe_w, probe_b = fit_probe(x, y, 2, 10.0)
    weight, bias, taken = self_trained_probe(x, y, pool, 2, 10.0)
    accuracy = [float((np.argmax(test @ w.T + b, axis=1) == test_y).mean()) for w, b in ((probe_w, probe_b), (weight, bias))]
    assert accuracy[1] >= accuracy[0] + 0.03
    assert taken == [120, 240, 360, 480, 600], "a fifth more of the pool each round"
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.8, 0.2], [0.6, 0.4], [0.1, 0.9], [0.4, 0.6]])
    rows, labels = _confident_rows(probs, np.array([2 / 3, 1 / 3]))
    assert dict(zip(rows.tolist(), labels.tolist())) == {0: 0, 2: 0, 3: 0, 5: 0, 4: 1, 1: 1}  # 2:1, as labelled


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3), min_size=1, max_size=30),
       st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_confident_rows_take_each_row_once_and_within_quota(rows, quotas):
    probs = np.array(rows) / np.array(rows).sum(axis=1, keepdims=True)
    chosen, labels = _confident_rows(probs, np.array(quotas))
    assert len(set(chosen.tolist())) == len(chosen), "a row gets one pseudo-label"
    for k, quota in enumerate(quotas):
        assert (labels == k).sum() <= int(quota * len(probs))


def test_probe_self_training_run_takes_no_step_and_records_the_rounds(tmp_path):
    plain_config = TrainConfig(model=str(tiny_model(tmp_path / "model")), head_only=True, threads=1, few_shot=0)
    config = plain_config.replace(ssl="probe-self-training")
    train, dev = synthetic(16, seed=0), synthetic(20, seed=1, prefix="e")
    unlabeled = [Record(r.id, r.text) for r in synthetic(60, seed=2, prefix="u")]
    result = fit(train, dev, out_dir=tmp_path / "run", config=config, progress=False, unlabeled=unlabeled)
    fit(train, dev, out_dir=tmp_path / "again", config=config, progress=False, unlabeled=unlabeled)
    fit(train, dev, out_dir=tmp_path / "plain", config=plain_config, progress=False)
    assert result["steps"] == 0 and len(result["pseudo_labelled"]) == PROBE_ROUNDS and result["unlabeled"]["rows"] == 60
    probs = [Predictor(tmp_path / name).predict_proba(["好棒赞", "差坏烂"]) for name in ("run", "again", "plain")]
    assert np.array_equal(probs[0], probs[1]), "the same pool and seed: the same head"
    assert not np.allclose(probs[0], probs[2]), "the pool changes the probe"
    with pytest.raises(ZhaugError):
        TrainConfig(ssl="probe-self-training", head_init="random")


def test_the_pool_is_used_by_default_only_where_it_paid():
    small = TrainConfig().with_pool(POOL_PAYS_UP_TO)
    assert small.ssl == "probe-self-training" and small.head_only
    assert TrainConfig().with_pool(POOL_PAYS_UP_TO + 1) is None
    assert TrainConfig().with_ssl("probe-self-training") == small  # --ssl probe-self-training: the same head-only run
    assert not TrainConfig().with_ssl("fixmatch").head_only  # consistency methods fine-tune
