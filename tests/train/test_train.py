"""The trainer on a tiny random ALBERT: learning, augmentation paths, leakage guard, resume, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.train_helpers import synthetic, tiny_model
from zhaug.augment.recipes import recipe_from_dict
from zhaug.errors import ZhaugError
from zhaug.hashing import file_sha256
from zhaug.io import Columns, Record, write_table
from zhaug.train import TrainConfig, Trainer, fit, load_config
from zhaug.train.data import (
    batch_order,
    children_from_rows,
    encode,
    guard_children,
    read_children,
    read_training_table,
    split_by_parent,
    too_long,
)
from zhaug.train.models.catalog import CARD, COMPACT, FINE_TUNING_LRS
from zhaug.train.models.loading import load_tokenizer

RECIPE = {"name": "tiny", "op": {"one_of": [{"random_swap": {"rate": 0.2}}, {"random_delete": {"rate": 0.2}}]}}
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model(tmp_path_factory.mktemp("model")))


@pytest.fixture(scope="module")
def config(model: str) -> TrainConfig:
    # the loop's mechanics, with a random head and no step-0 probe evaluation (see test_heads.py)
    return TrainConfig(model=model, epochs=4, lr=3e-3, batch_size=16, patience=None, threads=1, head_init="random")


@pytest.fixture(scope="module")
def data() -> tuple[list[Record], list[Record]]:
    return synthetic(160), synthetic(40, seed=1, prefix="e")


@pytest.fixture
def tiny_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Online augmentation by the name ``tiny`` with ops that exist whatever recipes ship."""
    monkeypatch.setattr("zhaug.train.trainer.load_recipe", lambda name: recipe_from_dict(RECIPE, name))


def test_learns_separable_set_and_writes_run(config, data, tmp_path):
    result = Trainer(config, progress=False).fit(*data, out_dir=tmp_path)
    assert result["eval"]["accuracy"] == 1.0
    assert result["eval"]["confusion_matrix"] == [[20, 0], [0, 20]]
    assert set(result["eval"]["per_class"]) == {"neg", "pos"}
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["eval"] == result["eval"]
    best = tmp_path / "best"
    assert (best / "model.safetensors").is_file() and (best / "tokenizer_config.json").is_file()
    info = json.loads((best / "zhaug.json").read_text(encoding="utf-8"))
    # the model's own input format, resolved and recorded (the tiny model is not an embedded e5 one)
    # ... and the max length capped at the tiny model's 64 positions (a longer text would crash it)
    assert info["labels"] == ["neg", "pos"] and info["config"] == config.replace(prefix="", pooling="cls",
                                                                                  max_length=64).to_dict()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
    assert [p.name for p in (tmp_path / "last").iterdir()] == ["state.json"]  # finished: no weights to resume
    assert [h["epoch"] for h in result["history"]] == [0, 1, 2, 3]
    assert result["cut_to_max_length"] == 0 and result["max_length"] == 64  # the tiny model's positions


def test_too_long_finds_the_texts_encode_shortens(model):
    tokenizer = load_tokenizer(model)
    texts = ["好", "这家酒店的服务非常好，下次还来。" * 5, "", "差评"]
    full = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    for limit in (2, 5, 8, max(full)):
        assert too_long(tokenizer, texts, limit) == [n > limit for n in full]
        assert [len(ids) for ids in encode(tokenizer, texts, limit)] == [min(n, limit) for n in full]


def test_same_seed_same_metrics(config, data, tmp_path):
    short = config.replace(max_steps=12, eval_every=6, consistency_weight=1.0)
    children = {r.id: [r.text[::-1]] for r in data[0]}
    runs = [fit(*data, out_dir=tmp_path / str(i), config=short, children=children, progress=False) for i in range(2)]
    assert [h["eval_loss"] for h in runs[0]["history"]] == pytest.approx(
        [h["eval_loss"] for h in runs[1]["history"]], abs=1e-6)
    assert runs[0]["eval"] == runs[1]["eval"]


