"""Fine-tuning and inference speed of the embedded models vs the untrimmed BERT-form encoder.

    python benchmarks/model_speed.py [--steps 5] [--batch-size 16] [--lengths 64 128]

Prints training samples/s (forward, backward and an AdamW step of a sequence classifier) and
inference samples/s (fp32, and dynamic int8 for the linear layers) at each sequence length for the
full and compact models, and the ratios to the untrimmed BERT-form model (the same encoder with
the 250k-piece vocabulary).
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import BertForSequenceClassification

from zhaug.train.models.embedded import build_model
from zhaug.train.models.fidelity import bert_form_model
from zhaug.train.models.loading import load_classifier


def batch(vocab_size: int, size: int, length: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    ids = torch.randint(5, vocab_size, (size, length), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.zeros(size, dtype=torch.long)}


def train_speed(model: torch.nn.Module, inputs: dict[str, torch.Tensor], steps: int) -> float:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    for step in range(steps + 1):  # the first step warms up
        if step == 1:
            started = time.perf_counter()
        optimizer.zero_grad()
        model(**inputs).loss.backward()
        optimizer.step()
    return steps * len(inputs["input_ids"]) / (time.perf_counter() - started)


def inference_speed(model: torch.nn.Module, inputs: dict[str, torch.Tensor], steps: int) -> float:
    model.eval()
    features = {k: v for k, v in inputs.items() if k != "labels"}
    with torch.inference_mode():
        model(**features)
        started = time.perf_counter()
        for _ in range(steps):
            model(**features)
    return steps * len(inputs["input_ids"]) / (time.perf_counter() - started)


def int8(model: torch.nn.Module) -> torch.nn.Module:
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    torch.manual_seed(0)  # only the untrimmed model's new head is drawn from it; values do not affect speed
    print(f"torch threads: {torch.get_num_threads()}, batch size {args.batch_size}, {args.steps} timed steps")
    full_dir, compact_dir = build_model("full"), build_model("compact")
    bert = bert_form_model()
    untrimmed = BertForSequenceClassification(bert.config)
    untrimmed.bert.load_state_dict(bert.state_dict(), strict=False)
    models = {"full (trimmed ALBERT)": lambda: load_classifier(full_dir, 2, {0: "0", 1: "1"}),
              "compact (distilled)": lambda: load_classifier(compact_dir, 2, {0: "0", 1: "1"}),
              "untrimmed BERT-form": lambda: untrimmed}
    generator = torch.Generator().manual_seed(0)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for length in args.lengths:
        for name, make in models.items():
            model = make()
            inputs = batch(model.config.vocab_size, args.batch_size, length, generator)
            row = {"train": train_speed(model, inputs, args.steps),
                   "infer": inference_speed(model, inputs, args.steps)}
            row["infer int8"] = inference_speed(int8(model), inputs, args.steps)
            results[name, length] = row
            print(f"len {length:4d}  {name:24s}  " + "  ".join(f"{k} {v:7.1f}/s" for k, v in row.items()), flush=True)
    for length in args.lengths:
        base = results["untrimmed BERT-form", length]
        for name in models:
            ratios = "  ".join(f"{k} x{v / base[k]:.2f}" for k, v in results[name, length].items())
            print(f"len {length:4d}  {name:24s}  vs untrimmed: {ratios}")


if __name__ == "__main__":
    main()
