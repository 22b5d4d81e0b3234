"""The data contract shared by every command: reading labelled tables and writing results safely.

Input: CSV, TSV, JSON lines or Parquet (or a ``datasets.Dataset``) with configurable id / text /
label columns, or a ``datasets`` ``save_to_disk`` folder; UTF-8, UTF-8 with BOM and GB18030 are
detected, and Big5, Shift-JIS and EUC-KR (whose bytes also decode as GB18030) refused. Ids are
generated (``row<N>``, by position) when the input has none. Tables are read and written row by row (:func:`iter_records`,
:class:`TableWriter`), so memory stays flat however long the table. Output writes are atomic: a
temporary file is renamed into place, so a crash never leaves a half-written result.
"""

from __future__ import annotations

import codecs
import csv
import fcntl
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from zhaug.errors import InputError, ZhaugError

ENCODINGS = ("utf-8-sig", "gb18030")
READ_BYTES = 1 << 20
"""Bytes per read when detecting an encoding."""
ROW_GROUP = 10_000
"""Rows per Parquet row group (and rows held in memory) when writing Parquet."""
csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class Columns:
    """Names of the id, text and label columns (``id`` may be absent from the input)."""

    id: str = "id"
    text: str = "text"
    label: str = "label"


@dataclass(frozen=True)
class Record:
    """One input row. ``label`` is ``None`` for unlabelled input (e.g. to predict)."""

    id: str
    text: str
    label: str | None = None


def comparable(text: str) -> str:
    """The form in which texts are compared for duplicates and leakage: whitespace removed
    (Chinese has no spaces between words, so a stray space never makes a different text)."""
    return "".join(text.split())


def table_format(path: str | os.PathLike[str]) -> str:
    """``csv``, ``tsv``, ``jsonl`` or ``parquet``, from the file name."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".tsv", ".tab", ".txt"):
        return "tsv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InputError(path, f"unknown table format {suffix!r}: use .csv, .tsv, .jsonl or .parquet")


def detect_encoding(path: str | os.PathLike[str]) -> str:
    """UTF-8 (with or without BOM) or GB18030, checked block by block; refuse anything else clearly."""
    with open(path, "rb") as handle:
        utf16 = handle.read(2) in (b"\xff\xfe", b"\xfe\xff")
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                while block := handle.read(READ_BYTES):
                    if utf16 or b"\x00" in block:
                        raise InputError(path, "looks like UTF-16 or binary data; save it as UTF-8 or GB18030")
                    decoder.decode(block)
            decoder.decode(b"", final=True)
            if encoding == "gb18030":
                check_not_foreign_cjk(path)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError(path, "is neither UTF-8 nor GB18030 text; convert it to UTF-8")


def _foreign_cjk(sample: bytes) -> str | None:
    """The Big5, Shift-JIS or EUC-KR encoding that ``sample`` (valid GB18030) was really written in,
    or ``None``: their bytes also decode as GB18030, into rare characters (Big5), half-width kana
    (Shift-JIS) or plausible-looking nonsense (EUC-KR). Each guess must also read as its language."""
    for encoding, script, share in (("shift_jis", "[\u3040-\u30ff]", 0.2), ("euc_kr", "[\uac00-\ud7af]", 0.95)):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        wide = re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text)
        words = encoding != "euc_kr" or re.search(f"{script} {script}", text)  # Korean puts spaces between words
        if len(wide) >= 2 and words and len(re.findall(script, text)) >= share * len(wide):
            return encoding
    han = re.findall(r"[\u3400-\u9fff]", sample.decode("gb18030"))
    common = sum(_in_gb2312(c) for c in han)
    if len(han) >= 2 and common < 0.8 * len(han):
        from charset_normalizer import from_bytes  # only for files that may be Big5

        best = from_bytes(sample).best()
        if best is not None and best.encoding.startswith(("big5", "cp950")):
            return "big5"
    return None


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def check_not_foreign_cjk(path: str | os.PathLike[str]) -> None:
    """Refuse a file that decodes as GB18030 but was written in Big5, Shift-JIS or EUC-KR."""
    with open(path, "rb") as handle:
        sample = handle.read(READ_BYTES)
    if len(sample) == READ_BYTES:  # whole lines only: a cut character would not decode
        sample = sample[: sample.rfind(b"\n") + 1]
    encoding = _foreign_cjk(sample)
    if encoding:
        raise InputError(path, f"looks like {FOREIGN[encoding]} text, not GB18030; convert it to UTF-8 "
                               f"(e.g. iconv -f {encoding.upper().replace('_', '-')} -t UTF-8)")


FOREIGN = {"big5": "Big5 (traditional Chinese)", "shift_jis": "Shift-JIS (Japanese)", "euc_kr": "EUC-KR (Korean)"}


def _rows(path: Path, lines: Iterable[str], fmt: str, header: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; raises InputError on malformed rows."""
    if fmt == "jsonl":
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON ({exc.msg})", lineno) from None
            if not isinstance(row, dict):
                raise InputError(path, "each JSON line must be an object", lineno)
            yield lineno, {k: "" if v is None else str(v) for k, v in row.items()}
        return
    reader = csv.reader(lines, delimiter="\t" if fmt == "tsv" else ",", strict=True)
    names: list[str] | None = None
    lineno = 1  # the line on which the current row starts (a quoted field may span lines)
    try:
        for fields in reader:
            if names is None:
                if header:
                    names = [name.strip() for name in fields]
                    lineno = reader.line_num + 1
                    continue
                names = [str(i) for i in range(len(fields))]
            if fields and fields != [""] and len(fields) != len(names):
                quote = "; an unclosed quote on this line?" if any("\n" in field for field in fields) else ""
                raise InputError(path, f"expected {len(names)} fields, found {len(fields)}{quote}", lineno)
            if fields and fields != [""]:
                yield lineno, dict(zip(names, fields))
            lineno = reader.line_num + 1
    except csv.Error as exc:
        problem = "a quote opened on this line is never closed" if "end of data" in str(exc) else f"malformed CSV ({exc})"
        raise InputError(path, problem, lineno) from None


