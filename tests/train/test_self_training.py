"""Self-training on unlabelled rows: pool hygiene, balanced confident pseudo-labels, the dev check."""

import json

import numpy as np
import pytest

from tests.train_helpers import synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.io import Record
from zhaug.train.config import TrainConfig
from zhaug.train.predict import Predictor
from zhaug.train.self_training import SelfTraining, clean_pool, pseudo_labels, self_train


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
