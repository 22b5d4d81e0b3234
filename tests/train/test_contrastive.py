"""The contrastive few-shot stage (SetFit)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.train_helpers import encoder_and_ids, synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.train import TrainConfig, fit
from zhaug.train.contrastive import Contrastive, contrastive_pairs, tune_contrastive
from zhaug.train.data import pad
from zhaug.train.models.pooling import mean_pool


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model(tmp_path_factory.mktemp("model"), groups=2))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=2, max_size=12), st.integers(1, 4), st.integers(0, 10**6))
def test_pairs_match_their_targets_and_follow_the_seed(labels, iterations, seed):
    pairs = contrastive_pairs(labels, iterations, seed, max_pairs=10**6)
    assert pairs == contrastive_pairs(labels, iterations, seed, max_pairs=10**6)
    for i, j, target in pairs:
        assert i != j and target == float(labels[i] == labels[j])
    for row, label in enumerate(labels):  # per iteration one positive (if any) and one negative (if any)
        has_same, has_other = labels.count(label) > 1, any(k != label for k in labels)
        mine = [t for i, _, t in pairs if i == row]
        assert mine.count(1.0) == iterations * has_same and mine.count(0.0) == iterations * has_other
    assert len(contrastive_pairs(labels, iterations, seed, max_pairs=3)) == min(3, len(pairs))


def test_tuning_separates_the_classes_and_leaves_the_lower_layers(model_dir):
    rows = synthetic(16)
    encoder, ids, pad_id = encoder_and_ids(model_dir, [r.text for r in rows])
    labels = [int(r.label == "pos") for r in rows]
    lower = [p.detach().clone() for p in encoder.encoder.albert_layer_groups[0].parameters()]

    def margin() -> float:
        with torch.no_grad():
            out = encoder(**pad(ids, pad_id)).last_hidden_state
            vectors = torch.nn.functional.normalize(mean_pool(out, pad(ids, pad_id)["attention_mask"]), dim=-1)
        same = torch.tensor([[a == b for b in labels] for a in labels])
        cos = vectors @ vectors.T
        return float(cos[same].mean() - cos[~same].mean())

    before = margin()
    encoder.requires_grad_(False)  # as in a head-only run: the stage must still train its layers
    losses = tune_contrastive(encoder, ids, labels, Contrastive(iterations=20, lr=3e-3, layers=1), 0, pad_id)
    encoder.eval()
    assert margin() > before + 0.05 and sum(losses[-5:]) < sum(losses[:5])
    assert all(torch.equal(a, b) for a, b in zip(lower, encoder.encoder.albert_layer_groups[0].parameters()))
    assert not any(p.requires_grad for p in encoder.parameters())


def test_trainer_runs_the_stage_before_the_probe_and_records_it(model_dir, tmp_path):
    train, eval = synthetic(20), synthetic(20, seed=1, prefix="e")
    config = TrainConfig(model=model_dir, head_only=True, pooling="mean", contrastive=4, contrastive_lr=1e-3,
                         contrastive_layers=1, threads=1)
    result = fit(train, eval, out_dir=tmp_path / "a", config=config, progress=False)
    assert result["steps"] == 0 and result["contrastive"]["steps"] == 10  # 20 rows × 4 × 2 pairs / 16
    plain = fit(train, eval, out_dir=tmp_path / "b", config=config.replace(contrastive=0), progress=False)
    assert "contrastive" not in plain
    again = fit(train, eval, out_dir=tmp_path / "c", config=config, progress=False)
    assert again["eval"] == result["eval"]  # the stage follows the seed
    saved = json.loads((tmp_path / "a" / "best" / "zhaug.json").read_text(encoding="utf-8"))["config"]
    assert saved["contrastive"] == 4 and "contrastive" not in TrainConfig().to_dict()
    with pytest.raises(ZhaugError, match="contrastive"):
        TrainConfig(contrastive=4, head_init="random")


def test_cli_train_with_the_contrastive_stage(model_dir, tmp_path):
    from typer.testing import CliRunner

    from zhaug.cli import app
    from zhaug.io import write_table

    write_table(tmp_path / "l.csv", [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(24)],
                ["id", "text", "label"])
    args = ["train", "--train", str(tmp_path / "l.csv"), "--model", model_dir, "--head-only", "--contrastive", "2",
            "--threads", "1", "--no-progress", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["steps"] == 0 and metrics["contrastive"]["steps"] >= 1  # 21 training rows × 2 × 2 pairs / 16
    few = CliRunner().invoke(app, ["train", "--train", str(tmp_path / "l.csv"), "--model", model_dir, "--threads", "1",
                                   "--no-progress", "--out", str(tmp_path / "few")])  # defaults, 12 rows a class
    assert few.exit_code == 0, few.output
    assert "trained SetFit-style" in few.output and "trained SetFit-style" not in result.output
    held = metrics["eval_rows"]  # no --eval: a few training rows were held out to score the run
    assert f"on {held} dev rows (too few to trust: pass --eval)" in " ".join(result.output.split())


def test_few_labels_switch_the_default_to_setfit_and_nothing_else_does(model_dir, tmp_path):
    train, eval = synthetic(16), synthetic(20, seed=1, prefix="e")  # 8 rows per class: 16 × 20 × 2 pairs / 16
    config = TrainConfig(model=model_dir, threads=1, contrastive_layers=1)
    few = fit(train, eval, out_dir=tmp_path / "few", config=config, progress=False)
    saved = yaml.safe_load((tmp_path / "few" / "config.yaml").read_text(encoding="utf-8"))
    assert few["steps"] == 0 and few["contrastive"]["steps"] == 40 and saved["head_only"] and saved["contrastive"] == 20
    for name, changed, rows in [("budget", {"max_steps": 2}, train), ("off", {"few_shot": 0}, train),
                                ("more", {}, synthetic(40)), ("random", {"head_init": "random"}, train)]:
        result = fit(rows, eval, out_dir=tmp_path / name, config=config.replace(**changed), progress=False)
        assert "contrastive" not in result and result["steps"] > 0, name
