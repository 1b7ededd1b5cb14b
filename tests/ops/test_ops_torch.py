#!/usr/bin/env python3
"""Independent reference for the ops layer: runs the C exporter (ops_test_ops_export), which
writes inputs, outputs and gradients of every op to .npy, and recomputes all of them with
torch autograd in float32 (torch 1.13, CPU). Every comparison asserts

    max |C - torch| <= TOL * max(1, max |torch|),   TOL = 1e-5

(f16/bf16 weights are exported as their exact f32 values, so torch sees the same numbers).
Integer results (T5 buckets) must match exactly; ALiBi slopes and RoPE frequencies to 1 ulp-ish
(2e-7 relative)."""
import math
import os
import subprocess
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("skip: torch is not installed for", sys.executable)
    sys.exit(77)

TOL = 1e-5
failures = []
checks = 0


def exporter():
    exe = os.environ.get("XGD_OPS_EXPORT")
    if not exe:
        xgd = os.environ.get("XGD")
        if not xgd:
            print("skip: XGD is not set (run through ctest)")
            sys.exit(77)
        exe = os.path.join(os.path.dirname(xgd), "ops_test_ops_export")
    return exe


def close(name, got, ref, tol=TOL):
    global checks
    checks += 1
    ref = ref.detach().double().numpy() if torch.is_tensor(ref) else np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        failures.append(f"{name}: shape {got.shape} != {ref.shape}")
        return
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    diff = float(np.abs(got - ref).max()) if ref.size else 0.0
    if not diff <= tol * scale:
        failures.append(f"{name}: max abs diff {diff:.3g} > {tol:g} * {scale:.3g}")


