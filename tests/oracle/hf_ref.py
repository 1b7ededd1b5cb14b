"""An independent PyTorch reference of the model families xgd runs (the test oracle).

Written from hf-spec.md §1-§2 and the math of transformers' modeling_{gpt2,bloom,llama,cohere,t5,
xlm_roberta}.py and modeling_rope_utils.py (transformers is not installed here). Everything runs in
torch float32 (or float64 if asked); bf16/f16 weights are widened on load, as `from_pretrained(...,
torch_dtype=torch.float32)` would.

API
  m = load(folder)                           config.json + safetensors (single or sharded), else
                                             pytorch_model.bin via torch.load(weights_only=True)
  out = forward(m, input_ids, attention_mask=None, past=None, positions=None, labels=None, ...)
  logits, hidden, acts = out                 (out.past, out.loss, out.enc_hidden also exist)
  generate_greedy(m, input_ids, attention_mask=None, max_new_tokens=8)
  token_logprobs(m, input_ids, attention_mask=None)   (B,T-1) next-token log-probs

hidden (`output_hidden_states` convention, checked in the sources): a list of L+1 tensors (B,T,C):
  hidden[0] = embedding output, hidden[i] = output of layer i-1 for i < L, and hidden[L] is the LAST
  layer's output AFTER the final norm (GPT2Model/BloomModel/LlamaModel/CohereModel/T5Stack append
  `norm(h)` instead of the raw residual). XLM-RoBERTa has no final norm (post-LN): hidden[L] = layer L-1 output.
  The raw last residual is acts[f"layer.{L-1}.resid_post"].

acts (hook names of the C engine), each (B,T,·):
  embed, layer.N.attn_out (attention block output incl. o_proj bias, before the residual add),
  layer.N.mlp.pre_act (input of the activation: c_fc / dense_h_to_4h / gate_proj / wi_0 output),
  layer.N.mlp.post_act (the neurons: act(fc) for gpt2/bloom/xlmr, act(gate)*up for llama/cohere,
  act(wi_0)*wi_1 for gated T5), layer.N.mlp_out, layer.N.resid_post, final_norm, logits.
  T5 prefixes them with "enc." / "dec." (and adds dec.layer.N.cross_out); logits stays "logits".

Position ids (`positions=` None | "arange" | "cumsum"; None = what transformers' plain forward does):
  gpt2        plain forward: arange(past, past+T) whatever the mask (GPT2Model). generate():
              cumsum(mask)-1, pad slots 1 (prepare_inputs_for_generation). Learned absolute
              positions, so the two differ for left-padded rows.
  llama/cohere plain forward: arange via cache_position; generate(): cumsum(mask)-1. RoPE is relative,
              so for valid tokens the two agree up to rounding (not for dynamic NTK, which keys on max pos).
  bloom       no position ids: ALiBi uses (cumsum(mask)-1)*mask over the keys in every forward. A
              constant shift of key positions per row cancels in the softmax, so arange == cumsum
              on valid tokens; "arange" uses key index j.
  t5/mt5      relative buckets from arange query/key indices (mask ignored).
  xlm-roberta padding_idx+1+cumsum over (input_ids != pad_token_id) (create_position_ids_from_input_ids:
              the pad *token*, not attention_mask); "cumsum" uses attention_mask, "arange" ignores padding.
Rows whose query is a padding slot are unspecified (fully masked softmax); compare valid slots only.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import read_folder  # noqa: E402

FAMILIES = ("gpt2", "bloom", "llama", "cohere", "t5", "xlm-roberta")


# ----------------------------------------------------------------------------------------------
# config


def _get(cfg, *keys, default=None):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


def _family(cfg):
    mt = cfg.get("model_type", "")
    arch = " ".join(cfg.get("architectures") or [])
    if mt in ("gpt2", "bloom", "llama", "cohere"):
        return mt
    if mt in ("t5", "mt5"):
        return "t5"
    if mt in ("xlm-roberta", "roberta"):
        return "xlm-roberta"
    for fam, key in (("gpt2", "GPT2"), ("bloom", "Bloom"), ("llama", "Llama"), ("cohere", "Cohere"),
                     ("t5", "T5"), ("xlm-roberta", "Roberta")):
        if key in arch:
            return fam
    raise ValueError(f"config.json: unsupported model_type {mt!r} / architectures {arch!r}")


def _rope(cfg, default_theta):
    """RoPE parameters from v5 `rope_parameters` or v4 `rope_theta` + `rope_scaling` (hf-spec §1.5)."""
    if isinstance(cfg.get("rope_parameters"), dict):
        r = dict(cfg["rope_parameters"])
    else:
        r = dict(cfg.get("rope_scaling") or {})
    r["rope_type"] = r.get("rope_type", r.get("type", "default"))
    r["rope_theta"] = float(_get(r, "rope_theta", default=_get(cfg, "rope_theta", default=default_theta)))
    return r


def parse_config(cfg):
    """Normalize a config.json dict (v4 or v5 spellings) into one flat dict per family."""
    fam = _family(cfg)
    c = {"family": fam, "dtype": _get(cfg, "torch_dtype", "dtype", default="float32")}
    if fam == "gpt2":
        c.update(hidden=_get(cfg, "n_embd", "hidden_size", default=768),
                 n_layer=_get(cfg, "n_layer", "num_hidden_layers", default=12),
                 n_head=_get(cfg, "n_head", "num_attention_heads", default=12),
                 n_pos=_get(cfg, "n_positions", "max_position_embeddings", default=1024),
                 act=_get(cfg, "activation_function", default="gelu_new"),
                 eps=_get(cfg, "layer_norm_epsilon", default=1e-5),
                 scale_attn=_get(cfg, "scale_attn_weights", default=True),
                 scale_inv_layer=_get(cfg, "scale_attn_by_inverse_layer_idx", default=False),
                 tie=_get(cfg, "tie_word_embeddings", default=True))
        c["inner"] = _get(cfg, "n_inner", default=4 * c["hidden"])
    elif fam == "bloom":
        c.update(hidden=_get(cfg, "hidden_size", "n_embed", default=64),
                 n_layer=_get(cfg, "n_layer", "num_hidden_layers", default=2),
                 n_head=_get(cfg, "n_head", "num_attention_heads", default=8),
                 eps=_get(cfg, "layer_norm_epsilon", default=1e-5),
                 post_ln_residual=_get(cfg, "apply_residual_connection_post_layernorm", default=False),
                 tie=_get(cfg, "tie_word_embeddings", default=True))
    elif fam in ("llama", "cohere"):
        c.update(hidden=_get(cfg, "hidden_size", default=4096),
                 n_layer=_get(cfg, "num_hidden_layers", default=32),
                 n_head=_get(cfg, "num_attention_heads", default=32),
                 inter=_get(cfg, "intermediate_size", default=11008),
                 act=_get(cfg, "hidden_act", default="silu"),
                 max_pos=_get(cfg, "max_position_embeddings", default=2048),
                 attn_bias=_get(cfg, "attention_bias", default=False),
                 mlp_bias=_get(cfg, "mlp_bias", default=False))
        c["n_kv"] = _get(cfg, "num_key_value_heads", default=c["n_head"])
        c["head_dim"] = _get(cfg, "head_dim", default=c["hidden"] // c["n_head"])
        c["rope"] = _rope(cfg, 10000.0)
        if fam == "llama":
            c.update(eps=_get(cfg, "rms_norm_eps", default=1e-6), tie=_get(cfg, "tie_word_embeddings", default=False))
        else:
            c.update(eps=_get(cfg, "layer_norm_eps", default=1e-5), tie=_get(cfg, "tie_word_embeddings", default=True),
                     logit_scale=_get(cfg, "logit_scale", default=0.0625),
                     qk_norm=_get(cfg, "use_qk_norm", default=False))
    elif fam == "t5":
        c.update(hidden=_get(cfg, "d_model", "hidden_size", default=512),
                 d_kv=_get(cfg, "d_kv", "head_dim", default=64),
                 d_ff=_get(cfg, "d_ff", default=2048),
                 n_layer=_get(cfg, "num_layers", "num_hidden_layers", default=6),
                 n_head=_get(cfg, "num_heads", "num_attention_heads", default=8),
                 buckets=_get(cfg, "relative_attention_num_buckets", default=32),
                 max_dist=_get(cfg, "relative_attention_max_distance", default=128),
                 eps=_get(cfg, "layer_norm_epsilon", default=1e-6),
                 ff_proj=_get(cfg, "feed_forward_proj", default="relu"),
                 pad_id=_get(cfg, "pad_token_id", default=0))
        c["n_dec_layer"] = _get(cfg, "num_decoder_layers", default=c["n_layer"])
        c["start_id"] = _get(cfg, "decoder_start_token_id", default=c["pad_id"])
        tie = _get(cfg, "tie_word_embeddings", default=True)
        # v5 moved the d_model^-0.5 rescale switch to scale_decoder_outputs (hf-spec §2.e)
        c["scale_out"] = cfg["scale_decoder_outputs"] if "scale_decoder_outputs" in cfg else tie
        ff = c["ff_proj"].split("-")
        c["gated"] = ff[0] == "gated"
        c["act"] = "gelu_new" if c["ff_proj"] == "gated-gelu" else ff[-1]
    else:  # xlm-roberta
        c.update(hidden=_get(cfg, "hidden_size", default=768),
                 n_layer=_get(cfg, "num_hidden_layers", default=12),
                 n_head=_get(cfg, "num_attention_heads", default=12),
                 inter=_get(cfg, "intermediate_size", default=3072),
                 act=_get(cfg, "hidden_act", default="gelu"),
                 eps=_get(cfg, "layer_norm_eps", default=1e-12),
                 pad_id=_get(cfg, "pad_token_id", default=1),
                 pos_type=_get(cfg, "position_embedding_type", default="absolute"))
        if c["pos_type"] != "absolute":
            raise ValueError(f"xlm-roberta: position_embedding_type {c['pos_type']!r} not supported")
    for k in ("bos_token_id", "eos_token_id", "pad_token_id"):
        c[k] = cfg.get(k)
    return c


# ----------------------------------------------------------------------------------------------
# weights


_PREFIX = {"gpt2": "transformer.", "bloom": "transformer.", "llama": "model.", "cohere": "model.",
           "t5": "", "xlm-roberta": "roberta."}


def _ignored(fam, name):
    """Buffers and aliases that are not parameters of the model (hf-spec §1.4)."""
    if fam == "gpt2" and (name.endswith(".attn.bias") or name.endswith(".attn.masked_bias")):
        return True
    if name.endswith("rotary_emb.inv_freq") or name.endswith("position_ids"):
        return True
    if fam == "t5" and (name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
                        or name.endswith("EncDecAttention.relative_attention_bias.weight")):
        return True
    if fam == "xlm-roberta" and name.startswith("pooler."):
        return True  # SequenceClassification is built with add_pooling_layer=False
    return False


class Model:
    def __init__(self, cfg, weights, folder, file_dtypes):
        self.cfg, self.w, self.folder, self.file_dtypes = cfg, weights, folder, file_dtypes
        self.family = cfg["family"]

    def __getitem__(self, name):
        if name not in self.w:
            raise KeyError(f"{self.folder}: missing tensor {name!r} ({self.family})")
        return self.w[name]

    def has(self, name):
        return name in self.w


def _read_bin(folder):
    """pytorch_model.bin (or its sharded index) via torch.load with weights_only (no code execution)."""
    index = os.path.join(folder, "pytorch_model.bin.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["pytorch_model.bin"]
    arrays, dtypes = {}, {}
    for fn in files:
        sd = torch.load(os.path.join(folder, fn), map_location="cpu", weights_only=True)
        for k, t in sd.items():
            dtypes[k] = str(t.dtype).replace("torch.", "")
            arrays[k] = t.float().numpy() if t.is_floating_point() else t.numpy()
    return arrays, dtypes


def load(folder, dtype=torch.float32):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = parse_config(json.load(f))
    has_st = any(os.path.exists(os.path.join(folder, n))
                 for n in ("model.safetensors", "model.safetensors.index.json"))
    arrays, file_dtypes = read_folder(folder) if has_st else _read_bin(folder)
    fam, pre = cfg["family"], _PREFIX[cfg["family"]]
    w = {}
    for name, arr in arrays.items():
        n = name[len(pre):] if pre and name.startswith(pre) else name
        n = n.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if _ignored(fam, n):
            continue
        w[n] = torch.from_numpy(arr.astype("float32")).to(dtype)
    m = Model(cfg, w, folder, file_dtypes)
    emb = {"gpt2": "wte.weight", "bloom": "word_embeddings.weight", "llama": "embed_tokens.weight",
           "cohere": "embed_tokens.weight", "t5": "shared.weight"}.get(fam)
    if fam in ("gpt2", "bloom", "llama", "cohere"):
        if cfg["tie"]:
            w["lm_head.weight"] = m[emb]  # a stored copy is overwritten by the tie in transformers
        elif "lm_head.weight" not in w:
            raise KeyError(f"{folder}: tie_word_embeddings is false but lm_head.weight is missing")
    if fam == "t5" and "lm_head.weight" not in w:
        w["lm_head.weight"] = m[emb]
    if fam in ("gpt2", "bloom", "llama", "cohere", "xlm-roberta"):
        cfg["vocab"] = m["lm_head.weight" if fam != "xlm-roberta" else "embeddings.word_embeddings.weight"].shape[0]
    else:
        cfg["vocab"] = m["lm_head.weight"].shape[0]
    return m


# ----------------------------------------------------------------------------------------------
# shared numerics (hf-spec §2.0)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def bloom_gelu(x):
    return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


ACT = {
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "gelu": F.gelu,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def act_fn(name):
    if name not in ACT:
        raise ValueError(f"unsupported activation {name!r}")
    return ACT[name]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) * torch.rsqrt(var + eps) * w
    return y + b if b is not None else y


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def linear(x, m, name, bias=True):
    """nn.Linear: weight [out, in], y = x W^T + b (bias only if stored)."""
    y = x @ m[name + ".weight"].T
    if bias and m.has(name + ".bias"):
        y = y + m[name + ".bias"]
    return y


def conv1d(x, m, name):
    """GPT-2 Conv1D: weight [in, out], y = x W + b."""
    return x @ m[name + ".weight"] + m[name + ".bias"]


def attend(q, k, v, masked, scale, bias=None):
    """q (B,nH,Tq,d), k/v (B,nH,Tk,d); masked bool broadcastable to (B,nH,Tq,Tk) or None; bias additive.

    Masked scores become finfo.min (not -inf) as in transformers, so a fully masked row is uniform."""
    s = (q @ k.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + bias
    if masked is not None:
        s = s.masked_fill(masked, torch.finfo(s.dtype).min)
    p = torch.softmax(s, dim=-1)
    return p @ v


def causal_pad_mask(attention_mask, B, T, past_len, device=None):
    """bool (B,1,T,past+T): True where query i (absolute past+i) must not see key j (future or pad)."""
    S = past_len + T
    qpos = torch.arange(past_len, S)[:, None]
    kpos = torch.arange(S)[None, :]
    masked = (kpos > qpos)[None, None].expand(B, 1, T, S)
    if attention_mask is not None:
        if attention_mask.shape != (B, S):
            raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != (B, past+T) = {(B, S)}")
        masked = masked | (attention_mask[:, None, None, :] == 0)
    return masked


def position_ids(attention_mask, B, T, past_len, mode):
    """(B,T) positions of the T new tokens: arange(past, past+T), or cumsum(mask)-1 with pad slots 1."""
    if mode == "arange" or attention_mask is None:
        return torch.arange(past_len, past_len + T)[None, :].expand(B, T)
    if mode != "cumsum":
        raise ValueError(f"positions must be 'arange' or 'cumsum', got {mode!r}")
    p = attention_mask.long().cumsum(-1) - 1
    p = p.masked_fill(attention_mask == 0, 1)
    return p[:, past_len:]


# ----------------------------------------------------------------------------------------------
# ALiBi (BLOOM) and RoPE (Llama, Cohere)


def alibi_slopes(n_head):
    """build_alibi_tensor's slopes (float32): geometric for the closest power of two, then odd powers."""
    p = 2 ** math.floor(math.log2(n_head))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(p) - 3))), dtype=torch.float32)
    slopes = torch.pow(base, torch.arange(1, 1 + p, dtype=torch.int32))
    if p != n_head:
        extra = torch.tensor(2 ** (-(2 ** -(math.log2(2 * p) - 3))), dtype=torch.float32)
        r = min(p, n_head - p)
        slopes = torch.cat([slopes, torch.pow(extra, torch.arange(1, 1 + 2 * r, 2, dtype=torch.int32))])
    return slopes


