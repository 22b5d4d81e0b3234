"""The data contract shared by every command: reading labelled tables and writing results safely.

Input: CSV, TSV, JSON lines or Parquet (or a ``datasets.Dataset``) with configurable id / text /
label columns; UTF-8, UTF-8 with BOM and GB18030 are detected. Ids are generated (``row<N>``, by
position) when the input has none. Tables are read and written row by row (:func:`iter_records`,
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
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError(path, "is neither UTF-8 nor GB18030 text; convert it to UTF-8")


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
    reader = csv.reader(lines, delimiter="\t" if fmt == "tsv" else ",")
    names: list[str] | None = None
    try:
        for fields in reader:
            lineno = reader.line_num
            if names is None:
                if header:
                    names = [name.strip() for name in fields]
                    continue
                names = [str(i) for i in range(len(fields))]
            if not fields or fields == [""]:
                continue
            if len(fields) != len(names):
                raise InputError(path, f"expected {len(names)} fields, found {len(fields)}", lineno)
            yield lineno, dict(zip(names, fields))
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", reader.line_num) from None


def iter_rows(path: str | os.PathLike[str], header: bool = True) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream (line number, row) pairs of any table format, all values as strings (Parquet: row numbers)."""
    path = Path(path)
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
    for position, (lineno, row) in enumerate(rows):
        if columns.text not in row:
            raise InputError(source, f"no column {columns.text!r} (columns: {', '.join(map(str, row))})", lineno)
        label = row.get(columns.label)
        label = None if label is None else str(label).strip()
        if require_label and not label:
            raise InputError(source, f"missing label in column {columns.label!r}", lineno)
        rid = str(row[columns.id]).strip() if columns.id in row else f"row{position}"
        if not rid:
            raise InputError(source, f"empty id in column {columns.id!r}", lineno)
        if rid in seen:
            raise InputError(source, f"duplicate id {rid!r} (first on line {seen[rid]})", lineno)
        seen[rid] = lineno
        yield Record(rid, "" if row[columns.text] is None else str(row[columns.text]), label or None)


def records_from_dataset(dataset: Any, columns: Columns = Columns(), *, require_label: bool = True) -> list[Record]:
    """Records from a ``datasets.Dataset`` (row numbers count from 1)."""
    return records_from_rows(
        ((i + 1, row) for i, row in enumerate(dataset)), columns, "dataset", require_label
    )


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) between processes of this machine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
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
                os.replace(self._tmp, self.path)
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
    """

    def __init__(self, path: str | os.PathLike[str], fieldnames: Sequence[str], *, resume: bool = False):
        self.path = Path(path)
        self.fieldnames = list(fieldnames)
        table_format(self.path)  # fail early on an unknown output format
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.done: dict[str, list[dict[str, Any]]] = {}
        if resume and self.partial.exists():
            for line in self.partial.read_text(encoding="utf-8").splitlines():
                try:
                    group = json.loads(line)
                except json.JSONDecodeError:
                    break
                self.done[group["key"]] = group["rows"]
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.partial.open("w", encoding="utf-8")
        for key, rows in self.done.items():
            self._write_line(key, rows)

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
