"""Fine-tuning, evaluation and prediction: ``fit`` / ``Trainer`` train a run folder, ``Predictor`` uses it.

The names below are imported on first use, so ``import zhaug.train.<module>`` (and the command
line) stays fast.
"""

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config", "load_config": "config", "Predictor": "predict", "predict_file": "predict",
    "Trainer": "trainer", "fit": "trainer", "SelfTraining": "self_training", "self_train": "self_training",
}
__all__ = ["Predictor", "SelfTraining", "TrainConfig", "Trainer", "fit", "load_config", "predict_file", "self_train"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zhaug.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"zhaug.train.{_EXPORTS[name]}"), name)
