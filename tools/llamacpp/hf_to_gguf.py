"""Converts a tiny HF Llama directory (config.json + model.safetensors, F32
or BF16) into an F32 GGUF for llama.cpp, the way convert_hf_to_gguf.py does
for LlamaForCausalLM: tensor renaming and the q/k permutation from HF's
rotate_half layout to GGUF's interleaved layout (ASSETS.md §3.2).

The vocabulary is the first vocab_size tokens of llama.cpp's
models/ggml-vocab-llama-bpe.gguf (Llama-3 BPE) with the merges among them,
so a tiny model can keep a small vocab (llama.cpp needs a working tokenizer
to load, but callers feed token ids directly).

With a fourth argument "bf16" the matrices are written as BF16 (their
values must then be bfloat16 already, as in a BF16 checkpoint: the low
mantissa bits are dropped), norms stay F32.

Run: PYTHONPATH=$STRATA_LLAMACPP_DIR/gguf-py /usr/bin/python3 hf_to_gguf.py HF_DIR OUT.gguf VOCAB.gguf [bf16]
"""
import json
import struct
import sys

import numpy as np
import gguf


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    hdr = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for k, e in hdr.items():
        if k == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b:base + end]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype=np.float32)
        elif e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {k}: unsupported dtype {e['dtype']}")
        out[k] = a.reshape(e["shape"]).copy()
    return out


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add_vocab(w, vocab_path, V):
    voc = gguf.GGUFReader(vocab_path)
    toks = voc.fields["tokenizer.ggml.tokens"].contents()
    types = voc.fields["tokenizer.ggml.token_type"].contents()
    if V > len(toks):
        raise SystemExit(f"vocab_size {V} > {len(toks)} tokens in {vocab_path}")
    toks, types = toks[:V], types[:V]
    have = set(toks)
    merges = []
    for m in voc.fields["tokenizer.ggml.merges"].contents():
        a, b = m.split(" ", 1)
        if a in have and b in have and a + b in have:
            merges.append(m)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)


def main(src, dst, vocab_path, dtype="f32"):
    cfg = json.load(open(f"{src}/config.json"))
    if cfg["architectures"][0] != "LlamaForCausalLM":
        raise SystemExit("only LlamaForCausalLM is converted")
    P = read_safetensors(f"{src}/model.safetensors")
    C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    KV = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim") or C // H
    V = cfg["vocab_size"]
    w = gguf.GGUFWriter(dst, "llama")
    w.add_name("strata-tiny-llama")
    w.add_context_length(cfg.get("max_position_embeddings", 256))
    w.add_embedding_length(C)
    w.add_block_count(L)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_rope_dimension_count(D)
    w.add_vocab_size(V)
    bf16 = dtype == "bf16"
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if bf16 else gguf.LlamaFileType.ALL_F32)

    def put(name, t):
        t = np.ascontiguousarray(t, dtype=np.float32)
        if bf16 and t.ndim == 2:
            w.add_tensor(name, (t.view(np.uint32) >> 16).astype(np.uint16), raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(name, t)

    add_vocab(w, vocab_path, V)
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    put("token_embd.weight", P["model.embed_tokens.weight"])
    for i in range(L):
        for hf, gg in names.items():
            t = P[f"model.layers.{i}.{hf}.weight"]
            if hf == "self_attn.q_proj":
                t = permute(t, H)
            if hf == "self_attn.k_proj":
                t = permute(t, KV)
            put(f"blk.{i}.{gg}.weight", t)
    put("output_norm.weight", P["model.norm.weight"])
    put("output.weight", P.get("lm_head.weight", P["model.embed_tokens.weight"]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
