"""Optimisers, clipping and schedules against PyTorch: torch.optim.AdamW and torch.optim.RMSprop
(defaults), HF-style parameter groups (decay / no decay), torch.nn.utils.clip_grad_norm_, and
LambdaLR with the HF schedule formulas, on the same deterministic gradients for 10 steps.
Parameters must agree within 1e-6 absolute after every step, learning rates within 1e-12."""
import json
import math
import os
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("XGD_OPTIM_DUMP", os.path.join(ROOT, "build", "optim_dump"))
STEPS, WARMUP, BASE = 10, 3, 0.01


def hf_lambda(kind):
    def f(step):
        if kind == "constant":
            return 1.0
        if step < WARMUP:
            return step / max(1, WARMUP)
        if kind == "constant_with_warmup":
            return 1.0
        if kind == "linear":
            return max(0.0, (STEPS - step) / max(1, STEPS - WARMUP))
        progress = (step - WARMUP) / max(1, STEPS - WARMUP)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return f


def torch_run(kind, sched, wd):
    p = torch.tensor([math.sin(i) for i in range(37)], dtype=torch.float32)
    a = torch.nn.Parameter(p[:20].clone())
    b = torch.nn.Parameter(p[20:].clone())
    groups = [{"params": [a], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=BASE) if kind == "adamw" else torch.optim.RMSprop(groups, lr=BASE)
    lr_sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_lambda(sched))
    out = []
    for k in range(STEPS):
        g = torch.tensor([math.cos(0.37 * i + 1.3 * k) * (1.0 + 0.5 * (i % 3)) for i in range(37)], dtype=torch.float32)
        a.grad, b.grad = g[:20].clone(), g[20:].clone()
        norm = torch.nn.utils.clip_grad_norm_([a, b], 1.0)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        lr_sched.step()
        out.append((lr, float(norm), torch.cat([a.detach(), b.detach()]).tolist()))
    return out


def main():
    if not os.path.exists(TOOL):
        print(f"skip: {TOOL} not built")
        return 77
    fails, checks = [], 0
    for kind in ("adamw", "rmsprop"):
        for sched in ("constant", "constant_with_warmup", "linear", "cosine"):
            for wd in (0.0, 0.1):
                r = subprocess.run([TOOL, kind, sched, str(wd), str(STEPS)], capture_output=True, text=True, check=True)
                got = [json.loads(l) for l in r.stdout.splitlines()]
                want = torch_run(kind, sched, wd)
                for k, (g, (lr, norm, p)) in enumerate(zip(got, want)):
                    checks += 1
                    dp = max(abs(x - y) for x, y in zip(g["p"], p))
                    if abs(g["lr"] - lr) > 1e-12 or abs(g["norm"] - norm) > 1e-5 * max(1, norm) or dp > 1e-6:
                        fails.append(f"{kind}/{sched}/wd={wd} step {k}: lr {g['lr']} vs {lr}, norm {g['norm']} vs {norm}, params differ by {dp:.3g}")
                        break
    for f in fails:
        print("FAIL:", f)
    print(f"train_optim: {checks - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
