"""PyTorch side of bench_generate: the same prompts and model, N samples per prompt decoded as one
batch with a KV cache (what HF generate(num_return_sequences=N) does), top-p 0.8 at temperature 0.9,
in the independent PyTorch reference (tests/oracle/hf_ref.py). torch.set_num_threads(1) is its best
setting on this machine (perf-anchors.md). Prints one JSON line with tokens/s."""
import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402


def top_p_sample(logits, temperature, top_p):
    probs = torch.softmax(logits / temperature, -1)
    sp, si = probs.sort(-1, descending=True)
    keep = (sp.cumsum(-1) - sp) < top_p
    sp = sp * keep
    pick = torch.multinomial(sp / sp.sum(-1, keepdim=True), 1)
    return si.gather(-1, pick)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("prompts")
    ap.add_argument("--N", type=int, default=25)
    ap.add_argument("--max_tokens", type=int, default=20)
    ap.add_argument("--prompts_n", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = hf_ref.load(a.model)
    prompts = [[int(x) for x in l.split()] for l in open(a.prompts) if l.strip()][: a.prompts_n]
    tokens = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([p] * a.N)
            out = hf_ref.forward(m, ids)
            past, nxt = out.past, top_p_sample(out.logits[:, -1], 0.9, 0.8)
            for _ in range(a.max_tokens - 1):
                out = hf_ref.forward(m, nxt, past=past)
                past, nxt = out.past, top_p_sample(out.logits[:, -1], 0.9, 0.8)
            tokens += a.N * a.max_tokens
    dt = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch", "prompts": len(prompts), "N": a.N, "tok_s": tokens / dt}))


if __name__ == "__main__":
    main()