def test_resume_continues_exactly(config, data, tmp_path, monkeypatch):
    short = config.replace(max_steps=20, eval_every=5)
    whole = fit(*data, out_dir=tmp_path / "whole", config=short, progress=False)
    calls = {"n": 0}
    real = Trainer._loss

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] == 13:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(Trainer, "_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(*data, out_dir=tmp_path / "cut", config=short, progress=False)
    monkeypatch.setattr(Trainer, "_loss", real)
    with pytest.raises(ZhaugError, match="--resume"):
        fit(*data, out_dir=tmp_path / "cut", config=short, progress=False)
    resumed = fit(*data, out_dir=tmp_path / "cut", config=short, resume=True, progress=False)
    assert [h["step"] for h in resumed["history"]] == [5, 10, 15, 20]
    assert [h["eval_loss"] for h in resumed["history"]] == pytest.approx(
        [h["eval_loss"] for h in whole["history"]], abs=1e-6)
    with pytest.raises(ZhaugError, match="other data or config"):
        fit(*data, out_dir=tmp_path / "cut", config=short.replace(lr=1e-4), resume=True, progress=False)


def test_offline_augmentation_and_leakage_guard(config, data, tmp_path):
    train, eval = data
    rows = [{"id": r.id, "parent_id": "", "text": r.text, "label": r.label} for r in train]
    rows += [{"id": f"{r.id}-aug0", "parent_id": r.id, "text": r.text + "的", "label": r.label} for r in train]
    rows.append({"id": "leak", "parent_id": train[0].id, "text": eval[0].text, "label": train[0].label})
    write_table(tmp_path / "aug.csv", rows, ["id", "parent_id", "text", "label"])
    children = read_children(tmp_path / "aug.csv")
    assert len(children[train[0].id]) == 2
    result = fit(train, eval, out_dir=tmp_path / "run", config=config.replace(max_steps=40, aug_weight=0.5),
                 children=children, progress=False)
    assert result["dropped_children"] == {"duplicates an eval text": 1}
    assert result["rows_per_epoch"] == 2 * len(train)
    assert result["eval"]["accuracy"] == 1.0


def test_online_augmentation(config, data, tmp_path, tiny_recipe):
    online = config.replace(augment="tiny", n_aug=1, epochs=2, consistency_weight=0.5)
    result = fit(*data, out_dir=tmp_path, config=online, progress=False)
    assert result["rows_per_epoch"] == 2 * len(data[0])
    assert result["eval"]["macro_f1"] > 0.9


def test_split_by_parent_keeps_children_out_of_eval():
    records = synthetic(40)
    train, held = split_by_parent(records, 0.25, seed=3)
    assert len(held) == 10 and sorted(r.label for r in held) == ["neg"] * 5 + ["pos"] * 5
    children = children_from_rows([{"parent_id": r.id, "text": r.text + "了"} for r in records])
    kept, dropped = guard_children(children, train, {r.text for r in held})
    assert set(kept) == {r.id for r in train}
    assert dropped == {"parent not in the training split": 10}
    assert split_by_parent(records, 0.25, seed=3) == (train, held)


def test_no_eval_set_splits_by_parent_with_class_weights(config, data, tmp_path):
    imbalanced = data[0] + [r for r in synthetic(120, seed=2, prefix="x") if r.label == "pos"]
    options = config.replace(max_steps=4, eval_fraction=0.25, class_weights="balanced", schedule="cosine")
    result = fit(imbalanced, out_dir=tmp_path, config=options, progress=False)
    assert (result["train_rows"], result["eval_rows"]) == (165, 55)
    assert result["eval"]["per_class"]["pos"]["support"] == 35


def test_length_grouped_batches_cover_every_row_once():
    import torch

    lengths = [i % 17 for i in range(100)]
    batches = batch_order(lengths, 8, torch.Generator().manual_seed(0), by_length=True)
    assert sorted(i for b in batches for i in b) == list(range(100))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread < 20


def test_freezing_and_head_learning_rate(config, data, tmp_path):
    from zhaug.train.models.loading import load_classifier
    from zhaug.train.trainer import parameter_groups

    model = load_classifier(config.model, 2, {0: "neg", 1: "pos"})
    groups = parameter_groups(model, config.replace(head_only=True))
    assert {g["lr"] for g in groups} == {config.lr * 10}
    model = load_classifier(config.model, 2, {0: "neg", 1: "pos"})
    parameter_groups(model, config.replace(freeze_embeddings=True, freeze_layers=1))
    assert not any(p.requires_grad for p in model.albert.embeddings.parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(ZhaugError, match="freeze_layers"):
        parameter_groups(model, config.replace(freeze_layers=5))


def test_unset_lr_is_the_models_own_and_recorded(config, data, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(config.model, model)
    card = {"name": COMPACT, "build_version": 0, "files": {"model.safetensors": file_sha256(model / "model.safetensors")}}
    (model / CARD).write_text(json.dumps(card), encoding="utf-8")
    unset = TrainConfig(model=str(model), max_steps=2, eval_every=2, patience=None, threads=1)
    assert unset.lr is None
    fit(*data, out_dir=tmp_path / "run", config=unset, progress=False)
    saved = yaml.safe_load((tmp_path / "run/config.yaml").read_text(encoding="utf-8"))
    assert saved["lr"] == FINE_TUNING_LRS[COMPACT]
    with pytest.raises(ZhaugError, match="lr"):
        TrainConfig(lr=0.0)


def test_bad_input_errors(config, data, tmp_path):
    train, eval = data
    with pytest.raises(ZhaugError, match="at least two labels"):
        fit([r for r in train if r.label == "pos"], eval, out_dir=tmp_path, config=config, progress=False)
    with pytest.raises(ZhaugError, match="do not occur in the training set"):
        fit(train, [Record("x", "好", "meh")], out_dir=tmp_path, config=config, progress=False)
    with pytest.raises(ZhaugError, match="unknown training option"):
        load_config(None, learning_rate=1.0)
    with pytest.raises(ZhaugError, match="schedule"):
        TrainConfig(schedule="step")
    assert not (tmp_path / "best").exists()


def test_a_config_file_reads_numbers_as_written_and_names_itself_in_errors(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("train:\n  lr: 1e-4\n  max_steps: 5\n", "utf-8")  # YAML 1.1 reads 1e-4 as text
    config = load_config(path)
    assert (config.lr, config.max_steps) == (1e-4, 5)
    path.write_text("train:\n  lr: fast\n", "utf-8")
    with pytest.raises(ZhaugError, match=r"t\.yaml: training option 'lr': expected a number, got 'fast'"):
        load_config(path)
    path.write_text("train:\n  max_stepz: 3\n", "utf-8")
    with pytest.raises(ZhaugError, match=r"t\.yaml: unknown training option\(s\) \['max_stepz'\]"):
        load_config(path)


def test_shipped_configs_are_valid():
    assert load_config(CONFIGS / "train" / "default.yaml") == TrainConfig()
    demo = yaml.safe_load((CONFIGS / "demo.yaml").read_text(encoding="utf-8"))
    load_config(CONFIGS / "demo.yaml")
    assert demo["train"]["max_steps"] >= 1


def test_cli_train_on_an_augmented_table_splits_by_parent(model, tmp_path):
    from typer.testing import CliRunner

    from zhaug.cli import app

    rows = [{"id": r.id, "parent_id": "", "text": r.text, "label": r.label} for r in synthetic(40)]
    rows += [{**row, "id": row["id"] + "-aug0", "parent_id": row["id"], "text": row["text"] + "的"} for row in rows]
    write_table(tmp_path / "aug.csv", rows, ["id", "parent_id", "text", "label"])
    args = ["train", "--train", str(tmp_path / "aug.csv"), "--out", str(tmp_path / "run"), "--model", model,
            "--max-steps", "3", "--threads", "1", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert (metrics["train_rows"], metrics["eval_rows"]) == (36, 4)
    assert metrics["dropped_children"] == {"parent not in the training split": 4}
    assert metrics["base_model"] == {"name": str(model), "weights_sha256": file_sha256(Path(model) / "model.safetensors")}
    conflict = CliRunner().invoke(app, [*args, "--augment", "eda", "--augmented", str(tmp_path / "aug.csv")])
    assert isinstance(conflict.exception, ZhaugError)


def test_cli_train_with_an_unlabelled_table_and_consistency_training(model, tmp_path):
    from typer.testing import CliRunner

    from zhaug.cli import app

    write_table(tmp_path / "l.csv", [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(24)],
                ["id", "text", "label"])
    write_table(tmp_path / "u.csv", [{"id": r.id, "text": r.text} for r in synthetic(50, seed=3, prefix="u")],
                ["id", "text"])
    args = ["train", "--train", str(tmp_path / "l.csv"), "--unlabeled", str(tmp_path / "u.csv"), "--model", model,
            "--max-steps", "3", "--threads", "1", "--no-progress", "--max-unlabeled", "40"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run"), "--ssl", "fixmatch"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["unlabeled"]["rows"] == 40 and metrics["unlabeled"]["removed"]["over_cap"] == 10
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text(encoding="utf-8"))
    assert config["ssl"] == "fixmatch" and config["max_unlabeled"] == 40
    probe = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "probe"), "--ssl", "probe-self-training"])
    assert probe.exit_code == 0, probe.output
    metrics = json.loads((tmp_path / "probe" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["steps"] == 0 and metrics["unlabeled"]["rows"] == 40 and len(metrics["pseudo_labelled"]) == 5
    default = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "default")])  # 12 rows a class: the probe self-trains
    assert default.exit_code == 0, default.output
    assert json.loads((tmp_path / "default" / "metrics.json").read_text(encoding="utf-8"))["pseudo_labelled"]
    wrong = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run2"), "--ssl", "mixmatch"])
    assert wrong.exit_code != 0 and "mixmatch" in wrong.output


def test_a_training_table_with_parent_ids_reads_children_from_the_text_column_given(tmp_path):
    rows = [{"id": "a", "parent_id": "", "review": "很好吃", "y": "1"}, {"id": "b", "parent_id": "", "review": "太慢了", "y": "0"},
            {"id": "a-1", "parent_id": "a", "review": "非常好吃", "y": "1"}]
    write_table(tmp_path / "t.csv", rows, ["id", "parent_id", "review", "y"])
    records, children = read_training_table(tmp_path / "t.csv", Columns(text="review", label="y"))
    assert [r.text for r in records] == ["很好吃", "太慢了"] and children == {"a": ["非常好吃"]}
