"""The augmentation pipeline: determinism, worker invariance, nothing lost, balance, resume, CLI."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from zhaug.augment.base import default_segmenter
from zhaug.augment.pipeline import Augmenter, augment_records, copies_per_record
from zhaug.augment.recipes import load_recipe, recipe_from_dict
from zhaug.augment.text import protected_spans
from zhaug.cli import app
from zhaug.errors import ZhaugError
from zhaug.io import Record, ResumableWriter, read_table

RECIPE = {"name": "edits", "op": {"one_of": [{"random_swap": {"rate": 0.3}}, {"random_delete": {"rate": 0.3}}]}}
TEXTS = [
    "今天天气很好，我们去公园散步吧。",
    "这家酒店的服务非常差，不推荐大家入住。",
    "据新华社报道，2023年3月15日起，全国油价上涨5%，每升涨0.3元。",
    "",
    "房间干净整洁，早餐种类丰富，前台小姐态度热情。",
]


def run(recs, **kwargs):
    return Augmenter(recipe_from_dict(RECIPE), progress=False, **kwargs).run(recs)


def test_same_seed_same_rows_other_seed_other_rows():
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS * 4)]
    assert run(recs, n_aug=3, seed=7)[0] == run(recs, n_aug=3, seed=7)[0]
    assert run(recs, n_aug=3, seed=7)[0] != run(recs, n_aug=3, seed=8)[0]


def test_worker_count_does_not_change_output():
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS * 8)]
    single, _ = run(recs, n_aug=2, seed=1, workers=1, chunk_size=2)
    double, _ = run(recs, n_aug=2, seed=1, workers=2, chunk_size=2)  # 20 chunks: more than are in flight
    assert single == double


def test_row_outputs_do_not_depend_on_other_rows():
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS)]
    whole, _ = run(recs, n_aug=2, seed=3)
    alone, _ = run(recs[2:3], n_aug=2, seed=3)
    assert [row for row in whole if row["id"].startswith("r2")] == alone


def test_every_id_accounted_for_and_empty_texts_passed_through():
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS)]
    rows, stats = run(recs, n_aug=2, seed=0)
    originals = [row for row in rows if row["op"] == "original"]
    assert [row["id"] for row in originals] == [r.id for r in recs]
    assert stats.empty == 1 and not [row for row in rows if row["parent_id"] == "r3"]
    children = [row for row in rows if row["op"] != "original"]
    assert len(children) == 2 * 4 and all(row["label"] == "x" and row["seed"] == 0 for row in children)
    assert all(json.loads(row["params"]) == {"rate": 0.3, "mode": "safe", "max_edits": 2} for row in children)


def test_no_originals_keeps_only_children():
    rows, _ = run([Record("a", TEXTS[0], "x")], n_aug=2, keep_originals=False)
    assert [row["parent_id"] for row in rows] == ["a", "a"]


def test_protected_spans_survive_the_pipeline():
    recs = [Record("news", TEXTS[2], "real")]
    rows, _ = run(recs, n_aug=10, seed=5)
    expected = protected_spans(default_segmenter()(TEXTS[2]))
    for row in rows:
        kept = protected_spans(default_segmenter()(row["text"]))
        assert sorted(kept) == sorted(expected), row["text"]


def test_balance_lifts_minority_class():
    recs = [Record(f"p{i}", TEXTS[0], "pos") for i in range(6)] + [Record(f"n{i}", TEXTS[1], "neg") for i in range(2)]
    copies = copies_per_record(recs, n_aug=0, balance=True)
    assert copies == [0] * 6 + [2, 2]
    copies = copies_per_record(recs, n_aug=1, balance=True)
    assert sum(copies[:6]) == 6 and sum(copies[6:]) == 10


def test_online_copy_equals_pipeline_copy():
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS[:3])]
    rows, _ = run(recs, n_aug=3, seed=11)
    recipe = recipe_from_dict(RECIPE)
    assert augment_records(recs, recipe, seed=11, copy=2) == [
        next(row["text"] for row in rows if row["id"] == f"{r.id}-aug2") for r in recs
    ]


def test_resume_skips_finished_rows(tmp_path):
    recs = [Record(f"r{i}", t, "x") for i, t in enumerate(TEXTS)]
    out = tmp_path / "aug.csv"
    full, _ = run(recs, n_aug=2, seed=4)
    first = ResumableWriter(out, ["id", "parent_id", "text", "label", "op", "params", "seed"])
    Augmenter(recipe_from_dict(RECIPE), n_aug=2, seed=4, progress=False).run(recs[:3], first)
    first._handle.close()
    second = ResumableWriter(out, first.fieldnames, resume=True)
    rows, stats = Augmenter(recipe_from_dict(RECIPE), n_aug=2, seed=4, progress=False).run(recs, second)
    assert stats.resumed == 3 and rows == full


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("我们今天去北京不没有好的吗，。 123年")), max_size=40), st.integers(0, 2**32))
def test_rate_zero_is_identity_and_no_spaces_added(text, seed):
    zero = recipe_from_dict({"op": {"sequence": [{"random_swap": {"rate": 0}}, {"random_delete": {"rate": 0}}]}})
    assert augment_records([Record("a", text)], zero, seed=seed) == [text]
    (edited,) = augment_records([Record("a", text)], recipe_from_dict(RECIPE), seed=seed)
    assert edited.count(" ") <= text.count(" ")


def test_unknown_recipe_and_operation_errors():
    with pytest.raises(Exception, match="unknown recipe"):
        load_recipe("no-such-recipe")
    with pytest.raises(Exception, match="unknown operation 'nope'"):
        recipe_from_dict({"op": {"nope": {}}})


@pytest.mark.parametrize(("recipe", "message"), [
    ({"op": {"random_swap": {"rat": 0.1}}}, r"operation 'random_swap': unknown parameter\(s\) \['rat'\]"),
    ({"op": "random_swap", "gate": ["dedup"]}, r"unknown key\(s\) \['gate'\]"),  # would drop every gate
    ({"op": "random_swap", "gates": [{"similarity": {"treshold": 0.9}}]}, r"gate 'similarity': unknown parameter"),
    ({"op": {"sometimes": {"op": "random_swap", "pp": 0.5}}}, r"'sometimes': unknown parameter\(s\) \['pp'\]"),
    ({"op": {"one_of": {"ops": ["random_swap"], "weight": [1]}}}, r"'one_of': unknown parameter\(s\) \['weight'\]"),
    ({"op": {"per_sentence": {"k": 2}}}, r"operation 'per_sentence' needs 'op'"),
])
def test_a_misspelt_recipe_is_refused_naming_the_word(recipe, message):
    with pytest.raises(ZhaugError, match=message):
        recipe_from_dict(recipe)


def test_cli_augment_end_to_end(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(("id,text,label\n" + "".join(f"{i},{t},{i % 2}\n" for i, t in enumerate(TEXTS))).encode("gb18030"))
    recipe = tmp_path / "edits.yaml"
    recipe.write_text(json.dumps(RECIPE), "utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["augment", str(source), "-o", str(out), "-r", str(recipe), "-n", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = read_table(out)
    assert {row["id"] for row in rows if row["op"] == "original"} == {str(i) for i in range(5)}
    assert json.loads((tmp_path / "out.summary.json").read_text("utf-8"))["rows_out"] == len(rows)


def test_cli_unknown_segmenter_is_refused(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text,label\n1,好,a\n", "utf-8")
    result = CliRunner().invoke(app, ["augment", str(source), "-o", str(tmp_path / "o.csv"), "--segmenter", "hanlp"])
    assert result.exit_code != 0 and "--segmenter" in result.output


def test_cli_bad_row_is_reported_with_line(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("id,text,label\n1,好,a\n2,坏\n", "utf-8")
    result = CliRunner().invoke(app, ["augment", str(source), "-o", str(tmp_path / "o.csv"), "-r", "eda"])
    assert result.exit_code != 0
    assert "bad.csv, line 3" in str(result.exception)
    assert not (tmp_path / "o.csv").exists()


def test_overrides_reach_nested_operations():
    recipe = recipe_from_dict(
        {"op": {"one_of": [{"random_swap": {"rate": 0.1}}, {"sometimes": {"p": 0.5, "op": {"random_swap": {}}}}]}},
        overrides={"random_swap": {"rate": 0.4}},
    )
    assert recipe.op.ops[0].rate == 0.4 and recipe.op.ops[1].ops[0].rate == 0.4


def test_no_progress_bar_off_a_terminal_unless_asked_for(capsys):
    recs = [Record(str(i), t) for i, t in enumerate(TEXTS)]
    Augmenter(recipe_from_dict(RECIPE), seed=0).run(recs)
    assert "augment (edits)" not in capsys.readouterr().err  # pytest's stderr is not a terminal
    Augmenter(recipe_from_dict(RECIPE), seed=0, progress=True).run(recs)
    assert "augment (edits)" in capsys.readouterr().err