def rope_inv_freq(rope, dim, max_pos, seq_len=None):
    """inv_freq (dim/2,) float32 for rope types default / linear / dynamic / llama3 (modeling_rope_utils)."""
    base, kind = rope["rope_theta"], rope["rope_type"]
    if kind == "dynamic" and seq_len is not None and seq_len > max_pos:
        f = rope["factor"]
        base = base * ((f * seq_len / max_pos) - (f - 1)) ** (dim / (dim - 2))
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if kind in ("default", "dynamic"):
        return inv
    if kind == "linear":
        return inv / rope["factor"]
    if kind == "llama3":
        f, lo, hi = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
        old = rope["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / f, inv)
        s = (old / wl - lo) / (hi - lo)
        smooth = (1 - s) * out / f + s * out
        medium = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(medium, smooth, out)
    raise ValueError(f"rope_type {kind!r} not supported by the oracle")


def rope_cos_sin(cfg, pos, interleaved):
    """cos/sin (B,T,hd) float32 for positions pos (B,T): cat(f,f) (Llama) or repeat_interleave(f,2) (Cohere)."""
    seq_len = int(pos.max()) + 1 if pos.numel() else 0
    inv = rope_inv_freq(cfg["rope"], cfg["head_dim"], cfg["max_pos"], seq_len)
    freqs = (inv[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)  # (B,T,hd/2)
    emb = torch.repeat_interleave(freqs, 2, dim=-1) if interleaved else torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x, interleaved):
    if interleaved:  # pairs (2i, 2i+1) -> (-x[2i+1], x[2i])
        return torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    h = x.shape[-1] // 2  # pairs (i, i+h) -> (-x[i+h], x[i])
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin, interleaved):
    """x (B,nH,T,hd); cos/sin (B,T,hd) (angles always computed in float32, as transformers does).
    Rotation in at least float32 (Cohere upcasts q,k explicitly)."""
    dt = x.dtype
    ct = torch.promote_types(dt, torch.float32)  # at least float32; float64 stays float64
    x = x.to(ct)
    cos, sin = cos[:, None].to(ct), sin[:, None].to(ct)
    return (x * cos + rotate_half(x, interleaved) * sin).to(dt)


