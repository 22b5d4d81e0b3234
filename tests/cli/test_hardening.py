"""Issue 23: careless or hostile input ends in a clear error or correct output, never silent loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from zhaug.cli import BUG_EXIT, app, run
from zhaug.errors import InputError, ZhaugError
from zhaug.io import ResumableWriter, file_lock, output_lock, read_records, read_table, write_table

runner = CliRunner()
ROWS = [{"id": f"r{i}", "text": text, "label": str(i % 2)}
        for i, text in enumerate(["今天的饭菜很好吃，服务也不错", "快递太慢了，包装也破了", "这家店的环境非常安静",
                                  "价格便宜，味道一般般吧", "老板很热情，下次还会再来"])]


def zhaug(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the installed entry point (exit code mapping included); exit code and stderr."""
    monkeypatch.setattr("sys.argv", ["zhaug", *args])
    with pytest.raises(SystemExit) as exit_info:
        run()
        raise SystemExit(0)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture
def table(tmp_path):
    write_table(tmp_path / "in.csv", ROWS, ["id", "text", "label"])
    return tmp_path / "in.csv"


def test_a_training_table_with_one_label_names_the_file(tmp_path, monkeypatch, capsys):
    write_table(tmp_path / "one.csv", [{**row, "label": "1"} for row in ROWS], ["id", "text", "label"])
    code, err = zhaug(monkeypatch, capsys, "train", "--train", str(tmp_path / "one.csv"), "--out", str(tmp_path / "r"))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'one.csv'}: training needs at least two labels, found ['1']"
    write_table(tmp_path / "none.csv", [], ["id", "text", "label"])
    code, err = zhaug(monkeypatch, capsys, "train", "--train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "r"))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'none.csv'}: no rows to train on"


# 2. --resume
def test_resume_refuses_a_partial_made_from_other_input_or_settings(tmp_path):
    out = tmp_path / "out.csv"
    writer = ResumableWriter(out, ["id"], made_from={"input": "aaa", "seed": 0})
    writer.write_group("r0", [{"id": "r0"}])
    writer._handle.close()
    with pytest.raises(ZhaugError, match=r"made from other input or settings \(input, seed differ\)"):
        ResumableWriter(out, ["id"], resume=True, made_from={"input": "bbb", "seed": 1})
    assert list(ResumableWriter(out, ["id"], resume=True, made_from={"input": "aaa", "seed": 0}).done) == ["r0"]


@pytest.mark.parametrize("change", [["--seed", "1"], ["-n", "2"], ["-r", "eda"], ["other input"]])
def test_cli_resume_after_a_crash_checks_what_the_partial_was_made_from(table, tmp_path, monkeypatch, change):
    out = tmp_path / "out.csv"
    args = ["augment", str(table), "-o", str(out), "-r", "aeda", "--no-progress"]
    with monkeypatch.context() as patch:
        patch.setattr(ResumableWriter, "finish", lambda self, rows: (_ for _ in ()).throw(RuntimeError("crash")))
        assert runner.invoke(app, args).exit_code != 0
    assert out.with_name("out.csv.partial").exists() and not out.exists()
    if change == ["other input"]:
        other = tmp_path / "other.csv"
        write_table(other, ROWS[:2], ["id", "text", "label"])
        changed = ["augment", str(other), *args[2:]]
    else:
        changed = args + change
    result = runner.invoke(app, [*changed, "--resume"])
    assert result.exit_code != 0 and "made from other input or settings" in str(result.exception)
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    fresh = tmp_path / "fresh.csv"
    assert runner.invoke(app, [*args[:3], str(fresh), *args[4:]]).exit_code == 0
    assert read_table(out) == read_table(fresh)


def test_a_failed_run_leaves_no_empty_partial_file(table, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.yaml").write_text("name: x\nop: {synonym_swap: {rate: abc}}\n", encoding="utf-8")
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "out.csv"),
                      "-r", str(tmp_path / "bad.yaml"), "--no-progress")
    assert code == 2 and "operation 'synonym_swap'" in err and "check its parameters" in err
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == [".out.csv.lock"]


