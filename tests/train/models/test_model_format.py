"""The E5S1 reader and writer: exact round trips on tiny synthetic files."""

from __future__ import annotations

import numpy as np
import pytest

from zhaug.train.models.e5_format import (
    MAGIC,
    dequantise_q4_0,
    quantise_q4_0,
    read_e5,
    synthetic_e5,
    tensor_layout,
    write_e5,
)

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "你", "好", "▁你好", "世界", "。", "a", "▁ab"]


def test_synthetic_file_round_trips_exactly(tmp_path):
    model = synthetic_e5(PIECES, seed=1)
    path = tmp_path / "tiny.bin"
    write_e5(path, model)
    assert path.read_bytes()[:4] == MAGIC
    back = read_e5(path)
    assert back.config == model.config
    assert back.tokenizer.pieces == PIECES
    assert np.array_equal(back.tokenizer.scores, model.tokenizer.scores)
    assert back.tokenizer.normalisation == model.tokenizer.normalisation
    assert (back.tokenizer.bos, back.tokenizer.eos, back.tokenizer.pad, back.tokenizer.unk) == (0, 2, 1, 3)
    assert list(back.tensors) == list(tensor_layout(model.config))
    for name, tensor in model.tensors.items():
        assert back.tensors[name].shape == tensor.shape
        assert np.array_equal(back.tensors[name].dequantise(), tensor.dequantise()), name
    write_e5(tmp_path / "again.bin", back)
    assert (tmp_path / "again.bin").read_bytes() == path.read_bytes()


def test_dequantise_matches_the_engine_formula():
    model = synthetic_e5(PIECES, seed=2)
    blocks = model.tensors["l0.fo.w"].data
    values = dequantise_q4_0(blocks)
    row, block, j = 3, 2, 5
    d = np.float32(blocks[row, block]["d"])
    byte = int(blocks[row, block]["qs"][j])
    assert values[row, block * 32 + j] == np.float32((byte & 15) - 8) * d
    assert values[row, block * 32 + j + 16] == np.float32((byte >> 4) - 8) * d


def test_quantise_is_exact_on_representable_values_and_close_otherwise():
    blocks = synthetic_e5(PIECES, seed=3).tensors["l1.q.w"].data.copy()
    blocks["qs"][..., 0] &= 0xF0  # every block holds -8 * d, its largest magnitude
    exact = dequantise_q4_0(blocks)
    assert np.array_equal(dequantise_q4_0(quantise_q4_0(exact)), exact)
    values = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    error = np.abs(dequantise_q4_0(quantise_q4_0(values)) - values).max()
    assert error <= np.abs(values).max() / 8


def test_rejects_other_files(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an E5S1"):
        read_e5(path)