# ----------------------------------------------------------------------------------------------
# outputs


class Output:
    """logits, hidden, acts (iterable as those three), plus past, loss, enc_hidden."""

    def __init__(self, logits, hidden, acts, past=None, loss=None, enc_hidden=None):
        self.logits, self.hidden, self.acts = logits, hidden, acts
        self.past, self.loss, self.enc_hidden = past, loss, enc_hidden

    def __iter__(self):
        return iter((self.logits, self.hidden, self.acts))


def causal_lm_loss(logits, labels):
    """Mean CE of logits[:, t] against labels[:, t+1], ignoring -100 (hf-spec §2.0)."""
    z = logits[:, :-1].reshape(-1, logits.shape[-1])
    z = z.to(torch.promote_types(z.dtype, torch.float32))
    y = labels[:, 1:].reshape(-1)
    return F.cross_entropy(z, y, ignore_index=-100, reduction="mean")


def _split_heads(x, n, d):  # (B,T,n*d) -> (B,n,T,d)
    B, T, _ = x.shape
    return x.view(B, T, n, d).transpose(1, 2)


def _merge_heads(x):  # (B,n,T,d) -> (B,T,n*d)
    B, n, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, n * d)


def _cat_past(past, i, k, v):
    if past is not None and past[i] is not None:
        k = torch.cat([past[i][0], k], dim=2)
        v = torch.cat([past[i][1], v], dim=2)
    return k, v


