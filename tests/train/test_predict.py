"""Prediction from a run folder: Python API, ``zhaug predict`` ids / order / empty texts, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.train_helpers import synthetic, tiny_model
from zhaug.cli import app, run
from zhaug.errors import InputError, ZhaugError
from zhaug.io import read_table, write_table
from zhaug.train import Predictor, TrainConfig, fit, predict_file

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tiny_model(tmp_path_factory.mktemp("model"))
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(model=str(model), epochs=4, lr=3e-3, patience=None, threads=1)
    fit(synthetic(160), synthetic(40, seed=1, prefix="e"), out_dir=out, config=config, progress=False)
    return out


def test_predict_proba_for_the_robustness_suite(run_dir):
    predictor = Predictor(run_dir)
    probabilities = predictor.predict_proba(["好棒好棒", "差差坏", ""])
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert predictor.labels == ["neg", "pos"]
    assert predictor.predict(["好棒好棒", "差差坏"]) == ["pos", "neg"]
    assert predictor.predict_proba([]).shape == (0, 2)
    assert np.allclose(Predictor(run_dir / "best").predict_proba(["好"]), predictor.predict_proba(["好"]))


def test_cli_predict_keeps_ids_order_and_empty_texts(run_dir, tmp_path):
    rows = [{"id": "z9", "text": "好棒美"}, {"id": "a1", "text": "   "}, {"id": "m5", "text": "烂差糟"},
            {"id": "b2", "text": ""}]
    write_table(tmp_path / "in.csv", rows, ["id", "text"])
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
                                 "--proba", "--batch-size", "3", "--flag-empty"])
    assert result.exit_code == 0, result.output
    out = read_table(tmp_path / "out.csv")
    assert [r["id"] for r in out] == ["z9", "a1", "m5", "b2"]
    assert [r["empty"] for r in out] == ["0", "1", "0", "1"]
    assert [r["label"] for r in out[::2]] == ["pos", "neg"]
    assert list(out[0]) == ["id", "label", "empty", "p_neg", "p_pos"]
    plain = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "in.csv"), "-o", str(tmp_path / "plain.csv")])
    assert plain.exit_code == 0 and "2 with an empty text" in plain.output and "--flag-empty" in plain.output
    assert read_table(tmp_path / "plain.csv") == [{"id": r["id"], "label": r["label"]} for r in out]  # id,label
    assert "longer than the model's max length" not in plain.output


def test_predict_says_how_many_texts_were_longer_than_the_model_reads(run_dir, tmp_path):
    """A text beyond the run's max length is predicted from its start, and counted."""
    limit = json.loads((run_dir / "best" / "zhaug.json").read_text("utf-8"))["config"]["max_length"]
    rows = [{"id": "a", "text": "好棒美" * limit}, {"id": "b", "text": "烂差糟"}]
    write_table(tmp_path / "in.csv", rows, ["id", "text"])
    rows = predict_file(run_dir, tmp_path / "in.csv", tmp_path / "out.csv")
    assert [r["cut"] for r in rows] == [True, False]
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv")])
    assert "1 longer than the model's max length, predicted from their start" in result.output


def test_int8_quantisation_agrees(run_dir):
    texts = [r.text for r in synthetic(40, seed=1, prefix="e")]
    assert Predictor(run_dir, quantize="int8").predict(texts) == Predictor(run_dir).predict(texts)
    with pytest.raises(ZhaugError, match="quantisation"):
        Predictor(run_dir, quantize="int4")


def test_bad_input_is_refused_and_nothing_written(run_dir, tmp_path):
    out = tmp_path / "out.csv"
    (tmp_path / "dup.csv").write_text("id,text\na,好\na,差\n", encoding="utf-8")
    (tmp_path / "notext.csv").write_text("id,body\na,好\n", encoding="utf-8")
    (tmp_path / "empty.csv").write_text("id,text\n", encoding="utf-8")
    for name, problem in (("dup.csv", "duplicate id"), ("notext.csv", "no column 'text'"), ("empty.csv", "no rows")):
        with pytest.raises(InputError, match=problem):
            predict_file(run_dir, tmp_path / name, out)
    with pytest.raises(InputError, match="unknown table format"):
        predict_file(run_dir, tmp_path / "dup.csv", tmp_path / "out.xlsx")
    with pytest.raises(ZhaugError, match="not a zhaug run folder"):
        Predictor(tmp_path)
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))


