"""PEFT adapters with per-module rank_pattern / alpha_pattern, merged by `xgd merge`, against the
merge computed here by hand in numpy: W' = W + (alpha_m / r_m) * (B A)^T for GPT-2's Conv1D, where
r_m and alpha_m come from the first pattern key (in the file's order) that matches the module name
as the regular expression (.*\\.)?(KEY)$, PEFT's rule; unmatched modules keep r and lora_alpha.
Also: a tensor whose shape disagrees with its pattern rank, bias="all" and modules_to_save are
refused with a message naming the file. Tolerance 1e-6 absolute (f32 sums of r products)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import safetensors_np as st  # noqa: E402

XGD = os.environ.get("XGD", os.path.join(ROOT, "build", "xgd"))
TMP = os.path.join(os.environ.get("XGD_TMP", "/tmp/xgd-test"), "train_peft_patterns")
H, NL = 16, 2
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what)


def write_adapter(folder, cfg, ranks):
    """ranks: module -> r (Conv1D in = H, out = 3H for c_attn, 4H for c_fc). Returns the tensors."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(7)
    t = {}
    for mod, r in ranks.items():
        out = 3 * H if mod.endswith("c_attn") else 4 * H
        t[f"base_model.model.{mod}.lora_A.weight"] = rng.standard_normal((r, H)).astype(np.float32)
        t[f"base_model.model.{mod}.lora_B.weight"] = rng.standard_normal((out, r)).astype(np.float32)
    st.save_file(t, os.path.join(folder, "adapter_model.safetensors"))
    base = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "fan_in_fan_out": True,
            "target_modules": ["c_attn", "c_fc"], "bias": "none", "use_rslora": False, "rank_pattern": {},
            "alpha_pattern": {}}
    base.update(cfg)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        f.write(json.dumps(base))  # key order kept: the first matching pattern wins
    return t


def merge(model, adapter, out):
    shutil.rmtree(out, ignore_errors=True)
    return subprocess.run([XGD, "-q", "merge", "--base_model_name", model, "--lora_adapter", adapter,
                           "--output_path", out, "--dtype", "f32"], capture_output=True, text=True)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    model = os.path.join(TMP, "model")
    with open(os.path.join(TMP, "cfg.json"), "w") as f:
        json.dump({"vocab_size": 64, "n_embd": H, "n_layer": NL, "n_head": 2, "n_positions": 32}, f)
    subprocess.run([XGD, "-q", "init", "--family", "gpt2", "--config", os.path.join(TMP, "cfg.json"), "--out", model,
                    "--dtype", "f32"], check=True, capture_output=True)
    W0 = st.read_folder(model)[0]

    mods = [f"transformer.h.{l}.attn.c_attn" for l in range(NL)] + [f"transformer.h.{l}.mlp.c_fc" for l in range(NL)]
    # h.0's c_fc matches its full name first (r 3), h.1's the later "c_fc" key (r 1); h.1's c_attn
    # takes r 2 from a key with regex dots; alpha: every c_fc 2, h.0's c_attn keeps 8
    cfg = {"rank_pattern": {"transformer.h.0.mlp.c_fc": 3, "c_fc": 1, "h.1.attn.c_attn": 2},
           "alpha_pattern": {"c_fc": 2, r"h\.1\..*c_attn": 6}}
    want = {mods[0]: (4, 8), mods[1]: (2, 6), mods[2]: (3, 2), mods[3]: (1, 2)}
    ad = os.path.join(TMP, "adapter")
    t = write_adapter(ad, cfg, {m: want[m][0] for m in mods})
    out = os.path.join(TMP, "merged")
    p = merge(model, ad, out)
    check(p.returncode == 0, f"merge with patterns failed: {p.stderr.strip()}")
    if p.returncode == 0:
        W1 = st.read_folder(out)[0]
        for mod in mods:
            r, alpha = want[mod]
            A = t[f"base_model.model.{mod}.lora_A.weight"].astype(np.float64)
            B = t[f"base_model.model.{mod}.lora_B.weight"].astype(np.float64)
            name = mod + ".weight"
            key = name if name in W0 else name[len("transformer."):]
            expect = W0[key].astype(np.float64) + (alpha / r) * (B @ A).T
            err = np.abs(W1[key] - expect).max()
            check(err < 1e-6 * max(1.0, np.abs(expect).max()), f"{mod}: merged weight off by {err:.3g} (r {r}, alpha {alpha})")
        # untouched weights stay
        key = "h.0.attn.c_proj.weight" if "h.0.attn.c_proj.weight" in W0 else "transformer.h.0.attn.c_proj.weight"
        check(np.array_equal(W1[key], W0[key]), "a module without adapters changed")

    # a tensor shaped for r = 4 where the pattern says 2
    bad = os.path.join(TMP, "bad_shape")
    write_adapter(bad, {"rank_pattern": {"h.1.attn.c_attn": 2}}, {m: 4 for m in mods})
    p = merge(model, bad, os.path.join(TMP, "m2"))
    check(p.returncode != 0 and "h.1.attn.c_attn" in p.stderr and "shape" in p.stderr,
          f"a tensor of the wrong rank was not refused clearly: {p.stderr.strip()}")
    for cfgx, word in (({"bias": "all"}, "bias"), ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
                       ({"rank_pattern": {"c_attn(": 2}}, "regular expression")):
        d = os.path.join(TMP, "refused")
        shutil.rmtree(d, ignore_errors=True)
        write_adapter(d, cfgx, {m: 4 for m in mods})
        p = merge(model, d, os.path.join(TMP, "m3"))
        check(p.returncode != 0 and word in p.stderr and "adapter_config.json" in p.stderr,
              f"{cfgx} was not refused with a message: {p.stderr.strip()}")
    if fails:
        sys.exit(1)
    print("test_peft_patterns: ok")


if __name__ == "__main__":
    main()
