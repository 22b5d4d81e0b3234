"""The compact variant: a 4-layer ALBERT student with a factorised embedding, distilled from the full model.

Construction (:func:`student_from_teacher`) is exact up to the embedding rank: the teacher's
embedding tables are centred (the embedding LayerNorm removes the mean anyway) and projected on
the principal directions of the embedding sums (word + position + type) that the packaged corpus
actually produces (:func:`corpus_directions`), expressed in an ``embedding_size`` basis whose
coordinates sum to zero, so the student's small LayerNorm normalises exactly as the teacher's
does, up to a constant factor that the ``embedding_hidden_mapping_in`` projection (together with
the teacher's LayerNorm gain and bias) restores. With ``embedding_size == hidden_size`` and all
layers kept, the student computes what the teacher computes. Then :func:`distil` trains the
student to reproduce the teacher's hidden states on packaged unlabelled Chinese text.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AlbertConfig, AlbertModel

from zhaug.augment.pipeline import Augmenter
from zhaug.augment.recipes import load_recipe
from zhaug.io import Record
from zhaug.progress import progress_bar
from zhaug.rng import derive_rng, derive_seed
from zhaug.train.models.fidelity import mean_pooled
from zhaug.train.models.loading import load_tokenizer
from zhaug.train.models.vocab_trim import trimming_corpus
from zhaug.vectors import row_cosines

# The build settings, kept in the model card: a built student whose card shows other settings is rebuilt.
SETTINGS = {"layers": [0, 4, 8, 11], "embedding_size": 128, "steps": 2000, "batch_size": 32,
            "max_length": 64, "lr": 3e-4, "warmup_ratio": 0.05, "seed": 0, "check_sentences": 100,
            "augmented": {"recipe": "mixed", "sentences": 20000}, "factorisation": "corpus-pca"}
EMBEDDING_TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def zero_sum_basis(size: int) -> torch.Tensor:
    """``size × (size - 1)`` orthonormal columns, each orthogonal to the all-ones vector."""
    ones = torch.ones(size, 1, dtype=torch.float64) / math.sqrt(size)
    basis, _ = torch.linalg.qr(torch.cat([ones, torch.eye(size, dtype=torch.float64)[:, : size - 1]], dim=1))
    return basis[:, 1:]


def embedding_energy(state: dict[str, torch.Tensor], ids: Sequence[Sequence[int]], chunk: int = 16384) -> torch.Tensor:
    """``hidden × hidden`` sum of ``x xᵀ`` over the centred embedding sums ``x`` (word + position +
    type) of every token of ``ids`` at its position: what the embedding LayerNorm is fed."""
    words, positions, types = (state[f"embeddings.{name}.weight"].double() for name in EMBEDDING_TABLES)
    tokens = torch.tensor([token for seq in ids for token in seq])
    places = torch.tensor([place for seq in ids for place in range(len(seq))])
    energy = torch.zeros(words.shape[1], words.shape[1], dtype=torch.float64)
    for start in range(0, len(tokens), chunk):
        sums = words[tokens[start : start + chunk]] + positions[places[start : start + chunk]] + types[0]
        sums = sums - sums.mean(1, keepdim=True)
        energy += sums.T @ sums
    return energy


def corpus_directions(energy: torch.Tensor, count: int) -> tuple[torch.Tensor, float]:
    """The ``count`` principal directions (``hidden × count``, orthonormal, each orthogonal to the
    all-ones vector) of a corpus's embedding sums, given their ``energy`` (:func:`embedding_energy`),
    and the share of that energy those directions keep.

    Weighing the table rows by use matters: on the packaged corpus, 127 directions of the tables'
    own SVD keep about half of that energy (``benchmarks/compact_factorisation.py``)."""
    hidden = energy.shape[0]
    if not 1 <= count < hidden:
        raise ValueError(f"count must be in 1..{hidden - 1}, got {count}")
    basis = zero_sum_basis(hidden)
    energy, vectors = torch.linalg.eigh(basis.T @ energy @ basis)
    top = torch.argsort(energy, descending=True)[:count]
    return basis @ vectors[:, top], float(energy[top].sum() / energy.sum())


def factorise_embeddings(state: dict[str, torch.Tensor], directions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Factorised ALBERT embedding tables (``embedding_size = directions.shape[1] + 1``), LayerNorm and
    ``embedding_hidden_mapping_in`` from the ``embeddings.*`` entries of an ALBERT state dict with
    ``embedding_size == hidden_size``, keeping the zero-sum ``directions`` of :func:`corpus_directions`."""
    tables = {name: state[f"embeddings.{name}.weight"].double() for name in EMBEDDING_TABLES}
    tables = {name: t - t.mean(1, keepdim=True) for name, t in tables.items()}
    hidden, embedding_size = directions.shape[0], directions.shape[1] + 1
    to_small = directions @ zero_sum_basis(embedding_size).T  # hidden × embedding_size
    gain = state["embeddings.LayerNorm.weight"].double()
    out = {f"embeddings.{name}.weight": (t @ to_small).float() for name, t in tables.items()}
    out["embeddings.LayerNorm.weight"] = torch.ones(embedding_size)
    out["embeddings.LayerNorm.bias"] = torch.zeros(embedding_size)
    scale = math.sqrt(hidden / embedding_size)  # both LayerNorms divide by an RMS over their own width
    out["encoder.embedding_hidden_mapping_in.weight"] = (scale * gain[:, None] * to_small).float()
    out["encoder.embedding_hidden_mapping_in.bias"] = state["embeddings.LayerNorm.bias"].clone()
    return out