# ----------------------------------------------------------------------------------------------
# decoder-only families


def _gpt2_layer(m, i, x, ctx, acts):
    c, p = m.cfg, f"h.{i}."
    nH, hd = c["n_head"], c["hidden"] // c["n_head"]
    a = layer_norm(x, m[p + "ln_1.weight"], m[p + "ln_1.bias"], c["eps"])
    q, k, v = conv1d(a, m, p + "attn.c_attn").split(c["hidden"], dim=2)  # [Q;K;V] blocks
    q, k, v = _split_heads(q, nH, hd), _split_heads(k, nH, hd), _split_heads(v, nH, hd)
    k, v = _cat_past(ctx["past"], i, k, v)
    ctx["new_past"].append((k, v))
    scale = (1.0 / math.sqrt(hd)) if c["scale_attn"] else 1.0
    if c["scale_inv_layer"]:
        scale /= float(i + 1)
    attn = conv1d(_merge_heads(attend(q, k, v, ctx["masked"], scale)), m, p + "attn.c_proj")
    h = x + attn
    n = layer_norm(h, m[p + "ln_2.weight"], m[p + "ln_2.bias"], c["eps"])
    pre = conv1d(n, m, p + "mlp.c_fc")
    post = act_fn(c["act"])(pre)
    mlp = conv1d(post, m, p + "mlp.c_proj")
    acts.update({f"layer.{i}.attn_out": attn, f"layer.{i}.mlp.pre_act": pre, f"layer.{i}.mlp.post_act": post,
                 f"layer.{i}.mlp_out": mlp})
    return h + mlp


