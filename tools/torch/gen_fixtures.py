"""Writes the parity fixtures of engine/model/llama/testdata/<arch>/:

  config.json, model.safetensors   a tiny random model (F32 weights)
  fixture.safetensors              inputs (tokens, targets, pos, seg), float64-computed
                                   logits, loss, every parameter gradient (full
                                   fine-tuning), LoRA A/B values, LoRA loss and
                                   A/B gradients, and the losses of 10 AdamW steps
                                   (full and LoRA); hyperparameters in __metadata__.

Run: /usr/bin/python3 tools/torch/gen_fixtures.py engine/model/llama/testdata
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref as R  # noqa: E402

torch.set_num_threads(2)
B, T = 2, 16
ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
STEPS = 10

CASES = {
    "llama": dict(
        cfg={"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
             "vocab_size": 96, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 64,
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8},
             "tie_word_embeddings": False, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2},
        packed=True, ignore=False,
        lora=dict(r=4, alpha=8.0, rslora=False, targets=R.MODULES)),
    "mistral": dict(
        cfg={"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 96,
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64, "sliding_window": 5,
             "tie_word_embeddings": False, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2},
        packed=False, ignore=True,
        lora=dict(r=2, alpha=4.0, rslora=True, targets=["q_proj", "v_proj", "down_proj"])),
    "qwen2": dict(
        cfg={"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 96,
             "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 64,
             "rope_scaling": {"type": "linear", "factor": 2.0}, "use_sliding_window": False, "sliding_window": 8,
             "tie_word_embeddings": True, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": [2, 3]},
        packed=False, ignore=True,
        lora=dict(r=4, alpha=16.0, rslora=False, targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"])),
}


def make_case(name, case, out):
    torch.manual_seed({"llama": 1, "mistral": 2, "qwen2": 3}[name])
    cfg = case["cfg"]
    C, H, Hkv, D, FF, V, L = R.dims(cfg)
    P32 = {}
    for n, shape in R.weight_names(cfg):
        if n.endswith("norm.weight"):
            P32[n] = (1 + 0.1 * torch.randn(shape)).float()
        elif n.endswith(".bias"):
            P32[n] = (0.1 * torch.randn(shape)).float()
        elif n == "model.embed_tokens.weight":
            P32[n] = torch.randn(shape).float()
        else:
            P32[n] = (0.3 * torch.randn(shape) / shape[1] ** 0.5 * 2).float()
    tokens = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    pos = seg = None
    if case["packed"]:
        # row 0: documents of 5, 7, 4 tokens; row 1: 9, 7
        lens = [[5, 7, 4], [9, 7]]
        pos = torch.zeros(B, T, dtype=torch.long)
        seg = torch.zeros(B, T, dtype=torch.long)
        for b, ls in enumerate(lens):
            t = 0
            for d, n in enumerate(ls):
                pos[b, t:t + n] = torch.arange(n)
                seg[b, t:t + n] = d
                t += n
    if case["ignore"]:
        targets[0, :5] = -100
        targets[1, 11] = -100

    # ---- full fine-tuning: logits, loss, all gradients ----
    P = {k: v.double().requires_grad_(True) for k, v in P32.items()}
    logits = R.forward(P, cfg, tokens, pos, seg)
    loss = R.loss_fn(logits, targets)
    loss.backward()
    fx = {"tokens": tokens.int(), "targets": targets.int(), "logits": logits.detach().float(),
          "loss": loss.detach().reshape(1)}
    if pos is not None:
        fx["pos"], fx["seg"] = pos.int(), seg.int()
    for k, v in P.items():
        fx["grad." + k] = v.grad.float()

    # ---- LoRA: random non-zero A and B so every gradient is exercised ----
    lc = case["lora"]
    r = lc["r"]
    scale = lc["alpha"] / (r ** 0.5 if lc["rslora"] else r)
    lora = {}
    for l in range(L):
        for m in lc["targets"]:
            fi, fo = R.proj_shape(cfg, m)
            a = (torch.rand(r, fi) * 2 - 1) / fi ** 0.5
            b = torch.randn(fo, r) * 0.1
            lora[(l, m)] = (a.float().double().requires_grad_(True), b.float().double().requires_grad_(True))
    Pf = {k: v.detach() for k, v in P.items()}
    lloss = R.loss_fn(R.forward(Pf, cfg, tokens, pos, seg, lora, scale), targets)
    lloss.backward()
    fx["lora_loss"] = lloss.detach().reshape(1)
    for (l, m), (a, b) in lora.items():
        base = f"base_model.model.model.layers.{l}.{R.parent(m)}.{m}"
        fx[f"lora.{base}.lora_A.weight"] = a.detach().float()
        fx[f"lora.{base}.lora_B.weight"] = b.detach().float()
        fx[f"lora_grad.{base}.lora_A.weight"] = a.grad.float()
        fx[f"lora_grad.{base}.lora_B.weight"] = b.grad.float()

    # ---- 10 AdamW steps, full and LoRA, same batch every step ----
    P = {k: v.double().requires_grad_(True) for k, v in P32.items()}
    opt = torch.optim.AdamW(list(P.values()), **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        ls = R.loss_fn(R.forward(P, cfg, tokens, pos, seg), targets)
        ls.backward()
        opt.step()
        losses.append(ls.item())
    fx["adamw_losses"] = torch.tensor(losses, dtype=torch.float64)
    lp = {k: (fx[f"lora.base_model.model.model.layers.{k[0]}.{R.parent(k[1])}.{k[1]}.lora_A.weight"].double().requires_grad_(True),
              fx[f"lora.base_model.model.model.layers.{k[0]}.{R.parent(k[1])}.{k[1]}.lora_B.weight"].double().requires_grad_(True))
          for k in lora}
    opt = torch.optim.AdamW([t for ab in lp.values() for t in ab], **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        ls = R.loss_fn(R.forward(Pf, cfg, tokens, pos, seg, lp, scale), targets)
        ls.backward()
        opt.step()
        losses.append(ls.item())
    fx["lora_adamw_losses"] = torch.tensor(losses, dtype=torch.float64)

    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    R.write_safetensors(os.path.join(d, "model.safetensors"), P32, {"format": "pt"})
    meta = {"lora_rank": r, "lora_alpha": lc["alpha"], "lora_rslora": str(lc["rslora"]).lower(),
            "lora_targets": ",".join(lc["targets"]), "adamw_lr": ADAMW["lr"], "adamw_beta1": ADAMW["betas"][0],
            "adamw_beta2": ADAMW["betas"][1], "adamw_eps": ADAMW["eps"], "adamw_weight_decay": ADAMW["weight_decay"],
            "steps": STEPS, "torch": torch.__version__}
    R.write_safetensors(os.path.join(d, "fixture.safetensors"), fx, meta)
    print(name, "loss", loss.item(), "lora_loss", lloss.item(), "adamw", losses[0], "->", losses[-1])


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "engine/model/llama/testdata"
    for name, case in CASES.items():
        make_case(name, case, out)
