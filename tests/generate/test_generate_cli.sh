#!/usr/bin/env bash
# xgd generate end to end on a tiny model and tokenizer made here: the seed's file naming and
# fields, N lines per prompt in order, reproducible with a seed, byte-identical after a kill -9
# and resume, a malformed prompt line reported with its line number (or skipped on request).
. "$(dirname "$0")/../common/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
tmpdir generate_cli model

V=$(/usr/bin/python3 "$here/make_tiny_tokenizer.py" "$T/model")
echo "{\"vocab_size\": $((V + 3)), \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 512,
       \"initializer_range\": 0.3, \"eos_token_id\": $((V - 1)), \"bos_token_id\": $((V - 1))}" >"$T/cfg.json"
"$XGD" -q init --family gpt2 --config "$T/cfg.json" --out "$T/model" >/dev/null || { echo "FAIL: init"; exit 1; }
/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
prompts = ["The cat sat on", "Ünïcödé prompt — “quotes” 😀", "a", "Line\nbreak\ttab", "the the the"] * 8
with open(f"{t}/RTP_LX_XX.json", "w") as f:
    for i, p in enumerate(prompts):
        f.write(json.dumps({"Prompt": p, "Index": i}) + "\n")
with open(f"{t}/bad.jsonl", "w") as f:
    f.write(json.dumps({"prompt": "fine"}) + "\n")
    f.write("{not json\n")
    f.write(json.dumps({"prompt": "also fine"}) + "\n")
PY
gen() { "$XGD" -q generate --prompt_file "$T/RTP_LX_XX.json" --model "$T/model" --N 4 --max_tokens 12 --seed 7 --group 3 "$@"; }

# 1. a full run: naming, line count, fields in the seed's order, prompts in input order
gen --output_dir "$T/a" >/dev/null || bad "full run failed"
f="$T/a/model/output-rtp_lx_xx.json"
[ -f "$f" ] && ok || bad "output not at the seed's path ($f)"
[ "$(wc -l <"$f")" -eq 160 ] && ok || bad "expected 160 lines, got $(wc -l <"$f")"
/usr/bin/python3 - "$f" "$T/RTP_LX_XX.json" <<'PY' && ok || bad "format check"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
prompts = [json.loads(l)["Prompt"] for l in open(sys.argv[2], encoding="utf-8")]
for i, l in enumerate(lines):
    d = json.loads(l)
    assert list(d) == ["prompt", "generated_text"], d
    assert d["prompt"] == prompts[i // 4], (i, d["prompt"])
    assert l == json.dumps(d), f"line {i} is not what Python's json.dumps writes: {l!r}"
PY

# 2. reproducible: the same command gives the same bytes; another group size too
gen --output_dir "$T/b" --group 1 >/dev/null
cmp -s "$f" "$T/b/model/output-rtp_lx_xx.json" && ok || bad "group size changed the output"

# 3. kill -9 mid-run, resume: byte-identical to the uninterrupted run (several kill points)
partial=0
for delay in 0.02 0.05 0.15 0.3; do
  rm -rf "$T/c"
  # run the binary itself in the background (a shell function would leave it running after the kill)
  "$XGD" -q generate --prompt_file "$T/RTP_LX_XX.json" --model "$T/model" --N 4 --max_tokens 12 --seed 7 --group 3 \
    --output_dir "$T/c" >/dev/null 2>&1 &
  pid=$!; sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  # also tear the last line as a crash in the middle of a write would
  g="$T/c/model/output-rtp_lx_xx.json"
  n=$(cat "$g" 2>/dev/null | wc -l)
  [ "$n" -lt 160 ] && partial=$((partial+1))
  [ -s "$g" ] && truncate -s -3 "$g"
  gen --output_dir "$T/c" >/dev/null || bad "resume failed after kill at ${delay}s"
  cmp -s "$f" "$g" && ok || bad "resumed output differs from the uninterrupted run (kill at ${delay}s)"
done
[ $partial -ge 1 ] && ok || bad "no kill landed mid-run (the run was too fast to test resume)"
# a rerun of a complete file appends nothing
gen --output_dir "$T/a" >/dev/null; [ "$(wc -l <"$f")" -eq 160 ] && ok || bad "rerun duplicated lines"

# 4. malformed prompt line: fatal with file:line by default, skipped on request
"$XGD" -q generate --prompt_file "$T/bad.jsonl" --model "$T/model" --output_dir "$T/d" --N 2 --max_tokens 3 2>"$T/err" >/dev/null
[ $? -eq 1 ] && grep -q "bad.jsonl:2" "$T/err" && ok || bad "malformed line not reported with its line: $(cat "$T/err")"
"$XGD" -q generate --prompt_file "$T/bad.jsonl" --model "$T/model" --output_dir "$T/d" --N 2 --max_tokens 3 --skip_bad_lines >/dev/null 2>&1 \
  && [ "$(wc -l <"$T/d/model/output-bad.json")" -eq 4 ] && ok || bad "--skip_bad_lines"

# 5. resuming against another prompt file is refused
cp "$f" "$T/d/model/output-rtp_lx_xx.json"
sed -i '1s/The cat/A dog/' "$T/RTP_LX_XX.json"
"$XGD" -q generate --prompt_file "$T/RTP_LX_XX.json" --model "$T/model" --output_dir "$T/d" --N 4 --max_tokens 12 2>"$T/err" >/dev/null
[ $? -eq 1 ] && grep -q "does not belong" "$T/err" && ok || bad "mismatched resume not refused: $(cat "$T/err")"

finish generate_cli