def student_from_teacher(
    config: AlbertConfig, state: dict[str, torch.Tensor], layers: Sequence[int], directions: torch.Tensor
) -> tuple[AlbertConfig, dict[str, torch.Tensor]]:
    """A student config and state dict: the teacher's ``layers`` (one group each), embeddings
    factorised onto ``directions`` (:func:`corpus_directions`).

    The teacher is an ALBERT with ``embedding_size == hidden_size``, an identity embedding projection
    and one layer group per layer (as :func:`zhaug.train.models.convert.albert_from_bert` builds it).
    """
    if config.embedding_size != config.hidden_size or config.num_hidden_groups != config.num_hidden_layers:
        raise ValueError("the teacher must have embedding_size == hidden_size and one layer group per layer")
    if not layers or sorted(set(layers)) != list(layers) or not 0 <= layers[0] <= layers[-1] < config.num_hidden_layers:
        raise ValueError(f"layers must be increasing indices below {config.num_hidden_layers}, got {list(layers)}")
    student = AlbertConfig(**{**config.to_dict(), "embedding_size": directions.shape[1] + 1,
                              "num_hidden_layers": len(layers), "num_hidden_groups": len(layers)})
    out = factorise_embeddings(state, directions)
    for new, old in enumerate(layers):
        prefix = f"encoder.albert_layer_groups.{old}."
        out.update({f"encoder.albert_layer_groups.{new}.{name[len(prefix):]}": value.clone()
                    for name, value in state.items() if name.startswith(prefix)})
    out.update({name: value.clone() for name, value in state.items() if name.startswith("pooler.")})
    return student, out


def distillation_texts(recipe: str, sentences: int, seed: int) -> list[str]:
    """The unlabelled Chinese text the student learns from: the full model's trimming corpus, plus
    one augmented copy (by ``recipe``) of ``sentences`` of its sentences, so that the student also
    follows the teacher on the edited and noisy text zhaug feeds it."""
    texts = trimming_corpus()
    picks = sorted(derive_rng(seed, "distillation-augmented").sample(range(len(texts)), min(sentences, len(texts))))
    ungated = replace(load_recipe(recipe), gates=[])  # no label to keep: the copies need only look edited
    rows, _ = Augmenter(ungated, n_aug=1, seed=seed, keep_originals=False,
                        progress=False).run([Record(str(i), texts[i]) for i in picks])
    return texts + [row["text"] for row in rows if row["text"] != texts[int(row["parent_id"])]]


BUCKETS = 8
"""Batches drawn together and grouped by length, so that little of a batch is padding."""


def _length_bucketed_batches(ids: Sequence[Sequence[int]], steps: int, batch_size: int,
                             generator: torch.Generator) -> Iterator[list[Sequence[int]]]:
    """``steps`` batches of sequences sampled from ``ids`` with replacement: every :data:`BUCKETS`
    batches are drawn at once, sorted by length, cut into batches and served in random order."""
    for start in range(0, steps, BUCKETS):
        count = min(BUCKETS, steps - start)
        picks = sorted(torch.randint(len(ids), (count * batch_size,), generator=generator).tolist(),
                       key=lambda i: len(ids[i]))
        for b in torch.randperm(count, generator=generator).tolist():
            yield [ids[i] for i in picks[b * batch_size : (b + 1) * batch_size]]


