"""Training-graph gradients against PyTorch autograd through the independent reference
(tests/oracle/hf_ref.py), on tiny random checkpoints of every family written by `xgd init`.

Loss = sum_t w_t * log p(x_{t+1} | x_<=t) with fixed distinct weights w; one sequence, and a batch
of two with the second left-padded. Each case runs twice: with the training graph's default
activation budget (the tiny models' intermediates and logits are kept from the forward pass) and
with XGD_TRAIN_ACT_MB=0 (backward recomputes every block and the head, in 3-row chunks). Asserted: log-probs within 1e-4 absolute, and for every
parameter max|g_xgd - g_torch| <= 1e-3 * max(1, max|g_torch|) (relative error 1e-3)."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402

XGD = os.environ.get("XGD", os.path.join(ROOT, "build", "xgd"))
DUMP = os.environ.get("XGD_GRAD_DUMP", os.path.join(ROOT, "build", "grad_dump"))
TMP = os.path.join(os.environ.get("XGD_TMP", "/tmp/xgd-test"), "train_grad")
PREFIX = {"gpt2": "transformer.", "bloom": "transformer.", "llama": "model.", "cohere": "model."}

CONFIGS = {
    "gpt2": ("gpt2", {"vocab_size": 61, "n_embd": 24, "n_layer": 2, "n_head": 3, "n_positions": 32, "initializer_range": 0.3}),
    "bloom6": ("bloom", {"vocab_size": 61, "hidden_size": 24, "n_layer": 2, "n_head": 6, "initializer_range": 0.3}),
    "bloom-postln": ("bloom", {"vocab_size": 61, "hidden_size": 16, "n_layer": 2, "n_head": 2, "initializer_range": 0.3,
                               "apply_residual_connection_post_layernorm": True}),
    "llama31": ("llama", {"vocab_size": 61, "hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
                          "num_attention_heads": 6, "num_key_value_heads": 2, "attention_bias": True, "mlp_bias": True,
                          "max_position_embeddings": 64, "initializer_range": 0.3, "rope_scaling": {"rope_type": "llama3",
                          "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 4}}),
    "cohere-qknorm": ("cohere", {"vocab_size": 61, "hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
                                 "num_attention_heads": 6, "num_key_value_heads": 3, "logit_scale": 0.5, "use_qk_norm": True,
                                 "initializer_range": 0.3}),
}
SEQ = [5, 17, 3, 44, 0, 42, 8, 8, 29]
SEQ2 = [0, 0, 7, 19, 23, 60, 1, 12, 4]
MASK2 = [0, 0, 1, 1, 1, 1, 1, 1, 1]


def weights(B, T):
    return torch.tensor([[0.5 + 0.25 * ((b * T + t) % 5) for t in range(T)] for b in range(B)])


def reference(mdir, batch):
    m = hf_ref.load(mdir)
    for t in m.w.values():
        t.requires_grad_(True)
    ids = torch.tensor(batch[0])
    mask = torch.tensor(batch[1])
    out = hf_ref.forward(m, ids, attention_mask=mask, positions="cumsum", grad=True)
    logp_all = torch.log_softmax(out.logits.double(), -1)
    B, T = ids.shape
    tgt_ok = torch.zeros(B, T, dtype=torch.bool)
    tgt_ok[:, :-1] = mask[:, :-1].bool()
    tgt = torch.where(tgt_ok, torch.cat([ids[:, 1:], torch.zeros(B, 1, dtype=torch.long)], 1), torch.zeros_like(ids))
    lp = logp_all.gather(-1, tgt[..., None])[..., 0] * tgt_ok
    (lp * weights(B, T)).sum().backward()
    grads = {}
    for name, t in m.w.items():
        if t.grad is not None and name not in grads:
            grads[name] = t.grad.numpy()
    return lp.detach().float().numpy(), grads, m


def main():
    if not (os.path.exists(XGD) and os.path.exists(DUMP)):
        print("skip: xgd or grad_dump not built")
        return 77
    fails, checks = [], 0
    for name, (family, cfg) in CONFIGS.items():
        d = os.path.join(TMP, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "in.json"), "w") as f:
            json.dump(cfg, f)
        mdir = os.path.join(d, "model")
        subprocess.run([XGD, "-q", "init", "--family", family, "--config", os.path.join(d, "in.json"), "--out", mdir,
                        "--seed", "5"], check=True, capture_output=True)
        for case, batch, env in ((c, b, e) for c, b in (("single", ([SEQ], [[1] * len(SEQ)])),
                                                         ("padded", ([SEQ, SEQ2], [[1] * len(SEQ), MASK2])))
                                 for e in ({}, {"XGD_TRAIN_ACT_MB": "0", "XGD_TRAIN_HEAD_ROWS": "3"})):
            if env:
                case += "-recompute"
            out = os.path.join(d, case)
            args = [DUMP, mdir, out, ",".join(map(str, batch[0][0]))]
            if len(batch[0]) > 1:
                args += [",".join(map(str, batch[0][1])), ",".join(map(str, batch[1][1]))]
            r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **env))
            if r.returncode != 0:
                fails.append(f"{name}/{case}: grad_dump failed: {r.stderr.strip()}")
                continue
            lp_ref, g_ref, m = reference(mdir, batch)
            lp = np.load(os.path.join(out, "logp.npy"))
            checks += 1
            dl = float(np.max(np.abs(lp - lp_ref)))
            if not dl <= 1e-4:
                fails.append(f"{name}/{case}: log-probs differ by {dl:.3g}")
            pre = PREFIX[family]
            seen = 0
            for fn in sorted(os.listdir(os.path.join(out, "grad"))):
                pname = fn[:-4]
                key = pname[len(pre):] if pname.startswith(pre) else pname
                if key not in g_ref:
                    fails.append(f"{name}/{case}: no reference gradient for {pname}")
                    continue
                got, want = np.load(os.path.join(out, "grad", fn)), g_ref[key]
                checks += 1
                seen += 1
                if got.shape != want.shape:
                    fails.append(f"{name}/{case}: {pname} shape {got.shape} vs {want.shape}")
                    continue
                tol = 1e-3 * max(1.0, float(np.max(np.abs(want))))
                err = float(np.max(np.abs(got - want)))
                if not err <= tol:
                    fails.append(f"{name}/{case}: grad {pname} max abs err {err:.3g} > {tol:.3g}")
            if seen < len(set(id(t) for t in m.w.values())) - 1:
                fails.append(f"{name}/{case}: only {seen} gradients written")
            print(f"{name}/{case}: {seen} parameter gradients compared, logp diff {dl:.2e}")
    for f in fails:
        print("FAIL:", f)
    print(f"train_grad: {checks - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
