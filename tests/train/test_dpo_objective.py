"""DPO against an independent PyTorch implementation of TRL 0.8.6's formulas.

A batch of preference pairs (some whose prompt and answer merge tokens across the join, some
truncated keep_end, one whose answer is cut) goes through `dpo_dump` (the C code) and through this
file: TRL's tokenize_row re-implemented here from pipeline-spec §1.2 on ids from `xgd tokenize`,
the collator (right padding with pad = eos, labels -100), the reference and policy models run by the
PyTorch oracle (tests/oracle/hf_ref.py), get_batch_logps, the sigmoid (with label smoothing), hinge
and ipo losses, TRL's metrics, and the policy gradient by autograd.
Asserted: identical token ids and labels; log-probs and metrics within 1e-4; gradients within a
relative 1e-3 of the largest reference gradient of each parameter."""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402

XGD = os.environ.get("XGD", os.path.join(ROOT, "build", "xgd"))
DUMP = os.environ.get("XGD_DPO_DUMP", os.path.join(ROOT, "build", "dpo_dump"))
TMP = os.path.join(os.environ.get("XGD_TMP", "/tmp/xgd-test"), "train_dpo_objective")
MAX_LEN, MAX_PROMPT = 24, 8
PAIRS = [
    {"prompt": "I saw t", "chosen": "he cat in the sun", "rejected": "he damn idiot"},          # " t"+"he" merges
    {"prompt": "the weather is", "chosen": " fine", "rejected": " terrible and the rest"},
    {"prompt": "a long prompt with many words that will not fit in the prompt budget at all",
     "chosen": " ok", "rejected": " then it goes on and on and on and on and on and on and on"},  # both truncations
    {"prompt": "one", "chosen": "", "rejected": " two"},                                          # empty answer: only EOS
]


def tokenize(strings, tok_dir):
    src = os.path.join(TMP, "strings.jsonl")
    with open(src, "w") as f:
        for s in strings:
            f.write(json.dumps({"text": s}) + "\n")
    out = subprocess.run([XGD, "tokenize", "--tokenizer", tok_dir, "--jsonl", src], capture_output=True, text=True, check=True)
    return [json.loads(l) for l in out.stdout.splitlines()]


def trl_tokenize_row(p, bos, eos, ids_of):
    """pipeline-spec §1.2, written from the spec."""
    P = ids_of(p["prompt"])

    def answer(a):
        full = ids_of(p["prompt"] + a)
        start = len(P)
        assert len(P) <= len(full)
        if P != full[:start]:
            start -= 1
        return full[:start], full[start:]

    cp, ca = answer(p["chosen"])
    rp, ra = answer(p["rejected"])
    cp, rp = [bos] + cp, [bos] + rp
    ca, ra = ca + [eos], ra + [eos]
    R = max(len(ca), len(ra))
    if len(cp) + R > MAX_LEN:
        cp = cp[-MAX_PROMPT:]
    if len(rp) + R > MAX_LEN:
        rp = rp[-MAX_PROMPT:]
    if len(cp) + R > MAX_LEN:
        ca = ca[:MAX_LEN - MAX_PROMPT]
    if len(rp) + R > MAX_LEN:
        ra = ra[:MAX_LEN - MAX_PROMPT]
    return {"chosen_input_ids": cp + ca, "chosen_labels": [-100] * len(cp) + ca,
            "rejected_input_ids": rp + ra, "rejected_labels": [-100] * len(rp) + ra}


def batch_logps(m, rows, pad, ipo, grad):
    L = max(max(len(r["chosen_input_ids"]), len(r["rejected_input_ids"])) for r in rows)
    seqs = [(r["chosen_input_ids"], r["chosen_labels"]) for r in rows] + [(r["rejected_input_ids"], r["rejected_labels"]) for r in rows]
    ids = torch.tensor([s + [pad] * (L - len(s)) for s, _ in seqs])
    labels = torch.tensor([l + [-100] * (L - len(l)) for _, l in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (L - len(s)) for s, _ in seqs])
    logits = hf_ref.forward(m, ids, attention_mask=mask, grad=grad).logits.double()
    lab, lg = labels[:, 1:].clone(), logits[:, :-1]
    keep = lab != -100
    lab[~keep] = 0
    per = torch.gather(lg.log_softmax(-1), 2, lab[..., None])[..., 0]
    lp = (per * keep).sum(-1)
    if ipo:
        lp = lp / keep.sum(-1)
    B = len(rows)
    return lp[:B], lp[B:], logits[:B].mean().item(), logits[B:].mean().item()


