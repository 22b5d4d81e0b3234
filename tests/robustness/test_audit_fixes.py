"""The audit as a new user meets it: stratified row samples, single-class and tiny audit sets,
flips that fixed a prediction kept apart, and the plot of a single severity."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import typer
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from zhaug.cli.audit import audit_command
from zhaug.io import Record, write_table
from zhaug.robustness import AuditConfig, audit, check, parse_thresholds, write_report
from zhaug.robustness.audit import audit_sample
from zhaug.robustness.compare import compare_models, comparison_markdown
from zhaug.robustness.report import accuracy_plot, markdown

CLASSES = ["neg", "pos"]
POS = ["这家店的菜很好吃", "服务很好，价格便宜", "快递速度好快", "质量不错，很满意", "物美价廉，推荐购买", "包装精美，送人合适"]
NEG = ["送餐太慢了，菜也凉了", "味道一般，分量太少", "包装破了，汤洒了一地", "客服态度很差", "用了两天就坏了", "颜色和图片不一样"]
SORTED = [Record(f"n{i}", t, "neg") for i, t in enumerate(NEG * 3)] + [Record(f"p{i}", t, "pos") for i, t in enumerate(POS)]


def latin_is_positive(texts: list[str]) -> np.ndarray:
    """pos (0.8) iff the text holds a Latin letter: pinyin noise turns every prediction to pos."""
    pos = np.array([any("a" <= c.lower() <= "z" for c in t) for t in texts])
    return np.where(pos[:, None], [[0.2, 0.8]], [[0.8, 0.2]])


def test_audit_sample_is_stratified_seeded_and_in_table_order():
    sample = audit_sample(SORTED, 8, seed=0)
    labels = [r.label for r in sample]
    assert labels.count("neg") == 6 and labels.count("pos") == 2  # 18 : 6 of 24
    assert sample == audit_sample(SORTED, 8, seed=0) != audit_sample(SORTED, 8, seed=1)
    order = [SORTED.index(r) for r in sample]
    assert order == sorted(order)
    assert audit_sample(SORTED, None, 0) == SORTED == audit_sample(SORTED, 100, 0)


def test_single_class_and_tiny_audits_warn_and_give_no_score():
    config = AuditConfig(families=["pinyin"], severities=[5], n_resamples=50)
    single = audit(latin_is_positive, SORTED[:12], config, labels=CLASSES, progress=False)
    assert single["score"] is None and any("single class" in w for w in single["warnings"])
    pred = np.zeros(12, dtype=int)  # every clean prediction is neg
    assert single["clean"]["macro_f1"]["value"] == pytest.approx(f1_score(pred, pred, labels=[0], average="macro"))
    one = audit(latin_is_positive, SORTED[-1:], config, labels=CLASSES, progress=False)
    assert one["score"] is None and any("1 row(s)" in w for w in one["warnings"])
    assert "**Warning:**" in markdown(one)
    both = audit(latin_is_positive, audit_sample(SORTED, 12, 0), config, labels=CLASSES, progress=False)
    assert both["score"] is not None and not any("single class" in w for w in both["warnings"])
    assert audit(latin_is_positive, SORTED * 2, config, labels=CLASSES, progress=False)["warnings"] == []


def test_flips_that_fixed_a_wrong_prediction_are_kept_apart():
    config = AuditConfig(families=["pinyin"], severities=[5], n_resamples=50, worst_examples=20)
    report = audit(latin_is_positive, SORTED, config, labels=CLASSES, progress=False)
    worst, fixed = report["worst_examples"], report["fixed_examples"]
    assert worst and fixed
    assert all(w["label"] == "neg" and w["perturbed_prediction"] == "pos" for w in worst)  # harmed
    assert all(w["label"] == "pos" and w["clean_prediction"] == "neg" and w["flipped"] for w in fixed)
    assert "## Flips that fixed a wrong prediction" in markdown(report)


def test_one_severity_is_a_bar_chart_not_dots_on_a_1_to_5_axis():
    one = audit(latin_is_positive, SORTED, AuditConfig(families=["pinyin", "zero_width"], severities=[3],
                                                       n_resamples=50), labels=CLASSES, progress=False)
    several = audit(latin_is_positive, SORTED, AuditConfig(families=["pinyin", "zero_width"], severities=[1, 3],
                                                           n_resamples=50), labels=CLASSES, progress=False)
    assert "accuracy at severity 3" in accuracy_plot(one)
    assert "accuracy at severity" not in accuracy_plot(several)


def test_cli_limit_samples_both_classes_of_a_sorted_table(tmp_path, monkeypatch):
    test = tmp_path / "test.csv"
    write_table(test, [{"id": r.id, "text": r.text, "label": r.label} for r in SORTED], ["id", "text", "label"])
    classifier = SimpleNamespace(predict_proba=latin_is_positive, labels=CLASSES)
    monkeypatch.setattr("zhaug.train.predict.load_predictor", lambda path, batch_size: classifier)
    (tmp_path / "model").mkdir()
    app = typer.Typer()
    app.command()(audit_command)
    result = CliRunner().invoke(app, [str(tmp_path / "model"), str(test), "--families", "pinyin", "--severities", "3",
                                      "--limit", "12", "--no-progress", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert set(report["clean"]["per_class"]) == {"neg", "pos"} and report["meta"]["n_rows"] == 12
    single = CliRunner().invoke(app, [str(tmp_path / "model"), str(test), "--families", "pinyin", "--severities", "3",
                                      "--limit", "1", "--no-progress", "--out", str(tmp_path / "s")])
    assert "warning:" in single.output
    write_report(report, tmp_path / "again")  # the report of a sampled audit writes as any other


def always_positive(texts: list[str]) -> np.ndarray:
    return np.tile([[0.3, 0.7]], (len(texts), 1))


def test_two_models_side_by_side_paired_on_the_same_texts():
    config = AuditConfig(families=["pinyin", "zero_width"], severities=[5], n_resamples=100)
    comparison = compare_models(latin_is_positive, always_positive, SORTED, config, labels=CLASSES)
    pinyin = next(c for c in comparison["cells"] if c["family"] == "pinyin")
    alone = audit(latin_is_positive, SORTED, config, labels=CLASSES, progress=False)
    assert pinyin["flip_rate"]["a"] == next(c for c in alone["cells"] if c["family"] == "pinyin")["flip_rate"]["value"]
    assert pinyin["flip_rate"]["b"] == 0 and pinyin["flip_rate"]["value"] == -pinyin["flip_rate"]["a"] < 0
    assert pinyin["flip_rate"]["low"] <= pinyin["flip_rate"]["value"] <= pinyin["flip_rate"]["high"]
    assert comparison["clean"]["accuracy"]["value"] == pytest.approx(6 / 24 - 18 / 24)
    assert check(comparison, parse_thresholds("flip_rate<=0")) == []
    swapped = compare_models(always_positive, latin_is_positive, SORTED, config, labels=CLASSES)
    assert check(swapped, parse_thresholds("flip_rate<=0"))
    assert "| pinyin | 5 | INV |" in comparison_markdown(comparison)


def test_cli_compares_two_runs_and_gates_on_the_difference(tmp_path, monkeypatch):
    test = tmp_path / "test.csv"
    write_table(test, [{"id": r.id, "text": r.text, "label": r.label} for r in SORTED], ["id", "text", "label"])
    models = {"a": latin_is_positive, "b": always_positive}
    monkeypatch.setattr("zhaug.train.predict.load_predictor",
                        lambda path, batch_size: SimpleNamespace(predict_proba=models[path.name], labels=CLASSES))
    app = typer.Typer()
    app.command()(audit_command)
    args = ["--families", "pinyin", "--severities", "5", "--no-progress", "--fail-under", "flip_rate<=0", "--out"]
    passed = CliRunner().invoke(app, [str(tmp_path / "a"), str(tmp_path / "b"), str(test), *args, str(tmp_path / "ab")])
    assert passed.exit_code == 0, passed.output
    assert json.loads((tmp_path / "ab" / "comparison.json").read_text(encoding="utf-8"))["gate"]["failures"] == []
    failed = CliRunner().invoke(app, [str(tmp_path / "b"), str(tmp_path / "a"), str(test), *args, str(tmp_path / "ba")])
    assert failed.exit_code == 1 and "release gate (B − A)" in failed.output


def test_an_audit_config_file_names_itself_in_its_errors(tmp_path):
    from zhaug.errors import ZhaugError
    from zhaug.robustness.audit import load_config

    path = tmp_path / "a.yaml"
    path.write_text("severities: [1]\nfamiles: [pinyin]\nattack: {query_budget: 5e2}\n", "utf-8")
    with pytest.raises(ZhaugError, match=r"a\.yaml: unknown audit option\(s\) \['familes'\]"):
        load_config(path)
    path.write_text("severities: [1]\nattack: {query_budget: 5e2}\n", "utf-8")
    assert load_config(path).attack.query_budget == 500
