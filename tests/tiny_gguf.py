"""A tiny random llama-architecture GGUF (a few hundred kB) that llama.cpp loads and runs in milliseconds.

Its vocabulary is SentencePiece-style: control tokens, the 256 byte-fallback tokens (so any
prompt tokenises) and a few Chinese characters. Every embedding carries a constant first
component, and the output rows give the Chinese characters a large positive weight on it and
every other token a large negative one, so the model only ever generates Chinese characters,
chosen at random by the weights and the sampling seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHARS = list("好吃快递慢包装破味道量少贵便宜服务态度干净满意推荐差评价格新鲜口感")
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def write_tiny_gguf(path: Path, seed: int = 0, n_embd: int = 32, n_ff: int = 64, n_head: int = 2) -> Path:
    import gguf  # test dependency (zhaug[llm])

    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + CHARS
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(CHARS)
    n_vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHATML)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    embeddings = weight(n_vocab, n_embd)
    embeddings[:, 0] = 10.0  # the constant component the output rows read
    output = weight(n_vocab, n_embd)
    output[:, 0] = -50.0
    output[-len(CHARS):, 0] = 50.0
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for name, shape in {
        "attn_norm": (n_embd,), "ffn_norm": (n_embd,), "attn_q": (n_embd, n_embd), "attn_k": (n_embd, n_embd),
        "attn_v": (n_embd, n_embd), "attn_output": (n_embd, n_embd), "ffn_gate": (n_ff, n_embd),
        "ffn_up": (n_ff, n_embd), "ffn_down": (n_embd, n_ff),
    }.items():
        writer.add_tensor(f"blk.0.{name}.weight", np.ones(shape, dtype=np.float32) if len(shape) == 1 else weight(*shape))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