def main():
    if not (os.path.exists(XGD) and os.path.exists(DUMP)):
        print("skip: xgd or dpo_dump not built")
        return 77
    os.makedirs(TMP, exist_ok=True)
    pol, ref = os.path.join(TMP, "policy"), os.path.join(TMP, "ref")
    V = int(subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/generate/make_tiny_tokenizer.py"), pol],
                           capture_output=True, text=True, check=True).stdout) if os.makedirs(pol, exist_ok=True) is None else 0
    cfg = {"vocab_size": V, "n_embd": 24, "n_layer": 2, "n_head": 3, "n_positions": 64, "initializer_range": 0.2,
           "bos_token_id": V - 1, "eos_token_id": V - 1}
    with open(os.path.join(TMP, "cfg.json"), "w") as f:
        json.dump(cfg, f)
    for d, seed in ((pol, "1"), (ref, "2")):
        subprocess.run([XGD, "-q", "init", "--family", "gpt2", "--config", os.path.join(TMP, "cfg.json"), "--out", d, "--seed", seed],
                       check=True, capture_output=True)
    with open(os.path.join(TMP, "pairs.jsonl"), "w") as f:
        for p in PAIRS:
            f.write(json.dumps(p) + "\n")
    strings = []
    for p in PAIRS:
        strings += [p["prompt"], p["prompt"] + p["chosen"], p["prompt"] + p["rejected"]]
    ids = dict(zip(strings, tokenize(strings, pol)))
    eos = bos = V - 1
    want_rows = [trl_tokenize_row(p, bos, eos, lambda s: ids[s]) for p in PAIRS]
    merged = sum(1 for p in PAIRS if ids[p["prompt"]] != ids[p["prompt"] + p["chosen"]][:len(ids[p["prompt"]])])
    fails, checks = [], 0
    if merged == 0:
        fails.append("no pair merges tokens across the prompt/answer join: the test lost its point")
    for loss_type, beta, smooth in (("sigmoid", 0.1, 0.1), ("hinge", 0.5, 0.0), ("ipo", 0.3, 0.0)):
        out = os.path.join(TMP, loss_type)
        r = subprocess.run([DUMP, pol, ref, os.path.join(TMP, "pairs.jsonl"), out, loss_type, str(beta), str(smooth),
                            str(MAX_LEN), str(MAX_PROMPT)], capture_output=True, text=True)
        if r.returncode != 0:
            fails.append(f"{loss_type}: dpo_dump failed: {r.stderr.strip()}")
            continue
        got = json.load(open(os.path.join(out, "batch.json")))
        for i, (g, w) in enumerate(zip(got["rows"], want_rows)):
            checks += 1
            for k in w:
                if g[k] != w[k]:
                    fails.append(f"{loss_type}: pair {i} {k}: {g[k]} != TRL {w[k]}")
        mp, mr = hf_ref.load(pol), hf_ref.load(ref)
        for t in mp.w.values():
            t.requires_grad_(True)
        ipo = loss_type == "ipo"
        rc, rr, _, _ = batch_logps(mr, want_rows, eos, ipo, False)
        pc, pr, lgc, lgr = batch_logps(mp, want_rows, eos, ipo, True)
        z = (pc - pr) - (rc - rr)
        if loss_type == "sigmoid":
            losses = -F.logsigmoid(beta * z) * (1 - smooth) - F.logsigmoid(-beta * z) * smooth
        elif loss_type == "hinge":
            losses = torch.relu(1 - beta * z)
        else:
            losses = (z - 1 / (2 * beta)) ** 2
        loss = losses.mean()
        loss.backward()
        rwc, rwr = beta * (pc - rc).detach(), beta * (pr - rr).detach()
        want_m = {"loss": loss.item(), "rewards/chosen": rwc.mean().item(), "rewards/rejected": rwr.mean().item(),
                  "rewards/accuracies": (rwc > rwr).double().mean().item(), "rewards/margins": (rwc - rwr).mean().item(),
                  "logps/chosen": pc.mean().item(), "logps/rejected": pr.mean().item(),
                  "logits/chosen": lgc, "logits/rejected": lgr}
        for k, v in want_m.items():
            checks += 1
            if not abs(got["metrics"][k] - v) <= 1e-4 * max(1.0, abs(v)):
                fails.append(f"{loss_type}: metric {k} {got['metrics'][k]} != {v}")
        for i, row in enumerate(got["rows"]):
            for key, t in (("policy_chosen_logps", pc), ("policy_rejected_logps", pr), ("reference_chosen_logps", rc),
                           ("reference_rejected_logps", rr)):
                checks += 1
                if not abs(row[key] - t[i].item()) <= 1e-4 * max(1.0, abs(t[i].item())):
                    fails.append(f"{loss_type}: pair {i} {key} {row[key]} != {t[i].item()}")
        for fn in sorted(os.listdir(os.path.join(out, "grad"))):
            key = fn[:-4][len("transformer."):] if fn.startswith("transformer.") else fn[:-4]
            want = mp.w[key].grad.numpy()
            gotg = np.load(os.path.join(out, "grad", fn))
            checks += 1
            err = float(np.max(np.abs(gotg - want)))
            tol = 1e-3 * max(1e-3, float(np.max(np.abs(want))))
            if not err <= tol:
                fails.append(f"{loss_type}: grad {fn[:-4]} max err {err:.3g} > {tol:.3g}")
        print(f"{loss_type}: loss {got['metrics']['loss']:.6f} (torch {want_m['loss']:.6f})")
    for f in fails:
        print("FAIL:", f)
    print(f"train_dpo_objective: {checks - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
