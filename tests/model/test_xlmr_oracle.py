"""The XLM-RoBERTa classifier against the independent PyTorch oracle (tests/oracle/hf_ref.py) on tiny
random checkpoints from tests/oracle/make_tiny.py (3 labels, eps 1e-5, 40 positions): f32; bf16;
and a multi-label variant (problem_type multi_label_classification -> sigmoid) whose id2label names
label 2 "Toxic". Inputs are 12 tokens, a batch right-padded with <pad>=1 (positions from ids != pad).

Writes the reference arrays (the golden fixtures' names) and runs the C test
`model_test_xlmr --ref DIR --model DIR`, which compares at 1e-4."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

ROOT, XGD = xt.ROOT, xt.XGD
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import hf_ref  # noqa: E402
import make_tiny  # noqa: E402

TMP = xt.tmpdir("xlmr_oracle", clean=False)


def write_refs(model_dir, ref_dir, multi):
    m = hf_ref.load(model_dir)
    rng = np.random.default_rng(5)
    os.makedirs(ref_dir, exist_ok=True)
    save = lambda name, a: np.save(os.path.join(ref_dir, name + ".npy"), np.ascontiguousarray(a))  # noqa: E731
    single = np.concatenate([[0], rng.integers(3, 96, 10), [2]])[None].astype(np.int64)
    batch = np.stack([np.concatenate([[0], rng.integers(3, 96, 10), [2]]),
                      np.concatenate([[0], rng.integers(3, 96, 6), [2], [1] * 4])]).astype(np.int64)
    mask = (batch != 1).astype(np.int64)
    save("single_ids", single)
    save("input_ids", batch)
    save("attention_mask", mask)
    for what, ids, am in (("single", single, None), ("batch", batch, mask)):
        o = hf_ref.forward(m, ids, attention_mask=am)
        probs = torch.sigmoid(o.logits) if multi else torch.softmax(o.logits, -1)
        save("logits_" + what, o.logits.numpy())
        save("probs_" + what, probs.numpy())
        save("hidden_" + what, torch.stack(o.hidden).numpy())


def main():
    exe = os.path.join(os.path.dirname(XGD), "model_test_xlmr")
    if not os.path.exists(exe):
        xt.skip(f"{exe} not built")
    for name, dtype, multi in (("xlmr", "float32", False), ("xlmr_bf16", "bfloat16", False), ("xlmr_multi", "float32", True)):
        model_dir, ref_dir = os.path.join(TMP, name, "model"), os.path.join(TMP, name, "ref")
        make_tiny.make("xlm-roberta", model_dir, dtype=dtype, seed=3)
        if multi:
            cp = os.path.join(model_dir, "config.json")
            with open(cp) as f:
                cfg = json.load(f)
            cfg["problem_type"] = "multi_label_classification"
            cfg["id2label"] = {"0": "neutral", "1": "insult", "2": "Toxic"}
            cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
            with open(cp, "w") as f:
                json.dump(cfg, f, indent=2)
        write_refs(model_dir, ref_dir, multi)
        r = subprocess.run([exe, "--ref", ref_dir, "--model", model_dir], capture_output=True, text=True)
        sys.stdout.write(f"{name}: {r.stdout}")
        sys.stderr.write(r.stderr)
        check(r.returncode == 0, f"{name}: model_test_xlmr exit {r.returncode}")
    return xt.summary("test_xlmr_oracle")


if __name__ == "__main__":
    sys.exit(main())
