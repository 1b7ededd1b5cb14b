#!/usr/bin/env python3
"""Golden fixtures for xgdetox, produced ONCE with the real Hugging Face stack
(torch, transformers, peft, tokenizers, sentencepiece) on the lent machine.

Why a separate oracle: the project's own PyTorch oracle (tests/oracle) is a re-implementation;
these fixtures come from the upstream code itself, so they catch misreadings of the spec that a
re-implementation would share.

Usage (see tests/golden/README.md for the exact `run` command):
    python3 make_golden.py --src <dir with tokenizers/, rtp-lx/, tokenizer-tests/> --out <dir>

Everything runs on CPU in float32 with fixed seeds. Every section is isolated: a failure is
recorded in manifest.json ("errors") and the other sections still run, because the lent machine
can be used only once or twice.
"""
import argparse
import copy
import glob
import json
import os
import platform
import random
import shutil
import sys
import time
import traceback
import warnings

import numpy as np
import torch

SEED = 20261127
V = 96                      # vocab of every tiny model
PAD, BOS, EOS = 0, 1, 2     # decoder families (mT5 and XLM-R use their own conventions)
T = 7

MANIFEST = {"seed": SEED, "errors": [], "sections": {}, "fixtures": {}}
OUT = None


# ----------------------------------------------------------------------------------------------
# small helpers

def log(*a):
    print(*a, flush=True)


def section(name):
    """Run a section, time it, and record its failure without stopping the others."""
    def deco(fn):
        def run(*a, **kw):
            t0 = time.time()
            log(f"== {name}")
            with warnings.catch_warnings(record=True) as ws:
                warnings.simplefilter("always")
                try:
                    r = fn(*a, **kw)
                    ok = True
                except Exception as e:  # record and continue: one machine run must yield what it can
                    r = None
                    ok = False
                    tb = traceback.format_exc()
                    log(tb)
                    MANIFEST["errors"].append({"section": name, "error": repr(e), "traceback": tb[-3000:]})
            msgs = sorted({str(w.message)[:300] for w in ws})
            MANIFEST["sections"][name] = {"ok": ok, "seconds": round(time.time() - t0, 2),
                                          "warnings": msgs[:20]}
            log(f"   {name}: {'ok' if ok else 'FAILED'} in {time.time() - t0:.1f}s")
            write_json(os.path.join(OUT, "manifest.json"), MANIFEST)   # partial results survive a kill
            return r
        return run
    return deco


def p(*parts):
    path = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def pdir(*parts):
    d = os.path.join(OUT, *parts)
    os.makedirs(d, exist_ok=True)
    return d


