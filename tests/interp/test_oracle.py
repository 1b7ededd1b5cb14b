"""xgd vectors, activations and retrieval against independent computations in PyTorch/numpy on
tiny random models written by `xgd init` (the weights read by tests/oracle/hf_ref.py, which also
runs the reference forward passes):

  vectors      every family, f32 and bf16: the probe saved with torch.save(nn.Linear(H, 1)) (the
               seed's format) is read; top-k (layer, neuron) equal torch.topk of
               torch.cosine_similarity over the stacked value vectors (GPT-2 c_proj rows,
               BLOOM/Llama/Cohere down-projection columns); cosines within 1e-5; vocabulary
               projection top ids equal and scores within 1e-4. A 2048-float probe file loads
               as 2048 values (refused against a 32-wide model, naming the count).
  activations  gpt2 and llama, base vs compare: the seed's procedure written plainly (BOS
               prepended, batches left padded with pad = eos, the attention mask, positions
               cumsum(mask)-1, a full forward per step without a cache, mlp_post[:, -1, n]
               recorded, argmax appended); per-neuron means within 1e-4.
  retrieval    gpt2 and bloom: mean-pooled hidden states of each sentence alone, paired cosine
               within 1e-5 and top-1 accuracy (both directions) exactly, per hidden state."""
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

TMP = xt.tmpdir("interp_oracle", clean=False)
FAMS = {
    "gpt2": ("gpt2", {"vocab_size": 97, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "initializer_range": 0.2}),
    "bloom": ("bloom", {"vocab_size": 97, "hidden_size": 48, "n_layer": 2, "n_head": 6, "initializer_range": 0.2}),
    "llama": ("llama", {"vocab_size": 97, "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
                        "num_attention_heads": 6, "num_key_value_heads": 2, "initializer_range": 0.2}),
    "cohere": ("cohere", {"vocab_size": 97, "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
                          "num_attention_heads": 6, "num_key_value_heads": 2, "logit_scale": 0.0625, "initializer_range": 0.2}),
}
DOWN = {"gpt2": "h.{}.mlp.c_proj.weight", "bloom": "h.{}.mlp.dense_4h_to_h.weight",
        "llama": "layers.{}.mlp.down_proj.weight", "cohere": "layers.{}.mlp.down_proj.weight"}
HEADS = ("lm_head.weight", "wte.weight", "word_embeddings.weight", "embed_tokens.weight")


def weight(m, suffix):
    """The tensor whose name ends with suffix (hf_ref strips the base-model prefix)."""
    keys = [k for k in m.w if k == suffix or k.endswith("." + suffix)]
    assert len(keys) == 1, (suffix, keys)
    return m.w[keys[0]]


