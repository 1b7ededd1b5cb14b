"""xgd score --backend classifier: a tiny random XLM-R classifier (as tests/model/test_xlmr_classifier.py
builds it, whose probabilities are checked against the PyTorch oracle there) scores a generation
file; every record carries the classifier's probability of the "toxic" label (equal to the library's
`model_test_xlmr --classify` output within 1e-5: batches differ, so f32 sums round differently), the backend name, the seed's layout, and
`xgd metrics toxicity` reads the file. A rerun resumes without rescoring."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import make_tiny  # noqa: E402

XGD = os.environ.get("XGD", os.path.join(ROOT, "build", "xgd"))
TMP = os.path.join(os.environ.get("XGD_TMP", "/tmp/xgd-test"), "score_classifier")
SYN = os.path.join(ROOT, "tests", "golden", "tokenizers", "synthetic")


def main():
    exe = os.path.join(os.path.dirname(XGD), "model_test_xlmr")
    if not (os.path.exists(XGD) and os.path.exists(exe) and os.path.isdir(SYN)):
        print("skip: xgd, model_test_xlmr or the golden tokenizers are missing")
        return 77
    shutil.rmtree(TMP, ignore_errors=True)
    model = os.path.join(TMP, "model")
    make_tiny.V = 300
    make_tiny.make("xlm-roberta", model, seed=9)
    cp = os.path.join(model, "config.json")
    cfg = json.load(open(cp))
    cfg.update(pad_token_id=0, bos_token_id=None, eos_token_id=1, id2label={"0": "neutral", "1": "insult", "2": "toxic"})
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    json.dump(cfg, open(cp, "w"), indent=2)
    shutil.copy(os.path.join(SYN, "unigram.tokenizer.json"), os.path.join(model, "tokenizer.json"))
    corpus = [l for l in open(os.path.join(SYN, "corpus.txt"), encoding="utf-8").read().split("\n") if l.strip()][:30]
    gen = os.path.join(TMP, "output-demo_en.json")
    with open(gen, "w") as f:
        for i, t in enumerate(corpus):
            f.write(json.dumps({"prompt": f"p{i // 5}", "generated_text": t}) + "\n")
    texts = os.path.join(TMP, "texts.txt")
    open(texts, "w", encoding="utf-8").write("".join(t + "\n" for t in corpus))
    ref = os.path.join(TMP, "ref.npy")
    subprocess.run([exe, "--classify", model, texts, ref], check=True, capture_output=True)
    want = np.load(ref)
    fails, checks = [], 0
    out_dir = os.path.join(TMP, "scores")
    r = subprocess.run([XGD, "-q", "score", "--backend", "classifier", "--model", model, "--datapath", gen, "--output_folder", out_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: score:", r.stderr)
        return 1
    out = os.path.join(out_dir, "perspective_api_eval-output-demo_en.json")
    recs = [json.loads(l) for l in open(out, encoding="utf-8")]
    checks += 1
    if len(recs) != len(corpus):
        fails.append(f"{len(recs)} records for {len(corpus)} lines")
    for i, rec in enumerate(recs):
        checks += 1
        p = rec["response"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        if list(rec) != ["query", "response", "prompt"] or rec["query"] != corpus[i] or abs(p - want[i]) > 1e-5 \
                or not rec["response"]["xgd_backend"].startswith("classifier/"):
            fails.append(f"record {i}: {rec} vs {want[i]}")
    before = open(out, "rb").read()
    subprocess.run([XGD, "-q", "score", "--backend", "classifier", "--model", model, "--datapath", gen, "--output_folder", out_dir],
                   check=True, capture_output=True)
    checks += 1
    if open(out, "rb").read() != before:
        fails.append("a rerun changed the complete file")
    m = subprocess.run([XGD, "metrics", "toxicity", "--perspective_outputs_folder", out_dir], capture_output=True, text=True)
    checks += 1
    if m.returncode != 0 or "en" not in m.stdout:
        fails.append(f"metrics toxicity could not read the file: {m.stderr}")
    for f in fails:
        print("FAIL:", f)
    print(f"score_classifier: {checks - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