def save_np(refdir, name, x, meta, what):
    """Save one array (float -> f4, int -> i8, C order, little endian) and describe it in meta."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.float().numpy() if x.is_floating_point() else x.long().numpy()
    x = np.asarray(x)
    if x.dtype.kind == "f":
        x = x.astype("<f4")
    elif x.dtype.kind in "iub":
        x = x.astype("<i8")
    x = np.ascontiguousarray(x)          # note: promotes a 0-d scalar (the losses) to shape (1,)
    np.save(p("ref", refdir, name + ".npy"), x)
    meta.setdefault("arrays", {})[name] = {"shape": list(x.shape), "dtype": str(x.dtype), "what": what}


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randomize(model, seed):
    """Re-draw every parameter with a large std so tests are sensitive: matrices N(0, 0.2),
    1-D weights (norm scales) 1 + N(0, 0.1), biases N(0, 0.1). Tied parameters are drawn once."""
    g = gen(seed)
    seen = set()
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if id(prm) in seen:
                continue
            seen.add(id(prm))
            z = torch.randn(prm.shape, generator=g)
            if prm.dim() >= 2:
                prm.copy_(z * 0.2)
            elif name.endswith("bias"):
                prm.copy_(z * 0.1)
            else:
                prm.copy_(1.0 + z * 0.1)


def round_bf16_(model):
    """In place: every parameter -> bf16 -> f32 (the weights a bf16 checkpoint holds, run in f32)."""
    with torch.no_grad():
        for prm in model.parameters():
            prm.copy_(prm.to(torch.bfloat16).float())


def maxdiff(a, b):
    return float((a.float() - b.float()).abs().max())


def load_pretrained(cls, d, **kw):
    """from_pretrained in f32 with eager attention (transformers 5 takes `dtype`, 4.x `torch_dtype`)."""
    try:
        return cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager", **kw)
    except TypeError:
        return cls.from_pretrained(d, torch_dtype=torch.float32, **kw)


def from_config(cls, cfg):
    """Eager attention: the plain softmax path the spec describes (SDPA would differ only on pad rows)."""
    try:
        m = cls._from_config(cfg, attn_implementation="eager")
    except Exception as e:
        log(f"_from_config({cls.__name__}) failed ({e!r}); plain constructor")
        m = cls(cfg)
    return m.float().eval()


def tk_class(tf, *names):
    """First tokenizer class that exists (transformers 5 folded the *Fast classes into one backend)."""
    for n in names:
        c = getattr(tf, n, None)
        if c is not None:
            return c
    raise AttributeError(f"none of {names} in transformers")


def file_list(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in sorted(files):
            full = os.path.join(root, f)
            out[os.path.relpath(full, OUT)] = os.path.getsize(full)
    return out


def safetensors_keys(d):
    from safetensors import safe_open
    keys = {}
    for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        with safe_open(f, "pt") as fh:
            for k in fh.keys():
                sl = fh.get_slice(k)
                keys[k] = [sl.get_dtype(), list(sl.get_shape()), os.path.basename(f)]
    return keys


def drop_readme(d):
    r = os.path.join(d, "README.md")
    if os.path.exists(r):
        os.remove(r)


# ----------------------------------------------------------------------------------------------
# inputs shared by the decoder families

def decoder_inputs():
    g = gen(SEED + 1)
    ids = torch.randint(3, V, (2, T), generator=g)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :2] = 0
    ids[1, :2] = PAD
    single = torch.randint(3, V, (1, T), generator=g)
    # positions as generate() derives them from a left-padded mask: cumsum-1, pad slots = 1
    pos = mask.cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)
    return ids, mask, pos, single


def fwd(model, fam, ids, mask=None, pos=None, **kw):
    args = dict(input_ids=ids, **kw)
    if mask is not None:
        args["attention_mask"] = mask
    if pos is not None and fam != "bloom":       # BLOOM has no position ids (ALiBi uses the mask)
        args["position_ids"] = pos
    with torch.no_grad():
        return model(**args)


def out_head(model, fam):
    """(weight, scale) that maps the last hidden state to logits, to check what hidden_states[-1] is."""
    w = model.get_output_embeddings().weight
    scale = float(getattr(model.config, "logit_scale", 1.0)) if fam == "cohere" else 1.0
    return w, scale


def decoder_outputs(model, fam, refdir, note):
    """Logits, all hidden states, losses and greedy generations of one decoder-only model."""
    ids, mask, pos, single = decoder_inputs()
    meta = {"family": fam, "note": note,
            "pad_positions": "rows of batch item 1 at t<2 are padding: their values are unspecified, compare only mask==1"}
    save_np(refdir, "input_ids", ids, meta, "(2,7) batch; item 1 left-padded by 2 (pad id 0)")
    save_np(refdir, "attention_mask", mask, meta, "(2,7)")
    save_np(refdir, "position_ids", pos, meta,
            "(2,7) passed explicitly to the batch forward (not BLOOM): cumsum(mask)-1, pad slots 1, as generate() does")
    save_np(refdir, "single_ids", single, meta, "(1,7) unpadded single sequence")

    o = fwd(model, fam, ids, mask, pos, output_hidden_states=True)
    save_np(refdir, "logits_batch", o.logits, meta, "(2,7,V) logits of the batch forward")
    hs = torch.stack(list(o.hidden_states))
    save_np(refdir, "hidden_batch", hs, meta, "(L+1,2,7,H) output_hidden_states of the batch forward")

    labels_b = ids.clone()
    labels_b[mask == 0] = -100
    ob = fwd(model, fam, ids, mask, pos, labels=labels_b)
    save_np(refdir, "loss_batch", ob.loss.reshape(()), meta,
            "(1,) mean causal-LM loss of the batch, labels=input_ids with pads set to -100")

    o1 = fwd(model, fam, single, labels=single, output_hidden_states=True)
    save_np(refdir, "logits_single", o1.logits, meta, "(1,7,V)")
    save_np(refdir, "hidden_single", torch.stack(list(o1.hidden_states)), meta, "(L+1,1,7,H)")
    save_np(refdir, "loss_single", o1.loss.reshape(()), meta, "(1,) loss with labels=input_ids (single)")

    # What is hidden_states[-1]? (after the final norm in 4.x; check instead of assuming)
    w, scale = out_head(model, fam)
    from_last = (o1.hidden_states[-1] @ w.T) * scale
    meta["last_hidden_is_final_normed"] = bool(maxdiff(from_last, o1.logits) < 1e-4)
    meta["last_hidden_to_logits_maxdiff"] = maxdiff(from_last, o1.logits)

    with torch.no_grad():
        gb = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False,
                            pad_token_id=PAD, eos_token_id=EOS, return_dict_in_generate=True,
                            output_logits=True)
        gs = model.generate(input_ids=single, attention_mask=torch.ones_like(single), max_new_tokens=8,
                            do_sample=False, pad_token_id=PAD, eos_token_id=EOS,
                            return_dict_in_generate=True, output_logits=True)
    save_np(refdir, "gen_batch", gb.sequences, meta,
            "(2,7+n) greedy generate(max_new_tokens=8) of the batch (eos 2, pad 0 after eos)")
    save_np(refdir, "gen_batch_logits", torch.stack(list(gb.logits)), meta, "(n,2,V) raw logits per step")
    save_np(refdir, "gen_single", gs.sequences, meta, "(1,7+n) greedy generate of the single sequence")
    save_np(refdir, "gen_single_logits", torch.stack(list(gs.logits)), meta, "(n,1,V)")
    return meta, o.logits


def reload_check(cls, d, fam, ref_logits):
    ids, mask, pos, _ = decoder_inputs()
    m = load_pretrained(cls, d).eval()
    got = fwd(m, fam, ids, mask, pos).logits
    valid = mask.bool()
    return maxdiff(got[valid], ref_logits[valid])


# ----------------------------------------------------------------------------------------------
# model configs

def rope_cfg(cls, rope, **kw):
    """transformers 5 takes rope_parameters; 4.x takes rope_theta + rope_scaling."""
    try:
        return cls(rope_parameters=rope, **kw), "rope_parameters"
    except TypeError:
        legacy = {"rope_theta": rope["rope_theta"]}
        if rope["rope_type"] != "default":
            legacy["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
        return cls(**legacy, **kw), "rope_theta+rope_scaling"


def expected_inv_freq(hd, rope):
    """inv_freq as the spec (hf-spec 2.c) defines it, to verify transformers used our rope settings."""
    inv = 1.0 / (rope["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
    if rope["rope_type"] == "llama3":
        f, lo, hi, om = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"], \
            rope["original_max_position_embeddings"]
        low_wl, high_wl = om / lo, om / hi
        out = []
        for x in inv:
            wl = 2 * np.pi / x
            if wl < high_wl:
                out.append(x)
            elif wl > low_wl:
                out.append(x / f)
            else:
                s = (om / wl - lo) / (hi - lo)
                out.append((1 - s) * x / f + s * x)
        inv = np.array(out, dtype=np.float32)
    return inv


def build_decoder(fam):
    import transformers as tf
    common = dict(vocab_size=V, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    info = {}
    if fam == "gpt2":
        cfg = tf.GPT2Config(n_embd=32, n_head=4, n_layer=2, n_positions=64, resid_pdrop=0.0,
                            embd_pdrop=0.0, attn_pdrop=0.0, **common)
        cls = tf.GPT2LMHeadModel
    elif fam == "bloom":
        cfg = tf.BloomConfig(hidden_size=48, n_head=6, n_layer=2, hidden_dropout=0.0,
                             attention_dropout=0.0, **common)
        cls = tf.BloomForCausalLM
    elif fam in ("llama", "llama31"):
        if fam == "llama":
            rope = {"rope_type": "default", "rope_theta": 10000.0}
            extra = dict(max_position_embeddings=64, attention_bias=False)
        else:
            rope = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
            extra = dict(max_position_embeddings=256, attention_bias=True)
        cfg, how = rope_cfg(tf.LlamaConfig, rope, hidden_size=48, intermediate_size=80,
                            num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                            rms_norm_eps=1e-5, tie_word_embeddings=False, **extra, **common)
        info["rope_passed_as"] = how
        info["rope"] = rope
        cls = tf.LlamaForCausalLM
    elif fam == "cohere":
        rope = {"rope_type": "default", "rope_theta": 10000.0}
        cfg, how = rope_cfg(tf.CohereConfig, rope, hidden_size=48, intermediate_size=80,
                            num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                            layer_norm_eps=1e-5, logit_scale=0.0625, tie_word_embeddings=True,
                            use_qk_norm=False, max_position_embeddings=64, **common)
        info["rope_passed_as"] = how
        info["rope"] = rope
        cls = tf.CohereForCausalLM
    else:
        raise ValueError(fam)
    model = from_config(cls, cfg)
    randomize(model, SEED + hash_name(fam))
    if "rope" in info:
        inv = None
        for _, mod in model.named_modules():
            if hasattr(mod, "inv_freq"):
                inv = mod.inv_freq.detach().float().numpy()
                break
        exp = expected_inv_freq(48 // 6, info["rope"])
        info["inv_freq_transformers"] = None if inv is None else [float(x) for x in inv]
        info["inv_freq_spec"] = [float(x) for x in exp]
        info["inv_freq_match"] = None if inv is None else bool(np.allclose(inv, exp, rtol=1e-5, atol=0))
    if fam == "cohere":
        info["lm_head_tied"] = model.lm_head.weight is model.model.embed_tokens.weight
    if fam in ("gpt2", "bloom"):
        info["lm_head_tied"] = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return model, cls, info


def hash_name(s):
    return sum((i + 1) * ord(c) for i, c in enumerate(s)) % 10007


# ----------------------------------------------------------------------------------------------
# sections: models

DECODER_FAMILIES = ["gpt2", "bloom", "llama", "llama31", "cohere"]
F32_MODELS = {}


def make_decoder(fam):
    model, cls, info = build_decoder(fam)
    F32_MODELS[fam] = (model, cls)
    d = pdir("models", fam)
    model.save_pretrained(d)
    meta, logits = decoder_outputs(model, fam, fam, f"f32 model models/{fam}")
    meta["config_info"] = info
    meta["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    meta["reload_maxdiff"] = reload_check(cls, d, fam, logits)
    write_json(p("ref", fam, "meta.json"), meta)
    MANIFEST["fixtures"][f"models/{fam}"] = {
        "what": f"tiny random {cls.__name__}, f32, save_pretrained (safetensors)",
        "files": file_list(d), "tensors": safetensors_keys(d), "ref": f"ref/{fam}", **info}

    # bf16 copy; reference = the same forward in f32 from the bf16-rounded weights
    mb = copy.deepcopy(model).to(torch.bfloat16)
    db = pdir("models", fam + "_bf16")
    mb.save_pretrained(db)
    mr = copy.deepcopy(model)
    round_bf16_(mr)
    meta, logits = decoder_outputs(mr, fam, fam + "_bf16",
                                   f"bf16 checkpoint models/{fam}_bf16, run in f32 from the bf16-rounded weights")
    meta["reload_maxdiff"] = reload_check(cls, db, fam, logits)
    write_json(p("ref", fam + "_bf16", "meta.json"), meta)
    MANIFEST["fixtures"][f"models/{fam}_bf16"] = {
        "what": f"{fam} saved after model.to(bfloat16); ref computed in f32 from the rounded weights",
        "files": file_list(db), "tensors": safetensors_keys(db), "ref": f"ref/{fam}_bf16"}


def make_gpt2_bin():
    model, cls = F32_MODELS["gpt2"]
    d = pdir("models", "gpt2_bin")
    sd = model.state_dict()
    # transformers 5 removed safe_serialization=False: the legacy file is torch.save(state_dict),
    # which is what 4.x wrote (a tied lm_head.weight shares wte's storage in the zip).
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    for f in ("config.json", "generation_config.json"):
        src = os.path.join(OUT, "models", "gpt2", f)
        if os.path.exists(src):
            shutil.copy(src, d)
    info = {"keys": {k: [str(v.dtype), list(v.shape)] for k, v in sd.items()},
            "shared_storage": sorted(k for k, v in sd.items()
                                     if any(k2 != k and v2.untyped_storage().data_ptr() == v.untyped_storage().data_ptr()
                                            for k2, v2 in sd.items()))}
    ids, mask, pos, _ = decoder_inputs()
    ref = fwd(model, "gpt2", ids, mask, pos).logits
    try:
        info["reload_maxdiff"] = reload_check(cls, d, "gpt2", ref)
    except Exception as e:
        info["reload_error"] = repr(e)
    MANIFEST["fixtures"]["models/gpt2_bin"] = {
        "what": "models/gpt2 weights as pytorch_model.bin via torch.save(model.state_dict()); same ref as ref/gpt2",
        "files": file_list(d), "ref": "ref/gpt2", **info}


def make_sharded():
    model, cls = F32_MODELS["llama"]
    d = pdir("models", "llama_sharded")
    model.save_pretrained(d, max_shard_size="20KB")
    ids, mask, pos, _ = decoder_inputs()
    ref = fwd(model, "llama", ids, mask, pos).logits
    MANIFEST["fixtures"]["models/llama_sharded"] = {
        "what": "models/llama saved with max_shard_size='20KB' (index + shards); same ref as ref/llama",
        "files": file_list(d), "tensors": safetensors_keys(d), "ref": "ref/llama",
        "reload_maxdiff": reload_check(cls, d, "llama", ref)}


def make_mt5():
    import transformers as tf
    cfg = tf.MT5Config(vocab_size=V, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2,
                       num_decoder_layers=2, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                       relative_attention_num_buckets=32, relative_attention_max_distance=128,
                       layer_norm_epsilon=1e-6, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
                       decoder_start_token_id=0)
    info = {"config_tie_word_embeddings_after_init": getattr(cfg, "tie_word_embeddings", None),
            "config_scale_decoder_outputs": getattr(cfg, "scale_decoder_outputs", "absent")}
    model = from_config(tf.MT5ForConditionalGeneration, cfg)
    info["lm_head_tied_at_init"] = model.lm_head.weight is model.shared.weight
    if info["lm_head_tied_at_init"]:
        # real mT5 checkpoints have a separate, trained lm_head: untie before randomising
        model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    # mT5 (4.x reference): no d_model^-0.5 rescale before the untied head. transformers 5 forces
    # tie_word_embeddings=True and moves the switch to scale_decoder_outputs; pin both off.
    if hasattr(model.config, "scale_decoder_outputs"):
        model.config.scale_decoder_outputs = False
        info["forced"] = "config.scale_decoder_outputs=False"
    else:
        model.config.tie_word_embeddings = False
        info["forced"] = "config.tie_word_embeddings=False after init (no scale_decoder_outputs attribute)"
    randomize(model, SEED + hash_name("mt5"))
    F32_MODELS["mt5"] = (model, tf.MT5ForConditionalGeneration)
    _mt5_save_and_ref(model, "mt5", info, "f32")

    mb = copy.deepcopy(model).to(torch.bfloat16)
    mr = copy.deepcopy(model)
    round_bf16_(mr)
    _mt5_save_and_ref(mb, "mt5_bf16", {}, "bf16", ref_model=mr)


def _mt5_inputs():
    g = gen(SEED + 2)
    enc = torch.randint(3, V, (1, T), generator=g)
    enc[0, -1] = 1                                   # </s>, as the T5 tokenizer appends
    lab = torch.randint(3, V, (1, 5), generator=g)
    lab[0, -1] = 1
    enc2 = torch.randint(3, V, (2, T), generator=g)
    enc2[:, -1] = 1
    m2 = torch.ones(2, T, dtype=torch.long)
    enc2[1, T - 3] = 1                               # item 1: 4 tokens + </s>, right-padded by 2
    enc2[1, T - 2:] = 0
    m2[1, T - 2:] = 0
    lab2 = torch.randint(3, V, (2, 5), generator=g)
    lab2[:, -1] = 1
    lab2[1, -1] = -100                               # ignored target
    return enc, lab, enc2, m2, lab2


def _mt5_save_and_ref(save_model, name, info, kind, ref_model=None):
    import transformers as tf
    model = ref_model if ref_model is not None else save_model
    d = pdir("models", name)
    save_model.save_pretrained(d)
    keys = safetensors_keys(d)
    info["saved_lm_head"] = "lm_head.weight" in keys
    if not info["saved_lm_head"]:
        # mT5 checkpoints on the hub always carry lm_head.weight: add it if save_pretrained dropped it
        from safetensors.torch import load_file, save_file
        f = os.path.join(d, "model.safetensors")
        sd = load_file(f)
        sd["lm_head.weight"] = save_model.lm_head.weight.detach().clone().contiguous()
        save_file(sd, f, metadata={"format": "pt"})
        info["lm_head_added_after_save"] = True
        keys = safetensors_keys(d)
    # Hub mT5 configs say tie_word_embeddings=false; transformers 5 writes true (it forces the flag)
    # and moves the output scaling to scale_decoder_outputs. Keep the file as the hub has it.
    cj = os.path.join(d, "config.json")
    with open(cj) as f:
        conf = json.load(f)
    info["saved_config_tie_word_embeddings"] = conf.get("tie_word_embeddings", "absent")
    info["saved_config_scale_decoder_outputs"] = conf.get("scale_decoder_outputs", "absent")
    if conf.get("tie_word_embeddings") is not False:
        conf["tie_word_embeddings"] = False
        info["config_patched"] = "tie_word_embeddings set to false as in google/mt5-* hub configs"
        with open(cj, "w") as f:
            json.dump(conf, f, indent=2, sort_keys=True)
            f.write("\n")

    enc, lab, enc2, m2, lab2 = _mt5_inputs()
    meta = {"family": "mt5", "note": f"{kind} checkpoint models/{name}" +
            (", run in f32 from the bf16-rounded weights" if kind == "bf16" else "")}
    save_np(name, "enc_ids", enc, meta, "(1,7) encoder input ids, last = </s> (1)")
    save_np(name, "labels", lab, meta, "(1,5) labels, last = </s>")
    save_np(name, "enc_ids_batch", enc2, meta, "(2,7) item 1 right-padded by 2 with pad 0")
    save_np(name, "enc_mask_batch", m2, meta, "(2,7) encoder attention mask")
    save_np(name, "labels_batch", lab2, meta, "(2,5) item 1's last label is -100 (ignored)")
    with torch.no_grad():
        a = model(input_ids=enc, labels=enc)
        b = model(input_ids=enc, labels=lab, output_hidden_states=True)
        c = model(input_ids=enc2, attention_mask=m2, labels=lab2)
        ge = model.generate(input_ids=enc, max_new_tokens=8, do_sample=False,
                            return_dict_in_generate=True, output_logits=True)
        gb = model.generate(input_ids=enc2, attention_mask=m2, max_new_tokens=8, do_sample=False,
                            return_dict_in_generate=True, output_logits=True)
    save_np(name, "loss_ppl", a.loss.reshape(()), meta,
            "(1,) model(input_ids=enc, labels=enc).loss (metric_perplexity usage: mean, no shift)")
    save_np(name, "logits_ppl", a.logits, meta, "(1,7,V) logits of that call")
    save_np(name, "loss", b.loss.reshape(()), meta, "(1,) model(input_ids=enc, labels=labels).loss")
    save_np(name, "logits", b.logits, meta, "(1,5,V)")
    save_np(name, "encoder_hidden", torch.stack(list(b.encoder_hidden_states)), meta,
            "(L+1,1,7,d) encoder_hidden_states (last = after final RMSNorm)")
    save_np(name, "decoder_hidden", torch.stack(list(b.decoder_hidden_states)), meta,
            "(L+1,1,5,d) decoder_hidden_states")
    save_np(name, "loss_batch", c.loss.reshape(()), meta, "(1,) batch loss with encoder mask and -100 label")
    save_np(name, "logits_batch", c.logits, meta, "(2,5,V)")
    save_np(name, "gen", ge.sequences, meta, "(1,1+n) greedy generate(max_new_tokens=8), starts with decoder_start 0")
    save_np(name, "gen_logits", torch.stack(list(ge.logits)), meta, "(n,1,V) raw logits per step")
    save_np(name, "gen_batch", gb.sequences, meta, "(2,1+n) greedy generate of the masked batch")
    save_np(name, "gen_batch_logits", torch.stack(list(gb.logits)), meta, "(n,2,V)")
    # empirical output scaling: logits = s * dec_hidden[-1] @ lm_head^T ; s = 1 for mT5 in 4.x
    last = b.decoder_hidden_states[-1]
    w = model.lm_head.weight
    raw = last @ w.T
    s = float((b.logits * raw).sum() / (raw * raw).sum())
    meta["decoder_output_scale_measured"] = s
    meta["decoder_output_scale_expected_mt5"] = 1.0
    meta["lm_head_is_shared"] = model.lm_head.weight is model.shared.weight
    m = load_pretrained(tf.MT5ForConditionalGeneration, d).eval()
    with torch.no_grad():
        rl = m(input_ids=enc, labels=lab).logits
    meta["reload_maxdiff"] = maxdiff(rl, b.logits)
    meta["reload_lm_head_is_shared"] = m.lm_head.weight is m.shared.weight
    write_json(p("ref", name, "meta.json"), meta)
    MANIFEST["fixtures"][f"models/{name}"] = {
        "what": f"tiny random MT5ForConditionalGeneration ({kind}), gated-gelu, untied lm_head",
        "files": file_list(d), "tensors": keys, "ref": f"ref/{name}", **info}


def make_xlmr():
    import transformers as tf
    cfg = tf.XLMRobertaConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=64, max_position_embeddings=40, type_vocab_size=1,
                              num_labels=2, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cls = tf.XLMRobertaForSequenceClassification
    model = from_config(cls, cfg)
    randomize(model, SEED + hash_name("xlmr"))
    g = gen(SEED + 3)
    ids = torch.randint(3, V, (2, T), generator=g)
    ids[:, 0] = 0
    ids[:, -1] = 2
    ids[1, T - 3] = 2
    ids[1, T - 2:] = 1                              # right padding with <pad>=1, as XLM-R tokenizers pad
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, T - 2:] = 0
    single = torch.randint(3, V, (1, T), generator=g)
    single[0, 0] = 0
    single[0, -1] = 2
    for name, mdl, kind in (("xlmr", model, "f32"), ("xlmr_bf16", None, "bf16")):
        if kind == "bf16":
            save_m = copy.deepcopy(model).to(torch.bfloat16)
            mdl = copy.deepcopy(model)
            round_bf16_(mdl)
        else:
            save_m = model
        d = pdir("models", name)
        save_m.save_pretrained(d)
        meta = {"family": "xlm-roberta", "note": f"{kind} checkpoint models/{name}" +
                (", run in f32 from the bf16-rounded weights" if kind == "bf16" else ""),
                "positions": "RoBERTa position ids = cumsum(ids != pad) * (ids != pad) + pad_id (pad_id = 1)"}
        save_np(name, "input_ids", ids, meta, "(2,7) <s>=0 ... </s>=2; item 1 right-padded by 2 with <pad>=1")
        save_np(name, "attention_mask", mask, meta, "(2,7)")
        save_np(name, "single_ids", single, meta, "(1,7)")
        with torch.no_grad():
            o = mdl(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            o1 = mdl(input_ids=single, output_hidden_states=True)
        save_np(name, "logits_batch", o.logits, meta, "(2,2) classifier logits")
        save_np(name, "probs_batch", torch.softmax(o.logits, -1), meta, "(2,2) softmax")
        save_np(name, "hidden_batch", torch.stack(list(o.hidden_states)), meta, "(L+1,2,7,H)")
        save_np(name, "logits_single", o1.logits, meta, "(1,2)")
        save_np(name, "probs_single", torch.softmax(o1.logits, -1), meta, "(1,2)")
        save_np(name, "hidden_single", torch.stack(list(o1.hidden_states)), meta, "(L+1,1,7,H)")
        m = load_pretrained(cls, d).eval()
        with torch.no_grad():
            meta["reload_maxdiff"] = maxdiff(m(input_ids=ids, attention_mask=mask).logits, o.logits)
        write_json(p("ref", name, "meta.json"), meta)
        MANIFEST["fixtures"][f"models/{name}"] = {
            "what": f"tiny random XLMRobertaForSequenceClassification ({kind}), 2 labels",
            "files": file_list(d), "tensors": safetensors_keys(d), "ref": f"ref/{name}"}


# ----------------------------------------------------------------------------------------------
# section: PEFT LoRA

LORA_TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
              "embed_tokens", "lm_head"],
    "cohere": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
               "embed_tokens", "lm_head"],
    "bloom": ["word_embeddings", "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
}


def make_lora(fam):
    import peft
    base, cls = F32_MODELS[fam]
    base = copy.deepcopy(base)
    cfg = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                          target_modules=LORA_TARGETS[fam])
    pm = peft.get_peft_model(base, cfg)
    g = gen(SEED + 100 + hash_name(fam))
    names = []
    with torch.no_grad():
        for n, prm in pm.named_parameters():
            if "lora_" in n:
                prm.copy_(torch.randn(prm.shape, generator=g) * 0.2)
                names.append(n)
    pm.eval()
    name = f"lora_{fam}"
    meta = {"family": fam, "base": f"models/{fam}", "r": 4, "lora_alpha": 8, "scaling": 2.0,
            "targets": LORA_TARGETS[fam], "lora_params_randomised": len(names),
            "note": "lora_A and lora_B (and the embedding A/B) re-drawn N(0,0.2) so the delta is non-zero"}
    ids, mask, pos, single = decoder_inputs()
    with torch.no_grad():
        la = fwd(pm, fam, ids, mask, pos).logits
        la1 = fwd(pm, fam, single).logits
        base0 = fwd(F32_MODELS[fam][0], fam, ids, mask, pos).logits
    save_np(name, "input_ids", ids, meta, "(2,7) same as ref/<fam>")
    save_np(name, "attention_mask", mask, meta, "(2,7)")
    save_np(name, "position_ids", pos, meta, "(2,7) (not passed for BLOOM)")
    save_np(name, "single_ids", single, meta, "(1,7)")
    save_np(name, "logits_adapter_batch", la, meta, "(2,7,V) PeftModel forward (adapter active, unmerged)")
    save_np(name, "logits_adapter_single", la1, meta, "(1,7,V)")
    meta["adapter_vs_base_maxdiff"] = maxdiff(la[mask.bool()], base0[mask.bool()])
    da = pdir("lora", fam, "adapter")
    pm.save_pretrained(da)
    drop_readme(da)
    with open(os.path.join(da, "adapter_config.json")) as f:
        meta["adapter_config"] = json.load(f)
    # reload the adapter onto a fresh copy of the base
    fresh = load_pretrained(cls, os.path.join(OUT, "models", fam)).eval()
    pm2 = peft.PeftModel.from_pretrained(fresh, da).eval()
    with torch.no_grad():
        meta["adapter_reload_maxdiff"] = maxdiff(fwd(pm2, fam, ids, mask, pos).logits[mask.bool()],
                                                 la[mask.bool()])
    merged = pm.merge_and_unload()
    merged.eval()
    with torch.no_grad():
        lm = fwd(merged, fam, ids, mask, pos).logits
        lm1 = fwd(merged, fam, single).logits
    save_np(name, "logits_merged_batch", lm, meta, "(2,7,V) after merge_and_unload()")
    save_np(name, "logits_merged_single", lm1, meta, "(1,7,V)")
    meta["merged_vs_adapter_maxdiff"] = maxdiff(lm[mask.bool()], la[mask.bool()])
    meta["merged_vs_adapter_note"] = ("non-zero expected when a tied embedding is targeted (bloom word_embeddings, "
                                      "cohere embed_tokens+lm_head): merging writes the delta(s) into the one shared "
                                      "matrix, so the merged head changes too (hf-spec 3.5)")
    dm = pdir("lora", fam, "merged")
    merged.save_pretrained(dm)
    meta["merged_reload_maxdiff"] = reload_check(cls, dm, fam, lm)
    write_json(p("ref", name, "meta.json"), meta)
    MANIFEST["fixtures"][f"lora/{fam}"] = {
        "what": f"PEFT LoRA r=4 alpha=8 on models/{fam}: adapter/ (save_pretrained) and merged/ "
                "(merge_and_unload + save_pretrained)",
        "files": {**file_list(da), **file_list(dm)}, "adapter_tensors": safetensors_keys(da),
        "merged_tensors": safetensors_keys(dm), "ref": f"ref/{name}"}


# ----------------------------------------------------------------------------------------------
# section: tokenizers

ADVERSARIAL = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    " \r\n\t \u3000x\u3000 ",
    "Hello world",
    " Hello  world  ",
    "Hello\r\nworld\tand\ttabs\n\n\nend",
    "It's John's and JOHN'S; we'll, I'd, they're, you've, don't, CAN'T",
    "'s 'S 't 're 've 'm 'll 'd",
    "1234567890123456789012345678901234567890",
    "3.14159 -42 1,000,000 ２０２４年 ①②③",
    "naïve café résumé Ångström ﬁnance",
    "e\u0301 n\u0303 a\u0308\u0304 \u0915\u094d\u0937",
    "Ελληνικά κείμενα και русский текст",
    "مرحبا بالعالم! هذا نص عربي.",
    "שלום עולם",
    "नमस्ते दुनिया, यह हिंदी है।",
    "こんにちは世界、日本語のテキストです。",
    "你好，世界！繁體中文與简体中文。",
    "안녕하세요 세계",
    "สวัสดีชาวโลก",
    "Habari ya dunia, hii ni Kiswahili.",
    "mixedスクリプトtext123русский",
    "👍👍🏽👍🏿",
    "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇫🇷🇯🇵",
    "❤️ vs ❤ and ☺️",
    "\u0001\u0007\u001b[31mred\u001b[0m\u007f",
    "null\u0000byte",
    "zero\u200bwidth\u200cjoiner\u200dand\ufeffbom",
    "   leading and trailing   ",
    "tabs\t\t\tand\u00a0nbsp\u2028line sep",
    "<s> </s> <unk> <|endoftext|> <|begin_of_text|>",
    "a" * 120,
    "ab" * 40 + " " + "xyz" * 20,
    "http://example.com/path?query=1&b=2#frag",
    "emoji_in_word👍end",
    "ﾊﾝｶｸ half-width katakana and ＦＵＬＬ ｗｉｄｔｈ",
    "\U0001d400\U0001d401 math bold, \U00020000 CJK ext B",
    "Straße STRASSE İstanbul ǅ",
]


def rtp_texts(src):
    out = []
    for f in sorted(glob.glob(os.path.join(src, "rtp-lx", "RTP_LX_*.json"))):
        with open(f, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= 15:
                    break
                out.append((os.path.basename(f), i, json.loads(line)["Prompt"]))
    return out


def diff_to(text, dec):
    """[p, s, mid]: dec == text[:p] + mid + text[len(text)-s:] (keeps third-party text out of the repo)."""
    pfx = 0
    while pfx < min(len(text), len(dec)) and text[pfx] == dec[pfx]:
        pfx += 1
    sfx = 0
    while sfx < min(len(text), len(dec)) - pfx and text[-1 - sfx] == dec[-1 - sfx]:
        sfx += 1
    mid = dec[pfx:len(dec) - sfx]
    assert text[:pfx] + mid + text[len(text) - sfx:] == dec
    return [pfx, sfx, mid]


def flat(offs):
    return [int(x) for pr in offs for x in pr]


class HFTok:
    """transformers tokenizer: tok(text, add_special_tokens, return_offsets_mapping) + tok.decode."""
    def __init__(self, tok):
        self.tok = tok

    def enc(self, text, special):
        e = self.tok(text, add_special_tokens=special, return_offsets_mapping=True)
        return [int(x) for x in e["input_ids"]], flat(e["offset_mapping"])

    def dec(self, ids, skip):
        return self.tok.decode(ids, skip_special_tokens=skip)


class RawTok:
    """tokenizers.Tokenizer: what a C reader of tokenizer.json must reproduce."""
    def __init__(self, tok):
        self.tok = tok

    def enc(self, text, special):
        e = self.tok.encode(text, add_special_tokens=special)
        return list(e.ids), flat(e.offsets)

    def dec(self, ids, skip):
        return self.tok.decode(ids, skip_special_tokens=skip)


def records(t, items, store_text, full=True):
    """items: list of (key-dict, text). Decodes are stored verbatim when the text is stored,
    else as diff_to(text, decoded). full=False keeps ids only."""
    recs = []
    for key, text in items:
        r = dict(key)
        try:
            ids, offs = t.enc(text, False)
            ids_s, offs_s = t.enc(text, True)
            if not full:
                r.update(ids=ids, ids_sp=ids_s)
                recs.append(r)
                continue
            r.update(ids=ids, offsets=offs, ids_sp=ids_s, offsets_sp=offs_s)
            decs = {"dec": t.dec(ids, False), "dec_skip": t.dec(ids, True),
                    "dec_sp": t.dec(ids_s, False), "dec_sp_skip": t.dec(ids_s, True)}
            for k, v in decs.items():
                r[k] = v if store_text else diff_to(text, v)
        except Exception as e:
            r["error"] = repr(e)
        recs.append(r)
    return recs


def pipeline_json(backend):
    """tokenizer.json without the vocabulary/merges (the parts a C reader must interpret)."""
    j = json.loads(backend.to_str())
    m = j.get("model", {})
    for k in ("vocab", "merges"):
        if k in m:
            m[k] = f"<{len(m[k])} entries omitted>"
    for comp in ("normalizer",):
        def strip_charsmap(x):
            if isinstance(x, dict):
                if "precompiled_charsmap" in x and x["precompiled_charsmap"]:
                    x["precompiled_charsmap"] = f"<{len(x['precompiled_charsmap'])} base64 chars omitted>"
                for v in x.values():
                    strip_charsmap(v)
            elif isinstance(x, list):
                for v in x:
                    strip_charsmap(v)
        strip_charsmap(j.get(comp))
    return j


def tok_attrs(tok):
    out = {"class": type(tok).__name__}
    for a in ("legacy", "add_bos_token", "add_eos_token", "add_prefix_space", "clean_up_tokenization_spaces",
              "bos_token", "eos_token", "unk_token", "pad_token", "model_max_length"):
        v = getattr(tok, a, None)
        if v is not None:
            out[a] = v if isinstance(v, (bool, int, float)) and v < 1e12 else str(v)
    try:
        out["all_special_ids"] = list(tok.all_special_ids)
    except Exception:
        pass
    return out


def llamacpp_cases(src, name):
    inp = os.path.join(src, "tokenizer-tests", name + ".inp")
    outp = os.path.join(src, "tokenizer-tests", name + ".out")
    with open(inp, encoding="utf-8") as f:
        txt = f.read()
    cases = txt.split("\n__ggml_vocab_test__\n")
    if cases and cases[-1] == "":
        cases = cases[:-1]
    with open(outp, encoding="utf-8") as f:
        exp = [[int(x) for x in line.split()] for line in f.read().split("\n")]
    return cases, exp[:len(cases)]


def compare_llamacpp(t, src, name):
    """Compare with ../shared/models/tokenizer-tests (ids made by transformers 4.x from the hub files)."""
    try:
        cases, exp = llamacpp_cases(src, name)
        bad = []
        for i, (c, e) in enumerate(zip(cases, exp)):
            got, _ = t.enc(c, False)
            if got != e:
                bad.append({"case": i, "expected": e, "got": got})
        return {"cases": len(cases), "mismatches": len(bad), "details": bad}
    except Exception as e:
        return {"error": repr(e), "mismatches": None}


TOK_SUMMARY = {}


def make_tok_real(src):
    import transformers as tf
    import tokenizers
    texts_adv = [({"i": i}, s) for i, s in enumerate(ADVERSARIAL)]
    rtp = [({"file": f, "line": ln}, s) for f, ln, s in rtp_texts(src)]
    write_json(p("tokenizers", "adversarial.json"), {"what": "adversarial strings, index = 'i' in the records",
                                                      "texts": ADVERSARIAL})

    def emit(name, t, info, tok_for_pipeline, full=True):
        res = {"tokenizer": name, "info": info,
               "offsets": "character (code point) offsets into the Python str, flattened [s0,e0,s1,e1,...]",
               "decodes": "adversarial: verbatim; rtp: [p,s,mid] so that dec = text[:p]+mid+text[len(text)-s:]",
               "adversarial": records(t, texts_adv, True, full),
               "rtp": records(t, rtp, False, full)}
        write_json(p("tokenizers", name + ".json"), res, compact=True)
        if tok_for_pipeline is not None:
            write_json(p("tokenizers", "pipelines", name + ".json"), pipeline_json(tok_for_pipeline))
        return res

    # GPT-2: GPT2TokenizerFast from vocab.json + merges.txt
    gdir = os.path.join(src, "tokenizers", "gpt2")
    try:
        gt = tk_class(tf, "GPT2TokenizerFast", "GPT2Tokenizer")(vocab_file=os.path.join(gdir, "vocab.json"),
                                  merges_file=os.path.join(gdir, "merges.txt"))
        how = "GPT2TokenizerFast(vocab_file, merges_file)"
        if len(gt) < 50000:
            raise ValueError(f"constructor gave a {len(gt)}-entry vocab")
    except Exception as e:
        log("gpt2 ctor failed:", repr(e))
        gt = tk_class(tf, "GPT2TokenizerFast", "GPT2Tokenizer").from_pretrained(gdir)
        how = "GPT2TokenizerFast.from_pretrained(dir with vocab.json, merges.txt)"
    info = {"constructed_with": how, **tok_attrs(gt), "vocab_size": len(gt)}
    info["llamacpp_gpt2"] = compare_llamacpp(HFTok(gt), src, "gpt2")
    emit("gpt2", HFTok(gt), info, gt.backend_tokenizer)
    TOK_SUMMARY["gpt2"] = {k: v for k, v in info.items() if k != "llamacpp_gpt2"}
    TOK_SUMMARY["gpt2"]["llamacpp_mismatches"] = info["llamacpp_gpt2"]["mismatches"]

    # Llama-2: LlamaTokenizerFast from tokenizer.model; try the legacy variants and compare with
    # sentencepiece itself and with the HF-made llama.cpp reference ids (4.x, hub tokenizer.json)
    import sentencepiece as spm
    ldir = os.path.join(src, "tokenizers", "llama2")
    sp = spm.SentencePieceProcessor(model_file=os.path.join(ldir, "tokenizer.model"))
    variants = {}
    for label, kw in (("default", {}), ("legacy_true", {"legacy": True}), ("legacy_false", {"legacy": False})):
        try:
            tk = tk_class(tf, "LlamaTokenizerFast", "LlamaTokenizer").from_pretrained(ldir, **kw)
            ht = HFTok(tk)
            agree = 0
            allt = [s for _, s in texts_adv] + [s for _, s in rtp]
            for s in allt:
                try:
                    agree += ht.enc(s, False)[0] == sp.encode(s)
                except Exception:
                    pass
            variants[label] = {"tok": tk, "attrs": tok_attrs(tk), "vocab_size": len(tk),
                               "agree_with_sentencepiece": f"{agree}/{len(allt)}",
                               "llamacpp": compare_llamacpp(ht, src, "llama2"),
                               "pipeline": pipeline_json(tk.backend_tokenizer)}
        except Exception as e:
            variants[label] = {"error": repr(e)}
    ok = [k for k, v in variants.items() if "tok" in v]
    if not ok:
        raise RuntimeError(f"no Llama-2 tokenizer variant loaded: {variants}")
    prim = "default" if "default" in ok else ok[0]
    lt = variants[prim]["tok"]
    info = {"constructed_with": f"LlamaTokenizerFast.from_pretrained(dir with tokenizer.model) [{prim}]",
            "what": "transformers 5.17 behaviour, NOT the project reference (see llama2.json): ids only",
            "primary_variant": prim,
            "variants": {k: {kk: vv for kk, vv in v.items() if kk not in ("tok", "pipeline")}
                         for k, v in variants.items()}}
    emit("llama2_tf5", HFTok(lt), info, lt.backend_tokenizer, full=False)
    # The project reference is transformers 4.x with the hub tokenizer.json (legacy layout). transformers
    # 5 rebuilds the pipeline (Metaspace 'first', no BOS template), so take its BPE model (vocab,
    # merges, byte_fallback) and put back the 4.x components; llama.cpp's 4.x ids and sentencepiece check it.
    l441 = llama_layout_441(lt.backend_tokenizer, sp)
    r441 = RawTok(l441)
    allt = [s for _, s in texts_adv] + [s for _, s in rtp]
    agree = sum(r441.enc(s, False)[0] == sp.encode(s) for s in allt)
    info = {"constructed_with": "vocab of transformers 5.17's conversion of tokenizer.model, merges re-ordered and "
                                "the 4.x hub tokenizer.json components put back (llama_layout_441), run with the "
                                "tokenizers library",
            "agree_with_sentencepiece": f"{agree}/{len(allt)}",
            "llamacpp": compare_llamacpp(r441, src, "llama2"),
            "decode": "tokenizers decode (Llama-2's hub tokenizer_config has clean_up_tokenization_spaces=false)"}
    res = emit("llama2", r441, info, l441)
    # sentencepiece's own ids, only where they differ from the transformers ids
    spd = []
    for (key, s), r in zip(texts_adv + rtp, res["adversarial"] + res["rtp"]):
        ids = sp.encode(s)
        if ids != r.get("ids"):
            spd.append({**key, "sentencepiece_ids": ids})
    write_json(p("tokenizers", "llama2_sentencepiece_diffs.json"),
               {"what": "texts where sentencepiece.encode(text) != llama2.json ids (add_special_tokens=False)",
                "diffs": spd})
    TOK_SUMMARY["llama2"] = {"reference_4x_layout": {"agree_with_sentencepiece": info["agree_with_sentencepiece"],
                                                     "llamacpp_mismatches": info["llamacpp"]["mismatches"]},
                             "tf5_primary": prim, "sentencepiece_diffs": len(spd),
                             **{k: {kk: (vv["mismatches"] if kk == "llamacpp" else vv)
                                    for kk, vv in v.items() if kk not in ("tok", "pipeline")}
                                for k, v in variants.items()}}

    # Llama-3: PreTrainedTokenizerFast(tokenizer_file=...), BOS added by the caller
    jpath = os.path.join(src, "tokenizers", "llama3", "tokenizer.json")
    try:
        l3 = tk_class(tf, "PreTrainedTokenizerFast", "TokenizersBackend")(tokenizer_file=jpath)
        how = "PreTrainedTokenizerFast(tokenizer_file=tokenizer.json) (no tokenizer_config)"
        if len(l3) < 128000:
            raise ValueError(f"constructor gave a {len(l3)}-entry vocab")
    except Exception as e:
        log("llama3 ctor failed:", repr(e))
        l3 = tf.AutoTokenizer.from_pretrained(os.path.dirname(jpath))
        how = "AutoTokenizer.from_pretrained(dir with tokenizer.json + tokenizer_config.json)"
    raw = tokenizers.Tokenizer.from_file(jpath)
    info = {"constructed_with": how, **tok_attrs(l3), "vocab_size": len(l3)}
    res = emit("llama3", HFTok(l3), info, l3.backend_tokenizer)
    same = 0
    n = 0
    rawt = RawTok(raw)
    for (key, s), r in zip(texts_adv + rtp, res["adversarial"] + res["rtp"]):
        n += 1
        try:
            a, o = rawt.enc(s, False)
            b, o2 = rawt.enc(s, True)
            same += (a == r.get("ids") and b == r.get("ids_sp") and o == r.get("offsets"))
        except Exception:
            pass
    info2 = {"raw_tokenizers_agree": f"{same}/{n}"}
    TOK_SUMMARY["llama3"] = {**info, **info2}
    MANIFEST["fixtures"]["tokenizers/real"] = {
        "what": "gpt2.json, llama2.json, llama3.json: ids (add_special_tokens False: ids, True: ids_sp), character "
                "offsets, and decodes (skip_special_tokens False/True) of tokenizers/adversarial.json and of the first "
                "15 prompts of each RTP-LX file (text not stored: re-read from ../shared; decodes stored as [p,s,mid] "
                "diffs). llama2.json = the 4.x hub layout (reference); llama2_tf5.json = transformers 5.17's own "
                "LlamaTokenizer (ids only, differs); llama2_sentencepiece_diffs.json; pipelines/*.json = the "
                "tokenizer.json pipelines without vocab/merges",
        "files": {k: v for k, v in file_list(os.path.join(OUT, "tokenizers")).items() if "synthetic" not in k}}


def synthetic_corpus():
    """Deterministic multilingual text over small alphabets (so a 300-piece vocab can cover it)."""
    rng = random.Random(SEED)
    alph = {
        "latin": "aeioulnrstmdkpbgvhy" + "éèüöçñ",
        "LATIN": "ABCDEKLMST",
        "cyr": "аеиоунрстлвк",
        "greek": "αεικλμνοστ",
        "arab": "ابتدرسلمنهوي",
        "deva": "कगतदनपमरलस" + "ािीुे",
        "hang": "가나다라마바사아자하",
        "cjk": "的一是不了人我在有大",
        "thai": "กคงดตนบมยรลสอาิ",
        "kana": "あいうかきくさしすたちつ",
    }
    words = []
    for _ in range(1200):
        k = rng.choice(list(alph))
        n = rng.randint(1, 6)
        words.append("".join(rng.choice(alph[k]) for _ in range(n)))
    lines = []
    for i in range(300):
        w = [rng.choice(words) for _ in range(rng.randint(3, 12))]
        if i % 7 == 0:
            w.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
        if i % 11 == 0:
            w.append(rng.choice([".", ",", "!", "?", "(x)", "-", ":"]))
        if i % 29 == 0:
            w.append(rng.choice(["👍", "😀", "ＡＢＣ", "ﬁ", "①", "…"]))
        lines.append(" ".join(w))
    return lines


def llama_layout_441(backend, sp):
    """transformers 4.x LlamaTokenizerFast / hub Llama-2 tokenizer.json layout (pipeline-spec 3.9) around
    the BPE vocabulary of an existing conversion: normalizer Prepend+Replace, no pre-tokenizer,
    '<s> $A' template, unk_token set. Merges are ordered as 4.x's SentencePieceExtractor ordered them:
    by the SentencePiece score of the merged piece (descending), ties by piece id, then by the ids of
    the two halves. transformers 5 orders them differently, which matters for Llama-2's '\u2581\u2581'
    pieces (score -1e9): checked against sentencepiece and llama.cpp's 4.x ids. Edited as JSON so the
    result has exactly the hub file's shape."""
    from tokenizers import Tokenizer
    j = json.loads(backend.to_str())
    bos, bos_id = sp.id_to_piece(sp.bos_id()), sp.bos_id()
    score = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    vocab = j["model"]["vocab"]

    def key(m):
        left, right = m.split(" ", 1) if isinstance(m, str) else m
        return (-score.get(left + right, -1e30), vocab.get(left + right, 1 << 30), vocab.get(left, 0),
                vocab.get(right, 0))
    j["model"]["merges"] = sorted(j["model"]["merges"], key=key)
    j["model"]["unk_token"] = sp.id_to_piece(sp.unk_id())
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    j["pre_tokenizer"] = None
    sp0 = {"SpecialToken": {"id": bos, "type_id": 0}}
    sp1 = {"SpecialToken": {"id": bos, "type_id": 1}}
    j["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [sp0, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [sp0, {"Sequence": {"id": "A", "type_id": 0}}, sp1, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}
    return Tokenizer.from_str(json.dumps(j))


def spm_proto(path):
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except Exception:
        from transformers.utils import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    return m


def t5_layout_from_spm(path):
    """The pipeline that transformers 4.x's T5Converter wrote (pipeline-spec 3.9, mT5 row), assembled
    with the tokenizers API; checked against sentencepiece like every candidate."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    proto = spm_proto(path)
    vocab = [(pc.piece, pc.score) for pc in proto.pieces]
    tk = Tokenizer(Unigram(vocab, proto.trainer_spec.unk_id, False))
    norms = [normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), "\u2581")]
    pc = proto.normalizer_spec.precompiled_charsmap
    tk.normalizer = normalizers.Sequence(([normalizers.Precompiled(pc)] if pc else []) + norms)
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tk.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    # unknown (2) and control (3) pieces are special tokens, as the converters register them
    tk.add_special_tokens([AddedToken(pc.piece, special=True, normalized=False)
                           for pc in proto.pieces if pc.type in (2, 3)])
    eos = proto.trainer_spec.eos_id
    tk.post_processor = processors.TemplateProcessing(single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"],
                                                      special_tokens=[("</s>", eos)])
    return tk


def make_tok_synthetic():
    import sentencepiece as spm
    import tokenizers
    from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers
    import transformers as tf
    d = pdir("tokenizers", "synthetic")
    lines = synthetic_corpus()
    corpus = os.path.join(d, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    test_lines = lines[:40]
    items = [({"i": i}, s) for i, s in enumerate(ADVERSARIAL)]
    items_c = [({"line": i}, s) for i, s in enumerate(test_lines)]
    summary = {}

    def train(prefix, vocab_sizes, **kw):
        last = None
        for vs in vocab_sizes:
            for hard in (True, False):
                try:
                    spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(d, prefix),
                                                   vocab_size=vs, hard_vocab_limit=hard, num_threads=4,
                                                   **kw)
                    return {"vocab_size": vs, "hard_vocab_limit": hard, **kw}
                except Exception as e:
                    last = e
                    log(f"spm {prefix} vocab {vs} hard {hard}: {e!r}")
        raise last

    def json_candidates(spm_path, kind):
        """transformers' conversions of the .model; each checked against sentencepiece."""
        cands = {}
        tmp = os.path.join(OUT, "_tmp_" + kind)
        os.makedirs(tmp, exist_ok=True)
        if kind == "unigram":
            shutil.copy(spm_path, os.path.join(tmp, "spiece.model"))
            t5 = tk_class(tf, "T5TokenizerFast", "T5Tokenizer")
            tries = [("T5TokenizerFast(vocab_file, extra_ids=0)",
                      lambda: t5(vocab_file=spm_path, extra_ids=0)),
                     ("T5TokenizerFast.from_pretrained(dir with spiece.model, extra_ids=0)",
                      lambda: t5.from_pretrained(tmp, extra_ids=0))]
        else:
            shutil.copy(spm_path, os.path.join(tmp, "tokenizer.model"))
            lt = tk_class(tf, "LlamaTokenizerFast", "LlamaTokenizer")
            tries = [("LlamaTokenizerFast(vocab_file)", lambda: lt(vocab_file=spm_path)),
                     ("LlamaTokenizerFast.from_pretrained(dir with tokenizer.model)",
                      lambda: lt.from_pretrained(tmp))]
            tries.append(("manual: transformers-4.x Llama layout (llama_layout_441) around the 5.17 BPE model",
                          lambda: type("W", (), {"backend_tokenizer": llama_layout_441(
                              lt.from_pretrained(tmp).backend_tokenizer,
                              spm.SentencePieceProcessor(model_file=spm_path))})()))
        for label, mk in tries:
            try:
                tk = mk()
                cands[label] = tk.backend_tokenizer
            except Exception as e:
                cands[label] = e
        if kind == "unigram":
            try:
                cands["manual: transformers-4.x T5Converter layout via the tokenizers API"] = \
                    t5_layout_from_spm(spm_path)
            except Exception as e:
                cands["manual: transformers-4.x T5Converter layout via the tokenizers API"] = e
        shutil.rmtree(tmp, ignore_errors=True)
        return cands

    for kind, prefix, sizes, kw in (
            ("unigram", "unigram", (300, 350, 400), dict(model_type="unigram", pad_id=0, eos_id=1, unk_id=2,
                                                         bos_id=-1, normalization_rule_name="nmt_nfkc")),
            ("bpe", "bpe", (300, 400, 500, 700), dict(model_type="bpe", byte_fallback=True, unk_id=0, bos_id=1,
                                                      eos_id=2, pad_id=-1, character_coverage=0.995,
                                                      normalization_rule_name="identity",
                                                      remove_extra_whitespaces=False, split_digits=True,
                                                      allow_whitespace_only_pieces=True))):
        trained = train(prefix, sizes, **kw)
        mpath = os.path.join(d, prefix + ".model")
        os.remove(os.path.join(d, prefix + ".vocab"))
        sp = spm.SentencePieceProcessor(model_file=mpath)
        allt = items + items_c
        sp_ids = [sp.encode(s) for _, s in allt]
        info = {"trained": trained, "pieces": sp.get_piece_size(), "candidates": {}}
        viable = []
        for label, bt in json_candidates(mpath, kind).items():
            if isinstance(bt, Exception):
                info["candidates"][label] = {"error": repr(bt)}
                continue
            rt = RawTok(bt)
            agree = sum(rt.enc(s, False)[0] == ids for (_, s), ids in zip(allt, sp_ids))
            pj = pipeline_json(bt)
            has_pc = "Precompiled" in json.dumps(pj.get("normalizer"))
            info["candidates"][label] = {"agree_with_sentencepiece": f"{agree}/{len(allt)}",
                                         "vocab_size": bt.get_vocab_size(), "has_precompiled_charsmap": has_pc,
                                         "pipeline": pj}
            if bt.get_vocab_size() >= sp.get_piece_size():
                viable.append((label, bt))
        if not viable:
            raise RuntimeError(f"no conversion of {kind} worked")
        # transformers' own from_pretrained conversion is the primary file; a manual 4.x layout is ".tf4"
        for label, bt in viable:
            tag = ".tf4" if label.startswith("manual") else ""
            jpath = os.path.join(d, f"{prefix}{tag}.tokenizer.json")
            if os.path.exists(jpath):
                continue                      # one file per tag: the first viable candidate wins
            bt.save(jpath)
            info["candidates"][label]["saved_as"] = os.path.basename(jpath)
            rt = RawTok(tokenizers.Tokenizer.from_file(jpath))
            res = {"tokenizer": f"synthetic/{prefix}{tag}.tokenizer.json (from {prefix}.model)", "made_by": label,
                   "offsets": "character offsets, flattened", "adversarial": records(rt, items, True),
                   "corpus_lines": records(rt, items_c, True)}
            for r, ids in zip(res["adversarial"] + res["corpus_lines"], sp_ids):
                r["sentencepiece_ids"] = ids
                r["sentencepiece_decode"] = sp.decode(ids)
            write_json(os.path.join(d, f"{prefix}{tag}.results.json"), res, compact=True)
        summary[kind] = {k: (v if k != "candidates" else {kk: {x: y for x, y in vv.items() if x != "pipeline"}
                                                            for kk, vv in v.items()}) for k, v in info.items()}
        write_json(os.path.join(d, f"{prefix}.info.json"), info)

    # WordPiece with the tokenizers library: BertNormalizer + BertPreTokenizer
    wp = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tr = trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials)
    wp.train_from_iterator(lines, tr)
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", wp.token_to_id("[CLS]")), ("[SEP]", wp.token_to_id("[SEP]"))])
    wp.decoder = decoders.WordPiece(prefix="##")
    jpath = os.path.join(d, "wordpiece.tokenizer.json")
    wp.save(jpath)
    rt = RawTok(tokenizers.Tokenizer.from_file(jpath))
    res = {"tokenizer": "synthetic/wordpiece.tokenizer.json", "info": {"vocab_size": wp.get_vocab_size()},
           "offsets": "character offsets, flattened", "adversarial": records(rt, items, True),
           "corpus_lines": records(rt, items_c, True)}
    write_json(os.path.join(d, "wordpiece.results.json"), res, compact=True)
    summary["wordpiece"] = {"vocab_size": wp.get_vocab_size()}
    TOK_SUMMARY["synthetic"] = summary
    MANIFEST["fixtures"]["tokenizers/synthetic"] = {
        "what": "tiny tokenizers trained here on corpus.txt (generated by synthetic_corpus()): sentencepiece "
                "Unigram (nmt_nfkc) and BPE (byte_fallback), converted to tokenizer.json by transformers; "
                "WordPiece trained with tokenizers. *.results.json: ids/offsets/decodes of the adversarial "
                "strings and corpus lines 0-39 with the raw tokenizers library, plus sentencepiece ids",
        "files": file_list(d), "summary": summary}


