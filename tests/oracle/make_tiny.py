"""Write tiny random HF checkpoint folders (config.json + model.safetensors) for every family.

An independent check of `xgd init` and a fixture source for oracle tests. Tensor names, shapes and
config keys are those `save_pretrained` writes (hf-spec §2): prefixes included, tied heads omitted.
Weights are N(0, std) with std large enough (0.2) that logits are far from uniform; norm weights
are 1 + N(0, 0.1) so a transposed or misplaced norm shows up.

  python3 tests/oracle/make_tiny.py OUT_DIR [--variants gpt2,bloom,...] [--dtype float32|bfloat16]
                                            [--v5] [--shard-bytes N] [--seed S]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import BF16, save_file, save_sharded  # noqa: E402

VARIANTS = ("gpt2", "bloom", "llama", "llama31", "llama_bias", "cohere", "cohere_qknorm", "mt5", "xlm-roberta")
V = 96  # vocabulary size of every tiny model


class _Gen:
    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.t = {}

    def w(self, name, *shape, std=0.2):
        self.t[name] = (self.rng.standard_normal(shape) * std).astype(np.float32)

    def norm(self, name, n, bias=True):
        self.t[name + ".weight"] = (1.0 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)
        if bias:
            self.t[name + ".bias"] = (0.1 * self.rng.standard_normal(n)).astype(np.float32)

    def lin(self, name, out, inp, bias):
        self.w(name + ".weight", out, inp)
        if bias:
            self.w(name + ".bias", out, std=0.1)


def _gpt2(g, buffers):
    H, L, nH, P, Fd = 32, 2, 4, 64, 80  # n_inner set explicitly (not 4H) to test reading it
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": P,
           "n_ctx": P, "n_embd": H, "n_layer": L, "n_head": nH, "n_inner": Fd, "activation_function": "gelu_new",
           "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "bos_token_id": 0, "eos_token_id": 5,
           "pad_token_id": 1}
    g.w("transformer.wte.weight", V, H)
    g.w("transformer.wpe.weight", P, H)
    for i in range(L):
        p = f"transformer.h.{i}."
        g.norm(p + "ln_1", H)
        g.w(p + "attn.c_attn.weight", H, 3 * H)
        g.w(p + "attn.c_attn.bias", 3 * H, std=0.1)
        g.w(p + "attn.c_proj.weight", H, H)
        g.w(p + "attn.c_proj.bias", H, std=0.1)
        g.norm(p + "ln_2", H)
        g.w(p + "mlp.c_fc.weight", H, Fd)
        g.w(p + "mlp.c_fc.bias", Fd, std=0.1)
        g.w(p + "mlp.c_proj.weight", Fd, H)
        g.w(p + "mlp.c_proj.bias", H, std=0.1)
        if buffers:  # the causal-mask buffer old GPT-2 files carry; loaders must skip it
            g.t[p + "attn.bias"] = np.tril(np.ones((P, P), dtype=bool))[None, None]
    g.norm("transformer.ln_f", H)
    return cfg


def _bloom(g, buffers):
    H, L, nH = 48, 2, 6  # 6 heads: ALiBi's non-power-of-two branch
    cfg = {"architectures": ["BloomForCausalLM"], "model_type": "bloom", "vocab_size": V, "hidden_size": H,
           "n_layer": L, "n_head": nH, "layer_norm_epsilon": 1e-5, "apply_residual_connection_post_layernorm": False,
           "pretraining_tp": 1, "slow_but_exact": False, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3,
           "unk_token_id": 0}
    g.w("transformer.word_embeddings.weight", V, H)
    g.norm("transformer.word_embeddings_layernorm", H)
    for i in range(L):
        p = f"transformer.h.{i}."
        g.norm(p + "input_layernorm", H)
        g.lin(p + "self_attention.query_key_value", 3 * H, H, True)
        g.lin(p + "self_attention.dense", H, H, True)
        g.norm(p + "post_attention_layernorm", H)
        g.lin(p + "mlp.dense_h_to_4h", 4 * H, H, True)
        g.lin(p + "mlp.dense_4h_to_h", H, 4 * H, True)
    g.norm("transformer.ln_f", H)
    return cfg


def _llama_like(g, kind):
    H, L, nH, nKV, I = 64, 2, 4, 2, 96
    hd = H // nH
    cohere = kind.startswith("cohere")
    bias = kind == "llama_bias"
    cfg = {"architectures": ["CohereForCausalLM" if cohere else "LlamaForCausalLM"],
           "model_type": "cohere" if cohere else "llama", "vocab_size": V, "hidden_size": H,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": nH, "num_key_value_heads": nKV,
           "hidden_act": "silu", "max_position_embeddings": 256, "attention_bias": bias,
           "bos_token_id": 1, "eos_token_id": 2, "rope_theta": 10000.0, "rope_scaling": None}
    if cohere:
        cfg.update(layer_norm_eps=1e-5, logit_scale=0.25, use_qk_norm=kind == "cohere_qknorm", pad_token_id=0,
                   bos_token_id=5, eos_token_id=6)
    else:
        cfg.update(rms_norm_eps=1e-5, mlp_bias=bias, tie_word_embeddings=False, head_dim=hd)
    if kind == "llama31":  # llama3 scaling with a small original context so all three bands occur (hd=16)
        cfg.update(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
    g.w("model.embed_tokens.weight", V, H)
    for i in range(L):
        p = f"model.layers.{i}."
        g.norm(p + "input_layernorm", H, bias=False)
        for n, o in (("q", nH * hd), ("k", nKV * hd), ("v", nKV * hd)):
            g.lin(p + f"self_attn.{n}_proj", o, H, bias)
        g.lin(p + "self_attn.o_proj", H, nH * hd, bias)
        if cfg.get("use_qk_norm"):
            g.t[p + "self_attn.q_norm.weight"] = (1 + 0.1 * g.rng.standard_normal((nH, hd))).astype(np.float32)
            g.t[p + "self_attn.k_norm.weight"] = (1 + 0.1 * g.rng.standard_normal((nKV, hd))).astype(np.float32)
        if not cohere:
            g.norm(p + "post_attention_layernorm", H, bias=False)
        g.lin(p + "mlp.gate_proj", I, H, bias)
        g.lin(p + "mlp.up_proj", I, H, bias)
        g.lin(p + "mlp.down_proj", H, I, bias)
    g.norm("model.norm", H, bias=False)
    if not cohere:
        g.w("lm_head.weight", V, H)
    return cfg


def _mt5(g, buffers):
    D, dkv, nH, Fd, Le, Ld, nb = 32, 8, 4, 48, 2, 3, 8
    cfg = {"architectures": ["MT5ForConditionalGeneration"], "model_type": "mt5", "vocab_size": V, "d_model": D,
           "d_kv": dkv, "d_ff": Fd, "num_layers": Le, "num_decoder_layers": Ld, "num_heads": nH,
           "relative_attention_num_buckets": nb, "relative_attention_max_distance": 20,
           "layer_norm_epsilon": 1e-6, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
           "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0}
    g.w("shared.weight", V, D, std=1.0)  # T5 embeddings are not scaled down
    for stack, n in (("encoder", Le), ("decoder", Ld)):
        for i in range(n):
            p = f"{stack}.block.{i}.layer."
            for x in "qkvo":
                g.w(p + f"0.SelfAttention.{x}.weight", nH * dkv if x != "o" else D, D if x != "o" else nH * dkv)
            if i == 0:
                g.w(p + "0.SelfAttention.relative_attention_bias.weight", nb, nH, std=0.5)
            g.norm(p + "0.layer_norm", D, bias=False)
            f = 1
            if stack == "decoder":
                for x in "qkvo":
                    g.w(p + f"1.EncDecAttention.{x}.weight", nH * dkv if x != "o" else D, D if x != "o" else nH * dkv)
                g.norm(p + "1.layer_norm", D, bias=False)
                f = 2
            g.w(p + f"{f}.DenseReluDense.wi_0.weight", Fd, D)
            g.w(p + f"{f}.DenseReluDense.wi_1.weight", Fd, D)
            g.w(p + f"{f}.DenseReluDense.wo.weight", D, Fd)
            g.norm(p + f"{f}.layer_norm", D, bias=False)
        g.norm(f"{stack}.final_layer_norm", D, bias=False)
    g.w("lm_head.weight", V, D)
    return cfg


def _xlmr(g, buffers):
    H, L, nH, I, P, nl = 32, 2, 4, 64, 40, 3
    cfg = {"architectures": ["XLMRobertaForSequenceClassification"], "model_type": "xlm-roberta",
           "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": nH,
           "intermediate_size": I, "hidden_act": "gelu", "max_position_embeddings": P, "type_vocab_size": 1,
           "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
           "position_embedding_type": "absolute", "id2label": {str(i): f"LABEL_{i}" for i in range(nl)},
           "label2id": {f"LABEL_{i}": i for i in range(nl)}}
    e = "roberta.embeddings."
    g.w(e + "word_embeddings.weight", V, H)
    g.w(e + "position_embeddings.weight", P, H)
    g.w(e + "token_type_embeddings.weight", 1, H)
    g.norm(e + "LayerNorm", H)
    for i in range(L):
        p = f"roberta.encoder.layer.{i}."
        for n in ("query", "key", "value"):
            g.lin(p + f"attention.self.{n}", H, H, True)
        g.lin(p + "attention.output.dense", H, H, True)
        g.norm(p + "attention.output.LayerNorm", H)
        g.lin(p + "intermediate.dense", I, H, True)
        g.lin(p + "output.dense", H, I, True)
        g.norm(p + "output.LayerNorm", H)
    g.lin("classifier.dense", H, H, True)
    g.lin("classifier.out_proj", nl, H, True)
    return cfg


def _to_v5(cfg):
    """transformers v5 spellings: `dtype` instead of torch_dtype, rope_parameters instead of rope_*."""
    cfg["dtype"] = cfg.pop("torch_dtype")
    if "rope_theta" in cfg:
        rp = dict(cfg.pop("rope_scaling") or {"rope_type": "default"})
        rp["rope_theta"] = cfg.pop("rope_theta")
        cfg["rope_parameters"] = rp
    cfg["transformers_version"] = "5.0.0"
    return cfg


def make(variant, folder, dtype="float32", seed=0, v5=False, shard_bytes=0, buffers=False):
    """Write one tiny checkpoint folder; returns its config dict."""
    g = _Gen(seed)
    if variant == "gpt2":
        cfg = _gpt2(g, buffers)
    elif variant == "bloom":
        cfg = _bloom(g, buffers)
    elif variant in ("llama", "llama31", "llama_bias", "cohere", "cohere_qknorm"):
        cfg = _llama_like(g, variant)
    elif variant == "mt5":
        cfg = _mt5(g, buffers)
    elif variant == "xlm-roberta":
        cfg = _xlmr(g, buffers)
    else:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    cfg["torch_dtype"] = dtype
    cfg["transformers_version"] = "4.46.0"
    if v5:
        cfg = _to_v5(cfg)
    os.makedirs(folder, exist_ok=True)
    tensors = g.t
    if dtype == "bfloat16":
        tensors = {k: (BF16(v) if v.dtype == np.float32 else v) for k, v in tensors.items()}
    elif dtype == "float16":
        tensors = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in tensors.items()}
    elif dtype != "float32":
        raise ValueError(f"dtype {dtype!r}")
    if shard_bytes:
        save_sharded(tensors, folder, shard_bytes)
    else:
        save_file(tensors, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--v5", action="store_true", help="write transformers v5 config spellings")
    ap.add_argument("--shard-bytes", type=int, default=0, help="shard the weights (index.json) at this size")
    ap.add_argument("--buffers", action="store_true", help="include GPT-2 attn.bias buffers")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    for v in a.variants.split(","):
        make(v, os.path.join(a.out, v), a.dtype, a.seed, a.v5, a.shard_bytes, a.buffers)
        print(os.path.join(a.out, v))


if __name__ == "__main__":
    main()
