"""The audit, its metrics, the attack, the release gate and the report, with stub classifiers
whose behaviour is known, so that flip rates and attack outcomes are asserted exactly."""

from __future__ import annotations

import json
import unicodedata
from types import SimpleNamespace

import numpy as np
import pytest
import typer
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from zhaug.augment.base import default_segmenter, editable_positions
from zhaug.augment.ops.noise import ZERO_WIDTH
from zhaug.cli.audit import audit_command
from zhaug.errors import ZhaugError
from zhaug.io import Record, write_table
from zhaug.robustness import AttackConfig, AuditConfig, audit, check, parse_thresholds, write_report
from zhaug.robustness.metrics import bootstrap_indices, ece, macro_f1, robustness_score
from zhaug.robustness.report import diff_html

CLASSES = ["neg", "pos"]
ROWS = [
    ("a", "这家店的菜很好吃", "pos"),
    ("b", "服务很好，价格便宜", "pos"),
    ("c", "送餐太慢了，菜也凉了", "neg"),
    ("d", "味道一般，分量太少", "neg"),
    ("e", "快递速度好快", "pos"),
    ("f", "包装破了，汤洒了一地", "neg"),
    ("g", "2023年5月1日", "neg"),  # wholly protected: no family can change it
    ("h", "100元", "neg"),
]
RECORDS = [Record(*row) for row in ROWS]


class Keyword:
    """pos (0.9) iff the text contains 好; with ``fooled_by_invisible``, any zero-width character
    reverses the decision. Counts the texts it is asked about."""

    def __init__(self, fooled_by_invisible: bool = False):
        self.fooled, self.seen = fooled_by_invisible, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += len(texts)
        pos = np.array([("好" in t) != (self.fooled and any(c in ZERO_WIDTH for c in t)) for t in texts])
        return np.where(pos[:, None], [[0.1, 0.9]], [[0.9, 0.1]])


CONFIG = AuditConfig(families=["zero_width", "full_width", "pinyin"], severities=[1, 5], n_resamples=200)


def cell(report, family, severity):
    return next(c for c in report["cells"] if c["family"] == family and c["severity"] == severity)


def test_flip_rates_of_known_models():
    fooled = audit(Keyword(fooled_by_invisible=True), RECORDS, CONFIG, labels=CLASSES, progress=False)
    assert fooled["clean"]["accuracy"]["value"] == 1.0
    for severity in (1, 5):
        zero = cell(fooled, "zero_width", severity)
        # every row with an editable Chinese character gets >= 1 invisible character: 6 of 8 flip
        assert zero["changed_rate"] == zero["flip_rate"]["value"] == 0.75
        assert zero["accuracy"]["value"] == 0.25 and zero["accuracy_drop"]["value"] == 0.75
        assert zero["confidence_shift"]["value"] == pytest.approx(-0.8 * 0.75)
        assert zero["per_class"]["pos"]["flip_rate"] == 1.0 and zero["per_class"]["neg"]["flip_rate"] == 0.6
        assert zero["expectation"] == "INV"
        assert zero["flip_rate"]["low"] <= 0.75 <= zero["flip_rate"]["high"]
        assert cell(fooled, "full_width", severity)["flip_rate"]["value"] == 0.0
    robust = audit(Keyword(), RECORDS, CONFIG, labels=CLASSES, progress=False)
    assert cell(robust, "zero_width", 5)["flip_rate"]["value"] == 0.0
    # pinyin at severity 5 (rate 0.3): 好 survives in some rows only; the clean model loses those
    pinyin = cell(robust, "pinyin", 5)
    assert 0 < pinyin["flip_rate"]["value"] < 1
    assert robust["score"] == pytest.approx(100 * (1 - (cell(robust, "pinyin", 1)["flip_rate"]["value"]
                                                        + pinyin["flip_rate"]["value"]) / 2 / 3))