def _bloom_layer(m, i, x, ctx, acts):
    c, p = m.cfg, f"h.{i}."
    nH, hd = c["n_head"], c["hidden"] // c["n_head"]
    B, T, _ = x.shape
    ln = layer_norm(x, m[p + "input_layernorm.weight"], m[p + "input_layernorm.bias"], c["eps"])
    res = ln if c["post_ln_residual"] else x
    qkv = linear(ln, m, p + "self_attention.query_key_value").view(B, T, nH, 3, hd)  # per-head [q,k,v]
    q, k, v = (qkv[:, :, :, j].transpose(1, 2) for j in range(3))
    k, v = _cat_past(ctx["past"], i, k, v)
    ctx["new_past"].append((k, v))
    ctx_v = attend(q, k, v, ctx["masked"], 1.0 / math.sqrt(hd), bias=ctx["alibi"])
    attn = linear(_merge_heads(ctx_v), m, p + "self_attention.dense")
    h = attn + res
    ln2 = layer_norm(h, m[p + "post_attention_layernorm.weight"], m[p + "post_attention_layernorm.bias"], c["eps"])
    res = ln2 if c["post_ln_residual"] else h
    pre = linear(ln2, m, p + "mlp.dense_h_to_4h")
    post = bloom_gelu(pre)
    mlp = linear(post, m, p + "mlp.dense_4h_to_h")
    acts.update({f"layer.{i}.attn_out": attn, f"layer.{i}.mlp.pre_act": pre, f"layer.{i}.mlp.post_act": post,
                 f"layer.{i}.mlp_out": mlp})
    return mlp + res


def _rope_attention(m, i, n, ctx, interleaved):
    """Llama/Cohere attention on the normed input n (B,T,C): GQA + RoPE (+ Cohere qk-norm)."""
    c, p = m.cfg, f"layers.{i}.self_attn."
    nH, nKV, hd = c["n_head"], c["n_kv"], c["head_dim"]
    B, T, _ = n.shape
    q = linear(n, m, p + "q_proj").view(B, T, nH, hd)
    k = linear(n, m, p + "k_proj").view(B, T, nKV, hd)
    v = linear(n, m, p + "v_proj").view(B, T, nKV, hd)
    if c.get("qk_norm"):  # per-head LayerNorm over hd, weight (nH,hd), before RoPE
        q = layer_norm(q, m[p + "q_norm.weight"], None, c["eps"])
        k = layer_norm(k, m[p + "k_norm.weight"], None, c["eps"])
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    cos, sin = ctx["rope"]
    q, k = apply_rope(q, cos, sin, interleaved), apply_rope(k, cos, sin, interleaved)
    k, v = _cat_past(ctx["past"], i, k, v)
    ctx["new_past"].append((k, v))
    rep = nH // nKV  # query head h uses kv head h // rep
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    o = attend(q, k, v, ctx["masked"], hd ** -0.5)
    return linear(_merge_heads(o), m, p + "o_proj")


def _swiglu(m, i, n, acts):
    c, p = m.cfg, f"layers.{i}.mlp."
    pre = linear(n, m, p + "gate_proj")
    up = linear(n, m, p + "up_proj")
    post = act_fn(c["act"])(pre) * up
    out = linear(post, m, p + "down_proj")
    acts.update({f"layer.{i}.mlp.pre_act": pre, f"layer.{i}.mlp.up": up, f"layer.{i}.mlp.post_act": post,
                 f"layer.{i}.mlp_out": out})
    return out


