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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

ROOT, XGD = xt.ROOT, xt.XGD
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import make_tiny  # noqa: E402

SYN = os.path.join(ROOT, "tests", "golden", "tokenizers", "synthetic")


def main():
    exe = os.path.join(os.path.dirname(XGD), "model_test_xlmr")
    if not (os.path.exists(XGD) and os.path.exists(exe) and os.path.isdir(SYN)):
        xt.skip("xgd, model_test_xlmr or the golden tokenizers are missing")
    TMP = xt.tmpdir("score_classifier")
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
    out_dir = os.path.join(TMP, "scores")
    r = subprocess.run([XGD, "-q", "score", "--backend", "classifier", "--model", model, "--datapath", gen, "--output_folder", out_dir],
                       capture_output=True, text=True)
    if not check(r.returncode == 0, f"score: {r.stderr}"):
        return xt.summary("score_classifier")
    out = os.path.join(out_dir, "perspective_api_eval-output-demo_en.json")
    recs = [json.loads(l) for l in open(out, encoding="utf-8")]
    check(len(recs) == len(corpus), f"{len(recs)} records for {len(corpus)} lines")
    for i, rec in enumerate(recs):
        p = rec["response"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        check(list(rec) == ["query", "response", "prompt"] and rec["query"] == corpus[i] and abs(p - want[i]) <= 1e-5
              and rec["response"]["xgd_backend"].startswith("classifier/"), f"record {i}: {rec} vs {want[i]}")
    before = open(out, "rb").read()
    subprocess.run([XGD, "-q", "score", "--backend", "classifier", "--model", model, "--datapath", gen, "--output_folder", out_dir],
                   check=True, capture_output=True)
    check(open(out, "rb").read() == before, "a rerun changed the complete file")
    m = subprocess.run([XGD, "metrics", "toxicity", "--perspective_outputs_folder", out_dir], capture_output=True, text=True)
    check(m.returncode == 0 and "en" in m.stdout, f"metrics toxicity could not read the file: {m.stderr}")
    return xt.summary("score_classifier")


if __name__ == "__main__":
    sys.exit(main())
