"""xgd inspect --json on every golden checkpoint (decoders, mT5, XLM-R; f32 and bf16, .bin, shards):
family and shapes as config.json says, parameter count and bytes as the safetensors headers (or the
torch .bin state dict) say, tensor counts per dtype."""
import glob
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

XGD = xt.need_xgd()
MODELS = os.path.join(xt.ROOT, "tests", "golden", "models")


def header_stats(folder):
    """(parameters, bytes, {dtype: count}) from the safetensors headers; None for other formats."""
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        return None
    params = nbytes = 0
    dtypes = {}
    for f in files:
        with open(f, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            head = json.loads(fh.read(n))
        for name, t in head.items():
            if name == "__metadata__":
                continue
            numel = 1
            for d in t["shape"]:
                numel *= d
            params += numel
            nbytes += t["data_offsets"][1] - t["data_offsets"][0]
            dtypes[t["dtype"]] = dtypes.get(t["dtype"], 0) + 1
    return params, nbytes, dtypes


for folder in sorted(glob.glob(os.path.join(MODELS, "*"))):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    p = subprocess.run([XGD, "inspect", "--json", folder], capture_output=True, text=True)
    check(p.returncode == 0, f"{folder}: {p.stderr.strip()}")
    if p.returncode != 0:
        continue
    doc = json.loads(p.stdout)
    name = os.path.basename(folder)
    mt = cfg["model_type"]
    check(doc["family"] == mt, f"{name}: family {doc['family']} != {mt}")
    hs = header_stats(folder)
    if hs:
        check((doc["parameters"], doc["weight_bytes"], doc["dtypes"]) == hs,
              f"{name}: {doc['parameters']}, {doc['weight_bytes']}, {doc['dtypes']} != headers {hs}")
    if mt in ("t5", "mt5"):
        check((doc["d_model"], doc["num_heads"], doc["encoder_layers"], doc["d_ff"]) ==
              (cfg["d_model"], cfg["num_heads"], cfg["num_layers"], cfg["d_ff"]), f"{name}: t5 shape {doc}")
        check(doc["decoder_layers"] == cfg.get("num_decoder_layers", cfg["num_layers"]), f"{name}: decoder layers")
    elif mt == "xlm-roberta":
        check((doc["hidden_size"], doc["num_layers"], doc["num_heads"], doc["intermediate_size"]) ==
              (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["intermediate_size"]),
              f"{name}: xlmr shape {doc}")
        check(len(doc["labels"]) == len(cfg.get("id2label", {"0": 0, "1": 1})), f"{name}: labels {doc['labels']}")
    else:
        hidden = cfg.get("hidden_size", cfg.get("n_embd"))
        check(doc["hidden_size"] == hidden and doc["vocab_size"] == cfg["vocab_size"], f"{name}: decoder shape {doc}")

xt.done("inspect")
