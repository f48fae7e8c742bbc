"""HF-semantics Llama-family reference in plain PyTorch 1.13 (float64).

Shared by gen_fixtures.py (parity fixtures for engine/model/llama) and
step_bench.py. Implements exactly what transformers' modeling_llama /
modeling_mistral / modeling_qwen2 compute in eager mode: RMSNorm, rotate_half
RoPE (rope_theta, rope_scaling llama3/linear), causal GQA attention with
packed-document (segment) and sliding-window masks written by hand (torch
1.13 has no scaled_dot_product_attention), SwiGLU MLP, tied or untied LM
head, cross-entropy with ignore_index=-100, and PEFT-style LoRA on the seven
projections.
"""
import json
import math
import struct

import torch
import torch.nn.functional as F

MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parent(m):
    return "self_attn" if m in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"


def dims(cfg):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim") or C // H
    return C, H, Hkv, D, cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]


def proj_shape(cfg, m):
    C, H, Hkv, D, FF, V, L = dims(cfg)
    return {"q_proj": (C, H * D), "k_proj": (C, Hkv * D), "v_proj": (C, Hkv * D), "o_proj": (H * D, C),
            "gate_proj": (C, FF), "up_proj": (C, FF), "down_proj": (FF, C)}[m]  # (in, out)


def has_bias(cfg, m):
    qwen = cfg["architectures"][0] == "Qwen2ForCausalLM"
    ab = cfg.get("attention_bias", False)
    return (qwen and m in ("q_proj", "k_proj", "v_proj")) or (ab and m in ("q_proj", "k_proj", "v_proj", "o_proj"))


def weight_names(cfg):
    """(name, shape) of every base weight in HF order."""
    C, H, Hkv, D, FF, V, L = dims(cfg)
    out = [("model.embed_tokens.weight", (V, C))]
    for i in range(L):
        p = f"model.layers.{i}."
        out.append((p + "input_layernorm.weight", (C,)))
        for m in MODULES[:4]:
            fi, fo = proj_shape(cfg, m)
            out.append((p + f"self_attn.{m}.weight", (fo, fi)))
            if has_bias(cfg, m):
                out.append((p + f"self_attn.{m}.bias", (fo,)))
        out.append((p + "post_attention_layernorm.weight", (C,)))
        for m in MODULES[4:]:
            fi, fo = proj_shape(cfg, m)
            out.append((p + f"mlp.{m}.weight", (fo, fi)))
    out.append(("model.norm.weight", (C,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, C)))
    return out


def inv_freq(cfg):
    C, H, Hkv, D, FF, V, L = dims(cfg)
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / rs["factor"]
        elif kind == "llama3":  # transformers _compute_llama3_parameters
            f, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
            lw, hw = old / lo, old / hi
            wl = 2 * math.pi / inv
            il = torch.where(wl > lw, inv / f, inv)
            sm = (old / wl - lo) / (hi - lo)
            smoothed = (1 - sm) * il / f + sm * il
            med = ~(wl < hw) & ~(wl > lw)
            inv = torch.where(med, smoothed, il)
    return inv


def rmsnorm(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(P, cfg, tokens, pos=None, seg=None, lora=None, lora_scale=0.0):
    """Returns logits (B, T, V). P maps HF names to tensors; lora maps
    (layer, module) to (A, B)."""
    C, H, Hkv, D, FF, V, L = dims(cfg)
    B, T = tokens.shape
    eps = cfg.get("rms_norm_eps", 1e-6)
    dt = P["model.embed_tokens.weight"].dtype
    if pos is None:
        pos = torch.arange(T).expand(B, T)
    ang = pos[..., None].to(dt) * inv_freq(cfg).to(dt)
    emb = torch.cat((ang, ang), -1)[:, None]  # (B, 1, T, D)
    cos, sin = emb.cos(), emb.sin()
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = (j <= i)[None].expand(B, T, T)
    W = cfg.get("sliding_window") if cfg["architectures"][0] == "MistralForCausalLM" else None
    if W:
        allowed = allowed & ((i - j) < W)[None]
    if seg is not None:
        allowed = allowed & (seg[:, :, None] == seg[:, None, :])
    mask = torch.zeros(B, 1, T, T, dtype=dt).masked_fill(~allowed[:, None], float("-inf"))

    def lin(x, l, m):
        name = f"model.layers.{l}.{parent(m)}.{m}"
        y = x @ P[name + ".weight"].T
        if name + ".bias" in P:
            y = y + P[name + ".bias"]
        if lora is not None and (l, m) in lora:
            a, b = lora[(l, m)]
            y = y + lora_scale * ((x @ a.T) @ b.T)
        return y

    x = P["model.embed_tokens.weight"][tokens]
    for l in range(L):
        p = f"model.layers.{l}."
        h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        q = lin(h, l, "q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(h, l, "k_proj").view(B, T, Hkv, D).transpose(1, 2)
        v = lin(h, l, "v_proj").view(B, T, Hkv, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1) @ v
        x = x + lin(a.transpose(1, 2).reshape(B, T, H * D), l, "o_proj")
        h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(F.silu(lin(h, l, "gate_proj")) * lin(h, l, "up_proj"), l, "down_proj")
    h = rmsnorm(x, P["model.norm.weight"], eps)
    w = P.get("lm_head.weight", P["model.embed_tokens.weight"])
    return h @ w.T


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def write_safetensors(path, tensors, metadata=None):
    """Hand-written safetensors writer (Debian bookworm has no safetensors)."""
    codes = {torch.float32: "F32", torch.int32: "I32", torch.float64: "F64", torch.int64: "I64"}
    hdr, off, blobs = {}, 0, []
    if metadata:
        hdr["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for k in sorted(tensors):
        t = tensors[k].detach().contiguous()
        b = t.numpy().tobytes()
        hdr[k] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