def _llama_layer(m, i, x, ctx, acts):
    c, p = m.cfg, f"layers.{i}."
    attn = _rope_attention(m, i, rms_norm(x, m[p + "input_layernorm.weight"], c["eps"]), ctx, False)
    h = x + attn
    acts[f"layer.{i}.attn_out"] = attn
    return h + _swiglu(m, i, rms_norm(h, m[p + "post_attention_layernorm.weight"], c["eps"]), acts)


def _cohere_layer(m, i, x, ctx, acts):
    c, p = m.cfg, f"layers.{i}."
    n = layer_norm(x, m[p + "input_layernorm.weight"], None, c["eps"])
    attn = _rope_attention(m, i, n, ctx, True)
    acts[f"layer.{i}.attn_out"] = attn
    return x + attn + _swiglu(m, i, n, acts)  # parallel residual: both read the same normed input


def _decoder_only(m, input_ids, attention_mask, past, positions, labels):
    c, fam = m.cfg, m.family
    B, T = input_ids.shape
    past_len = past[0][0].shape[2] if past else 0
    am = attention_mask.long() if attention_mask is not None else None
    default_pos = {"gpt2": "arange", "llama": "arange", "cohere": "arange", "bloom": "cumsum"}[fam]
    mode = positions or default_pos
    ctx = {"past": past, "new_past": [], "masked": causal_pad_mask(am, B, T, past_len)}
    acts = {}
    if fam == "gpt2":
        pos = position_ids(am, B, T, past_len, mode)
        x = m["wte.weight"][input_ids] + m["wpe.weight"][pos]
        layer, final = _gpt2_layer, lambda h: layer_norm(h, m["ln_f.weight"], m["ln_f.bias"], c["eps"])
    elif fam == "bloom":
        S = past_len + T
        full = am if am is not None else torch.ones(B, S, dtype=torch.long)
        if mode == "cumsum":
            kpos = (full.cumsum(-1) - 1) * full  # (B,S) build_alibi_tensor
        else:
            kpos = torch.arange(S)[None].expand(B, S)
        ctx["alibi"] = (alibi_slopes(c["n_head"])[None, :, None] * kpos[:, None, :].float())[:, :, None, :].to(
            m["word_embeddings.weight"].dtype)  # (B,nH,1,S)
        e = m["word_embeddings.weight"][input_ids]
        x = layer_norm(e, m["word_embeddings_layernorm.weight"], m["word_embeddings_layernorm.bias"], c["eps"])
        layer, final = _bloom_layer, lambda h: layer_norm(h, m["ln_f.weight"], m["ln_f.bias"], c["eps"])
    else:
        pos = position_ids(am, B, T, past_len, mode)
        ctx["rope"] = rope_cos_sin(c, pos, interleaved=(fam == "cohere"))
        x = m["embed_tokens.weight"][input_ids]
        if fam == "llama":
            layer, final = _llama_layer, lambda h: rms_norm(h, m["norm.weight"], c["eps"])
        else:
            layer, final = _cohere_layer, lambda h: layer_norm(h, m["norm.weight"], None, c["eps"])
    acts["embed"] = x
    hidden = [x]
    for i in range(c["n_layer"]):
        x = layer(m, i, x, ctx, acts)
        acts[f"layer.{i}.resid_post"] = x
        hidden.append(x)
    hf = final(x)
    hidden[-1] = hf  # transformers' output_hidden_states: last entry is after the final norm
    logits = hf @ m["lm_head.weight"].T
    if fam == "cohere":
        logits = logits * c["logit_scale"]
    acts["final_norm"], acts["logits"] = hf, logits
    loss = causal_lm_loss(logits, labels) if labels is not None else None
    return Output(logits, hidden, acts, ctx["new_past"], loss)


# ----------------------------------------------------------------------------------------------
# T5 / mT5


def t5_bucket(rel, bidirectional, num_buckets, max_distance):
    """_relative_position_bucket: rel = key - query (LongTensor) -> bucket index."""
    ret = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        ret = ret + (rel > 0).long() * num_buckets
        n = rel.abs()
    else:
        n = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(small, n, large)


def _t5_bias(m, stack, Tq, Tk, bidirectional):
    c = m.cfg
    rel = torch.arange(Tk)[None, :] - torch.arange(Tq)[:, None]
    b = t5_bucket(rel, bidirectional, c["buckets"], c["max_dist"])
    table = m[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]  # (buckets,nH)
    return table[b].permute(2, 0, 1)[None]  # (1,nH,Tq,Tk)


def _t5_attn(m, p, xq, xkv, masked, bias):
    c = m.cfg
    nH, d = c["n_head"], c["d_kv"]
    q = _split_heads(xq @ m[p + "q.weight"].T, nH, d)
    k = _split_heads(xkv @ m[p + "k.weight"].T, nH, d)
    v = _split_heads(xkv @ m[p + "v.weight"].T, nH, d)
    return _merge_heads(attend(q, k, v, masked, 1.0, bias=bias)) @ m[p + "o.weight"].T  # no 1/sqrt(d)


def _t5_ff(m, p, n, acts, hook):
    c = m.cfg
    if c["gated"]:
        pre = n @ m[p + "wi_0.weight"].T
        post = act_fn(c["act"])(pre) * (n @ m[p + "wi_1.weight"].T)
    else:
        pre = n @ m[p + "wi.weight"].T
        post = act_fn(c["act"])(pre)
    out = post @ m[p + "wo.weight"].T
    acts.update({hook + "mlp.pre_act": pre, hook + "mlp.post_act": post, hook + "mlp_out": out})
    return out