def test_cli_bad_input_is_one_clear_line(run_dir, tmp_path, monkeypatch, capsys):
    (tmp_path / "dup.csv").write_text("id,text\na,好\na,差\n", encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["zhaug", "predict", str(run_dir), str(tmp_path / "dup.csv"), "-o",
                                     str(tmp_path / "out.csv")])
    with pytest.raises(SystemExit) as exit_info:
        run()
    assert exit_info.value.code == 2
    assert "dup.csv, line 3: duplicate id 'a'" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_teacher_gate_takes_a_run_folder(run_dir):
    from zhaug.augment.gates import Candidate
    from zhaug.augment.gates.teacher import TeacherGate
    from zhaug.io import Record
    from zhaug.train.gate_models import bind_gate
    from zhaug.train.predict import Predictor, load_predictor

    assert isinstance(load_predictor(run_dir), Predictor)
    parent = Record("p", "好棒", "neg")
    p_pos = Predictor(run_dir).predict_proba(["好棒好棒"])[0][1]  # the model predicts pos (see above)
    verdict = bind_gate(TeacherGate(str(run_dir), threshold=0.0)).reasons([Candidate(parent, "好棒好棒", "x", 0)])
    assert verdict == [f"label flipped (neg→pos, p={p_pos:.2f})"]


def _damage(best: Path, how: str) -> None:
    """Damage a copied ``best/`` folder the ways issue 23 found predicting silently."""
    import json

    import torch
    from safetensors.torch import load_file, save_file

    weights = best / "model.safetensors"
    state = load_file(weights)
    if how == "no tokenizer files":
        for path in best.glob("tokenizer*.json"):
            path.unlink()
        for path in best.glob("vocab.txt"):
            path.unlink()
    elif how == "tokenizer.json gone, its config kept":
        (best / "tokenizer.json").unlink()
    elif how == "truncated tokenizer.json":
        (best / "tokenizer.json").write_bytes((best / "tokenizer.json").read_bytes()[:500])
    elif how == "corrupt config.json":
        (best / "config.json").write_text("{", encoding="utf-8")
    elif how == "one dummy tensor":
        save_file({"dummy": torch.zeros(2)}, weights)
    elif how == "NaN weights":
        name = next(name for name in sorted(state) if name.startswith("albert.encoder"))
        save_file({**state, name: state[name] * float("nan")}, weights, metadata={"format": "pt"})
    elif how == "base encoder only":
        save_file({k: v for k, v in state.items() if not k.startswith("classifier")}, weights, metadata={"format": "pt"})
    elif how == "unexpected weights":
        save_file({**state, "extra.weight": torch.zeros(2)}, weights, metadata={"format": "pt"})
    elif how == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif how == "corrupt zhaug.json":
        (best / "zhaug.json").write_text("{bad", encoding="utf-8")
    elif how == "zhaug.json without labels":
        (best / "zhaug.json").write_text(json.dumps({"config": {}}), encoding="utf-8")


@pytest.mark.parametrize("how, problem", [
    ("no tokenizer files", "no tokenizer files"),
    ("tokenizer.json gone, its config kept", "no tokenizer files"),
    ("truncated tokenizer.json", "cannot load the tokenizer"),
    ("corrupt config.json", "the folder is damaged"),
    ("one dummy tensor", "missing weights"),
    ("NaN weights", "NaN or infinite"),
    ("base encoder only", "missing weights classifier"),
    ("unexpected weights", "unexpected weights extra.weight"),
    ("truncated safetensors", "cannot load the model"),
    ("corrupt zhaug.json", "zhaug.json: damaged"),
    ("zhaug.json without labels", "zhaug.json: damaged"),
])
def test_a_damaged_run_folder_is_an_error_not_a_prediction(run_dir, tmp_path, monkeypatch, capsys, how, problem):
    import shutil

    damaged = tmp_path / "run"
    shutil.copytree(run_dir / "best", damaged / "best")
    _damage(damaged / "best", how)
    write_table(tmp_path / "in.csv", [{"id": "a", "text": "好棒"}], ["id", "text"])
    monkeypatch.setattr("sys.argv", ["zhaug", "predict", str(damaged), str(tmp_path / "in.csv"), "-o",
                                     str(tmp_path / "out.csv"), "--proba"])
    with pytest.raises(SystemExit) as exit_info:
        run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and problem in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.csv").exists()


def test_predict_takes_a_plain_transformers_folder(tmp_path):
    folder = tiny_model(tmp_path / "hf")
    write_table(tmp_path / "in.csv", [{"id": "a", "text": "好棒"}, {"id": "b", "text": "差"}], ["id", "text"])
    result = runner.invoke(app, ["predict", str(folder), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert [row["label"] in ("0", "1") for row in read_table(tmp_path / "out.csv")] == [True, True]


def test_a_folder_transformers_cannot_read_is_an_error(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    write_table(tmp_path / "in.csv", [{"id": "a", "text": "好棒"}], ["id", "text"])
    monkeypatch.setattr("sys.argv", ["zhaug", "predict", str(folder), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    with pytest.raises(SystemExit) as exit_info:
        run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "not a usable transformers model folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_predict_refuses_to_overwrite_its_input(run_dir, tmp_path):
    write_table(tmp_path / "in.csv", [{"id": "a", "text": "好棒"}], ["id", "text"])
    with pytest.raises(ZhaugError, match="the output is the input"):
        predict_file(run_dir, tmp_path / "in.csv", tmp_path / "in.csv")
    assert read_table(tmp_path / "in.csv") == [{"id": "a", "text": "好棒"}]