def iter_rows(path: str | os.PathLike[str], header: bool = True) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream (line number, row) pairs of any table format, all values as strings (Parquet: row numbers)."""
    path = Path(path)
    if is_saved_dataset(path):
        yield from dataset_rows(path)
        return
    if not path.is_file():
        raise InputError(path, "no such file")
    fmt = table_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        lineno = 0
        for batch in pq.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                lineno += 1
                yield lineno, {k: "" if v is None else str(v) for k, v in row.items()}
        return
    with open(path, encoding=detect_encoding(path), newline="") as handle:
        yield from _rows(path, handle, fmt, header)


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a folder ``datasets.Dataset.save_to_disk`` wrote."""
    return path.is_dir() and (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def dataset_rows(dataset: Any) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, row) pairs of a ``datasets.Dataset`` or of a ``save_to_disk`` folder, values as
    strings; a ``ClassLabel`` column gives its class names, not the class indices."""
    if isinstance(dataset, Path):
        from datasets import load_from_disk  # heavy: only for a save_to_disk folder

        dataset = load_from_disk(str(dataset))
    names = {column: feature.names for column, feature in dataset.features.items() if hasattr(feature, "int2str")}
    for number, row in enumerate(dataset, start=1):
        yield number, {k: "" if v is None else names[k][v] if k in names and isinstance(v, int) and v >= 0 else str(v)
                       for k, v in row.items()}


def iter_records(
    path: str | os.PathLike[str],
    columns: Columns = Columns(),
    *,
    require_label: bool = True,
    header: bool = True,
) -> Iterator[Record]:
    """Stream a labelled (or, with ``require_label=False``, unlabelled) table, record by record.

    Empty or whitespace-only texts are kept. Ids must be unique; without an id column
    they are ``row0``, ``row1``, ... by position.
    """
    return validate_rows(iter_rows(path, header), columns, Path(path), require_label)


def read_records(
    path: str | os.PathLike[str],
    columns: Columns = Columns(),
    *,
    require_label: bool = True,
    header: bool = True,
) -> list[Record]:
    """All records of a table; see :func:`iter_records`."""
    return list(iter_records(path, columns, require_label=require_label, header=header))


def records_from_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    columns: Columns,
    source: object,
    require_label: bool = True,
) -> list[Record]:
    """Validate (line number, row) pairs into records; see :func:`validate_rows`."""
    return list(validate_rows(rows, columns, source, require_label))


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    columns: Columns,
    source: object,
    require_label: bool = True,
) -> Iterator[Record]:
    """Records from (line number, row) pairs, one at a time; see :func:`iter_records`."""
    seen: dict[str, int] = {}
    numbers: dict[float, tuple[str, int]] = {}
    for position, (lineno, row) in enumerate(rows):
        if columns.text not in row:
            raise InputError(source, f"no column {columns.text!r} (columns: {', '.join(map(str, row))})", lineno)
        label = row.get(columns.label)
        label = None if label is None else str(label).strip()
        if label and label.lower() == "nan":
            label = None  # pandas and JSON write a missing value as NaN
        if require_label and not label:
            raise InputError(source, f"missing label in column {columns.label!r}", lineno)
        if label:
            _check_label_spelling(label, lineno, numbers, source)
        rid = str(row[columns.id]).strip() if columns.id in row else f"row{position}"
        if not rid:
            raise InputError(source, f"empty id in column {columns.id!r}", lineno)
        if rid in seen:
            raise InputError(source, f"duplicate id {rid!r} (first on line {seen[rid]})", lineno)
        seen[rid] = lineno
        yield Record(rid, "" if row[columns.text] is None else str(row[columns.text]), label or None)


def _check_label_spelling(label: str, lineno: int, numbers: dict[float, tuple[str, int]], source: object) -> None:
    """Refuse one number written two ways (``1`` / ``1.0`` / ``01``): they would be separate classes.
    zhaug does not rewrite labels, so the classes keep the names the data gives them."""
    try:
        value = float(label)
    except ValueError:
        return
    first, first_line = numbers.setdefault(value, (label, lineno))
    if first != label:
        raise InputError(source, f"label {label!r} is the number written {first!r} on line {first_line}; "
                                 "write each class the same way", lineno)


def records_from_dataset(dataset: Any, columns: Columns = Columns(), *, require_label: bool = True) -> list[Record]:
    """Records from a ``datasets.Dataset`` (row numbers count from 1)."""
    return records_from_rows(dataset_rows(dataset), columns, "dataset", require_label)


def file_mode() -> int:
    """The mode a plain ``open`` gives a new file under the current umask (0644 under 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Rename a finished temporary file onto ``path`` with :func:`file_mode` (``mkstemp`` makes
    files 0600, which would hide results from the user's group)."""
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)


def output_lock(output: str | os.PathLike[str]) -> Any:
    """The lock a command holds while it writes ``output``: a second writer is refused, not raced."""
    output = Path(output)
    return file_lock(output.with_name(f".{output.name}.lock"), wait=False, holder=str(output))


def check_output(output: str | os.PathLike[str], *inputs: str | os.PathLike[str] | None) -> None:
    """Refuse an output path that is one of the inputs (it would be overwritten)."""
    for path in inputs:
        if path is not None and Path(path).resolve() == Path(output).resolve():
            raise ZhaugError(f"{output}: the output is the input file; write to another path")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def file_lock(path: str | os.PathLike[str], *, wait: bool = True, holder: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) between processes of this machine;
    with ``wait=False`` a lock another process holds is a :class:`ZhaugError` (naming ``holder``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ZhaugError(f"{holder or path}: another zhaug process is writing it; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TableWriter:
    """Write rows one at a time as CSV / TSV / JSON lines / Parquet (by the file name), atomically.

    Rows go to a temporary file in the same folder, renamed into place when the ``with`` block
    ends without an error (otherwise removed). Parquet columns are strings (``None`` stays null),
    like the values of the text formats; rows are buffered one row group at a time.
    """

    def __init__(self, path: str | os.PathLike[str], fieldnames: Sequence[str]):
        self.path, self.fieldnames = Path(path), list(fieldnames)
        self.format = table_format(self.path)
        self.rows_written = 0

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            os.close(fd)
            self._schema = pa.schema([(name, pa.string()) for name in self.fieldnames])
            self._parquet, self._buffer = pq.ParquetWriter(self._tmp, self._schema), []
            return self
        self._handle: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        if self.format != "jsonl":
            self._csv = csv.DictWriter(
                self._handle, fieldnames=self.fieldnames, delimiter="\t" if self.format == "tsv" else ",",
                extrasaction="ignore", lineterminator="\n",
            )
            self._csv.writeheader()
        return self

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row (missing fields are empty, extra fields ignored)."""
        self.rows_written += 1
        if self.format == "jsonl":
            self._handle.write(json.dumps({k: row.get(k) for k in self.fieldnames}, ensure_ascii=False) + "\n")
        elif self.format != "parquet":
            self._csv.writerow(row)
        else:
            self._buffer.append({k: None if row.get(k) is None else str(row[k]) for k in self.fieldnames})
            if len(self._buffer) >= ROW_GROUP:
                self._flush()

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def _flush(self) -> None:
        import pyarrow as pa

        self._parquet.write_table(pa.Table.from_pylist(self._buffer, schema=self._schema))
        self._buffer = []

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if self.format == "parquet":
                if kind is None and (self._buffer or not self.rows_written):
                    self._flush()
                self._parquet.close()
            else:
                self._handle.close()
            if kind is None:
                publish(self._tmp, self.path)
        finally:
            Path(self._tmp).unlink(missing_ok=True)


def write_table(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> None:
    """Atomically write rows as CSV / TSV / JSON lines / Parquet (chosen by the file name), UTF-8."""
    with TableWriter(path, fieldnames) as writer:
        writer.write_rows(rows)


def read_table(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read back a table that zhaug wrote (all values as strings)."""
    return [row for _, row in iter_rows(path)]


class ResumableWriter:
    """Record finished groups of rows in ``<path>.partial``; :meth:`finish` writes ``path`` atomically.

    Each group (e.g. all outputs of one input row) is one JSON line, flushed to disk, so a
    group is either wholly recorded or not at all; a line cut short by a crash is ignored.
    With ``resume=True`` the groups already recorded are in :attr:`done`, keyed by group key.
    ``made_from`` describes what the rows are made of (input checksum, recipe, seed, ...): it heads
    the partial file, and a resume from a partial made from anything else is refused.
    """

    def __init__(self, path: str | os.PathLike[str], fieldnames: Sequence[str], *, resume: bool = False,
                 made_from: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        table_format(self.path)  # fail early on an unknown output format
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.made_from = json.loads(json.dumps(made_from or {}, sort_keys=True))
        self.done: dict[str, list[dict[str, Any]]] = {}
        if resume and self.partial.exists():
            self._read_partial()
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.partial.open("w", encoding="utf-8")
        self._handle.write(json.dumps({"made_from": self.made_from}, ensure_ascii=False, sort_keys=True) + "\n")
        for key, rows in self.done.items():
            self._write_line(key, rows)

    def _read_partial(self) -> None:
        """Fill :attr:`done` from the partial file, refusing one made from other input or settings."""
        lines = self.partial.read_text(encoding="utf-8").splitlines()
        try:
            head = json.loads(lines[0])["made_from"] if lines else self.made_from
        except (json.JSONDecodeError, KeyError, TypeError):
            head = None
        if head != self.made_from:
            changed = sorted(k for k in set(self.made_from) | set(head or {}) if (head or {}).get(k) != self.made_from.get(k))
            raise ZhaugError(f"{self.partial}: made from other input or settings ({', '.join(changed) or 'unknown'} "
                             "differ); rerun them, or delete it to start afresh")
        for line in lines[1:]:
            try:
                group = json.loads(line)
            except json.JSONDecodeError:
                break
            self.done[group["key"]] = group["rows"]

    def _write_line(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._handle.write(json.dumps({"key": key, "rows": list(rows)}, ensure_ascii=False) + "\n")

    def write_group(self, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record one finished group and flush it (a killed process loses at most this group)."""
        self._write_line(key, rows)
        self._handle.flush()

    def finish(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write the final table atomically and remove the partial file."""
        self._handle.close()
        write_table(self.path, rows, self.fieldnames)
        self.partial.unlink(missing_ok=True)

    def abandon(self) -> None:
        """After a failure: close the partial file, and remove it if it records nothing to resume."""
        self._handle.close()
        if not self.done and self.partial.read_text(encoding="utf-8").count("\n") <= 1:
            self.partial.unlink(missing_ok=True)


def stratified_sample(records: Sequence[Record], size: int, rng: Any) -> list[Record]:
    """``size`` records with the pool's label proportions (largest remainders), in pool order."""
    by_label: dict[str | None, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_label[record.label].append(i)
    if size > len(records):
        raise ZhaugError(f"asked for {size} rows from a pool of {len(records)}")
    labels = sorted(by_label, key=str)
    quotas = {label: size * len(by_label[label]) / len(records) for label in labels}
    counts = {label: math.floor(q) for label, q in quotas.items()}
    for label in sorted(labels, key=lambda lab: counts[lab] - quotas[lab])[: size - sum(counts.values())]:
        counts[label] += 1
    chosen = sorted(i for label in labels for i in rng.sample(by_label[label], counts[label]))
    return [records[i] for i in chosen]
