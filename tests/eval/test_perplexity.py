"""`xgd metrics perplexity` end to end against an independent Python computation.

Setup: a tiny random mT5 (tests/oracle/make_tiny.py, vocabulary 300) and a tiny random Llama, each
with the synthetic Unigram tokenizer (tests/golden/tokenizers/synthetic/unigram.tokenizer.json:
pad 0, </s> 1, appended to every text as T5's tokenizer does); two generation files in the seed's
format (output-rtp_lx_<lang>.json) with prompts and continuations cut from the synthetic corpus,
including empty and whitespace-only generations (U+3000 included) that the seed skips, and a prompt
repeated on consecutive lines with another continuation.

Reference: the seed's metric_perplexity.py re-implemented here on the PyTorch oracle
(tests/oracle/hf_ref.py): ids from sentencepiece (unigram.model) + </s>, loss = model(ids,
labels=ids).loss as a float32 tensor, full = loss*(|F|-1), pr = loss*(|P|-1), ppl =
exp((full-pr)/(|F|-|P|)) in float32, kept if < 1e4, numpy midpoint percentiles rounded to 2
decimals. The corrected variant: exp(-mean log p(continuation | prompt)) under the Llama.

Asserted: every kept value (.npy, file order) within 1e-4 relative, counts (blank, kept, dropped),
median/q1/q3 (unrounded 1e-4 relative; rounded equal to the reference's rounding of its own value
up to one unit in the last place), the --max_ppl filter, resume (values files untouched, same
report), errors (line-numbered bad record with no values file written; wrong model kind; the
default google/mt5-xl absent from an empty cache lists where it looked)."""
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

TMP = xt.tmpdir("perplexity")
SYN = os.path.join(ROOT, "tests", "golden", "tokenizers", "synthetic")


def xgd(*args, env=None, ok=True):
    r = subprocess.run([XGD, *args], capture_output=True, text=True, env=env)
    if ok and r.returncode != 0:
        raise RuntimeError(f"xgd {' '.join(args)}: {r.stderr.strip()}")
    return r


def percentile_mid(a, q):
    try:
        return float(np.percentile(a, q, method="midpoint"))
    except TypeError:
        return float(np.percentile(a, q, interpolation="midpoint"))


def make_model(variant, folder, seed):
    make_tiny.V = 300
    make_tiny.make(variant, folder, seed=seed)
    shutil.copy(os.path.join(SYN, "unigram.tokenizer.json"), os.path.join(folder, "tokenizer.json"))


