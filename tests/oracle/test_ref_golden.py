"""Validate the oracle itself: hf_ref.py must reproduce the golden fixtures that the real transformers
5.17 produced (tests/golden, see its README) on the same tiny checkpoints.

Also PEFT LoRA (lora_ref.py): adapter forward, merge_and_unload and the saved merged folder.
Tolerances: logits / hidden states / losses 1e-4 absolute for every checkpoint (the `_bf16` refs are
float32 computations from the bf16-rounded weights, which the oracle also does); greedy ids exactly.
Padded slots (attention_mask == 0) are not compared: their values are unspecified.
Skips (exit 77) when tests/golden is absent.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(os.path.dirname(HERE), "golden")
sys.path.insert(0, HERE)
import hf_ref  # noqa: E402
import lora_ref  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

TOL = 1e-4


def close(got, want, msg, where=None, tol=TOL):
    """max |got - want| over the slots where `where` (broadcast over trailing dims) is true."""
    got = np.asarray(got.detach().numpy() if torch.is_tensor(got) else got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        check(False, f"{msg}: shape {got.shape} vs golden {want.shape}")
        return
    d = np.abs(got - want)
    if where is not None:
        w = np.asarray(where, dtype=bool)
        d = d[np.broadcast_to(w.reshape(w.shape + (1,) * (d.ndim - w.ndim)), d.shape)]
    err = float(d.max()) if d.size else 0.0
    check(err <= tol, f"{msg}: max abs diff {err:.3g} > {tol:g}")
    return err


def ref(name):
    d = os.path.join(GOLDEN, "ref", name)
    return {os.path.splitext(f)[0]: np.load(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".npy")}


def T(a):
    return torch.from_numpy(np.asarray(a)).long()


def decoder(model_name, ref_name):
    m = hf_ref.load(os.path.join(GOLDEN, "models", model_name))
    r = ref(ref_name)
    tag = f"{model_name} vs ref/{ref_name}"
    one = hf_ref.forward(m, T(r["single_ids"]), labels=T(r["single_ids"]))
    close(one.logits, r["logits_single"], f"{tag}: logits_single")
    close(torch.stack(one.hidden), r["hidden_single"], f"{tag}: hidden_single")
    close(one.loss.reshape(1), r["loss_single"], f"{tag}: loss_single")
    ids, mask = T(r["input_ids"]), T(r["attention_mask"])
    labels = ids.masked_fill(mask == 0, -100)
    # the fixtures pass position_ids = cumsum(mask)-1 to every family but BLOOM (which has none)
    pos = None if m.family == "bloom" else "cumsum"
    if "position_ids" in r and pos:
        c = mask.cumsum(-1) - 1
        check(torch.equal(c.masked_fill(mask == 0, 1), T(r["position_ids"])), f"{tag}: position_ids convention")
    b = hf_ref.forward(m, ids, mask, positions=pos, labels=labels)
    close(b.logits, r["logits_batch"], f"{tag}: logits_batch (valid slots)", mask.numpy())
    close(torch.stack(b.hidden), r["hidden_batch"], f"{tag}: hidden_batch (valid slots)", mask.numpy()[None])
    close(b.loss.reshape(1), r["loss_batch"], f"{tag}: loss_batch")
    n = r["gen_single"].shape[1] - r["single_ids"].shape[1]
    for kind, x, mk in (("single", T(r["single_ids"]), None), ("batch", ids, mask)):
        g, lg = hf_ref.generate_greedy(m, x, mk, max_new_tokens=n, eos_token_id=2, return_logits=True)
        want = r[f"gen_{kind}"]
        check(np.array_equal(g.numpy(), want), f"{tag}: gen_{kind} {g.tolist()} vs {want.tolist()}")
        if lg.shape == r[f"gen_{kind}_logits"].shape:
            close(lg, r[f"gen_{kind}_logits"], f"{tag}: gen_{kind}_logits")


def mt5(model_name, ref_name):
    m = hf_ref.load(os.path.join(GOLDEN, "models", model_name))
    r = ref(ref_name)
    tag = f"{model_name} vs ref/{ref_name}"
    enc, lab = T(r["enc_ids"]), T(r["labels"])
    o = hf_ref.forward(m, enc, labels=lab)
    close(o.logits, r["logits"], f"{tag}: logits")
    close(o.loss.reshape(1), r["loss"], f"{tag}: loss")
    close(torch.stack(o.enc_hidden), r["encoder_hidden"], f"{tag}: encoder_hidden")
    close(torch.stack(o.hidden), r["decoder_hidden"], f"{tag}: decoder_hidden")
    p = hf_ref.forward(m, enc, labels=enc)
    close(p.logits, r["logits_ppl"], f"{tag}: logits_ppl")
    close(p.loss.reshape(1), r["loss_ppl"], f"{tag}: loss_ppl (labels=input_ids, no shift)")
    eb, mb = T(r["enc_ids_batch"]), T(r["enc_mask_batch"])
    b = hf_ref.forward(m, eb, mb, labels=T(r["labels_batch"]))
    close(b.logits, r["logits_batch"], f"{tag}: logits_batch")
    close(b.loss.reshape(1), r["loss_batch"], f"{tag}: loss_batch (-100 ignored)")
    n = r["gen"].shape[1] - 1
    for kind, x, mk in (("", enc, None), ("_batch", eb, mb)):
        g, lg = hf_ref.generate_greedy(m, x, mk, max_new_tokens=n, return_logits=True)
        want = r[f"gen{kind}"]
        check(np.array_equal(g.numpy(), want), f"{tag}: gen{kind} {g.tolist()} vs {want.tolist()}")
        if lg.shape == r[f"gen{kind}_logits"].shape:
            close(lg, r[f"gen{kind}_logits"], f"{tag}: gen{kind}_logits")


def xlmr(model_name, ref_name):
    m = hf_ref.load(os.path.join(GOLDEN, "models", model_name))
    r = ref(ref_name)
    tag = f"{model_name} vs ref/{ref_name}"
    one = hf_ref.forward(m, T(r["single_ids"]))
    close(one.logits, r["logits_single"], f"{tag}: logits_single")
    close(torch.softmax(one.logits, -1), r["probs_single"], f"{tag}: probs_single")
    close(torch.stack(one.hidden), r["hidden_single"], f"{tag}: hidden_single")
    mask = T(r["attention_mask"])
    b = hf_ref.forward(m, T(r["input_ids"]), mask)
    close(b.logits, r["logits_batch"], f"{tag}: logits_batch")
    close(torch.softmax(b.logits, -1), r["probs_batch"], f"{tag}: probs_batch")
    close(torch.stack(b.hidden), r["hidden_batch"], f"{tag}: hidden_batch (valid slots)", mask.numpy()[None])


def lora(fam):
    """PEFT adapter forward (unmerged), merge_and_unload, and the saved merged folder."""
    r = ref("lora_" + fam)
    ids, mask = T(r["input_ids"]), T(r["attention_mask"])
    pos = None if fam == "bloom" else "cumsum"
    base = os.path.join(GOLDEN, "models", fam)
    variants = [("adapter", False, None), ("merged", True, None),
                ("merged", None, os.path.join(GOLDEN, "lora", fam, "merged"))]
    for what, merged, folder in variants:
        m = hf_ref.load(folder or base)
        if folder is None:
            lora_ref.apply(m, os.path.join(GOLDEN, "lora", fam, "adapter"), merged=merged)
        tag = f"lora {fam} {'saved merged folder' if folder else what}"
        close(hf_ref.forward(m, T(r["single_ids"])).logits, r[f"logits_{what}_single"], f"{tag}: single")
        close(hf_ref.forward(m, ids, mask, positions=pos).logits, r[f"logits_{what}_batch"],
              f"{tag}: batch (valid slots)", mask.numpy())


def main():
    if not os.path.isdir(os.path.join(GOLDEN, "ref")):
        xt.skip(f"{GOLDEN}/ref not present (golden fixtures from transformers not generated yet)")
    names = sorted(os.listdir(os.path.join(GOLDEN, "ref")))
    for name in names:
        if name.startswith("lora_"):
            lora(name[len("lora_"):])
            continue
        base = name[:-5] if name.endswith("_bf16") else name
        if base == "mt5":
            mt5(name, name)
        elif base == "xlmr":
            xlmr(name, name)
        else:
            decoder(name, name)
    # alternative storage of the same weights
    for model_name, ref_name in (("gpt2_bin", "gpt2"), ("llama_sharded", "llama")):
        if os.path.isdir(os.path.join(GOLDEN, "models", model_name)) and ref_name in names:
            decoder(model_name, ref_name)
    print(f"{len(names)} refs, tol {TOL:g}")
    return xt.summary("oracle vs golden")


if __name__ == "__main__":
    sys.exit(main())