def _t5_stack(m, stack, ids, self_masked, bias, acts, enc=None, enc_masked=None):
    c = m.cfg
    x = m["shared.weight"][ids]
    pre = "enc." if stack == "encoder" else "dec."
    acts[pre + "embed"] = x
    hidden = [x]
    nl = c["n_layer"] if stack == "encoder" else c["n_dec_layer"]
    for i in range(nl):
        p, hk = f"{stack}.block.{i}.layer.", f"{pre}layer.{i}."
        a = _t5_attn(m, p + "0.SelfAttention.", *(2 * [rms_norm(x, m[p + "0.layer_norm.weight"], c["eps"])]),
                     self_masked, bias)
        x = x + a
        acts[hk + "attn_out"] = a
        f = 1
        if enc is not None:
            n = rms_norm(x, m[p + "1.layer_norm.weight"], c["eps"])
            a = _t5_attn(m, p + "1.EncDecAttention.", n, enc, enc_masked, None)  # no position bias
            x = x + a
            acts[hk + "cross_out"] = a
            f = 2
        x = x + _t5_ff(m, f"{p}{f}.DenseReluDense.", rms_norm(x, m[f"{p}{f}.layer_norm.weight"], c["eps"]), acts, hk)
        acts[hk + "resid_post"] = x
        hidden.append(x)
    hf = rms_norm(x, m[stack + ".final_layer_norm.weight"], c["eps"])
    hidden[-1] = hf
    acts[pre + "final_norm"] = hf
    return hf, hidden


def shift_right(labels, start_id, pad_id):
    d = torch.full_like(labels, start_id)
    d[:, 1:] = labels[:, :-1]
    return d.masked_fill(d == -100, pad_id)


def _t5(m, input_ids, attention_mask, labels, decoder_input_ids, decoder_attention_mask):
    c = m.cfg
    B, Te = input_ids.shape
    if decoder_input_ids is None:
        if labels is None:
            raise ValueError("t5: pass labels or decoder_input_ids")
        decoder_input_ids = shift_right(labels, c["start_id"], c["pad_id"])
    Td = decoder_input_ids.shape[1]
    enc_pad = (attention_mask == 0)[:, None, None, :] if attention_mask is not None else None
    acts = {}
    enc, enc_hidden = _t5_stack(m, "encoder", input_ids, enc_pad, _t5_bias(m, "encoder", Te, Te, True), acts)
    dm = decoder_attention_mask.long() if decoder_attention_mask is not None else None
    dec_masked = causal_pad_mask(dm, B, Td, 0)
    y, hidden = _t5_stack(m, "decoder", decoder_input_ids, dec_masked, _t5_bias(m, "decoder", Td, Td, False),
                          acts, enc, enc_pad)
    if c["scale_out"]:
        y = y * (c["hidden"] ** -0.5)
    logits = y @ m["lm_head.weight"].T
    acts["logits"] = logits
    loss = None
    if labels is not None:  # no shift: decoder position t predicts labels[t]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
    return Output(logits, hidden, acts, None, loss, enc_hidden)


# ----------------------------------------------------------------------------------------------
# XLM-RoBERTa sequence classification


def _xlmr(m, input_ids, attention_mask, positions, labels, token_type_ids):
    c = m.cfg
    B, T = input_ids.shape
    nH, hd = c["n_head"], c["hidden"] // c["n_head"]
    pad = c["pad_id"]
    if positions == "arange":
        pos = torch.arange(pad + 1, pad + 1 + T)[None].expand(B, T)
    else:
        valid = (attention_mask.long() if positions == "cumsum" else (input_ids != pad).long())
        pos = valid.cumsum(-1) * valid + pad  # create_position_ids_from_input_ids
    tt = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
    e = "embeddings."
    x = m[e + "word_embeddings.weight"][input_ids] + m[e + "token_type_embeddings.weight"][tt] \
        + m[e + "position_embeddings.weight"][pos]
    x = layer_norm(x, m[e + "LayerNorm.weight"], m[e + "LayerNorm.bias"], c["eps"])
    masked = (attention_mask == 0)[:, None, None, :] if attention_mask is not None else None
    acts = {"embed": x}
    hidden = [x]
    for i in range(c["n_layer"]):
        p = f"encoder.layer.{i}."
        q = _split_heads(linear(x, m, p + "attention.self.query"), nH, hd)
        k = _split_heads(linear(x, m, p + "attention.self.key"), nH, hd)
        v = _split_heads(linear(x, m, p + "attention.self.value"), nH, hd)
        a = linear(_merge_heads(attend(q, k, v, masked, 1.0 / math.sqrt(hd))), m, p + "attention.output.dense")
        h = layer_norm(a + x, m[p + "attention.output.LayerNorm.weight"], m[p + "attention.output.LayerNorm.bias"],
                       c["eps"])
        pre = linear(h, m, p + "intermediate.dense")
        post = act_fn(c["act"])(pre)
        o = linear(post, m, p + "output.dense")
        x = layer_norm(o + h, m[p + "output.LayerNorm.weight"], m[p + "output.LayerNorm.bias"], c["eps"])
        acts.update({f"layer.{i}.attn_out": a, f"layer.{i}.mlp.pre_act": pre, f"layer.{i}.mlp.post_act": post,
                     f"layer.{i}.mlp_out": o, f"layer.{i}.resid_post": x})
        hidden.append(x)
    cls = torch.tanh(linear(x[:, 0], m, "classifier.dense"))
    logits = linear(cls, m, "classifier.out_proj")  # (B, num_labels)
    acts["logits"] = logits
    loss = F.cross_entropy(logits, labels) if labels is not None else None
    return Output(logits, hidden, acts, None, loss)