def test_audit_is_deterministic_and_resumable(tmp_path):
    model = Keyword(fooled_by_invisible=True)
    first = audit(model, RECORDS, CONFIG, labels=CLASSES, cache_dir=tmp_path, model_id="m", progress=False)
    assert model.seen == len(RECORDS) * 7  # clean + 3 families × 2 severities
    second = audit(model, RECORDS, CONFIG, labels=CLASSES, cache_dir=tmp_path, model_id="m", progress=False)
    assert model.seen == len(RECORDS) * 7, "everything came from the cache"
    third = audit(model, RECORDS, CONFIG, labels=CLASSES, progress=False)
    for report in (first, second, third):
        del report["meta"]["seconds"], report["meta"]["forward_texts"]
    assert first == second
    third["meta"]["model"] = "m"
    assert first == third
    audit(model, RECORDS, CONFIG, labels=CLASSES, cache_dir=tmp_path, model_id="other", progress=False)
    assert model.seen == len(RECORDS) * 7 * 3, "another model never reuses the cache"


def test_attack_outcomes_are_exact():
    seg = default_segmenter()
    records = [Record("p", "服务很好", "pos"), Record("n", "服务太慢", "neg")]
    settings = AttackConfig(families=["pinyin"], rate=1.0, query_budget=50)
    report = audit(Keyword(), records, AuditConfig(families=["zero_width"], severities=[1], n_resamples=50,
                                                     attack=settings), labels=CLASSES, progress=False)
    attack = report["attack"]
    p, n = attack["rows"]
    words_p = len(editable_positions(seg("服务很好")))  # 服务 很 好
    words_n = len(editable_positions(seg("服务太慢")))
    # p: clean + leave-one-out, then 好 (the only important word) → hao flips it at once
    assert p["success"] and p["adversarial"] == "服务很hao" and p["queries"] == 1 + words_p + 1
    assert p["changed_words"] == 1 and p["modification_rate"] == pytest.approx(1 / words_p)
    assert p["prediction"] == "neg"
    # n: no word matters; each word's pinyin is tried once and none flips it
    assert not n["success"] and n["adversarial"] == "服务太慢" and n["queries"] == 1 + 2 * words_n
    assert attack["n_attacked"] == 2 and attack["success_rate"]["value"] == 0.5
    assert attack["queries_per_sample"] == (p["queries"] + n["queries"]) / 2
    assert attack["embedding_cosine"] is None


def test_attack_respects_budget_and_modification_cap():
    records = [Record("p", "服务很好", "pos")]
    tight = AttackConfig(families=["pinyin"], rate=1.0, query_budget=4)  # clean + 3 leave-one-out
    attack = audit(Keyword(), records, AuditConfig(families=["zero_width"], severities=[1], n_resamples=10,
                                                   attack=tight), labels=CLASSES, progress=False)["attack"]
    assert attack["rows"][0]["queries"] == 4 and not attack["rows"][0]["success"]


def test_attack_embedding_similarity():
    records = [Record("p", "服务很好", "pos")]
    embed = lambda texts: np.array([[len(t), 1.0] for t in texts])  # noqa: E731
    settings = AttackConfig(families=["pinyin"], rate=1.0)
    attack = audit(Keyword(), records, AuditConfig(families=["zero_width"], severities=[1], n_resamples=10,
                                                   attack=settings), labels=CLASSES, embed=embed, progress=False)["attack"]
    a, b = np.array([4.0, 1.0]), np.array([6.0, 1.0])
    assert attack["embedding_cosine"] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_metrics():
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert macro_f1(gold, pred, np.unique(gold))[0] == pytest.approx(
        f1_score(gold, pred, labels=[0, 1, 2], average="macro", zero_division=0))
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    # bins: 0.9 → wrong (gold 1), 0.8 → right, 0.7 → right, 0.6 → wrong
    assert ece(probs, np.array([1, 0, 1, 0]), n_bins=10) == pytest.approx((0.9 + 0.2 + 0.3 + 0.6) / 4)
    assert (bootstrap_indices(5, 3, 7) == bootstrap_indices(5, 3, 7)).all()
    cells = [{"family": "a", "expectation": "INV", "flip_rate": {"value": v}} for v in (0.1, 0.3)]
    cells += [{"family": "b", "expectation": "INV", "flip_rate": {"value": 0.0}},
              {"family": "c", "expectation": "ACC", "flip_rate": {"value": 1.0}}]
    assert robustness_score(cells) == pytest.approx(100 * (0.8 + 1.0) / 2)
    assert robustness_score(cells[3:]) is None