# 3. unclosed quotes
@pytest.mark.parametrize("content, line", [
    ('id,text,label\nr0,好吃,1\nr1,难吃,"0\nr2,一般,1\nr3,很好,1\n', 3),
    ('id,text,label\nr0,好吃,1\nr1,"难吃,0\nr2,一般,1\nr3,很好,1\nr4,"好",1\n', 3),
    ('id,text,label\nr0,好吃,1\nr1,"难吃,0\nr2,一般,1\nr3,很好,1\n', 3),
])
def test_an_unclosed_quote_is_an_error_on_the_line_it_opens(tmp_path, content, line):
    (tmp_path / "q.csv").write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_records(tmp_path / "q.csv")
    assert error.value.line == line and "q.csv" in str(error.value)


def test_quoted_multi_line_texts_still_read_with_their_first_line(tmp_path):
    (tmp_path / "m.csv").write_text('id,text,label\nr0,"好\n吃",1\nr1,x,"0"\nr2,y\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_records(tmp_path / "m.csv")
    assert error.value.line == 5  # r2 starts on line 5, after the two-line r0
    (tmp_path / "m.csv").write_text('id,text,label\nr0,"好\n吃",1\nr1,x,"0"\n', encoding="utf-8")
    assert [r.text for r in read_records(tmp_path / "m.csv")] == ["好\n吃", "x"]


# 4. encodings
@pytest.mark.parametrize("encoding, text, name", [
    ("big5", "這家餐廳的服務非常好", "Big5"),
    ("shift_jis", "このレストランのサービスはとても良いです", "Shift-JIS"),
    ("euc_kr", "이 식당의 서비스는 매우 좋습니다", "EUC-KR"),
])
def test_big5_shift_jis_and_euc_kr_are_refused_not_read_as_gb18030(tmp_path, encoding, text, name):
    path = tmp_path / "in.csv"
    path.write_bytes(f"id,text,label\n1,{text},1\n".encode(encoding))
    with pytest.raises(InputError, match=f"in.csv: looks like {name}"):
        read_records(path)


@pytest.mark.parametrize("text", ["这家餐厅的服务非常好", "都是大肥肉，吃不了！", "送餐非常快，给快递小哥一个", "要的腐竹，给我的木耳"])
def test_short_gb18030_texts_are_still_read(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_bytes(f"id,text,label\n1,{text},1\n".encode("gb18030"))
    assert read_records(path)[0].text == text


# 5. workers and signals
def test_workers_are_capped_at_the_cpus_available(table, tmp_path, capsys):
    from zhaug.cli.augment import cap_workers

    cpus = len(os.sched_getaffinity(0))
    assert cap_workers(cpus + 62) == cpus and f"only {cpus} CPUs available" in capsys.readouterr().err
    assert cap_workers(1) == 1


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="augment caps its workers at the usable CPUs: "
                    "one CPU, no worker pool")
def test_sigterm_stops_every_worker(tmp_path):
    source = tmp_path / "big.csv"
    write_table(source, [{"id": f"r{i}", "text": ROWS[i % 5]["text"] * 3, "label": "0"} for i in range(20000)],
                ["id", "text", "label"])
    process = subprocess.Popen([sys.executable, "-c", "from zhaug.cli import run; run()", "augment", str(source),
                                "-o", str(tmp_path / "o.csv"), "-r", "eda", "-w", "2", "-n", "4", "--no-progress"],
                               stderr=subprocess.PIPE, start_new_session=True)
    children: set[int] = set()
    for _ in range(300):  # wait until the pool is up
        time.sleep(0.1)
        children = _descendants(process.pid)
        if len(children) >= 2:
            break
    assert len(children) >= 2, "no workers started"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.5)
    alive = [pid for pid in children if _alive(pid)]
    os.killpg(process.pid, signal.SIGKILL) if alive else None
    assert alive == []
    assert not (tmp_path / "o.csv").exists()


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    parents = dict(zip(map(int, out[::2]), map(int, out[1::2])))
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


# 6. outputs
def test_output_equal_to_input_is_refused(table, monkeypatch, capsys):
    before = table.read_bytes()
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(table), "-r", "aeda", "--no-progress")
    assert code == 2 and "the output is the input file" in err and table.read_bytes() == before