# ----------------------------------------------------------------------------------------------
# entry points


def forward(m, input_ids, attention_mask=None, past=None, positions=None, labels=None,
            decoder_input_ids=None, decoder_attention_mask=None, token_type_ids=None, grad=False):
    """One forward pass. input_ids (B,T) long; attention_mask (B, past+T) of 0/1 or None.

    Decoder-only: logits (B,T,V). T5: input_ids feed the encoder, the decoder reads decoder_input_ids
    or shift_right(labels); logits (B,Td,V), hidden = decoder's. XLM-R: logits (B,num_labels).
    grad=True records autograd (set requires_grad on m.w tensors) for gradient references."""
    with torch.set_grad_enabled(grad):
        return _forward(m, input_ids, attention_mask, past, positions, labels, decoder_input_ids,
                        decoder_attention_mask, token_type_ids)


def _forward(m, input_ids, attention_mask, past, positions, labels, decoder_input_ids, decoder_attention_mask,
             token_type_ids):
    input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
    if attention_mask is not None:
        attention_mask = torch.as_tensor(attention_mask)
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)
    if m.family == "t5":
        if decoder_input_ids is not None:
            decoder_input_ids = torch.as_tensor(decoder_input_ids, dtype=torch.long)
        return _t5(m, input_ids, attention_mask, labels, decoder_input_ids, decoder_attention_mask)
    if m.family == "xlm-roberta":
        return _xlmr(m, input_ids, attention_mask, positions, labels, token_type_ids)
    return _decoder_only(m, input_ids, attention_mask, past, positions, labels)


def token_logprobs(m, input_ids, attention_mask=None, positions=None, grad=False):
    """(B,T-1) log p(input_ids[:, t+1] | input_ids[:, :t+1]) of a causal LM, in float32 (the quantity
    DPO and perplexity sum over completion tokens; positions as forward's)."""
    input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    out = forward(m, input_ids, attention_mask, positions=positions, grad=grad)
    with torch.set_grad_enabled(grad):
        lp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
        return lp.gather(-1, input_ids[:, 1:, None])[..., 0]


@torch.no_grad()
def generate_greedy(m, input_ids, attention_mask=None, max_new_tokens=8, eos_token_id=None, use_cache=True,
                    return_logits=False):
    """Greedy decoding as transformers' generate(do_sample=False): positions cumsum(mask)-1 (pad slots 1),
    finished rows continue with pad_token_id, stop when every row is finished. Returns (B, T+new)
    (T5: decoder ids starting with the start id), and with return_logits also the raw logits of
    each step (new, B, V) like generate(output_logits=True)."""
    input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
    B = input_ids.shape[0]
    c = m.cfg
    eos = eos_token_id if eos_token_id is not None else c.get("eos_token_id")
    eos = set(eos if isinstance(eos, list) else ([eos] if eos is not None else []))
    pad = c.get("pad_token_id")
    pad = pad if pad is not None else (min(eos) if eos else 0)
    am = (torch.as_tensor(attention_mask).long() if attention_mask is not None
          else torch.ones_like(input_ids))
    alive = torch.ones(B, dtype=torch.bool)
    steps = []
    if m.family == "t5":
        seq = torch.full((B, 1), c["start_id"], dtype=torch.long)
        for _ in range(max_new_tokens):
            steps.append(forward(m, input_ids, am, decoder_input_ids=seq).logits[:, -1])
            nxt = steps[-1].argmax(-1)
            nxt = torch.where(alive, nxt, torch.full_like(nxt, pad))
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            alive &= ~torch.tensor([int(t) in eos for t in nxt])
            if not alive.any():
                break
        return (seq, torch.stack(steps)) if return_logits else seq
    seq, past, step_ids = input_ids, None, input_ids
    for _ in range(max_new_tokens):
        if use_cache:
            out = forward(m, step_ids, am, past=past, positions="cumsum")
            past = out.past
        else:
            out = forward(m, seq, am, positions="cumsum")
        steps.append(out.logits[:, -1])
        nxt = steps[-1].argmax(-1)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, pad))
        seq = torch.cat([seq, nxt[:, None]], dim=1)
        am = torch.cat([am, torch.ones(B, 1, dtype=am.dtype)], dim=1)
        step_ids = nxt[:, None]
        alive &= ~torch.tensor([int(t) in eos for t in nxt])
        if not alive.any():
            break
    return (seq, torch.stack(steps)) if return_logits else seq