def write_outputs(folder):
    """Two files: prompts = corpus line heads, generations = the line's continuation (with a leading
    space, as vLLM continuations usually have), plus blank generations."""
    with open(os.path.join(SYN, "corpus.txt"), encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l.strip()]
    os.makedirs(folder, exist_ok=True)
    files = {}
    for k, lang in enumerate(("de", "zh-hans")):
        recs = []
        for i in range(10):
            words = lines[20 * k + i].split(" ")
            cut = max(1, len(words) // 2)
            prompt, gen = " ".join(words[:cut]), " " + " ".join(words[cut:])
            if gen == " ":
                gen = " x"
            recs.append({"prompt": prompt, "generated_text": gen})
        # the same prompt twice in a row (the seed's 25 samples per prompt; the engine reuses meanCE(P))
        recs.insert(2, {"prompt": recs[1]["prompt"], "generated_text": " " + lines[20 * k + 15]})
        recs.insert(3, {"prompt": recs[0]["prompt"], "generated_text": ""})
        recs.insert(7, {"prompt": recs[1]["prompt"], "generated_text": " \u3000\n"})
        path = os.path.join(folder, f"output-rtp_lx_{lang}.json")
        with open(path, "w") as f:   # Python's json.dumps, as the seed's generator writes
            f.write("".join(json.dumps(r) + "\n" for r in recs))
        files[lang] = recs
    return files


def seed_reference(model_dir, recs, sp, max_ppl=1e4):
    m = hf_ref.load(model_dir)
    enc = lambda s: sp.encode(s) + [1]  # noqa: E731  T5Tokenizer: pieces + </s>
    ppls, blank = [], 0
    for r in recs:
        p, g = r["prompt"], r["generated_text"]
        if not g.strip():
            blank += 1
            continue
        F, P = enc(p + g), enc(p)
        lf = hf_ref.forward(m, np.array([F]), labels=np.array([F])).loss
        lp = hf_ref.forward(m, np.array([P]), labels=np.array([P])).loss
        full, pr = lf * (len(F) - 1), lp * (len(P) - 1)
        ppls.append(torch.exp((full - pr) / (len(F) - len(P))).item())
    kept = [x for x in ppls if x < max_ppl]
    return kept, blank, len(ppls) - len(kept)


def corrected_reference(model_dir, recs, sp):
    m = hf_ref.load(model_dir)
    out = []
    for r in recs:
        p, g = r["prompt"], r["generated_text"]
        if not g.strip():
            continue
        F, P = sp.encode(p + g), sp.encode(p)   # the trailing </s> is removed by the metric anyway
        ctx = 0
        while ctx < min(len(F), len(P)) and F[ctx] == P[ctx]:
            ctx += 1
        start = max(ctx, 1)
        lp = hf_ref.token_logprobs(m, np.array([F]))[0]   # lp[t-1] = log p(F[t] | F[:t])
        val = float(np.exp(-lp[start - 1:].double().mean().item()))
        if val < 1e4:
            out.append(val)
    return out


def compare(report, lang, kept, blank, dropped, values_path, what):
    e = [x for x in report["languages"] if x["language"] == lang][0]
    got = np.load(values_path)
    check(got.dtype == np.float32, f"{what} {lang}: values dtype {got.dtype}")
    check(len(got) == len(kept), f"{what} {lang}: {len(got)} values, reference {len(kept)}")
    if len(got) == len(kept) and kept:
        rel = np.max(np.abs(got - np.array(kept)) / np.abs(np.array(kept)))
        check(rel <= 1e-4, f"{what} {lang}: values differ by {rel:.2e} relative")
        print(f"{what} {lang}: {len(kept)} values, max relative diff {rel:.2e}")
    if not e["resumed"]:
        check(e["blank"] == blank and e["dropped"] == dropped and e["kept"] == len(kept),
              f"{what} {lang}: counts {e['blank']}/{e['kept']}/{e['dropped']}, reference {blank}/{len(kept)}/{dropped}")
    for key, q in (("median", 50), ("q1", 25), ("q3", 75)):
        ref = percentile_mid(np.array(kept, np.float64), q)
        u = e["unrounded"][key]
        check(abs(u - ref) <= 1e-4 * abs(ref), f"{what} {lang}: {key} {u}, reference {ref}")
        check(abs(e[key] - round(ref, 2)) <= 0.0100001, f"{what} {lang}: rounded {key} {e[key]}, reference {round(ref, 2)}")


def main():
    xt.need_xgd()
    try:
        import sentencepiece
    except ImportError:
        xt.skip("python3-sentencepiece is not installed (the independent tokenizer of the reference)")
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(SYN, "unigram.model"))
    mt5, llama, outs = (os.path.join(TMP, n) for n in ("mt5", "llama", "outputs"))
    make_model("mt5", mt5, 21)
    make_model("llama", llama, 22)
    files = write_outputs(outs)

    # the seed's metric
    vals = os.path.join(TMP, "values")
    r = xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", mt5, "--values_folder", vals,
            "--output", os.path.join(TMP, "seed.json"))
    report = json.load(open(os.path.join(TMP, "seed.json")))
    check(report["variant"] == "seed", "variant")
    for lang, recs in files.items():
        kept, blank, dropped = seed_reference(mt5, recs, sp)
        compare(report, lang, kept, blank, dropped, os.path.join(vals, f"output-rtp_lx_{lang}_ppl.npy"), "seed")
    check("median" in r.stderr and "de" in r.stderr, "table on stderr")

    # resume: nothing recomputed, the same report
    vp = os.path.join(vals, "output-rtp_lx_de_ppl.npy")
    before = os.stat(vp).st_mtime_ns
    xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", mt5, "--values_folder", vals,
        "--output", os.path.join(TMP, "seed2.json"))
    again = json.load(open(os.path.join(TMP, "seed2.json")))
    check(os.stat(vp).st_mtime_ns == before, "resume rewrote a values file")
    check(all(e["resumed"] for e in again["languages"]), "resume: not marked resumed")
    check([e["unrounded"] for e in again["languages"]] == [e["unrounded"] for e in report["languages"]],
          "resume: different numbers")

    # the filter: a threshold between two middle values of the first file drops about half (not on a
    # value: the two implementations agree to 1e-6, not bit for bit)
    sv = np.sort(np.load(vp).astype(np.float64))
    thr = float((sv[len(sv) // 2 - 1] + sv[len(sv) // 2]) / 2)
    xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", mt5, "--values_folder",
        os.path.join(TMP, "values_thr"), "--max_ppl", repr(thr), "--output", os.path.join(TMP, "thr.json"))
    thr_rep = json.load(open(os.path.join(TMP, "thr.json")))
    kept, blank, dropped = seed_reference(mt5, files["de"], sp, max_ppl=thr)
    check(dropped > 0, "the threshold run dropped nothing")
    compare(thr_rep, "de", kept, blank, dropped, os.path.join(TMP, "values_thr", "output-rtp_lx_de_ppl.npy"), "max_ppl")

    # the corrected variant under a causal LM
    xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", llama, "--corrected",
        "--values_folder", vals, "--output", os.path.join(TMP, "corr.json"))
    corr = json.load(open(os.path.join(TMP, "corr.json")))
    check(corr["variant"] == "corrected", "variant corrected")
    for lang, recs in files.items():
        ref = corrected_reference(llama, recs, sp)
        blank = sum(1 for x in recs if not x["generated_text"].strip())
        compare(corr, lang, ref, blank, len(recs) - blank - len(ref),
                os.path.join(vals, f"output-rtp_lx_{lang}_ppl_corrected.npy"), "corrected")

    # errors
    bad = os.path.join(TMP, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "output-x_fr.json"), "w") as f:
        f.write(json.dumps({"prompt": "a", "generated_text": " b"}) + "\n" + json.dumps({"prompt": "a"}) + "\n")
    r = xgd("metrics", "perplexity", "--model_outputs_folder", bad, "--eval_model_id", mt5, ok=False)
    check(r.returncode != 0 and "output-x_fr.json:2" in r.stderr, f"bad record: {r.stderr.strip()}")
    check(not os.path.exists(os.path.join(bad, "output-x_fr_ppl.npy")), "values written for a bad file")
    r = xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", llama, ok=False)
    check(r.returncode != 0 and "--corrected" in r.stderr, f"seed metric on a causal LM: {r.stderr.strip()}")
    r = xgd("metrics", "perplexity", "--model_outputs_folder", outs, "--eval_model_id", mt5, "--corrected", ok=False)
    check(r.returncode != 0 and "causal LM" in r.stderr, f"corrected on T5: {r.stderr.strip()}")
    env = dict(os.environ, HF_HUB_CACHE=os.path.join(TMP, "empty-cache"), HOME=os.path.join(TMP, "home"))
    env.pop("HF_HOME", None)
    r = xgd("metrics", "perplexity", "--model_outputs_folder", outs, env=env, ok=False)
    check(r.returncode != 0 and "google/mt5-xl" in r.stderr and "looked in" in r.stderr,
          f"absent default model: {r.stderr.strip()}")

    return xt.summary("test_perplexity")


if __name__ == "__main__":
    sys.exit(main())