def run(*args):
    r = subprocess.run([XGD, "-q", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"xgd {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def init(name, fam, cfg, dtype="f32", seed=3):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "in.json"), "w") as f:
        json.dump(cfg, f)
    run("init", "--family", fam, "--config", os.path.join(d, "in.json"), "--out", os.path.join(d, "model"),
        "--dtype", dtype, "--seed", str(seed))
    return os.path.join(d, "model")


def save_probe(path, H, seed):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(H, 1, bias=False)
    torch.save(lin, path)
    return lin.weight.detach()[0].double()


def test_vectors():
    for name, (fam, cfg) in FAMS.items():
        for dtype in ("f32", "bf16"):
            mdir = init(f"vec-{name}-{dtype}", fam, cfg, dtype)
            m = hf_ref.load(mdir)
            L, H = cfg.get("n_layer", cfg.get("num_hidden_layers")), cfg.get("n_embd", cfg.get("hidden_size"))
            probe_fp = os.path.join(TMP, f"vec-{name}-{dtype}", "best-probe.pt")
            w = save_probe(probe_fp, H, 7)
            out = os.path.join(TMP, f"vec-{name}-{dtype}", "out")
            run("vectors", "--model", mdir, "--probe", probe_fp, "--topk", "12", "--project", "5", "--output", out)
            got = json.load(open(os.path.join(out, "vectors.json")))
            mats = []
            for l in range(L):
                W = weight(m, DOWN[fam].format(l)).double()
                mats.append(W if fam == "gpt2" else W.T)  # (F, H): one value vector per row
            M = torch.cat(mats)
            F = mats[0].shape[0]
            cos = torch.nn.functional.cosine_similarity(M, w[None, :], dim=1)
            vals, idx = torch.topk(cos, 12)
            ref = [(int(g) // F, int(g) % F) for g in idx]
            mine = [(v["layer"], v["neuron"]) for v in got["vectors"]]
            check(mine == ref, f"vectors {name} {dtype}: top-k {mine} != {ref}")
            dc = max(abs(v["cos"] - float(c)) for v, c in zip(got["vectors"], vals))
            check(dc <= 1e-5, f"vectors {name} {dtype}: cosine differs by {dc}")
            E = next(weight(m, h) for h in HEADS if any(k.endswith(h) for k in m.w)).double()
            scale = cfg.get("logit_scale", 1.0)
            for v, g in zip(got["vectors"], idx):
                s = (E @ M[int(g)]) * scale
                sv, si = torch.topk(s, 5)
                ids = [t["id"] for t in v["top_tokens"]]
                check(ids == [int(i) for i in si], f"vectors {name} {dtype}: projection ids {ids} != {si.tolist()}")
                ds = max(abs(t["score"] - float(x)) for t, x in zip(v["top_tokens"], sv))
                check(ds <= 1e-4, f"vectors {name} {dtype}: projection scores differ by {ds}")
    # the seed's probe shape: nn.Linear(2048, 1) in a zip named best-probe.pt
    big = os.path.join(TMP, "best-probe.pt")
    save_probe(big, 2048, 1)
    r = subprocess.run([XGD, "-q", "vectors", "--model", os.path.join(TMP, "vec-gpt2-f32", "model"), "--probe", big],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "has 2048 values" in r.stderr, f"2048-float probe: {r.returncode} {r.stderr.strip()}")


def tiny_tokenizer_model(name, fam, extra, seed):
    d = os.path.join(TMP, name)
    os.makedirs(os.path.join(d, "model"), exist_ok=True)
    V = int(subprocess.run([sys.executable, os.path.join(ROOT, "tests", "generate", "make_tiny_tokenizer.py"),
                            os.path.join(d, "model")], capture_output=True, text=True, check=True).stdout)
    cfg = dict(extra, vocab_size=V + 3, eos_token_id=V - 1, bos_token_id=V - 1, initializer_range=0.3)
    with open(os.path.join(d, "cfg.json"), "w") as f:
        json.dump(cfg, f)
    run("init", "--family", fam, "--config", os.path.join(d, "cfg.json"), "--out", os.path.join(d, "model"), "--seed", str(seed))
    return os.path.join(d, "model"), V - 1


def encode(mdir, texts, add_special):
    p = os.path.join(TMP, "enc.jsonl")
    with open(p, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    args = ["tokenize", "--tokenizer", mdir, "--jsonl", p] + (["--add_special_tokens"] if add_special else [])
    return [json.loads(l) for l in run(*args).splitlines()]


PROMPTS = {
    "en": ["The cat sat on the", "Hello", "a b c d e f g h i", "the other one is", "so", "This is the end"],
    "xx": ["Le chat", "Bonjour tout le monde", "x", "encore une fois ici", "oui oui", "la fin de tout"],
}


def seed_activations(mdir, bos, neurons, texts, steps, batch):
    """collect_neuron_activations, plainly: full forward per step on the growing left-padded batch."""
    m = hf_ref.load(mdir)
    seqs = [[bos] + ids for ids in encode(mdir, texts, False)]
    sums = np.zeros(len(neurons))
    for b0 in range(0, len(seqs), batch):
        cur = [list(s) for s in seqs[b0:b0 + batch]]
        for _ in range(steps):
            T = max(len(s) for s in cur)
            ids = torch.tensor([[bos] * (T - len(s)) + s for s in cur])
            mask = torch.tensor([[0] * (T - len(s)) + [1] * len(s) for s in cur])
            out = hf_ref.forward(m, ids, attention_mask=mask, positions="cumsum")
            for k, (l, n) in enumerate(neurons):
                sums[k] += float(out.acts[f"layer.{l}.mlp.post_act"][:, -1, n].sum())
            nxt = out.logits[:, -1].argmax(-1)
            for s, t in zip(cur, nxt):
                s.append(int(t))
    return sums / (len(seqs) * steps)


def test_activations():
    for fam, extra in (("gpt2", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 128}),
                       ("llama", {"hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
                                  "num_attention_heads": 6, "num_key_value_heads": 2})):
        base, bos = tiny_tokenizer_model(f"act-{fam}-base", fam, extra, 4)
        dpo, _ = tiny_tokenizer_model(f"act-{fam}-dpo", fam, extra, 5)
        pdir = os.path.join(TMP, f"act-{fam}-prompts")
        os.makedirs(pdir, exist_ok=True)
        for lang, ps in PROMPTS.items():
            with open(os.path.join(pdir, f"{lang}.jsonl"), "w") as f:
                for p in ps:
                    f.write(json.dumps({"Prompt": p}) + "\n")
        neurons = [(0, 3), (1, 7), (1, 20), (0, 0)]
        with open(os.path.join(pdir, "neurons.json"), "w") as f:
            json.dump([{"layer": l, "neuron": n} for l, n in neurons], f)
        out = os.path.join(TMP, f"act-{fam}-out")
        run("activations", "--model", base, "--compare", dpo, "--neurons", os.path.join(pdir, "neurons.json"),
            "--prompt_dir", pdir, "--langs", "en,xx", "--steps", "4", "--batch", "4", "--output", out)
        got = json.load(open(os.path.join(out, "activations.json")))
        for lang in PROMPTS:
            for key, mdir in (("base", base), ("compare", dpo)):
                ref = seed_activations(mdir, bos, neurons, PROMPTS[lang], 4, 4)
                mine = np.array(got["per_neuron"][lang][key])
                d = float(np.abs(mine - ref).max())
                check(d <= 1e-4, f"activations {fam} {lang} {key}: per-neuron means differ by {d} ({mine} vs {ref})")
                g = got["per_language"][lang][key]
                check(abs(g - ref.mean()) <= 1e-4, f"activations {fam} {lang} {key}: group mean {g} vs {ref.mean()}")
        svg = open(os.path.join(out, "activations.svg")).read()
        check(svg.startswith("<svg") and svg.count("<rect") >= 1 + 2 * 2, f"activations {fam}: SVG lacks bars")


SENTS = {
    "en": ["the cat", "a dog runs", "hello there", "one two three", "the end", "so it goes", "in the rain", "on a hill"],
    "de": ["die Katze", "ein Hund rennt", "hallo da", "eins zwei drei", "das Ende", "so geht es", "im Regen", "auf einem Hugel"],
    "fr": ["le chat", "un chien court", "bonjour", "un deux trois", "la fin", "ainsi va", "sous la pluie", "sur une colline"],
}


def test_retrieval():
    for fam, extra in (("gpt2", {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 128}),
                       ("bloom", {"hidden_size": 32, "n_layer": 2, "n_head": 4})):
        mdir, _ = tiny_tokenizer_model(f"ret-{fam}", fam, extra, 6)
        d = os.path.join(TMP, f"ret-{fam}-text")
        os.makedirs(d, exist_ok=True)
        for lang, ss in SENTS.items():
            with open(os.path.join(d, f"dpo_toxicity_pairwise_{lang}_200.jsonl"), "w") as f:
                for s in ss:
                    f.write(json.dumps({"Prompt": s}) + "\n")
        out = os.path.join(TMP, f"ret-{fam}-out")
        run("retrieval", "--model", mdir, "--lang1", "en", "--lang2", "de,fr", "--aligned_text_dir", d, "--batch", "3", "--output", out)
        got = json.load(open(os.path.join(out, "retrieval.json")))
        m = hf_ref.load(mdir)

        def pooled(lang):
            vs = []
            for ids in encode(mdir, SENTS[lang], True):
                out = hf_ref.forward(m, torch.tensor([ids]))
                vs.append(torch.stack([h[0].double().mean(0) for h in out.hidden]))
            return torch.stack(vs)  # (N, L+1, H)

        A = pooled("en")
        for lang in ("de", "fr"):
            B = pooled(lang)
            g = got["languages"][lang]
            for h in range(A.shape[1]):
                a, b = A[:, h], B[:, h]
                pc = float(torch.nn.functional.cosine_similarity(a, b, dim=1).mean())
                check(abs(g["paired_cos_mean"][h] - pc) <= 1e-5, f"retrieval {fam} {lang} h{h}: paired cos {g['paired_cos_mean'][h]} vs {pc}")
                C = torch.nn.functional.cosine_similarity(a[:, None, :], b[None, :, :], dim=2)
                fw = float((C.argmax(1) == torch.arange(len(a))).double().mean())
                bw = float((C.argmax(0) == torch.arange(len(a))).double().mean())
                check(g["retrieval_acc"][h] == fw and g["retrieval_acc_reverse"][h] == bw,
                      f"retrieval {fam} {lang} h{h}: acc {g['retrieval_acc'][h]}/{g['retrieval_acc_reverse'][h]} vs {fw}/{bw}")
            check(abs(g["paired_cos_mean_avg"] - float(np.mean(g["paired_cos_mean"]))) <= 1e-9, "avg")


def main():
    xt.need_xgd()
    test_vectors()
    test_activations()
    test_retrieval()
    return xt.summary("interp oracle")


if __name__ == "__main__":
    sys.exit(main())