def test_a_second_writer_to_the_same_output_is_refused(table, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.csv"
    with output_lock(out):  # flock locks open files: to a second open, this is another process's lock
        code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(out), "-r", "aeda", "--no-progress")
    assert code == 2 and f"{out}: another zhaug process is writing it" in err
    assert not out.exists()
    with file_lock(tmp_path / "free.lock", wait=False):
        pass


def test_outputs_respect_the_umask(table, tmp_path):
    old = os.umask(0o022)
    try:
        result = runner.invoke(app, ["augment", str(table), "-o", str(tmp_path / "out.csv"), "-r", "aeda", "--no-progress"])
    finally:
        os.umask(old)
    assert result.exit_code == 0
    for name in ("out.csv", "out.rejected.csv", "out.summary.json"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(0o644), name


# 7. labels
@pytest.mark.parametrize("content, problem", [
    ("id,text,label\na,好,1\nb,差,0\nc,中,1.0\n", "label '1.0' is the number written '1' on line 2"),
    ("id,text,label\na,好,1\nb,差,01\n", "label '01' is the number written '1'"),
])
def test_one_number_written_two_ways_is_refused(tmp_path, content, problem):
    (tmp_path / "l.csv").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=problem):
        read_records(tmp_path / "l.csv")


def test_json_labels_0_and_0_0_and_nan(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"id": 1, "text": "a", "label": 0}\n{"id": 2, "text": "b", "label": 0.0}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: label '0.0' is the number written '0'"):
        read_records(path)
    path.write_text('{"id": 1, "text": "a", "label": 0}\n{"id": 2, "text": "b", "label": NaN}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: missing label"):
        read_records(path)
    path.write_text('{"id": 1, "text": "a", "label": 0.0}\n{"id": 2, "text": "b", "label": 1.0}\n', encoding="utf-8")
    assert [r.label for r in read_records(path)] == ["0.0", "1.0"]  # one way per class: kept as written


def test_augmented_children_must_come_from_the_training_table(tmp_path):
    from zhaug.train.data import read_children

    train = read_records(_write(tmp_path / "train.csv", ROWS))
    good = [{"id": r["id"], "parent_id": "", "text": r["text"], "label": r["label"]} for r in ROWS]
    good += [{"id": f"{r['id']}-aug0", "parent_id": r["id"], "text": r["text"] + "啊", "label": r["label"]} for r in ROWS]
    assert len(read_children(_write(tmp_path / "good.csv", good), train)) == 5
    unrelated = [dict(row, text="别的数据" + row["text"]) for row in good]  # same ids, another table
    with pytest.raises(InputError, match="5 originals whose text differs"):
        read_children(_write(tmp_path / "unrelated.csv", unrelated), train)
    orphans = good + [{"id": "x-aug0", "parent_id": "x", "text": "孤儿", "label": "0"},
                      {"id": "r0-aug9", "parent_id": "r0", "text": "换了标签", "label": "1"}]
    with pytest.raises(InputError, match="1 children whose parent is not in the training table; "
                                         "1 children labelled differently"):
        read_children(_write(tmp_path / "orphans.csv", orphans), train)


def _write(path, rows):
    write_table(path, rows, list(rows[0]))
    return path


# 8. release gate
def test_fail_under_naming_no_condition_is_an_error():
    from zhaug.robustness.thresholds import parse_thresholds

    for spec in (",,", "", " , "):
        with pytest.raises(ZhaugError, match="names no condition"):
            parse_thresholds(spec)


# Tracebacks -> one line
def test_malformed_recipe_yaml_names_the_file_and_line(table, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.yaml").write_text("name: x\nop: {synonym_swap: {rate: 0.1}\n", encoding="utf-8")
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"),
                      "-r", str(tmp_path / "bad.yaml"))
    assert code == 2 and f"{tmp_path / 'bad.yaml'}, line 3, column 1: not valid YAML" in err
    assert "unicode string" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_operation_parameter_names_the_recipe(table, tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text("op: {synonym_swap: {rate: 0.1, speed: 3}}\n", encoding="utf-8")
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"),
                      "-r", str(tmp_path / "r.yaml"))
    assert code == 2 and "r.yaml: operation 'synonym_swap'" in err and "speed" in err


@pytest.mark.parametrize("name", ["../recipes/eda", "../../configs/recipes/eda", "eda/../eda"])
def test_a_recipe_name_is_not_a_path(name):
    from zhaug.augment.recipes import load_recipe

    with pytest.raises(ZhaugError, match="unknown recipe"):
        load_recipe(name)


def test_an_unwritable_output_is_one_line(table, tmp_path, monkeypatch, capsys):
    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr("zhaug.io.tempfile.mkstemp", refuse)
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "aeda",
                      "--no-progress")
    assert code == 2 and err.strip() == f"error: {tmp_path}: Permission denied"


def test_a_bug_exits_with_its_own_code_not_the_release_gates(table, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("zhaug.cli.augment.Augmenter.run", lambda *a, **k: {}["a bug"])
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "aeda",
                      "--no-progress")
    assert code == BUG_EXIT != 1 and "Traceback" in err and "a bug" in err
    assert not list(tmp_path.glob("o.csv*"))


def test_max_length_beyond_the_model_is_refused(tmp_path, monkeypatch, capsys):
    from tests.train_helpers import tiny_model

    model = tiny_model(tmp_path / "m")
    code, err = zhaug(monkeypatch, capsys, "train", "--train", str(_write(tmp_path / "t.csv", ROWS)),
                      "--out", str(tmp_path / "run"), "--model", str(model), "--max-length", "100000")
    assert code == 2 and "--max-length 100000: the model" in err and "reads at most 64 tokens" in err


def test_train_prints_the_linear_probe_beside_the_fine_tuned_result(tmp_path, monkeypatch, capsys):
    from tests.train_helpers import tiny_model

    model = tiny_model(tmp_path / "m")
    rows = [{**row, "id": f"{row['id']}-{k}"} for k in range(4) for row in ROWS]
    code, err = zhaug(monkeypatch, capsys, "train", "--train", str(_write(tmp_path / "t.csv", rows)),
                      "--out", str(tmp_path / "run"), "--model", str(model), "--max-steps", "2", "--threads", "1")
    step0 = json.loads((tmp_path / "run" / "metrics.json").read_text("utf-8"))["history"][0]
    assert code == 0 and step0["step"] == 0
    assert f"before fine-tuning, the linear probe on the frozen encoder: accuracy {step0['accuracy']:.4f}" in err
    assert err.index("before fine-tuning") < err.index("best step")


# Conventions
def test_progress_bars_are_off_when_stderr_is_not_a_terminal(table, tmp_path, monkeypatch, capsys):
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "aeda")
    assert code == 0 and "\r" not in err and "\x1b[" not in err
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "aeda",
                      "--progress")
    assert code == 0 and "\r" in err  # asked for: shown