def main():
    tmp = os.environ.get("XGD_TMP", "/tmp/xgd-test")
    d = os.path.join(tmp, "ops_torch")
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([exporter(), d], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        print("exporter failed")
        return 1

    def L(name, grad=False):
        a = np.load(os.path.join(d, name + ".npy"))
        t = torch.from_numpy(a.copy())
        if t.dtype == torch.float32 and grad:
            t.requires_grad_(True)
        return t

    def has(name):
        return os.path.exists(os.path.join(d, name + ".npy"))

    # ---- linear ----
    for case in ["lin_f32_oi_m5", "lin_f32_io_m20", "lin_f32_oi_m1", "lin_bf16_oi_m1", "lin_bf16_oi_m20",
                 "lin_bf16_io_m17", "lin_f16_io_m3", "lin_f16_oi_m24"]:
        layout, is_f32 = L(case + "_meta").tolist()
        x, w = L(case + "_x", True), L(case + "_w", True)
        b = L(case + "_b", True) if has(case + "_b") else None
        y = F.linear(x, w, b)
        close(case + " y", L(case + "_y"), y)
        (y * L(case + "_dy")).sum().backward()
        close(case + " dx", L(case + "_dx"), x.grad)
        if b is not None:
            close(case + " db", L(case + "_db"), b.grad)
        if is_f32:
            close(case + " dW", L(case + "_dW"), w.grad if layout == 0 else w.grad.t())

    # ---- norms ----
    x, w, b, dy = L("norm_x", True), L("norm_w", True), L("norm_b", True), L("norm_dy")
    C = x.shape[1]
    for nm in ["ln", "cln", "rms"]:
        for t in (x, w, b):
            t.grad = None
        if nm == "ln":
            y = F.layer_norm(x, (C,), w, b, 1e-5)
        elif nm == "cln":
            y = F.layer_norm(x, (C,), w, None, 1e-5)
        else:   # LlamaRMSNorm / T5LayerNorm in fp32
            y = w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))
        close(nm + " y", L(nm + "_y"), y)
        (y * dy).sum().backward()
        close(nm + " dx", L(nm + "_dx"), x.grad)
        close(nm + " dw", L(nm + "_dw"), w.grad)
        if nm == "ln":
            close(nm + " db", L(nm + "_db"), b.grad)

    # ---- activations and gated products ----
    acts = {"gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "gelu_erf": F.gelu, "silu": F.silu, "relu": F.relu}
    xa, up, dya = L("act_x"), L("act_up"), L("act_dy")
    for nm, f in acts.items():
        x = xa.clone().requires_grad_(True)
        y = f(x)
        close("act " + nm + " y", L(f"act_{nm}_y"), y)
        (y * dya).sum().backward()
        close("act " + nm + " dx", L(f"act_{nm}_dx"), x.grad)
        x = xa.clone().requires_grad_(True)
        u = up.clone().requires_grad_(True)
        y = f(x) * u
        close("gated " + nm + " y", L(f"gated_{nm}_y"), y)
        (y * dya).sum().backward()
        close("gated " + nm + " dgate", L(f"gated_{nm}_dgate"), x.grad)
        close("gated " + nm + " dup", L(f"gated_{nm}_dup"), u.grad)

    # ---- softmax, target log-probabilities (-100 ignored) ----
    z = L("sm_z", True)
    close("softmax", L("sm_p"), torch.softmax(z, -1))
    tgt = L("lp_tgt").long()
    keep = tgt >= 0
    lp = torch.log_softmax(z, -1).gather(1, tgt.clamp(min=0)[:, None])[:, 0] * keep
    close("logprob", L("lp_lp"), lp)
    (lp * L("lp_dlp")).sum().backward()
    close("logprob dlogits", L("lp_dz"), z.grad)

    # ---- embedding (bf16 table, repeated ids) ----
    tab = L("emb_table", True)
    out = F.embedding(L("emb_ids").long(), tab)
    close("embedding", L("emb_out"), out)
    (out * L("emb_dout")).sum().backward()
    close("embedding dE", L("emb_dE"), tab.grad)

    # ---- RoPE frequencies as transformers computes them ----
    def inv_freq(d, theta):
        return 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))

    def llama3(inv, factor, lo, hi, old):
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > low_wl, inv / factor, inv)
        s = (old / wl - lo) / (hi - lo)
        smoothed = (1 - s) * out / factor + s * out
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        return torch.where(medium, smoothed, out)

    inv = inv_freq(128, 500000.0)
    close("inv_freq default", L("inv_default"), inv, 2e-7)
    close("inv_freq llama3", L("inv_llama3"), llama3(inv, 8.0, 1.0, 4.0, 8192), 2e-7)

    # ---- RoPE rotation, both conventions ----
    pos = L("rope_pos").long()
    x0, dyr = L("rope_x"), L("rope_dy")
    hd = x0.shape[2]
    inv = inv_freq(hd, 10000.0)
    freqs = pos.float()[:, None] * inv[None, :]
    for il in (0, 1):
        x = x0.clone().requires_grad_(True)
        if il == 0:   # Llama: rotate_half pairs (i, i+hd/2)
            emb = torch.cat([freqs, freqs], -1)
            cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
            rot = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        else:         # Cohere: pairs (2i, 2i+1)
            emb = torch.repeat_interleave(freqs, 2, dim=-1)
            cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
            rot = torch.stack([-x[..., 1::2], x[..., ::2]], -1).flatten(-2)
        y = x * cos + rot * sin
        pre = "rope_il" if il else "rope"
        close(pre + " y", L(pre + "_y"), y)
        (y * dyr).sum().backward()
        close(pre + " dx", L(pre + "_dx"), x.grad)

    # ---- ALiBi slopes (build_alibi_tensor) ----
    for n in (6, 12, 16, 32):
        p = 2 ** math.floor(math.log2(n))
        base = torch.tensor(2 ** (-(2 ** -(math.log2(p) - 3))), dtype=torch.float32)
        s = torch.pow(base, torch.arange(1, 1 + p, dtype=torch.int32))
        if p != n:
            extra = torch.tensor(2 ** (-(2 ** -(math.log2(2 * p) - 3))), dtype=torch.float32)
            r = min(p, n - p)
            s = torch.cat([s, torch.pow(extra, torch.arange(1, 1 + 2 * r, 2, dtype=torch.int32))])
        close(f"alibi {n}", L(f"alibi_{n}"), s, 2e-7)

    # ---- T5 relative position buckets ----
    def bucket(rel, bidirectional, nb=32, maxd=128):
        out = torch.zeros_like(rel)
        if bidirectional:
            nb //= 2
            out += (rel > 0).long() * nb
            rel = rel.abs()
        else:
            rel = -torch.min(rel, torch.zeros_like(rel))
        me = nb // 2
        large = me + (torch.log(rel.float() / me) / math.log(maxd / me) * (nb - me)).long()
        large = torch.min(large, torch.full_like(large, nb - 1))
        return out + torch.where(rel < me, rel, large)

    rel = torch.arange(-200, 201)
    got = L("t5_buckets").long()
    global checks
    checks += 1
    if not (torch.equal(got[0], bucket(rel, True)) and torch.equal(got[1], bucket(rel, False))):
        failures.append("t5 buckets differ")

    # ---- attention ----
    for case in ("att_alibi", "att_t5", "att_chunk"):
        B, Tq, Tk, nH, nKV, hd, causal, qoff = L(case + "_meta").tolist()
        scale = float(L(case + "_scale")[0])
        q, k, v = L(case + "_q", True), L(case + "_k", True), L(case + "_v", True)
        rep = nH // nKV
        qh = q.permute(0, 2, 1, 3)
        kh = k.permute(0, 2, 1, 3).repeat_interleave(rep, dim=1)
        vh = v.permute(0, 2, 1, 3).repeat_interleave(rep, dim=1)
        s = (qh @ kh.transpose(-1, -2)) * scale
        if has(case + "_alibi"):
            s = s + L(case + "_alibi")[None, :, None, None] * L(case + "_kpos").float()[:, None, None, :]
        pb = L(case + "_pb", True) if has(case + "_pb") else None
        if pb is not None:
            s = s + pb[None]
        allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
        if causal:
            allowed &= (torch.arange(Tk)[None, :] <= qoff + torch.arange(Tq)[:, None])[None, None]
        if has(case + "_mask"):
            allowed &= L(case + "_mask").bool()[:, None, None, :]
        s = torch.where(allowed, s, torch.tensor(torch.finfo(torch.float32).min))
        p = torch.softmax(s, -1)
        out = (p @ vh).permute(0, 2, 1, 3)
        close(case + " probs", L(case + "_probs"), p)
        close(case + " out", L(case + "_out"), out)
        (out * L(case + "_dout")).sum().backward()
        close(case + " dq", L(case + "_dq"), q.grad)
        close(case + " dk", L(case + "_dk"), k.grad)
        close(case + " dv", L(case + "_dv"), v.grad)
        if pb is not None:
            close(case + " dpos_bias", L(case + "_dpb"), pb.grad)

    for f in failures:
        print("FAIL", f)
    print(f"ops/torch: {checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
