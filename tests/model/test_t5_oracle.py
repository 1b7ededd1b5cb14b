"""The mT5/T5 engine against the independent PyTorch oracle (tests/oracle/hf_ref.py) on tiny random
checkpoints other than the golden one (tests/oracle/make_tiny.py): 3 decoder layers, 8 buckets with
max_distance 20 (so the logarithmic buckets and the clamp are reached by 24-token inputs), d_kv*heads
equal to d_model but d_ff odd-sized; f32, bf16 with transformers-5 config spellings, and a T5 v1.0-style
variant (plain relu `wi`, tied head without lm_head.weight, so the d_model^-0.5 rescale applies).

This script writes the reference arrays (the golden fixtures' names) and runs the C test
`model_test_t5 --ref DIR --model DIR`, which compares at 1e-4 (losses 1e-5). Then a checkpoint with a
tensor removed and one whose config disagrees with a shape must fail with a message naming the tensor."""
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
from safetensors_np import read_folder, save_file  # noqa: E402

TMP = xt.tmpdir("t5_oracle", clean=False)


def to_v10(folder):
    """Rewrite a gated mT5 folder as T5 v1.0: relu `wi` (wi_0 kept), no wi_1, tied head (no lm_head)."""
    t, _ = read_folder(folder)
    out = {}
    for k, v in t.items():
        if k == "lm_head.weight" or k.endswith("wi_1.weight"):
            continue
        out[k.replace("wi_0.weight", "wi.weight")] = v
    save_file(out, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(feed_forward_proj="relu", tie_word_embeddings=True, model_type="t5",
               architectures=["T5ForConditionalGeneration"])
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def write_refs(model_dir, ref_dir):
    m = hf_ref.load(model_dir)
    rng = np.random.default_rng(7)
    V = m.cfg["vocab"] if "vocab" in m.cfg else 96
    os.makedirs(ref_dir, exist_ok=True)
    save = lambda name, a: np.save(os.path.join(ref_dir, name + ".npy"), np.ascontiguousarray(a))  # noqa: E731
    enc = np.concatenate([rng.integers(2, 96, 23), [1]])[None].astype(np.int64)   # 24 tokens, ends in </s>
    lab = np.concatenate([rng.integers(2, 96, 6), [1]])[None].astype(np.int64)
    save("enc_ids", enc)
    save("labels", lab)
    o = hf_ref.forward(m, enc, labels=lab)
    save("logits", o.logits.float().numpy())
    save("loss", np.array([o.loss.item()], np.float32))
    save("decoder_hidden", torch.stack(o.hidden).numpy())
    save("encoder_hidden", torch.stack(o.enc_hidden).numpy())
    o = hf_ref.forward(m, enc, labels=enc)
    save("logits_ppl", o.logits.numpy())
    save("loss_ppl", np.array([o.loss.item()], np.float32))
    eb = np.stack([rng.integers(2, 96, 9), np.concatenate([rng.integers(2, 96, 6), [0, 0, 0]])]).astype(np.int64)
    eb[0, -1], eb[1, 5] = 1, 1
    mb = (np.arange(9)[None] < np.array([[9], [6]])).astype(np.int64)
    lb = rng.integers(2, 96, (2, 5)).astype(np.int64)
    lb[1, 3:] = -100
    save("enc_ids_batch", eb)
    save("enc_mask_batch", mb)
    save("labels_batch", lb)
    o = hf_ref.forward(m, eb, attention_mask=mb, labels=lb)
    save("logits_batch", o.logits.numpy())
    save("loss_batch", np.array([o.loss.item()], np.float32))
    seq, steps = hf_ref.generate_greedy(m, enc, max_new_tokens=6, return_logits=True)
    save("gen", seq.numpy())
    save("gen_logits", steps.numpy())
    seq, steps = hf_ref.generate_greedy(m, eb, attention_mask=mb, max_new_tokens=6, return_logits=True)
    save("gen_batch", seq.numpy())
    save("gen_batch_logits", steps.numpy())


def broken_checkpoints(exe, good):
    """A missing tensor and a config that disagrees with a shape: clear messages, no crash."""
    cases = (("missing", "missing tensor 'decoder.block.2.layer.2.DenseReluDense.wo.weight'"),
             ("shape", "has shape [48,32] but config.json implies [40,32]"))
    for kind, want in cases:
        d = os.path.join(TMP, "broken_" + kind)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(good, d)
        t, _ = read_folder(d)
        if kind == "missing":
            del t["decoder.block.2.layer.2.DenseReluDense.wo.weight"]
            save_file(t, os.path.join(d, "model.safetensors"))
        else:
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            cfg["d_ff"] = 40
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f)
        r = subprocess.run([exe, "--ref", os.path.join(TMP, "mt5", "ref"), "--model", d], capture_output=True, text=True)
        check(r.returncode == 1 and want in r.stderr, f"broken {kind}: exit {r.returncode}: {r.stderr.strip()[:300]}")


def main():
    exe = os.path.join(os.path.dirname(XGD), "model_test_t5")
    if not os.path.exists(exe):
        xt.skip(f"{exe} not built")
    for name, dtype, v5, v10 in (("mt5", "float32", False, False), ("mt5_bf16_v5", "bfloat16", True, False),
                                 ("t5_v10", "float32", False, True)):
        model_dir, ref_dir = os.path.join(TMP, name, "model"), os.path.join(TMP, name, "ref")
        make_tiny.make("mt5", model_dir, dtype=dtype, seed=11, v5=v5)
        if v10:
            to_v10(model_dir)
        write_refs(model_dir, ref_dir)
        r = subprocess.run([exe, "--ref", ref_dir, "--model", model_dir], capture_output=True, text=True)
        sys.stdout.write(f"{name}: {r.stdout}")
        sys.stderr.write(r.stderr)
        check(r.returncode == 0, f"{name}: model_test_t5 exit {r.returncode}")
    broken_checkpoints(exe, os.path.join(TMP, "mt5", "model"))
    return xt.summary("test_t5_oracle")


if __name__ == "__main__":
    sys.exit(main())