def test_no_color_is_honoured(table, tmp_path, monkeypatch, capsys):
    import typer

    shown = []
    monkeypatch.setattr(typer, "secho", lambda message, **style: shown.append(style.get("fg")))
    monkeypatch.setenv("NO_COLOR", "1")
    code, _ = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(table), "-r", "aeda")
    assert code == 2 and shown == [None]
    monkeypatch.delenv("NO_COLOR")
    code, _ = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(table), "-r", "aeda")
    assert shown == [None, "red"]


def test_tokenizer_config_names_a_class_transformers_4_knows(tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from zhaug.train.checkpoint import portable_tokenizer_config

    vocab = {"[UNK]": 0, "[PAD]": 1, "好": 2}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="[UNK]")),
                                        unk_token="[UNK]", pad_token="[PAD]")
    tokenizer.save_pretrained(tmp_path)
    portable_tokenizer_config(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text("utf-8"))["tokenizer_class"] in (
        "PreTrainedTokenizerFast", "BertTokenizer", "BertTokenizerFast")
    assert AutoTokenizer.from_pretrained(tmp_path)("好")["input_ids"] == [2]


def test_a_run_folder_has_a_model_card(tmp_path, monkeypatch, capsys):
    from tests.train_helpers import tiny_model

    model = tiny_model(tmp_path / "m")
    rows = [{"id": f"r{i}", "text": ("好棒赞" if i % 2 else "差坏烂") * 2, "label": "pos" if i % 2 else "neg"}
            for i in range(24)]
    old = os.umask(0o022)
    try:
        code, err = zhaug(monkeypatch, capsys, "train", "--train", str(_write(tmp_path / "t.csv", rows)), "--out",
                          str(tmp_path / "run"), "--model", str(model), "--max-steps", "2", "--threads", "1")
    finally:
        os.umask(old)
    assert code == 0, err
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "run" / "best").iterdir()} == {oct(0o644)}
    for card in (tmp_path / "run" / "README.md", tmp_path / "run" / "best" / "README.md"):
        text = card.read_text("utf-8")
        assert f"base model: `{model}`" in text and "labels: neg, pos" in text
        assert "training rows" in text and "macro-F1" in text and "--max-steps 2" in text


