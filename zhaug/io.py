"""The data contract shared by every command: reading labelled tables and writing results safely.

Input: CSV, TSV or JSON lines (or a ``datasets.Dataset``) with configurable id / text / label
columns; UTF-8, UTF-8 with BOM and GB18030 are detected. Ids are generated (``row<N>``, by
position) when the input has none. Output writes are atomic: a temporary file is renamed into
place, so a crash never leaves a half-written result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhaug.errors import InputError

ENCODINGS = ("utf-8-sig", "gb18030")
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


def table_format(path: str | os.PathLike[str]) -> str:
    """``csv``, ``tsv`` or ``jsonl``, from the file name."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab", ".txt"):
        return "tsv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InputError(path, f"unknown table format {suffix!r}: use .csv, .tsv or .jsonl")


def decode(raw: bytes, path: str | os.PathLike[str]) -> str:
    """Decode UTF-8 (with or without BOM) or GB18030; refuse anything else with a clear error."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        raise InputError(path, "looks like UTF-16 or binary data; save it as UTF-8 or GB18030")
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "is neither UTF-8 nor GB18030 text; convert it to UTF-8")


def _rows(path: Path, text: str, fmt: str, header: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; raises InputError on malformed rows."""
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
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


def read_records(
    path: str | os.PathLike[str],
    columns: Columns = Columns(),
    *,
    require_label: bool = True,
    header: bool = True,
) -> list[Record]:
    """Read a labelled (or, with ``require_label=False``, unlabelled) table.

    Empty or whitespace-only texts are kept. Ids must be unique; without an id column
    they are ``row0``, ``row1``, ... by position.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    text = decode(path.read_bytes(), path)
    return records_from_rows(_rows(path, text, table_format(path), header), columns, path, require_label)


def records_from_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    columns: Columns,
    source: object,
    require_label: bool = True,
) -> list[Record]:
    """Validate (line number, row) pairs into records; see :func:`read_records`."""
    records: list[Record] = []
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
        records.append(Record(rid, "" if row[columns.text] is None else str(row[columns.text]), label or None))
    return records


def records_from_dataset(dataset: Any, columns: Columns = Columns(), *, require_label: bool = True) -> list[Record]:
    """Records from a ``datasets.Dataset`` (row numbers count from 1)."""
    return records_from_rows(
        ((i + 1, row) for i, row in enumerate(dataset)), columns, "dataset", require_label
    )


def _serialise(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str], fmt: str, handle: io.TextIOBase) -> None:
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps({k: row.get(k) for k in fieldnames}, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(
        handle, fieldnames=list(fieldnames), delimiter="\t" if fmt == "tsv" else ",",
        extrasaction="ignore", lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(rows)


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


def write_table(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str]) -> None:
    """Atomically write rows as CSV / TSV / JSON lines (chosen by the file name), UTF-8."""
    buffer = io.StringIO(newline="")
    _serialise(rows, fieldnames, table_format(path), buffer)
    atomic_write_text(path, buffer.getvalue())


def read_table(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read back a table that zhaug wrote (all values as strings)."""
    path = Path(path)
    return [row for _, row in _rows(path, decode(path.read_bytes(), path), table_format(path), True)]


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
