"""Training on 2 processes (gloo, as under torchrun): the loss curve and metrics of one process."""

import json
import os
import socket

import pytest
import torch.multiprocessing as mp

from tests.train_helpers import synthetic, tiny_model
from zhaug.train import TrainConfig, fit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(config: TrainConfig, out: str) -> dict:
    train, eval = synthetic(96), synthetic(24, seed=1, prefix="e")
    children = {r.id: [r.text[::-1]] for r in train}  # pairs exercise the consistency term
    return fit(train, eval, out_dir=out, config=config, children=children, progress=False)


def _rank(rank: int, world: int, port: int, config: TrainConfig, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank))
    _run(config, out)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> TrainConfig:
    model = tiny_model(tmp_path_factory.mktemp("model"))
    settings = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**settings, "classifier_dropout_prob": 0.0}))  # dropout is per rank
    return TrainConfig(model=str(model), lr=3e-3, batch_size=16, max_steps=12, eval_every=6, patience=None,
                       consistency_weight=1.0, threads=1)


def test_two_gloo_processes_match_one(config, tmp_path):
    single = _run(config, str(tmp_path / "single"))
    mp.spawn(_rank, args=(2, _free_port(), config, str(tmp_path / "ddp")), nprocs=2)
    double = json.loads((tmp_path / "ddp" / "metrics.json").read_text(encoding="utf-8"))
    assert [h["step"] for h in double["history"]] == [h["step"] for h in single["history"]] == [0, 6, 12]  # 0: the probe-initialised head
    for one, two in zip(single["history"], double["history"]):
        for key in ("train_loss", "eval_loss", "accuracy", "macro_f1"):
            assert two[key] == pytest.approx(one[key], abs=1e-4), key
    assert double["eval"]["confusion_matrix"] == single["eval"]["confusion_matrix"]