def distil(
    student: AlbertModel,
    teacher: AlbertModel,
    ids: Sequence[Sequence[int]],
    pad_id: int,
    *,
    layers: Sequence[int],
    steps: int,
    batch_size: int,
    lr: float,
    warmup_ratio: float,
    seed: int,
    progress: bool | None = None,
) -> list[float]:
    """Train ``student`` to match ``teacher`` on token sequences ``ids``; returns the loss per step.

    The loss is the token-level MSE between the output of student layer ``k`` and that of teacher
    layer ``layers[k]`` (the layer it was initialised from), averaged over the student's layers, plus
    ``1 - cosine`` of the mean-pooled last hidden states (what sentence embeddings and the classifier
    see)."""
    targets = [layer + 1 for layer in layers]  # hidden_states[0] is the embedding output
    generator = torch.Generator().manual_seed(derive_seed(seed, "distil") % 2**63)
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, int(steps * warmup_ratio))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup + 1))))
    student.train()
    teacher.eval()
    losses = []
    bar = progress_bar(total=steps, desc="distilling", unit="step", progress=progress)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "dropout") % 2**63)
        for batch in _length_bucketed_batches(ids, steps, batch_size, generator):
            width = max(map(len, batch))
            input_ids = torch.full((batch_size, width), pad_id, dtype=torch.long)
            for row, seq in enumerate(batch):
                input_ids[row, : len(seq)] = torch.tensor(seq)
            mask = (input_ids != pad_id).long()
            with torch.inference_mode():
                wanted = teacher(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
            hidden = student(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[1:]
            weights = mask[..., None].float()
            mse = sum(((h - wanted[t]) ** 2 * weights).sum() for h, t in zip(hidden, targets, strict=True))
            mse = mse / (len(targets) * weights.sum() * hidden[-1].shape[-1])
            pooled = [(h * weights).sum(1) / weights.sum(1) for h in (hidden[-1], wanted[targets[-1]])]
            loss = mse + (1 - F.cosine_similarity(*pooled, dim=-1)).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    student.eval()
    return losses


def build_compact(teacher_dir: Path, out: Path, progress: bool | None) -> dict[str, Any]:
    """Build the compact student of the full model in ``teacher_dir`` into ``out``; returns card details."""
    started = time.perf_counter()
    s = SETTINGS
    teacher = AlbertModel.from_pretrained(teacher_dir, use_safetensors=True).eval()
    tokenizer = load_tokenizer(teacher_dir)
    texts = distillation_texts(s["augmented"]["recipe"], s["augmented"]["sentences"], s["seed"])
    ids = tokenizer(texts, truncation=True, max_length=s["max_length"])["input_ids"]
    directions, kept = corpus_directions(embedding_energy(teacher.state_dict(), ids), s["embedding_size"] - 1)
    config, state = student_from_teacher(teacher.config, teacher.state_dict(), s["layers"], directions)
    student = AlbertModel(config)
    student.load_state_dict(state, strict=True)
    check = ids[:: max(1, len(ids) // s["check_sentences"])][: s["check_sentences"]]
    reference = mean_pooled(teacher, check, tokenizer.pad_token_id)
    before = _agreement(student, reference, check, tokenizer.pad_token_id)
    losses = distil(student, teacher, ids, tokenizer.pad_token_id, layers=s["layers"], steps=s["steps"],
                    batch_size=s["batch_size"],
                    lr=s["lr"], warmup_ratio=s["warmup_ratio"], seed=s["seed"], progress=progress)
    after = _agreement(student, reference, check, tokenizer.pad_token_id)
    student.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    shutil.copyfile(teacher_dir / "vocab_map.npy", out / "vocab_map.npy")
    return {"vocab_size": config.vocab_size, "parameters": sum(p.numel() for p in student.parameters()),
            "settings": s, "distillation_texts": len(texts),
            "embedding_energy_kept": round(kept, 4),
            "loss_first_last": [round(losses[0], 5), round(losses[-1], 5)],
            "cosine_to_teacher": {"before_distillation": before, "after_distillation": after},
            "build_seconds": round(time.perf_counter() - started, 1),
            "description": f"Compact student of the full model: layers {s['layers']} of 12 (one group each), "
                           f"embedding factorised to {s['embedding_size']} on the corpus's principal directions, then distilled for "
                           f"{s['steps']} steps on every layer's hidden states over packaged Chinese text "
                           f"and {s['augmented']['sentences']:,} augmented copies of it."}


def _agreement(student: AlbertModel, reference: np.ndarray, ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, float]:
    """Mean and minimum cosine of the student's mean-pooled sentence embeddings to the teacher's."""
    cos = row_cosines(mean_pooled(student, ids, pad_id), reference)
    return {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}
