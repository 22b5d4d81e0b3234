"""The main job end to end on a tiny model: sample, augment, train twice, predict, audit, report."""

import json

import pytest
import yaml

from tests.train_helpers import tiny_model
from zhaug.io import read_table
from zhaug.studies.demo import run_demo


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_demo_runs_end_to_end_and_reports(tmp_path):
    config = {
        "sample": {"train_per_label": 12, "eval_per_label": 4, "test_per_label": 6, "max_chars": 60, "seed": 0},
        "augment": {"recipe": "eda", "n_aug": 1},
        "train": {"model": str(tiny_model(tmp_path / "model")), "max_length": 24, "batch_size": 8,
                  "max_steps": 4, "eval_every": 2, "patience": None, "seed": 0},
        "unlabeled": {"rows": 20, "ssl": "fixmatch"},
        "audit": {"rows": 6, "families": ["traditional", "char_swap"], "severities": [3], "n_resamples": 20},
    }
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    summary = run_demo(tmp_path / "out", path, progress=False)
    out = tmp_path / "out"
    report = json.loads((out / "demo.json").read_text("utf-8"))
    assert report["sizes"] == {"train": 24, "eval": 8, "test": 12}
    assert set(report["test"]) == {"baseline", "augmented", "unlabeled"}
    pool = read_table(out / "data" / "unlabeled.csv")
    labelled = {row["text"] for name in ("train", "dev", "test") for row in read_table(out / "data" / f"{name}.csv")}
    assert len(pool) == 20 and not {row["text"] for row in pool} & labelled and "label" not in pool[0]
    assert report["runs"]["unlabeled"]["unlabeled"]["rows"] == 20
    test_ids = [row["id"] for row in read_table(out / "data" / "test.csv")]
    for run in ("baseline", "augmented", "unlabeled"):
        assert [row["id"] for row in read_table(out / "predictions" / f"{run}.csv")] == test_ids
        assert (out / "audit" / run / "report.html").exists()
        assert [(c["family"], c["severity"]) for c in report["audit"][run]["cells"]] == [("traditional", 3), ("char_swap", 3)]
    text = summary.read_text("utf-8")
    assert "## Robustness" in text and "traditional s3 flips" in text
    assert "from 20 unlabelled reviews (`fixmatch` consistency training" in text
    assert (out / "curves.png").exists() and (out / "confusion.png").exists()
