"""One training step (forward + backward, no optimizer) of a randomly
initialised SmolLM2-135M-shaped Llama in PyTorch eager mode, the way HF
transformers + PEFT run it on a CPU: float32, eager attention (matmul, mask,
softmax, matmul over the full T×T scores; torch 1.13 has no SDPA), full
(B·T, V) logits then cross-entropy, PEFT-style LoRA (frozen base, lora_A /
lora_B Linear layers, dropout 0). Prints one JSON line:
{"mode", "tokens_per_s", "step_s", "cpu_s_per_step", "peak_rss_mb", "threads", "torch"}
(cpu_s_per_step, process CPU time, is comparable across runs on a shared machine).

Usage: /usr/bin/python3 tools/torch/step_bench.py lora|full [steps] [threads]
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

C, FF, L, H, KV, V = 576, 1536, 30, 9, 3, 49152
D = C // H
B, T = 4, 512
THETA, EPS = 100000.0, 1e-5


class RMSNorm(nn.Module):  # LlamaRMSNorm
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))

    def forward(self, x):
        x32 = x.to(torch.float32)
        v = x32.pow(2).mean(-1, keepdim=True)
        return self.weight * (x32 * torch.rsqrt(v + EPS)).to(x.dtype)


class LoraLinear(nn.Module):  # peft.tuners.lora.Linear, dropout 0 (Identity)
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def rotate_half(x):
    return torch.cat((-x[..., D // 2:], x[..., :D // 2]), dim=-1)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(), RMSNorm()
        self.q_proj = nn.Linear(C, H * D, bias=False)
        self.k_proj = nn.Linear(C, KV * D, bias=False)
        self.v_proj = nn.Linear(C, KV * D, bias=False)
        self.o_proj = nn.Linear(H * D, C, bias=False)
        self.gate_proj = nn.Linear(C, FF, bias=False)
        self.up_proj = nn.Linear(C, FF, bias=False)
        self.down_proj = nn.Linear(FF, C, bias=False)

    def forward(self, x, cos, sin, mask):
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, H, D).transpose(1, 2)
        k = self.k_proj(h).view(B, T, KV, D).transpose(1, 2)
        v = self.v_proj(h).view(B, T, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)  # repeat_kv
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        a = torch.matmul(w, v).transpose(1, 2).reshape(B, T, C)
        x = x + self.o_proj(a)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(V, C)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.norm = RMSNorm()
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, targets):
        x = self.embed_tokens(ids)
        inv = 1.0 / (THETA ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
        fr = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        emb = torch.cat((fr, fr), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = F.linear(self.norm(x), self.embed_tokens.weight).float()  # tied lm_head
        return F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "lora"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = Model()
    if mode == "lora":
        for p in m.parameters():
            p.requires_grad_(False)
        for layer in m.layers:
            for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
                setattr(layer, name, LoraLinear(getattr(layer, name), 16, 32))
    elif mode != "full":
        raise SystemExit("mode must be lora or full")
    ids = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    params = [p for p in m.parameters() if p.requires_grad]
    times, cpus = [], []
    for i in range(steps + 1):  # first step is warm-up
        for p in params:
            p.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        loss = m(ids, targets)
        loss.backward()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i > 0:
            times.append(dt)
            cpus.append(dc)
    step = sum(times) / len(times)
    print(json.dumps({"mode": mode, "tokens_per_s": B * T / step, "step_s": step,
                      "cpu_s_per_step": sum(cpus) / len(cpus), "loss": loss.item(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "threads": threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
