"""PyTorch side of bench_forward: the same checkpoint, the same prefill (B x T, logits at every
position as transformers' forward computes them) and single-stream KV-cache decode, in the
independent PyTorch reference (tests/oracle/hf_ref.py: the transformers math in plain torch ops).
Runs at torch's best thread setting on this machine (perf-anchors.md: torch.set_num_threads(1)
with OpenBLAS's own 2 threads; --threads overrides). Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = hf_ref.load(a.model)
    V = m.cfg["vocab"] if isinstance(m.cfg, dict) and "vocab" in m.cfg else None
    ids = torch.tensor([[(i * 7919 + b * a.prompt * 7919) % 1000 for i in range(a.prompt)] for b in range(a.batch)])
    tp, td = [], []
    with torch.no_grad():
        hf_ref.forward(m, ids)   # untimed warm-up (first touch of weights and buffers), as bench_forward does
        for _ in range(a.reps):
            t0 = time.perf_counter()
            hf_ref.forward(m, ids)
            tp.append(time.perf_counter() - t0)
        for _ in range(a.reps):
            out = hf_ref.forward(m, ids[:1])
            past = out.past
            t0 = time.perf_counter()
            for k in range(a.decode):
                out = hf_ref.forward(m, ids[:1, k:k + 1], past=past)
                past = out.past
            td.append((time.perf_counter() - t0) / a.decode)
    tp.sort()
    td.sort()
    p, d = tp[len(tp) // 2], td[len(td) // 2]
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
                      "prompt": a.prompt, "prefill_s": p, "prefill_tok_s": a.batch * a.prompt / p, "decode_tok_s": 1 / d,
                      "vocab": V}))


if __name__ == "__main__":
    main()
