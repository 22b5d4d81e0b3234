"""The run folder: the best checkpoint (what ``zhaug predict`` loads) and the last one (to resume).

Layout of ``RUN_DIR``::

    best/      model (safetensors), tokenizer, zhaug.json (labels, full config, its eval metrics)
    last/      model.safetensors, optimizer.pt (optimizer + schedule), state.json (loop position);
               once the run is finished only state.json stays
    tb/        TensorBoard logs
    metrics.json

Each checkpoint is written to a temporary folder and renamed into place, so an interruption
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from zhaug.errors import ZhaugError
from zhaug.io import atomic_write_text, file_mode
from zhaug.train.models.loading import quiet_transformers

RUN_INFO = "zhaug.json"


def replace_dir(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final``, replacing it; ``final`` is never missing for long."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _fresh(path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def save_best(run_dir: Path, model: torch.nn.Module, tokenizer: Any, info: dict[str, Any]) -> None:
    """A self-contained model folder: weights, tokenizer, label names, config and metrics."""
    tmp = _fresh(run_dir / "best")
    with quiet_transformers():
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    portable_tokenizer_config(tmp)
    (tmp / RUN_INFO).write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    for path in tmp.iterdir():  # safetensors writes its weights 0600 whatever the umask
        path.chmod(file_mode())
    replace_dir(tmp, run_dir / "best")


PORTABLE_TOKENIZER_CLASSES = {"TokenizersBackend": "PreTrainedTokenizerFast"}
"""transformers 5 names a plain ``tokenizer.json`` tokenizer ``TokenizersBackend``, a class 4.x
lacks; ``PreTrainedTokenizerFast`` loads the same file in both."""


def portable_tokenizer_config(folder: Path) -> None:
    """Name the tokenizer class so that ``AutoTokenizer.from_pretrained`` works on transformers 4.x too."""
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") in PORTABLE_TOKENIZER_CLASSES:
        config["tokenizer_class"] = PORTABLE_TOKENIZER_CLASSES[config["tokenizer_class"]]
        path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


def write_model_card(run_dir: Path, metrics: dict[str, Any], command: list[str]) -> None:
    """``README.md`` in the run folder and in ``best/`` (which travels alone): what the model was
    trained from, on how much data, how well it did and the command that made it."""
    base = metrics.get("base_model") or {}
    scores = metrics.get("eval") or {}
    lines = [
        "---", "language: zh", "library_name: transformers", "pipeline_tag: text-classification", "tags: [zhaug]", "---",
        "", f"# {run_dir.name}", "", "A Chinese text classifier fine-tuned by `zhaug train`.", "",
        f"- base model: `{base.get('name', '?')}` (weights sha256 `{base.get('weights_sha256') or '?'}`)",
        f"- labels: {', '.join(map(str, metrics.get('labels', [])))}",
        f"- data: {metrics.get('train_rows', '?')} training rows ({metrics.get('rows_per_epoch', '?')} rows per epoch "
        f"with augmented copies), {metrics.get('eval_rows', '?')} eval rows",
        f"- best step {metrics.get('best_step', '?')} of {metrics.get('steps', '?')}: accuracy "
        f"{scores.get('accuracy', float('nan')):.4f}, macro-F1 {scores.get('macro_f1', float('nan')):.4f} on the eval rows",
        "", "Made with:", "", "```", " ".join(shlex.quote(part) for part in command), "```", "",
        "Load it with `zhaug predict` / `zhaug audit`, or `AutoModelForSequenceClassification.from_pretrained` "
        "and `AutoTokenizer.from_pretrained` on `best/`. Details: `metrics.json`, `best/zhaug.json`.", "",
    ]
    for folder in (run_dir, run_dir / "best"):
        if folder.is_dir():
            atomic_write_text(folder / "README.md", "\n".join(lines))


def read_info(model_dir: Path) -> dict[str, Any]:
    """``zhaug.json`` of a best checkpoint (``model_dir`` may be the run folder or its ``best/``)."""
    path = model_dir / RUN_INFO if (model_dir / RUN_INFO).is_file() else model_dir / "best" / RUN_INFO
    if not path.is_file():
        raise ZhaugError(f"{model_dir}: not a zhaug run folder (no best/{RUN_INFO}); train one with `zhaug train`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZhaugError(f"{path}: damaged ({exc}); retrain, or restore it from a copy") from None
    if not isinstance(info, dict) or not isinstance(info.get("labels"), list) or "max_length" not in info.get("config", {}):
        raise ZhaugError(f"{path}: damaged (needs 'labels' and 'config.max_length'); retrain, or restore it from a copy")
    return info


def save_last(
    run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, state: dict[str, Any]
) -> None:
    """Everything needed to continue training exactly where it stopped."""
    tmp = _fresh(run_dir / "last")
    save_model(model, str(tmp / "model.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    replace_dir(tmp, run_dir / "last")


def finish_last(run_dir: Path) -> None:
    """A finished run needs no weights to resume from: keep only ``last/state.json``."""
    for name in ("model.safetensors", "optimizer.pt"):
        (run_dir / "last" / name).unlink(missing_ok=True)


def last_state(run_dir: Path) -> dict[str, Any] | None:
    """The loop state of the last checkpoint, or ``None`` when there is none."""
    path = run_dir / "last" / "state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_last(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    """Restore weights, optimizer and schedule from the last checkpoint."""
    load_model(model, str(run_dir / "last" / "model.safetensors"))
    saved = torch.load(run_dir / "last" / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