def test_train_reads_the_columns_it_is_told_and_says_what_max_length_cut(tmp_path, monkeypatch, capsys):
    from tests.train_helpers import tiny_model

    model = tiny_model(tmp_path / "m")
    rows = [{"review": ("好棒赞" if i % 2 else "差坏烂") * (20 if i < 3 else 2), "y": "pos" if i % 2 else "neg"}
            for i in range(24)]
    table = _write(tmp_path / "t.csv", rows)
    code, err = zhaug(monkeypatch, capsys, "train", "--train", str(table), "--out", str(tmp_path / "run"), "--model",
                      str(model), "--max-steps", "1", "--threads", "1", "--text-col", "review", "--label-col", "y",
                      "--max-length", "16")
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text("utf-8"))
    assert metrics["labels"] == ["neg", "pos"] and metrics["cut_to_max_length"] >= 2  # of the three long rows
    assert f"{metrics['cut_to_max_length']} of {metrics['train_rows']} training texts are longer than 16 tokens" in err


def test_saved_datasets_are_tables_and_class_names_are_kept(tmp_path, monkeypatch, capsys):
    from datasets import ClassLabel, Dataset, Features, Value

    from zhaug.augment.pipeline import Augmenter
    from zhaug.augment.recipes import load_recipe

    features = Features({"id": Value("string"), "text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    dataset = Dataset.from_dict({"id": [r["id"] for r in ROWS], "text": [r["text"] for r in ROWS],
                                 "label": [int(r["label"]) for r in ROWS]}, features=features)
    dataset.save_to_disk(str(tmp_path / "ds"))
    assert [r.label for r in read_records(tmp_path / "ds")] == ["neg", "pos", "neg", "pos", "neg"]
    rows, stats = Augmenter(load_recipe("aeda"), progress=False).run(dataset)
    assert stats.rows_in == 5 and {row["label"] for row in rows} == {"neg", "pos"}
    code, err = zhaug(monkeypatch, capsys, "augment", str(tmp_path / "ds"), "-o", str(tmp_path / "o.csv"),
                      "-r", "noise", "--resume")
    assert code == 0, err
    assert [row["label"] for row in read_table(tmp_path / "o.csv")][:2] == ["neg", "neg"]


def test_nlpaug_synonym_aug_without_its_english_wordnet_is_one_line(tmp_path):
    import importlib.util

    from zhaug.augment.recipes import load_recipe

    if importlib.util.find_spec("nltk") is not None:
        pytest.skip("nltk is installed: SynonymAug may build")
    (tmp_path / "syn.yaml").write_text("op: {nlpaug: {aug: SynonymAug}}\n", encoding="utf-8")
    with pytest.raises(ZhaugError, match=r"syn.yaml: nlpaug SynonymAug\(\{\}\) cannot be built here: .*synonym_swap"):
        load_recipe(tmp_path / "syn.yaml")


def test_an_operation_that_leaves_most_texts_unchanged_is_warned_about(table, tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text("op: {punct_insert: {rate: 0.0}}\n", encoding="utf-8")  # edits nothing
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r",
                      str(tmp_path / "r.yaml"), "-n", "2")
    assert code == 0 and "warning: punct_insert left 10 of 10 copies unchanged" in err
    assert "found no safe edit there" in err and "Chinese?" not in err  # zhaug's own: not a language problem
    assert "mode: classic edits anywhere" in err and "--recipe mixed" in err  # what to do about it
    assert json.loads((tmp_path / "o.summary.json").read_text("utf-8"))["unchanged"] == {"punct_insert": 10}
    code, err = zhaug(monkeypatch, capsys, "augment", str(table), "-o", str(tmp_path / "o.csv"), "-r", "eda-classic")
    assert code == 0 and "warning" not in err
