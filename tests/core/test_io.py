"""The data contract: formats, encodings, generated ids, malformed rows, atomic writes, resume."""

import json

import pytest

from zhaug.errors import InputError
from zhaug.io import Columns, ResumableWriter, read_records, read_table, write_table


def test_reads_csv_tsv_jsonl_alike(tmp_path):
    rows = [("a", "今天天气很好", "pos"), ("b", "服务, 很差", "neg")]
    (tmp_path / "x.csv").write_text("id,text,label\n" + "".join(f'{i},"{t}",{l}\n' for i, t, l in rows), "utf-8")
    (tmp_path / "x.tsv").write_text("id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{l}\n" for i, t, l in rows), "utf-8")
    (tmp_path / "x.jsonl").write_text(
        "".join(json.dumps({"id": i, "text": t, "label": l}, ensure_ascii=False) + "\n" for i, t, l in rows), "utf-8"
    )
    results = [read_records(tmp_path / name) for name in ("x.csv", "x.tsv", "x.jsonl")]
    assert results[0] == results[1] == results[2]
    assert [(r.id, r.text, r.label) for r in results[0]] == rows


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_detects_encodings(tmp_path, encoding):
    path = tmp_path / "in.csv"
    path.write_bytes("id,text,label\n1,假新闻：央行降息，网友不信,fake\n".encode(encoding))
    (record,) = read_records(path)
    assert record.text == "假新闻：央行降息，网友不信" and record.id == "1"


def test_refuses_other_encodings_naming_the_file(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("id,text,label\n1,你好,a\n".encode("utf-16"))
    with pytest.raises(InputError, match="utf16.csv"):
        read_records(path)


def test_generated_ids_and_custom_columns(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("review,y\n很好,1\n,0\n很差,0\n", "utf-8")
    records = read_records(path, Columns(text="review", label="y"))
    assert [r.id for r in records] == ["row0", "row1", "row2"]
    assert records[1].text == ""  # empty texts are kept, never dropped


@pytest.mark.parametrize(
    "content, problem, line",
    [
        ("id,text,label\n1,好,a\n2,坏,b,extra\n", "expected 3 fields, found 4", 3),
        ("id,text,label\n1,好,a\n1,坏,b\n", "duplicate id '1'", 3),
        ("id,text,label\n1,好,\n", "missing label", 2),
        ("id,body,label\n1,好,a\n", "no column 'text'", 2),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, content, problem, line):
    path = tmp_path / "bad.csv"
    path.write_text(content, "utf-8")
    with pytest.raises(InputError) as info:
        read_records(path)
    assert info.value.line == line and problem in str(info.value) and "bad.csv" in str(info.value)


def test_headerless_tsv(tmp_path):
    path = tmp_path / "titles.txt"
    path.write_text("央行宣布降准\t3\n新款手机发布\t7\n", "utf-8")
    records = read_records(path, Columns(text="0", label="1"), header=False)
    assert [(r.id, r.label) for r in records] == [("row0", "3"), ("row1", "7")]


def test_write_table_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "out" / "rows.csv"
    rows = [{"id": "1", "text": "带,逗号\n和换行", "label": "a"}]
    write_table(path, rows, ["id", "text", "label"])
    assert read_table(path) == rows
    assert [p.name for p in path.parent.iterdir()] == ["rows.csv"]  # no temporary file left


def test_resumable_writer_keeps_whole_groups_only(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = ResumableWriter(path, ["id", "text"])
    writer.write_group("a", [{"id": "a", "text": "一"}, {"id": "a-aug0", "text": "二"}])
    writer.write_group("b", [{"id": "b", "text": "三"}])
    writer._handle.close()
    with writer.partial.open("a", encoding="utf-8") as handle:
        handle.write('{"key": "c", "rows": [{"id"')  # a crash mid-line
    resumed = ResumableWriter(path, ["id", "text"], resume=True)
    assert list(resumed.done) == ["a", "b"]
    resumed.finish([row for rows in resumed.done.values() for row in rows])
    assert [row["id"] for row in read_table(path)] == ["a", "a-aug0", "b"]
    assert not resumed.partial.exists()
