"""The offline toxicity classifier (src/eval/classifier.h) against the PyTorch oracle: a tiny random
XLM-R classifier (tests/oracle/make_tiny.py, vocabulary 300, 40 positions, pad 0, 3 labels with
label 2 named "toxic") with the synthetic Unigram tokenizer.json of tests/golden/tokenizers/synthetic
beside it. The 40 corpus lines are scored by the engine in batches of 16 (right padding within a
batch); the reference runs the oracle on each line alone, on the ids transformers' T5TokenizerFast
gave (tests/golden fixtures, `ids_sp`, with </s>), truncated as transformers truncates to the
model's 39 usable positions. Probabilities (softmax, label "toxic") agree within 1e-5."""
import json
import os
import shutil
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

TMP = xt.tmpdir("xlmr_classifier", clean=False)
SYN = os.path.join(ROOT, "tests", "golden", "tokenizers", "synthetic")


def main():
    exe = os.path.join(os.path.dirname(XGD), "model_test_xlmr")
    if not os.path.exists(exe):
        xt.skip(f"{exe} not built")
    model = os.path.join(TMP, "model")
    make_tiny.V = 300   # the tokenizer's vocabulary
    make_tiny.make("xlm-roberta", model, seed=9)
    cp = os.path.join(model, "config.json")
    with open(cp) as f:
        cfg = json.load(f)
    # the synthetic Unigram model: pad 0, </s> 1, unk 2 (positions then start at 1)
    cfg.update(pad_token_id=0, bos_token_id=None, eos_token_id=1,
               id2label={"0": "neutral", "1": "insult", "2": "toxic"})
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    with open(cp, "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(os.path.join(SYN, "unigram.tokenizer.json"), os.path.join(model, "tokenizer.json"))

    with open(os.path.join(SYN, "corpus.txt"), encoding="utf-8") as f:
        corpus = f.read().split("\n")
    recs = json.load(open(os.path.join(SYN, "unigram.results.json")))["corpus_lines"]
    texts = [corpus[r["line"]] for r in recs]
    texts_path = os.path.join(TMP, "texts.txt")
    with open(texts_path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    out = os.path.join(TMP, "probs.npy")
    r = subprocess.run([exe, "--classify", model, texts_path, out], capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if not check(r.returncode == 0, f"model_test_xlmr --classify exit {r.returncode}"):
        return xt.summary("test_xlmr_classifier")
    got = np.load(out)

    m = hf_ref.load(model)
    max_len = 40 - 0 - 1
    want, truncated = [], 0
    for rec in recs:
        ids = rec["ids_sp"]
        if len(ids) > max_len:   # keep room for </s>, as the tokenizer's truncation does
            ids, truncated = ids[:max_len - 1] + [1], truncated + 1
        logits = hf_ref.forward(m, np.array([ids])).logits
        want.append(torch.softmax(logits, -1)[0, 2].item())
    want = np.array(want)
    d = np.abs(got - want).max()
    print(f"{len(recs)} texts ({truncated} truncated), max |diff| {d:.2e}")
    check(len(got) == len(recs), f"{len(got)} probabilities for {len(recs)} texts")
    check(d <= 1e-5, f"max |diff| {d:.2e} to the oracle > 1e-5")
    check("label toxic" in r.stdout, "the classifier does not name the label 'toxic'")
    check(truncated > 0, "no text was long enough to be truncated")
    return xt.summary("test_xlmr_classifier")


if __name__ == "__main__":
    sys.exit(main())
