"""Self-checks of the PyTorch oracle (tests/oracle/hf_ref.py) and its safetensors module.

Known values: ALiBi slopes, llama3 inv_freq, T5 bucket thresholds (hf-spec §2 test vectors), bf16
rounding against torch's own conversion. Invariants: KV-cache decoding == full forward, left padding
with cumsum positions == the unpadded row, interleaved RoPE == half-split RoPE on permuted features,
bf16/v5-config/sharded/prefix-less/buffer-carrying/.bin folders == their plain f32 twin, cached greedy
== uncached greedy, every stored weight gets a non-zero gradient. Tolerances are stated at each
check. The golden fixtures from the real transformers are checked by test_ref_golden.py.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_ref  # noqa: E402
import make_tiny  # noqa: E402
import safetensors_np as st  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

torch.manual_seed(0)


def close(a, b, tol, msg):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        check(False, f"{msg}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
        return
    err = (a - b).abs().max().item() if a.numel() else 0.0
    check(err <= tol, f"{msg}: max abs diff {err:.3g} > {tol:g}")


# ---------------------------------------------------------------------------------------------


def test_safetensors(tmp):
    rng = np.random.RandomState(1)
    t = {"a.f32": rng.standard_normal((3, 5)).astype(np.float32), "b.f16": rng.standard_normal(7).astype(np.float16),
         "c.i64": np.arange(6, dtype=np.int64).reshape(2, 3), "d.bool": np.array([True, False, True]),
         "e.scalar": np.array(2.5, dtype=np.float32), "f.empty": np.zeros((0, 4), dtype=np.float32)}
    bf = rng.standard_normal((4, 4)).astype(np.float32)
    path = os.path.join(tmp, "x.safetensors")
    st.save_file(dict(t, **{"g.bf16": st.BF16(bf)}), path)
    back = st.read_file(path)
    for k, v in t.items():
        check(back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), f"round trip {k}")
    ref = torch.from_numpy(bf).to(torch.bfloat16).float().numpy()  # torch's RNE rounding, independently
    check(np.array_equal(back["g.bf16"], ref), "bf16 write/read equals torch's bf16 rounding")
    dts = st.dtypes_of(path)
    check(dts["g.bf16"] == "BF16" and dts["c.i64"] == "I64" and dts["d.bool"] == "BOOL", f"dtype strings {dts}")
    # exact rounding cases: ties to even, NaN, the largest values
    x = np.array([1.0, 1.00390625, 1.01171875, -2.0, np.inf, 3.3895313892515355e38], dtype=np.float32)
    bits = st.f32_to_bf16_bits(x).tolist()
    check(bits == [0x3F80, 0x3F80, 0x3F82, 0xC000, 0x7F80, 0x7F7F], f"bf16 rounding bits {[hex(b) for b in bits]}")
    check(st.f32_to_bf16_bits(np.array([np.nan], np.float32))[0] == 0x7FC0, "bf16 NaN -> 0x7FC0")
    # layout: header length multiple of 8, metadata format pt, dtype-descending order, no gaps
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
    check(n % 8 == 0 and hdr["__metadata__"] == {"format": "pt"}, "header padded to 8 with format=pt")
    order = [k for k in hdr if k != "__metadata__"]
    offs = sorted((v["data_offsets"][0], k) for k, v in hdr.items() if k != "__metadata__")
    check([k for _, k in offs][:2] == ["c.i64", "a.f32"], f"I64 first then F32 by offset: {offs[:3]}")
    check(order[0] == "c.i64", "header lists tensors in file order")
    # corrupt files are refused with the file named
    raw = open(path, "rb").read()
    for what, data in (("trailing byte", raw + b"\0"), ("truncated", raw[:-1]), ("tiny", raw[:5]),
                       ("huge header", (10 ** 9).to_bytes(8, "little") + raw[8:])):
        bad = os.path.join(tmp, "bad.safetensors")
        open(bad, "wb").write(data)
        try:
            st.read_file(bad)
            check(False, f"corrupt file ({what}) accepted")
        except st.SafetensorsError as e:
            check("bad.safetensors" in str(e), f"error names the file: {e}")
    # sharded folder
    sh = os.path.join(tmp, "sharded")
    os.makedirs(sh)
    st.save_sharded({k: v for k, v in t.items()}, sh, 40)
    got, _ = st.read_folder(sh)
    check(len([f for f in os.listdir(sh) if f.endswith(".safetensors")]) > 1, "sharding made several files")
    check(all(np.array_equal(got[k], v) for k, v in t.items()), "sharded round trip")


def test_alibi():
    s16 = hf_ref.alibi_slopes(16)
    close(s16, [2 ** (-0.5 * k) for k in range(1, 17)], 1e-7, "alibi nH=16")
    s12 = hf_ref.alibi_slopes(12)
    close(s12, [2 ** -k for k in range(1, 9)] + [0.70710678, 0.35355339, 0.1767767, 0.088388348], 1e-7, "alibi nH=12")
    s32 = hf_ref.alibi_slopes(32)
    close(s32[[0, 31]], [0.84089642, 0.00390625], 1e-7, "alibi nH=32 ends")
    close(hf_ref.alibi_slopes(6), [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3], 1e-7, "alibi nH=6")


def test_llama3_rope():
    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    inv = hf_ref.rope_inv_freq(rope, 128, 131072)
    base = hf_ref.rope_inv_freq(dict(rope, rope_type="default"), 128, 131072)
    check(torch.equal(inv[:29], base[:29]), "llama3: i<29 unchanged")
    close(inv[35:], base[35:] / 8, 0, "llama3: i>=35 divided by 8")
    close(base[29], 2.6160993e-3, 1e-9, "default inv_freq[29]")
    close(inv[29], 2.1665708e-3, 1e-9, "llama3 inv_freq[29]")
    close(base[63], 2.4551408e-6, 1e-12, "default inv_freq[63]")
    close(inv[63], 3.0689260e-7, 1e-13, "llama3 inv_freq[63]")
    lin = hf_ref.rope_inv_freq({"rope_type": "linear", "rope_theta": 1e4, "factor": 4.0}, 64, 2048)
    close(lin, hf_ref.rope_inv_freq({"rope_type": "default", "rope_theta": 1e4}, 64, 2048) / 4, 0, "linear rope")
    dyn = {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 2.0}
    close(hf_ref.rope_inv_freq(dyn, 64, 2048, 100), hf_ref.rope_inv_freq(dict(dyn, rope_type="default"), 64, 2048),
          0, "dynamic ntk inside max_pos == default")
    theta = 1e4 * ((2.0 * 4096 / 2048) - 1) ** (64 / 62)
    close(hf_ref.rope_inv_freq(dyn, 64, 2048, 4096), [theta ** (-i / 64) for i in range(0, 64, 2)], 1e-7,
          "dynamic ntk at 2x max_pos")


def test_t5_buckets():
    n = torch.arange(0, 200)
    bid = hf_ref.t5_bucket(-n, True, 32, 128)  # rel = key - query < 0: magnitude buckets 0..15
    first = {int(b): int(n[bid == b][0]) for b in torch.unique(bid)}
    check([first[b] for b in range(8, 16)] == [8, 12, 16, 23, 32, 46, 64, 91], f"bidirectional thresholds {first}")
    check(torch.equal(hf_ref.t5_bucket(n[1:], True, 32, 128), bid[1:] + 16), "bidirectional rel>0 adds 16")
    cau = hf_ref.t5_bucket(-n, False, 32, 128)
    first = {int(b): int(n[cau == b][0]) for b in torch.unique(cau)}
    want = [16, 19, 21, 24, 27, 31, 35, 40, 46, 52, 59, 67, 77, 87, 99, 113]
    check([first[b] for b in range(16, 32)] == want, f"causal thresholds {first}")
    check(int(hf_ref.t5_bucket(torch.tensor([5]), False, 32, 128)) == 0, "causal: future keys are bucket 0")


def test_rope_conventions():
    """Interleaved RoPE on features permuted (i -> 2i, i+h -> 2i+1) == permuted half-split RoPE."""
    d, T = 16, 7
    x = torch.randn(1, 2, T, d)
    cfg = {"rope": {"rope_type": "default", "rope_theta": 10000.0}, "head_dim": d, "max_pos": 64}
    pos = torch.arange(3, 3 + T)[None]
    perm = torch.empty(d, dtype=torch.long)
    perm[0::2], perm[1::2] = torch.arange(d // 2), torch.arange(d // 2, d)
    half = hf_ref.apply_rope(x, *hf_ref.rope_cos_sin(cfg, pos, False), False)
    inter = hf_ref.apply_rope(x[..., perm], *hf_ref.rope_cos_sin(cfg, pos, True), True)
    close(inter, half[..., perm], 1e-6, "interleaved vs half-split RoPE")
    # relative: q at p, k at p' gives a score depending only on p - p'
    q, k = torch.randn(1, 1, 1, d), torch.randn(1, 1, 1, d)
    sc = []
    for off in (0, 40):
        cq = hf_ref.rope_cos_sin(cfg, torch.tensor([[5 + off]]), False)
        ck = hf_ref.rope_cos_sin(cfg, torch.tensor([[2 + off]]), False)
        sc.append((hf_ref.apply_rope(q, *cq, False) * hf_ref.apply_rope(k, *ck, False)).sum())
    close(sc[0], sc[1], 1e-5, "RoPE score depends on relative position only")


# ---------------------------------------------------------------------------------------------


DEC = ("gpt2", "bloom", "llama", "llama31", "llama_bias", "cohere", "cohere_qknorm")


def test_models(tmp):
    ids = torch.tensor([[5, 17, 42, 8, 9, 60, 3, 11, 77, 23]])
    T = ids.shape[1]
    for v in make_tiny.VARIANTS:
        d = os.path.join(tmp, v)
        make_tiny.make(v, d)
        m = hf_ref.load(d)
        out = hf_ref.forward(m, ids, labels=ids if v != "xlm-roberta" else None)
        L = m.cfg["n_layer"] if v != "mt5" else m.cfg["n_dec_layer"]
        check(len(out.hidden) == L + 1, f"{v}: {len(out.hidden)} hidden states, want L+1={L + 1}")
        check(torch.isfinite(out.logits).all().item(), f"{v}: finite logits")
        if v in DEC:
            check(out.logits.shape == (1, T, make_tiny.V), f"{v}: logits shape {tuple(out.logits.shape)}")
            close(out.hidden[-1], out.acts["final_norm"], 0, f"{v}: last hidden is the final norm")
            close(out.hidden[1], out.acts["layer.0.resid_post"], 0, f"{v}: hidden[1] is layer 0's output")
            # loss == mean CE of next tokens, computed by hand
            lp = torch.log_softmax(out.logits[0].double(), -1)
            ce = -lp[torch.arange(T - 1), ids[0, 1:]].mean()
            close(out.loss, ce, 1e-5, f"{v}: causal LM loss")
            close(-hf_ref.token_logprobs(m, ids).mean(), out.loss, 1e-5, f"{v}: token_logprobs vs loss")
            check_decoder_invariants(v, m, ids)
        check_every_weight_used(v, d, ids)
        # float64 evaluation of the same weights: the float32 oracle is well conditioned on these models
        o64 = hf_ref.forward(hf_ref.load(d, dtype=torch.float64), ids, labels=ids if v != "xlm-roberta" else None)
        check(o64.logits.dtype == torch.float64, f"{v}: float64 mode computes in float64")
        close(o64.logits, out.logits, 1e-4, f"{v}: float64 vs float32 logits")
        # the same folder written in bf16 loads as the f32 weights rounded to bf16
        db = os.path.join(tmp, v + "-bf16")
        make_tiny.make(v, db, dtype="bfloat16")
        mb = hf_ref.load(db)
        check(all(mb.file_dtypes[k] == "BF16" for k in mb.file_dtypes if k.endswith("weight")),
              f"{v}: bf16 folder stores BF16")
        for k in m.w:
            if not torch.equal(mb.w[k], m.w[k].to(torch.bfloat16).float()):
                check(False, f"{v}: bf16 tensor {k} != rounded f32")
                break
        # v5 spellings, sharding, and (for gpt2) buffers and missing prefixes give the same logits
        d5 = os.path.join(tmp, v + "-v5")
        make_tiny.make(v, d5, v5=True, shard_bytes=20000, buffers=True)
        kw = {"labels": ids} if v == "mt5" else {}
        close(hf_ref.forward(hf_ref.load(d5), ids, **kw).logits, out.logits, 0, f"{v}: v5 config + shards + buffers")
    # float16 storage: the f32 weights rounded to binary16
    d16 = os.path.join(tmp, "llama-f16")
    make_tiny.make("llama", d16, dtype="float16")
    m16, m32 = hf_ref.load(d16), hf_ref.load(os.path.join(tmp, "llama"))
    check(set(m16.file_dtypes.values()) == {"F16"}, "f16 folder stores F16")
    check(all(torch.equal(m16.w[k], m32.w[k].half().float()) for k in m32.w), "f16 tensors == rounded f32")
    # GPT-2 file without the transformer. prefix (original gpt2 layout)
    src = os.path.join(tmp, "gpt2")
    dst = os.path.join(tmp, "gpt2-noprefix")
    shutil.copytree(src, dst)
    t = st.read_file(os.path.join(src, "model.safetensors"))
    st.save_file({k.replace("transformer.", ""): v for k, v in t.items()}, os.path.join(dst, "model.safetensors"))
    close(hf_ref.forward(hf_ref.load(dst), ids).logits, hf_ref.forward(hf_ref.load(src), ids).logits, 0,
          "gpt2 without prefix")
    # the same weights as a legacy pytorch_model.bin (torch.save zip), read with torch.load(weights_only)
    dbin = os.path.join(tmp, "gpt2-bin")
    os.makedirs(dbin)
    shutil.copy(os.path.join(src, "config.json"), dbin)
    torch.save({k: torch.from_numpy(v.copy()) for k, v in t.items()}, os.path.join(dbin, "pytorch_model.bin"))
    close(hf_ref.forward(hf_ref.load(dbin), ids).logits, hf_ref.forward(hf_ref.load(src), ids).logits, 0,
          "gpt2 from pytorch_model.bin")
    check_t5(os.path.join(tmp, "mt5"))
    check_xlmr(os.path.join(tmp, "xlm-roberta"))


def check_every_weight_used(v, d, ids):
    """Autograd through the oracle: every stored parameter must get a non-zero gradient from the loss
    (a weight the reference silently ignores would show up here)."""
    m = hf_ref.load(d)
    for t in m.w.values():
        t.requires_grad_(True)
    lab = torch.tensor([1]) if v == "xlm-roberta" else ids
    loss = hf_ref.forward(m, ids, labels=lab, grad=True).loss
    loss.backward()
    unused = [k for k, t in m.w.items() if t.grad is None or not bool((t.grad != 0).any())]
    check(not unused, f"{v}: weights without gradient: {unused[:4]}")


def check_decoder_invariants(v, m, ids):
    T = ids.shape[1]
    full = hf_ref.forward(m, ids)
    # KV cache: prefix then the rest, one token at a time
    k = 4
    o = hf_ref.forward(m, ids[:, :k])
    logits, past = [o.logits], o.past
    for t in range(k, T):
        o = hf_ref.forward(m, ids[:, t:t + 1], past=past)
        logits.append(o.logits)
        past = o.past
    close(torch.cat(logits, 1), full.logits, 2e-5, f"{v}: KV-cache decode == full forward")
    # left padding: pad 3 slots; valid rows must match the unpadded sequence with cumsum positions
    npad = 3
    padded = torch.cat([torch.full((1, npad), 1), ids], 1)
    mask = torch.cat([torch.zeros(1, npad, dtype=torch.long), torch.ones_like(ids)], 1)
    batch = torch.cat([padded, torch.cat([ids, ids[:, :npad]], 1)], 0)  # row 2: no padding
    bmask = torch.cat([mask, torch.ones_like(mask)], 0)
    cum = hf_ref.forward(m, batch, bmask, positions="cumsum")
    close(cum.logits[0, npad:], full.logits[0], 2e-5, f"{v}: left padding with cumsum positions")
    close(cum.logits[1, :T], full.logits[0], 2e-5, f"{v}: unpadded row of a padded batch")
    close(cum.hidden[1][0, npad:], full.hidden[1][0], 2e-5, f"{v}: left-padded hidden states")
    ar = hf_ref.forward(m, batch, bmask)  # transformers' plain forward default
    err = (ar.logits[0, npad:] - full.logits[0]).abs().max().item()
    if v == "gpt2":  # learned absolute positions shift with arange: visibly different
        check(err > 1e-2, f"gpt2: arange positions with left padding should differ (diff {err:.3g})")
    else:  # ALiBi/RoPE are relative: identical up to rounding
        check(err < 2e-5, f"{v}: arange vs cumsum on valid tokens differ by {err:.3g}")
    # greedy generation: cached == uncached, and a left-padded batch row == its unpadded run
    g1 = hf_ref.generate_greedy(m, ids[:, :5], max_new_tokens=5, eos_token_id=-1)
    g2 = hf_ref.generate_greedy(m, ids[:, :5], max_new_tokens=5, eos_token_id=-1, use_cache=False)
    check(torch.equal(g1, g2), f"{v}: greedy with and without cache")
    gb = hf_ref.generate_greedy(m, padded[:, :npad + 5], mask[:, :npad + 5], max_new_tokens=5, eos_token_id=-1)
    check(torch.equal(gb[0, npad:], g1[0]), f"{v}: left-padded greedy == unpadded greedy")


def check_t5(d):
    m = hf_ref.load(d)
    ids = torch.tensor([[5, 17, 42, 8, 9, 60, 3, 11, 77, 23, 1]])
    out = hf_ref.forward(m, ids, labels=ids)
    dec = torch.cat([torch.tensor([[0]]), ids[:, :-1]], 1)
    out2 = hf_ref.forward(m, ids, decoder_input_ids=dec)
    close(out2.logits, out.logits, 0, "t5: labels == shift_right decoder inputs")
    lp = torch.log_softmax(out.logits[0].double(), -1)
    close(out.loss, -lp[torch.arange(ids.shape[1]), ids[0]].mean(), 1e-5, "t5: unshifted label loss")
    lab = ids.clone()
    lab[0, -3:] = -100
    o3 = hf_ref.forward(m, ids, labels=lab)
    close(o3.loss, -lp[torch.arange(ids.shape[1] - 3), ids[0, :-3]].mean(), 1e-5, "t5: -100 labels ignored")
    check(len(out.enc_hidden) == m.cfg["n_layer"] + 1, "t5: encoder hidden states L+1")
    close(out.enc_hidden[-1], out.acts["enc.final_norm"], 0, "t5: encoder last hidden is final norm")
    # decoder causality: changing a later decoder token leaves earlier logits unchanged
    dec2 = dec.clone()
    dec2[0, -1] = 50
    o4 = hf_ref.forward(m, ids, decoder_input_ids=dec2)
    close(o4.logits[:, :-1], out2.logits[:, :-1], 1e-6, "t5: decoder is causal")
    # right-padded encoder input with mask == the unpadded input
    pad = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1)
    pm = torch.cat([torch.ones_like(ids), torch.zeros(1, 3, dtype=torch.long)], 1)
    o5 = hf_ref.forward(m, pad, pm, decoder_input_ids=dec)
    close(o5.logits, out2.logits, 2e-5, "t5: right-padded encoder with mask")
    g = hf_ref.generate_greedy(m, ids, max_new_tokens=4, eos_token_id=-1)
    check(g.shape == (1, 5) and int(g[0, 0]) == 0, "t5: greedy starts with decoder_start_token_id")


def check_xlmr(d):
    m = hf_ref.load(d)
    ids = torch.tensor([[0, 17, 42, 8, 9, 60, 2]])
    out = hf_ref.forward(m, ids)
    check(out.logits.shape == (1, 3), f"xlmr: logits shape {tuple(out.logits.shape)}")
    check(len(out.hidden) == m.cfg["n_layer"] + 1, "xlmr: hidden L+1")
    close(out.hidden[-1], out.acts[f"layer.{m.cfg['n_layer'] - 1}.resid_post"], 0, "xlmr: no final norm")
    # right padding with the pad token and a mask: the classification of the valid part is unchanged
    pad = torch.cat([ids, torch.ones(1, 4, dtype=torch.long)], 1)
    pm = torch.cat([torch.ones_like(ids), torch.zeros(1, 4, dtype=torch.long)], 1)
    close(hf_ref.forward(m, pad, pm).logits, out.logits, 2e-5, "xlmr: right padding + mask")
    # positions: pad_id+1.. for tokens, pad_id for pad tokens (checked through the embedding hook)
    e = m.w
    pos = torch.tensor([2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 1])
    x = e["embeddings.word_embeddings.weight"][pad[0]] + e["embeddings.token_type_embeddings.weight"][0] \
        + e["embeddings.position_embeddings.weight"][pos]
    ref = hf_ref.layer_norm(x, e["embeddings.LayerNorm.weight"], e["embeddings.LayerNorm.bias"], m.cfg["eps"])
    close(hf_ref.forward(m, pad, pm).acts["embed"][0], ref, 1e-6, "xlmr: position ids from pad token cumsum")
    lab = torch.tensor([2])
    close(hf_ref.forward(m, ids, labels=lab).loss, -torch.log_softmax(out.logits[0].double(), -1)[2], 1e-5,
          "xlmr: classification loss")


def main():
    base = os.environ.get("XGD_TMP")
    if base:
        os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="oracle-", dir=base or None)
    try:
        test_safetensors(tmp)
        test_alibi()
        test_llama3_rope()
        test_t5_buckets()
        test_rope_conventions()
        test_models(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return xt.summary("oracle selfcheck")


if __name__ == "__main__":
    sys.exit(main())
