"""PyTorch side of bench_dpo_step: the same DPO step (4 pairs, 64-token prompts, 20-64-token answers,
reference log-probs precomputed, timed: forward, loss, backward, clipping, RMSprop step) written in
plain torch over the independent reference model (tests/oracle/hf_ref.py), full fine-tuning or LoRA
(r=64, alpha=16 on c_attn/c_proj/c_fc for GPT-2 shapes). LoRA runs as PEFT's unmerged forward by
default, x·W + s·(x·Aᵀ)·Bᵀ with the f32 adapters' product cast to the base dtype where it is added
(--lora_form merged instead rebuilds W + s·B·A per target each step and backpropagates through
it: a full-size weight gradient per target). --threads: torch's intra-op threads (bench_dpo.sh
times 1 and 2 on a bf16 base and compares the fastest). --bf16 holds the frozen
weights in bfloat16 (LoRA only: the model computes in bf16 as transformers with
torch_dtype=bfloat16).
Memory: load_peak_mb is the resident high-water mark (VmHWM) after loading; it is then reset
(/proc/self/clear_refs "5") and train_peak_mb is the high-water mark of everything after."""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F


def peak_mb():
    """The resident-memory high-water mark in MiB (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024.0
    except OSError:
        return 0.0


def peak_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402


class LoraWeight:
    """A frozen weight W with an unmerged LoRA adapter, standing where hf_ref reads the weight: the
    products hf_ref writes (x @ W for Conv1D's (in, out) storage, x @ W.T for nn.Linear's (out, in),
    E[ids] for an embedding) become PEFT's forward, base product + s·(x·Aᵀ)·Bᵀ in the adapter's
    f32, cast to the base dtype."""

    def __init__(self, W, A, B, s, in_out, flipped=False):
        self.W, self.A, self.B, self.s, self.in_out, self.flipped = W, A, B, s, in_out, flipped
        self.dtype, self.shape = W.dtype, W.shape if not flipped else W.shape[::-1]

    @property
    def T(self):
        return LoraWeight(self.W, self.A, self.B, self.s, self.in_out, not self.flipped)

    def __getitem__(self, ids):  # embedding lookup: A (r, V), B (H, r)
        return self.W[ids] + (self.s * (self.A.T[ids] @ self.B.T)).to(self.W.dtype)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is not torch.Tensor.matmul or len(args) != 2 or not isinstance(args[1], LoraWeight) or kwargs:
            raise TypeError(f"LoraWeight supports x @ W only, not {func}")
        x, w = args
        if w.in_out == w.flipped:
            raise TypeError("LoraWeight: product in the adapter's transposed orientation")
        y = x @ (w.W.T if w.flipped else w.W)
        return y + (w.s * ((x.to(w.A.dtype) @ w.A.T) @ w.B.T)).to(y.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--len", type=int, default=64, help="prompt tokens; answers 20..len")
    ap.add_argument("--bf16", action="store_true", help="frozen base in bfloat16 (with --lora)")
    ap.add_argument("--lora_form", choices=("unmerged", "merged"), default="unmerged")
    a = ap.parse_args()
    if a.bf16 and not a.lora:
        sys.exit("torch_dpo_step: --bf16 applies to --lora (full fine-tuning trains f32 weights)")
    torch.set_num_threads(a.threads)
    m = hf_ref.load(a.model, dtype=torch.bfloat16 if a.bf16 else torch.float32)
    load_peak = peak_mb()
    peak_reset()
    V = m.w["lm_head.weight"].shape[0]
    P = a.len
    random.seed(5)
    rows, labels = [], []
    for i in range(4):  # answer lengths as bench_dpo_step.c's
        p = [random.randrange(V) for _ in range(P)]
        c = [random.randrange(V) for _ in range(20 + (37 * i + 11) % (P - 19))]
        r = [random.randrange(V) for _ in range(20 + (53 * i + 29) % (P - 19))]
        rows += [p + c, p + r]
        labels += [[-100] * P + c, [-100] * P + r]
    order = [0, 2, 4, 6, 1, 3, 5, 7]           # [chosen; rejected]
    L = max(len(x) for x in rows)
    ids = torch.tensor([rows[i] + [0] * (L - len(rows[i])) for i in order])
    lab = torch.tensor([labels[i] + [-100] * (L - len(labels[i])) for i in order])
    mask = torch.tensor([[1] * len(rows[i]) + [0] * (L - len(rows[i])) for i in order])

    def logps():
        logits = hf_ref.forward(m, ids, attention_mask=mask, grad=True).logits.float()
        lb, lg = lab[:, 1:].clone(), logits[:, :-1]
        keep = lb != -100
        lb[~keep] = 0
        return (torch.gather(lg.log_softmax(-1), 2, lb[..., None])[..., 0] * keep).sum(-1)

    if a.lora:
        # xgd's per-family default targets (model/lora.c); GPT-2's Conv1D and the embeddings hold
        # (in, out) so their update is (B A)^T, nn.Linear holds (out, in) and takes B A
        targets = {"gpt2": ("c_attn", "c_proj", "c_fc")}.get(m.cfg["family"], (
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens", "lm_head"))
        params, base = [], {}
        for name in list(m.w):
            if any(name == t + ".weight" or name.endswith("." + t + ".weight") for t in targets):
                W = m.w[name]
                tr = m.cfg["family"] == "gpt2" or name.endswith("embed_tokens.weight")
                n_in, n_out = (W.shape[0], W.shape[1]) if tr else (W.shape[1], W.shape[0])
                A = torch.empty(64, n_in).uniform_(-n_in ** -0.5, n_in ** -0.5).requires_grad_()
                B = torch.zeros(n_out, 64, requires_grad=True)
                base[name] = (W, A, B, tr)
                params += [A, B]

        if a.lora_form == "unmerged":
            for name, (W, A, B, tr) in base.items():
                m.w[name] = LoraWeight(W, A, B, 16 / 64, tr)

            def apply():
                pass
        else:
            def apply():
                for name, (W, A, B, tr) in base.items():
                    d = (16 / 64) * (B @ A)
                    m.w[name] = W + (d.T if tr else d).to(W.dtype)
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
    print(json.dumps({"impl": "pytorch", "mode": "lora" if a.lora else "full", "weights": "BF16" if a.bf16 else "F32",
                      "lora_form": a.lora_form if a.lora else None, "threads": a.threads,
                      "step_s": best, "tokens": ids.numel(), "load_peak_mb": round(load_peak),
                      "train_peak_mb": round(peak_mb())}))


if __name__ == "__main__":
    main()
