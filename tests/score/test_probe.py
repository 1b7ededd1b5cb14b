"""xgd score --backend probe: P(toxic) = sigmoid(w . mean-pooled last hidden state (after the final
norm)) of a tiny random GPT-2-family model, compared with the PyTorch oracle (tests/oracle/hf_ref.py)
on the same token ids (within 1e-5); the records have the seed's layout and name the probe; a probe
whose size does not match the model is refused."""
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

TMP = xt.tmpdir("score_probe", clean=False)


def run(*a, check=True):
    return subprocess.run([XGD, *a], capture_output=True, text=True, check=check)


def main():
    xt.need_xgd()
    model = os.path.join(TMP, "model")
    os.makedirs(model, exist_ok=True)
    V = int(subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/generate/make_tiny_tokenizer.py"), model],
                           capture_output=True, text=True, check=True).stdout)
    json.dump({"vocab_size": V, "n_embd": 24, "n_layer": 2, "n_head": 3, "n_positions": 64, "initializer_range": 0.3,
               "eos_token_id": V - 1, "bos_token_id": V - 1}, open(os.path.join(TMP, "cfg.json"), "w"))
    run("-q", "init", "--family", "gpt2", "--config", os.path.join(TMP, "cfg.json"), "--out", model, "--seed", "4")
    w = np.random.RandomState(0).normal(0, 0.5, 24).astype(np.float32)
    np.save(os.path.join(TMP, "probe.npy"), w)
    texts = ["the cat sat on the mat", "you stupid idiot", "a", "hello there, friend. how are you?", "ünïcödé ✓"]
    gen = os.path.join(TMP, "output-demo_en.json")
    with open(gen, "w") as f:
        for t in texts:
            f.write(json.dumps({"prompt": "p", "generated_text": t}) + "\n")
    out = os.path.join(TMP, "scores")
    r = run("-q", "score", "--backend", "probe", "--model", model, "--probe", os.path.join(TMP, "probe.npy"),
            "--datapath", gen, "--output_folder", out, "--overwrite", check=False)
    if not check(r.returncode == 0, r.stderr):
        return xt.summary("score_probe")
    recs = [json.loads(l) for l in open(os.path.join(out, "perspective_api_eval-output-demo_en.json"))]
    src = os.path.join(TMP, "texts.jsonl")
    open(src, "w").write("".join(json.dumps({"text": t}) + "\n" for t in texts))
    ids = [json.loads(l) for l in run("tokenize", "--tokenizer", model, "--jsonl", src, "--add-special-tokens").stdout.splitlines()]
    m = hf_ref.load(model)
    for i, (rec, t) in enumerate(zip(recs, texts)):
        hid = hf_ref.forward(m, torch.tensor([ids[i]])).hidden[-1][0]      # (T, H), after the final norm
        p = float(torch.sigmoid((hid.mean(0).double() * torch.tensor(w, dtype=torch.float64)).sum()))
        got = rec["response"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        check(abs(got - p) <= 1e-5 and rec["query"] == t and rec["response"]["xgd_backend"].startswith("probe/"),
              f"text {i}: {got} vs oracle {p}")
    np.save(os.path.join(TMP, "bad.npy"), np.zeros(7, np.float32))
    r = run("-q", "score", "--backend", "probe", "--model", model, "--probe", os.path.join(TMP, "bad.npy"),
            "--datapath", gen, "--output_folder", os.path.join(TMP, "s2"), check=False)
    check(r.returncode != 0 and "hidden size" in r.stderr, f"a wrong-sized probe was not refused: {r.stderr}")
    return xt.summary("score_probe")


if __name__ == "__main__":
    sys.exit(main())
