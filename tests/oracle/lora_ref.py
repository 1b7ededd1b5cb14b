"""PEFT LoRA adapters on an hf_ref model (hf-spec §3), independently of the C implementation.

  m = hf_ref.load(base); lora_ref.apply(m, adapter_dir, merged=False)

Math (PEFT LoraLayer, r, alpha, s = alpha/r or alpha/sqrt(r) with use_rslora):
  Linear     W[out,in]  += s * B[out,r] @ A[r,in]
  Conv1D     W[in,out]  += (s * B @ A)^T          (GPT-2, fan_in_fan_out)
  Embedding  E[V,H]     += (s * B[H,r] @ A[r,V])^T (keys lora_embedding_A / lora_embedding_B)
Adding the delta to the weight equals PEFT's unmerged forward base(x) + s*B(A(x)) up to rounding,
with one exception that `merged` selects: for a tied head, the unmerged PeftModel applies the
embedding's delta to the input lookup only and the lm_head's own delta (if targeted) to the head
only, while merge_and_unload() writes both deltas into the one shared matrix, so the head changes too.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_ref  # noqa: E402
from safetensors_np import read_file  # noqa: E402

_EMB = {"gpt2": "wte.weight", "bloom": "word_embeddings.weight", "llama": "embed_tokens.weight",
        "cohere": "embed_tokens.weight", "t5": "shared.weight"}


def _module(key, prefix):
    """'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' -> ('layers.0.self_attn.q_proj', 'A')."""
    k = key[len("base_model.model."):] if key.startswith("base_model.model.") else key
    if prefix and k.startswith(prefix):
        k = k[len(prefix):]
    for tail, part in ((".lora_A.weight", "A"), (".lora_B.weight", "B"), (".lora_embedding_A", "eA"),
                       (".lora_embedding_B", "eB")):
        if k.endswith(tail):
            return k[:-len(tail)], part
    return None, None  # base_layer copies, biases of other adapters: not LoRA factors


def apply(m, adapter_dir, merged=False):
    """Add every LoRA delta of adapter_dir to m's weights in place; returns the list of modules touched."""
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    if cfg.get("use_dora"):
        raise ValueError(f"{adapter_dir}: DoRA adapters are not supported by the oracle")
    if cfg.get("bias", "none") != "none":
        raise ValueError(f"{adapter_dir}: bias={cfg['bias']!r} not supported by the oracle")
    r, alpha = cfg["r"], cfg["lora_alpha"]
    s = alpha / (r ** 0.5) if cfg.get("use_rslora") else alpha / r
    tensors = read_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    factors = {}
    for key, arr in tensors.items():
        mod, part = _module(key, hf_ref._PREFIX[m.family])
        if mod is not None:
            factors.setdefault(mod, {})[part] = torch.from_numpy(arr.astype("float32")).to(m.w[_EMB[m.family]].dtype)
    emb = _EMB[m.family]
    if not merged and m.w.get("lm_head.weight") is m.w[emb]:
        m.w["lm_head.weight"] = m.w[emb].clone()  # unmerged PeftModel: input and output paths differ
    touched = []
    for mod, f in sorted(factors.items()):
        if "eA" in f:  # embedding: A [r,V], B [H,r]
            delta = (s * (f["eB"] @ f["eA"])).T
        else:
            delta = s * (f["B"] @ f["A"])  # [out,in]
            if m.family == "gpt2" and mod != "lm_head":
                delta = delta.T  # Conv1D stores [in,out]
        name = mod + ".weight"
        if name not in m.w:
            raise KeyError(f"{adapter_dir}: adapter targets {mod!r}, which the model lacks")
        if m.w[name].shape != delta.shape:
            raise ValueError(f"{adapter_dir}: {mod}: delta {tuple(delta.shape)} vs weight {tuple(m.w[name].shape)}")
        m.w[name].add_(delta)  # in place: a tied head shares the embedding tensor when merged
        touched.append(mod)
    return touched
