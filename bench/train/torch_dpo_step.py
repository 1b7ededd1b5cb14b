"""PyTorch side of bench_dpo_step: the same DPO step (4 pairs, 64-token prompts, 20-64-token answers,
reference log-probs precomputed, timed: forward, loss, backward, clipping, RMSprop step) written in
plain torch over the independent reference model (tests/oracle/hf_ref.py), full fine-tuning or LoRA
(r=64, alpha=16 on c_attn/c_proj/c_fc for GPT-2 shapes; W + s·B·A as PEFT's unmerged forward),
at torch's best thread setting here (torch.set_num_threads(1), perf-anchors.md)."""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = hf_ref.load(a.model)
    V = m.w["lm_head.weight"].shape[0]
    random.seed(5)
    rows, labels = [], []
    for _ in range(4):
        p = [random.randrange(V) for _ in range(64)]
        c = [random.randrange(V) for _ in range(random.randint(20, 64))]
        r = [random.randrange(V) for _ in range(random.randint(20, 64))]
        rows += [p + c, p + r]
        labels += [[-100] * 64 + c, [-100] * 64 + r]
    order = [0, 2, 4, 6, 1, 3, 5, 7]           # [chosen; rejected]
    L = max(len(x) for x in rows)
    ids = torch.tensor([rows[i] + [0] * (L - len(rows[i])) for i in order])
    lab = torch.tensor([labels[i] + [-100] * (L - len(labels[i])) for i in order])
    mask = torch.tensor([[1] * len(rows[i]) + [0] * (L - len(rows[i])) for i in order])

    def logps():
        logits = hf_ref.forward(m, ids, attention_mask=mask, grad=True).logits
        lb, lg = lab[:, 1:].clone(), logits[:, :-1]
        keep = lb != -100
        lb[~keep] = 0
        return (torch.gather(lg.log_softmax(-1), 2, lb[..., None])[..., 0] * keep).sum(-1)

    if a.lora:
        params, base = [], {}
        for name in list(m.w):
            if any(name.endswith(t + ".weight") for t in ("c_attn", "c_proj", "c_fc")):
                W = m.w[name]
                A = torch.empty(64, W.shape[0]).uniform_(-W.shape[0] ** -0.5, W.shape[0] ** -0.5).requires_grad_()
                B = torch.zeros(W.shape[1], 64, requires_grad=True)
                base[name] = (W, A, B)
                params += [A, B]

        def apply():
            for name, (W, A, B) in base.items():
                m.w[name] = W + (16 / 64) * (B @ A).T
    else:
        params = [t.requires_grad_() for t in {id(t): t for t in m.w.values()}.values()]

        def apply():
            pass
    with torch.no_grad():
        apply()
        ref = hf_ref.forward(m, ids, attention_mask=mask).logits  # reference pass, not timed
        del ref
    ref_lp = logps().detach()
    opt = torch.optim.RMSprop(params, lr=1e-5)
    best = 1e30
    for _ in range(a.reps):
        t0 = time.perf_counter()
        opt.zero_grad()
        apply()
        lp = logps()
        z = (lp[:4] - lp[4:]) - (ref_lp[:4] - ref_lp[4:])
        loss = -F.logsigmoid(0.1 * z).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"impl": "pytorch", "mode": "lora" if a.lora else "full", "step_s": best}))


if __name__ == "__main__":
    main()
