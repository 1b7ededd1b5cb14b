#!/usr/bin/env bash
# Bad checkpoints give a one-line error naming the file and tensor, a non-zero exit, never a crash
# (this also runs under the ASan/UBSan build, where a crash or leak report fails the test).
. "$(dirname "$0")/../common/lib.sh"
tmpdir model_bad_input

# expect_error NAME PATTERN CMD...: exit status 1 (not a signal), stderr one line matching PATTERN
expect_error() {
  local name=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ $rc -ne 1 ]; then bad "$name: exit status $rc (want 1): $(head -c 400 "$T/err")"; return; fi
  if ! grep -q -- "$pat" "$T/err"; then bad "$name: message lacks '$pat': $(cat "$T/err")"; return; fi
  if [ "$(wc -l <"$T/err")" -gt 1 ]; then bad "$name: more than one line on stderr: $(cat "$T/err")"; return; fi
  ok
}

cfg='{"vocab_size": 50, "n_embd": 16, "n_layer": 2, "n_head": 2, "n_positions": 32}'
echo "$cfg" >"$T/cfg.json"
"$XGD" init --family gpt2 --config "$T/cfg.json" --out "$T/good" >/dev/null || { echo "FAIL: init"; exit 1; }
"$XGD" forward --model "$T/good" --ids 1,2,3 >/dev/null && ok || bad "forward on a good model"

# unknown architecture
cp -r "$T/good" "$T/arch"; sed -i 's/"model_type": "gpt2"/"model_type": "mamba"/; s/GPT2LMHeadModel/MambaForCausalLM/' "$T/arch/config.json"
expect_error "unknown architecture" "unknown architecture (model_type 'mamba')" "$XGD" inspect "$T/arch"

# wrong shape: config says a bigger hidden size than the weights have
cp -r "$T/good" "$T/shape"; sed -i 's/"n_embd": 16/"n_embd": 32/' "$T/shape/config.json"
expect_error "wrong shape" "transformer.wte.weight' has shape \[50,16\]" "$XGD" inspect "$T/shape"

# missing tensor: config says 3 layers, the file has 2
cp -r "$T/good" "$T/missing"; sed -i 's/"n_layer": 2/"n_layer": 3/' "$T/missing/config.json"
expect_error "missing tensor" "missing tensor 'transformer.h.2.ln_1.weight'" "$XGD" inspect "$T/missing"

# truncated weights file
cp -r "$T/good" "$T/trunc"; sz=$(stat -c %s "$T/trunc/model.safetensors"); truncate -s $((sz - 100)) "$T/trunc/model.safetensors"
expect_error "truncated file" "model.safetensors" "$XGD" inspect "$T/trunc"

# no config / unreadable folder / invalid JSON
mkdir -p "$T/empty"
expect_error "no config" "no config.json" "$XGD" inspect "$T/empty"
expect_error "no such folder" "does-not-exist" "$XGD" inspect "$T/does-not-exist"
cp -r "$T/good" "$T/json"; echo '{"model_type": "gpt2",' >"$T/json/config.json"
expect_error "invalid config JSON" "config.json:" "$XGD" inspect "$T/json"

# token id out of range, position beyond the table, malformed ids
expect_error "id out of range" "outside the vocabulary" "$XGD" forward --model "$T/good" --ids 1,50
expect_error "too many positions" "beyond the model's 32 learned positions" "$XGD" forward --model "$T/good" --ids "$(seq -s, 1 33)"
expect_error "malformed ids" "--ids" "$XGD" forward --model "$T/good" --ids 1,x

# unsupported dtype: a matrix stored as I64 (hand-made with the safetensors layout)
/usr/bin/python3 - "$T" <<'PY'
import json, struct, sys, shutil, os
t = sys.argv[1]
shutil.copytree(f"{t}/good", f"{t}/dtype")
p = f"{t}/dtype/model.safetensors"
raw = open(p, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data = raw[8 + n:]
ent = hdr["transformer.h.0.attn.c_proj.weight"]
b, e = ent["data_offsets"]
# re-encode as I64 of the same element count: rebuild the file with shifted offsets
cnt = (e - b) // 4
newbytes = b"\0" * (cnt * 8)
items = sorted(((k, v) for k, v in hdr.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0])
out, off, h2 = b"", 0, {"__metadata__": hdr.get("__metadata__", {"format": "pt"})}
for k, v in items:
    bb, ee = v["data_offsets"]
    chunk = newbytes if k == "transformer.h.0.attn.c_proj.weight" else data[bb:ee]
    h2[k] = {"dtype": "I64" if k == "transformer.h.0.attn.c_proj.weight" else v["dtype"], "shape": v["shape"], "data_offsets": [off, off + len(chunk)]}
    out += chunk; off += len(chunk)
hj = json.dumps(h2, separators=(",", ":")).encode()
hj += b" " * ((8 - len(hj) % 8) % 8)
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + out)
PY
expect_error "unsupported dtype" "transformer.h.0.attn.c_proj.weight' has dtype I64" "$XGD" inspect "$T/dtype"

finish model_bad_input