def test_thresholds():
    report = audit(Keyword(fooled_by_invisible=True), RECORDS, CONFIG, labels=CLASSES, progress=False)
    failures = check(report, parse_thresholds("flip_rate<=0.10, accuracy_drop<=0.8, score>=0"))
    assert len(failures) == 1
    assert failures[0].startswith("flip_rate<=0.1 failed in") and "zero_width" in failures[0]
    assert check(report, parse_thresholds("clean_accuracy>=1")) == []
    assert "no attack_success_rate" in check(report, parse_thresholds("attack_success_rate<=0.5"))[0]
    for bad in ("flip_rate=0.1", "speed<=1", "flip_rate<=abc"):
        with pytest.raises(ZhaugError):
            parse_thresholds(bad)


def test_labels_must_match_the_model():
    with pytest.raises(ZhaugError, match="not among the model's classes"):
        audit(Keyword(), [Record("x", "好", "maybe")], CONFIG, labels=CLASSES, progress=False)
    with pytest.raises(ZhaugError, match="returned shape"):
        audit(lambda texts: np.ones((len(texts), 3)), RECORDS, CONFIG, labels=CLASSES, progress=False)


def test_report_files(tmp_path):
    config = AuditConfig(families=["zero_width", "pinyin"], severities=[1, 5], n_resamples=50,
                         attack=AttackConfig(families=["pinyin"], rate=1.0))
    report = audit(Keyword(fooled_by_invisible=True), RECORDS, config, labels=CLASSES, progress=False)
    paths = write_report(report, tmp_path)
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["cells"][0]["family"] == "zero_width"
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "src=\"http" not in page and "<script" not in page
    assert "<ins class=\"cf\">U+" in page, "invisible characters are shown"
    assert "| zero_width | 5 | INV |" in paths["md"].read_text(encoding="utf-8")
    left, right = diff_html("服务很好", "服务很hao")
    assert left == "服务很<del>好</del>" and right == "服务很<ins>hao</ins>"
    assert all(unicodedata.category(c) != "Cf" for c in diff_html("好", "好\u200b")[1])


def test_cli_fail_under_exit_code_and_reports(tmp_path, monkeypatch):
    test = tmp_path / "test.csv"
    write_table(test, [{"id": r.id, "text": r.text, "label": r.label} for r in RECORDS], ["id", "text", "label"])
    model = Keyword(fooled_by_invisible=True)
    classifier = SimpleNamespace(predict_proba=model, labels=CLASSES)
    monkeypatch.setattr("zhaug.train.predict.load_predictor", lambda path, batch_size: classifier)
    (tmp_path / "model").mkdir()
    app = typer.Typer()  # the command alone: zhaug.cli also loads the trainer's heavy imports
    app.command()(audit_command)
    args = [str(tmp_path / "model"), str(test), "--families", "zero_width,full_width",
            "--severities", "1,5", "--no-progress", "--out"]
    runner = CliRunner()
    failed = runner.invoke(app, [*args, str(tmp_path / "r1"), "--fail-under", "flip_rate<=0.10,accuracy_drop<=0.05"])
    assert failed.exit_code == 1, failed.output
    assert "release gate: flip_rate<=0.1 failed in 2 of 4 cells; worst: zero_width severity 1 = 0.7500" in failed.output
    assert "release gate: accuracy_drop<=0.05 failed" in failed.output
    report = json.loads((tmp_path / "r1" / "report.json").read_text(encoding="utf-8"))
    assert report["gate"]["failures"] and (tmp_path / "r1" / "report.html").is_file()
    passed = runner.invoke(app, [*args, str(tmp_path / "r2"), "--fail-under", "flip_rate<=0.75"])
    assert passed.exit_code == 0, passed.output
    assert (tmp_path / "r2" / "report.md").is_file()
    bad = runner.invoke(app, [*args, str(tmp_path / "r3"), "--severities", "0"])
    assert bad.exit_code != 0
