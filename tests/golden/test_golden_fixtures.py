"""Self-consistency of the golden fixtures (numpy only; no engine involved).

The fixtures were produced once by the real transformers / peft / tokenizers (tools/golden). These
checks catch a corrupted or half-updated fixture, and they pin down the conventions the engine tests
rely on, each against the upstream outputs:
- causal-LM loss = mean CE of logits[t] against ids[t+1] over non-ignored targets (hf-spec 2.0);
  mT5 loss = mean CE of logits[t] against labels[t], no shift (2.e);
- the batch forward used generate()'s left-padding positions: its last-position logits equal the
  first generate step's logits; greedy tokens are the argmax of the recorded step logits;
- bf16 checkpoints hold exactly the round-to-nearest-even of the f32 weights; shards = one file;
- PEFT merge: W + s*B@A (Linear), W + s*(B@A)^T (Conv1D, Embedding), tied embeddings get every delta;
- tokenizer records are complete, offsets in range, decodes reconstruct (RTP-LX text from ../shared).
Tolerances: f32 math re-done in float64 here, 2e-5 relative (losses) / 1e-4 absolute (logits).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
import golden  # noqa: E402
from safetensors_np import f32_to_bf16_bits  # noqa: E402  (path set by golden)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402


def ce(logits, target):
    """Cross-entropy of one row in float64."""
    z = logits.astype(np.float64)
    m = z.max()
    return m + np.log(np.exp(z - m).sum()) - z[target]


def close(a, b, rtol=2e-5, atol=0.0):
    return abs(float(a) - float(b)) <= atol + rtol * abs(float(b))


def check_manifest():
    m = golden.manifest()
    for k in ("torch", "transformers", "peft", "tokenizers", "sentencepiece"):
        check(k in m["versions"], f"manifest versions has {k}")
    check(not m["errors"], f"manifest records no errors ({m['errors'][:1]})")
    n = 0
    for name, fx in m["fixtures"].items():
        for rel, size in fx.get("files", {}).items():
            p = golden.path(rel)
            ok = os.path.isfile(p) and os.path.getsize(p) == size
            n += 1
            if not ok:
                check(False, f"{name}: {rel} exists with {size} bytes")
    check(n > 100, f"manifest lists the fixture files ({n})")


def check_ref_arrays():
    for name in golden.ref_names():
        r = golden.ref(name)
        for a, info in r["meta"]["arrays"].items():
            check(a in r and list(r[a].shape) == info["shape"] and str(r[a].dtype) == info["dtype"],
                  f"ref/{name}/{a}.npy matches meta {info['shape']} {info['dtype']}")
        for key in ("reload_maxdiff", "adapter_reload_maxdiff", "merged_reload_maxdiff"):
            if key in r["meta"]:
                check(r["meta"][key] == 0.0, f"ref/{name}: {key} == 0 (file round trip in transformers)")


def check_decoder(name):
    r = golden.ref(name)
    ids, lg = r["single_ids"][0], r["logits_single"][0]
    loss = np.mean([ce(lg[t], ids[t + 1]) for t in range(len(ids) - 1)])
    check(close(loss, r["loss_single"]), f"{name}: loss_single = mean CE(logits[t], ids[t+1])")
    bi, bm, bl = r["input_ids"], r["attention_mask"], r["logits_batch"]
    terms = [ce(bl[b, t], bi[b, t + 1]) for b in range(2) for t in range(bi.shape[1] - 1) if bm[b, t + 1]]
    check(close(np.mean(terms), r["loss_batch"]), f"{name}: loss_batch = mean over unmasked targets")
    L = r["hidden_single"].shape[0]
    check(L == 3 and r["hidden_batch"].shape[:3] == (3, 2, 7), f"{name}: 2 layers -> 3 hidden states")
    check(np.abs(r["gen_single_logits"][0, 0] - lg[-1]).max() < 1e-4,
          f"{name}: first generate step logits = last prefill logits (single)")
    check(np.abs(r["gen_batch_logits"][0] - bl[:, -1]).max() < 1e-4,
          f"{name}: first generate step logits = batch forward with the recorded position_ids")
    for key, lkey, T in (("gen_single", "gen_single_logits", 7), ("gen_batch", "gen_batch_logits", 7)):
        seq, steps = r[key], r[lkey]
        for b in range(seq.shape[0]):
            for k in range(steps.shape[0]):
                tok = seq[b, T + k]
                if k > 0 and seq[b, T + k - 1] == 2:       # finished at eos: padding follows
                    break
                check(tok == int(np.argmax(steps[k, b])), f"{name}: {key}[{b}] step {k} is the argmax")


def check_bf16_pairs():
    for fam in ("gpt2", "bloom", "llama", "llama31", "cohere", "mt5", "xlmr"):
        w32, _ = golden.weights(fam)
        w16, dt = golden.weights(fam + "_bf16", raw_bf16=True)
        check(set(w32) == set(w16), f"{fam}_bf16 has the same tensors as {fam}")
        for k, bits in w16.items():
            if dt[k] != "BF16":
                check(False, f"{fam}_bf16/{k} is BF16 (got {dt[k]})")
                continue
            if not np.array_equal(bits, f32_to_bf16_bits(w32[k])):
                check(False, f"{fam}_bf16/{k} = bf16(round-nearest-even of f32)")
        check(True, f"{fam}_bf16 tensors are the rounded f32 weights")


def check_sharded():
    a, _ = golden.weights("llama")
    b, _ = golden.weights("llama_sharded")
    check(set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a), "llama_sharded = llama")
    check(len([f for f in os.listdir(golden.model_dir("llama_sharded")) if f.endswith(".safetensors")]) > 1,
          "llama_sharded has several shards")


def check_mt5(name):
    r = golden.ref(name)
    lab, lg = r["labels"][0], r["logits"][0]
    check(close(np.mean([ce(lg[t], lab[t]) for t in range(len(lab))]), r["loss"]),
          f"{name}: loss = mean CE(logits[t], labels[t]) (no shift)")
    enc, lp = r["enc_ids"][0], r["logits_ppl"][0]
    check(close(np.mean([ce(lp[t], enc[t]) for t in range(len(enc))]), r["loss_ppl"]),
          f"{name}: loss_ppl with labels = input_ids")
    l2, lb = r["labels_batch"], r["logits_batch"]
    terms = [ce(lb[b, t], l2[b, t]) for b in range(2) for t in range(l2.shape[1]) if l2[b, t] != -100]
    check(close(np.mean(terms), r["loss_batch"]), f"{name}: loss_batch ignores -100")
    check(r["meta"]["decoder_output_scale_measured"] == 1.0, f"{name}: no d_model^-0.5 output scaling")
    g, gl = r["gen"][0], r["gen_logits"]
    check(g[0] == 0 and g[1] == int(np.argmax(gl[0, 0])), f"{name}: generate starts at 0, then the argmax")


def check_xlmr(name):
    r = golden.ref(name)
    for part in ("batch", "single"):
        z = r["logits_" + part].astype(np.float64)
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        check(np.abs(p - r["probs_" + part]).max() < 1e-6, f"{name}: probs_{part} = softmax(logits)")


def check_lora(fam):
    cfg, ad = golden.adapter(fam)
    s = cfg["lora_alpha"] / cfg["r"]
    check(cfg["r"] == 4 and cfg["lora_alpha"] == 8 and cfg["peft_type"] == "LORA", f"lora/{fam}: r=4 alpha=8")
    conv1d = fam == "gpt2"
    check(cfg["fan_in_fan_out"] == conv1d, f"lora/{fam}: fan_in_fan_out is {conv1d} (PEFT forces it for Conv1D)")
    base, _ = golden.weights(fam)
    merged, _ = golden.weights(f"lora/{fam}/merged")
    tied = golden.config(fam).get("tie_word_embeddings", True) and "lm_head.weight" not in base
    emb = {"llama": "model.embed_tokens.weight", "cohere": "model.embed_tokens.weight",
           "bloom": "transformer.word_embeddings.weight", "gpt2": "transformer.wte.weight"}[fam]
    expect = {}
    pre = "base_model.model."
    for k, a in ad.items():
        if k.endswith("lora_A.weight"):
            path = k[len(pre):-len(".lora_A.weight")]
            b = ad[k.replace("lora_A", "lora_B")]
            delta = s * (b.astype(np.float64) @ a.astype(np.float64))        # (out, in)
            if conv1d:
                delta = delta.T                                               # Conv1D stores (in, out)
        elif k.endswith("lora_embedding_A"):
            path = k[len(pre):-len(".lora_embedding_A")]
            b = ad[k.replace("lora_embedding_A", "lora_embedding_B")]
            delta = s * (b.astype(np.float64) @ a.astype(np.float64)).T      # (V, H)
        else:
            continue
        wname = path + ".weight"
        if wname == "lm_head.weight" and tied:
            wname = emb                                                       # one shared matrix
        expect[wname] = expect.get(wname, base[wname].astype(np.float64)) + delta
    check(len(expect) > 3, f"lora/{fam}: adapter has LoRA pairs ({len(expect)} weights)")
    for wname, w in expect.items():
        check(np.abs(merged[wname] - w).max() < 1e-5, f"lora/{fam}: merged {wname} = base + deltas")
    untouched = [k for k in base if k not in expect]
    check(all(np.array_equal(base[k], merged[k]) for k in untouched), f"lora/{fam}: other weights unchanged")


def check_tokenizer(name, n_adv, n_rtp):
    fx = golden.tokenizer(name)
    check(len(fx["adversarial"]) == n_adv and len(fx["rtp"]) == n_rtp, f"{name}: {n_adv}+{n_rtp} records")
    texts = 0
    for text, r in golden.tok_cases(name):
        if "error" in r:
            check(False, f"{name}: {r} has no error")
            continue
        if name == "llama2":
            check(r["ids_sp"] == [1] + r["ids"], f"{name}: add_special_tokens adds <s>=1 ({r.get('i', r.get('line'))})")
        elif name in ("gpt2", "llama3"):
            check(r["ids_sp"] == r["ids"], f"{name}: add_special_tokens adds nothing")
        if "offsets" in r:
            check(len(r["offsets"]) == 2 * len(r["ids"]), f"{name}: one offset pair per id")
        if text is None or "offsets" not in r:
            continue
        texts += 1
        ok = all(0 <= a <= b <= len(text) for a, b in golden.pairs(r["offsets"]))
        if not ok:
            check(False, f"{name}: offsets within the text for {r.get('file', '')}:{r.get('i', r.get('line'))}")
        if name in ("gpt2", "llama3") and r["dec"] != text:
            check(False, f"{name}: byte-level decode is lossless ({r.get('file', '')}:{r.get('i', r.get('line'))})")
    check(True, f"{name}: {texts} texts checked for offsets/decodes")
    return texts


def main():
    check_manifest()
    check_ref_arrays()
    for fam in ("gpt2", "bloom", "llama", "llama31", "cohere"):
        check_decoder(fam)
        check_decoder(fam + "_bf16")
    check_bf16_pairs()
    check_sharded()
    check_mt5("mt5")
    check_mt5("mt5_bf16")
    check_xlmr("xlmr")
    check_xlmr("xlmr_bf16")
    for fam in ("llama", "cohere", "bloom", "gpt2"):
        check_lora(fam)
    n_adv = len(golden.adversarial_texts())
    rtp_checked = 0
    for name in ("gpt2", "llama2", "llama3", "llama2_tf5"):
        rtp_checked += check_tokenizer(name, n_adv, 420)
    for name in ("synthetic/unigram", "synthetic/unigram.tf4", "synthetic/bpe", "synthetic/bpe.tf4",
                 "synthetic/wordpiece"):
        fx = golden.tokenizer(name)
        check(len(fx["adversarial"]) == n_adv and len(fx["corpus_lines"]) == 40, f"{name}: {n_adv}+40 records")
        for text, r in golden.tok_cases(name):
            check("error" not in r and len(r["offsets"]) == 2 * len(r["ids"]), f"{name}: record complete")
    if golden.shared_dir() is None:
        print("note: ../shared absent, RTP-LX texts not re-read (ids and offsets counts still checked)")
    return xt.summary("golden_fixtures")


if __name__ == "__main__":
    sys.exit(main())
