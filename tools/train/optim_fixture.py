#!/usr/bin/python3
"""Writes engine/optim/testdata/adamw.json: a few AdamW steps, gradient-norm
clipping and LR schedule values computed by PyTorch (1.13, CPU, float32).

Run from the repository root:  /usr/bin/python3 tools/train/optim_fixture.py
"""
import json, math, torch

torch.manual_seed(1234)
cases = []
for name, cfg, clip in [
    ("defaults", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), 0.0),
    ("strong_decay_clip", dict(lr=3e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1), 0.5),
]:
    shapes = [(5, 3), (7,)]
    params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    init = [p.detach().clone().flatten().tolist() for p in params]
    opt = torch.optim.AdamW(params, **cfg)
    # per-step LR multipliers to exercise lr changes across steps
    mults = [1.0, 0.5, 2.0, 1.0, 0.25]
    grads, norms, after = [], [], []
    for step, mult in enumerate(mults):
        g = [torch.randn(*s) * (3.0 if step == 2 else 1.0) for s in shapes]
        for p, gi in zip(params, g):
            p.grad = gi.clone()
        grads.append([gi.flatten().tolist() for gi in g])
        if clip > 0:
            n = torch.nn.utils.clip_grad_norm_(params, clip)
        else:
            n = torch.norm(torch.stack([p.grad.norm() for p in params]))
        norms.append(float(n))
        for gr in opt.param_groups:
            gr["lr"] = cfg["lr"] * mult
        opt.step()
        after.append([p.detach().flatten().tolist() for p in params])
    cases.append(dict(name=name, lr=cfg["lr"], beta1=cfg["betas"][0], beta2=cfg["betas"][1],
                      eps=cfg["eps"], weight_decay=cfg["weight_decay"], clip=clip, lr_mult=mults,
                      init=init, grads=grads, norms=norms, after=after))

# LR schedules through torch.optim.lr_scheduler.LambdaLR with our formula.
def lam(warmup, total, decay, minr):
    def f(s):
        if s < warmup:
            return (s + 1) / warmup
        p = min(1.0, max(0.0, (s - warmup) / max(1, total - warmup)))
        g = {"constant": 1.0, "linear": 1 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p))}[decay]
        return minr + (1 - minr) * g
    return f

scheds = []
for warmup, total, decay, minr in [(0, 10, "linear", 0.0), (3, 12, "cosine", 0.0), (5, 20, "cosine", 0.1),
                                   (2, 2, "linear", 0.0), (4, 9, "constant", 0.0)]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2e-4)
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lam(warmup, total, decay, minr))
    lrs = []
    for _ in range(total + 2):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(); sch.step()
    scheds.append(dict(peak=2e-4, warmup=warmup, total=total, decay=decay, min_ratio=minr, lrs=lrs))

json.dump(dict(adamw=cases, schedules=scheds), open("engine/optim/testdata/adamw.json", "w"))