# ----------------------------------------------------------------------------------------------

def versions():
    v = {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
         "numpy": np.__version__}
    for mod in ("transformers", "peft", "tokenizers", "sentencepiece", "safetensors"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception as e:
            v[mod] = f"unavailable: {e!r}"
    return v


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="folder with tokenizers/, rtp-lx/, tokenizer-tests/")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated section names (debugging)")
    a = ap.parse_args()
    OUT = os.path.abspath(a.out)
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    MANIFEST["versions"] = versions()
    MANIFEST["device"] = "cpu, float32 (CUDA not used)"
    log(json.dumps(MANIFEST["versions"]))
    only = set(x for x in a.only.split(",") if x)

    def want(n):
        return not only or n in only

    t0 = time.time()
    for fam in DECODER_FAMILIES:
        if want(fam):
            section(f"model:{fam}")(make_decoder)(fam)
    if want("gpt2_bin") and "gpt2" in F32_MODELS:
        section("model:gpt2_bin")(make_gpt2_bin)()
    if want("sharded") and "llama" in F32_MODELS:
        section("model:llama_sharded")(make_sharded)()
    if want("mt5"):
        section("model:mt5")(make_mt5)()
    if want("xlmr"):
        section("model:xlmr")(make_xlmr)()
    for fam in ("llama", "cohere", "bloom", "gpt2"):
        if want("lora") and fam in F32_MODELS:
            section(f"lora:{fam}")(make_lora)(fam)
    if want("tok"):
        section("tokenizers:real")(make_tok_real)(a.src)
    if want("toksyn"):
        section("tokenizers:synthetic")(make_tok_synthetic)()
    MANIFEST["tokenizer_summary"] = TOK_SUMMARY
    MANIFEST["total_seconds"] = round(time.time() - t0, 1)
    write_json(os.path.join(OUT, "manifest.json"), MANIFEST)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    log(f"total size {total} bytes; errors: {len(MANIFEST['errors'])}")
    for e in MANIFEST["errors"]:
        log("ERROR", e["section"], e["error"])


if __name__ == "__main__":
    main()
