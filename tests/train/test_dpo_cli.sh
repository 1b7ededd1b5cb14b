#!/usr/bin/env bash
# xgd dpo end to end on a tiny GPT-2-family model and synthetic pairs: eval loss falls and the
# reward margin grows; the final checkpoint is a HF folder that xgd loads and that differs from the
# base; a run killed at random points and resumed ends with byte-identical weights to an
# unbroken run; malformed rows are reported with file:line.
. "$(dirname "$0")/../common/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
tmpdir train_dpo_cli model data

tiny_gpt2 "$T/model" 32 0.1
/usr/bin/python3 "$here/tools/tiny_pairs.py" --seed 0 --rows 80 "$T/data/part0.jsonl" "$T/data/part1.jsonl"
/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
with open(f"{t}/bad.jsonl", "w") as f:
    f.write(json.dumps({"prompt": "a", "chosen": " b", "rejected": " c"}) + "\n")
    f.write(json.dumps({"prompt": "a", "chosen": 3}) + "\n")
PY
run() { "$XGD" -q dpo --data_dir "$T/data" --model_name_or_path "$T/model" --max_steps 80 --learning_rate 1e-3 \
        --warmup_steps 5 --eval_steps 10 --save_steps 5 --logging_steps 5 --max_length 32 --max_prompt_length 8 --seed 3 "$@"; }

# 1. training works: eval loss falls, margins grow, the checkpoint differs from the base and loads
# kill points are fractions of the unbroken run's wall time, so they land mid-run on a fast or a
# busy machine alike
now() { date +%s.%N; }
at() { /usr/bin/python3 -c "import sys; print(f'{float(sys.argv[1]) * (float(sys.argv[3]) - float(sys.argv[2])):.3f}')" "$@"; }
t0=$(now)
run --output_dir "$T/a" >"$T/a.json" || bad "dpo run failed"
t1=$(now)
/usr/bin/python3 - "$T/a/log.jsonl" <<'PY' && ok || bad "eval loss did not fall / margin did not grow"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if "eval_loss" in l]
assert len(ev) >= 4, len(ev)
assert ev[-1]["eval_loss"] < 0.5 * ev[0]["eval_loss"], (ev[0]["eval_loss"], ev[-1]["eval_loss"])
assert ev[-1]["eval_rewards/margins"] > ev[0]["eval_rewards/margins"] + 1.0
tr = [json.loads(l) for l in open(sys.argv[1]) if '"learning_rate"' in l]
for k in ("loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
          "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected"):
    assert k in tr[0], k
PY
f="$T/a/final_checkpoint"
[ -f "$f/model.safetensors" ] && [ -f "$f/config.json" ] && [ -f "$f/tokenizer.json" ] && ok || bad "final_checkpoint is incomplete"
"$XGD" forward --model "$f" --ids 1,2,3 --save-logits "$T/l1.npy" >/dev/null && \
"$XGD" forward --model "$T/model" --ids 1,2,3 --save-logits "$T/l0.npy" >/dev/null && \
! cmp -s "$T/l1.npy" "$T/l0.npy" && ok || bad "the trained checkpoint does not load or equals the base"

# 2. kill -9 at random points, resume: byte-identical weights to the unbroken run
partial=0
for frac in 0.15 0.4 0.7; do
  delay=$(at $frac "$t0" "$t1")
  rm -rf "$T/b"
  "$XGD" -q dpo --data_dir "$T/data" --model_name_or_path "$T/model" --max_steps 80 --learning_rate 1e-3 \
        --warmup_steps 5 --eval_steps 10 --save_steps 5 --logging_steps 5 --max_length 32 --max_prompt_length 8 --seed 3 \
        --output_dir "$T/b" >/dev/null 2>&1 &
  pid=$!; sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  [ -f "$T/b/final_checkpoint/model.safetensors" ] || partial=$((partial+1))
  run --output_dir "$T/b" >/dev/null || bad "resume failed (kill at ${delay}s)"
  cmp -s "$T/a/final_checkpoint/model.safetensors" "$T/b/final_checkpoint/model.safetensors" && ok || bad "resumed weights differ (kill at ${delay}s)"
  [ "$(grep -c '"learning_rate"' "$T/b/log.jsonl")" -eq "$(grep -c '"learning_rate"' "$T/a/log.jsonl")" ] && ok || bad "resumed log has duplicated or missing lines"
done
[ $partial -ge 1 ] && ok || bad "no kill landed mid-run"

# 3. LoRA: the adapter trains (eval loss falls), is a PEFT folder, and merging it gives the
#    logits of base + adapter (within 1e-4)
t0=$(now)
run --output_dir "$T/l" --use_lora --lora_r 8 --lora_alpha 16 --learning_rate 3e-3 >/dev/null || bad "LoRA dpo run failed"
t1=$(now)
/usr/bin/python3 - "$T/l/log.jsonl" <<'PY' && ok || bad "LoRA eval loss did not fall"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if "eval_loss" in l]
assert ev[-1]["eval_loss"] < 0.7 * ev[0]["eval_loss"], (ev[0]["eval_loss"], ev[-1]["eval_loss"])
PY
[ -f "$T/l/final_checkpoint/adapter_config.json" ] && [ -f "$T/l/final_checkpoint/adapter_model.safetensors" ] && ok || bad "no PEFT adapter folder"
"$XGD" -q merge --base_model_name "$T/model" --lora_adapter "$T/l/final_checkpoint" --output_path "$T/merged" >/dev/null || bad "merge failed"
"$XGD" forward --model "$T/model" --adapter "$T/l/final_checkpoint" --ids 3,1,4,1,5,9,2,6 --save-logits "$T/la.npy" >/dev/null && \
"$XGD" forward --model "$T/merged" --ids 3,1,4,1,5,9,2,6 --save-logits "$T/lm.npy" >/dev/null && \
/usr/bin/python3 -c "
import numpy as np, sys
a, m, b = np.load('$T/la.npy'), np.load('$T/lm.npy'), np.load('$T/l0.npy')
d = np.abs(a - m).max()
assert d <= 1e-4, d
" && ok || bad "merged logits differ from base + adapter"

# LoRA runs resume too: a kill mid-run and a rerun give the adapter of an unbroken run, byte for byte
lpartial=0
for frac in 0.25 0.55; do
  delay=$(at $frac "$t0" "$t1")
  rm -rf "$T/lb"
  "$XGD" -q dpo --data_dir "$T/data" --model_name_or_path "$T/model" --max_steps 80 --learning_rate 3e-3 \
        --warmup_steps 5 --eval_steps 10 --save_steps 5 --logging_steps 5 --max_length 32 --max_prompt_length 8 --seed 3 \
        --use_lora --lora_r 8 --lora_alpha 16 --output_dir "$T/lb" >/dev/null 2>&1 &
  pid=$!; sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  [ -f "$T/lb/final_checkpoint/adapter_model.safetensors" ] || lpartial=$((lpartial+1))
  run --output_dir "$T/lb" --use_lora --lora_r 8 --lora_alpha 16 --learning_rate 3e-3 >/dev/null || bad "LoRA resume failed"
  cmp -s "$T/l/final_checkpoint/adapter_model.safetensors" "$T/lb/final_checkpoint/adapter_model.safetensors" && ok \
    || bad "resumed LoRA adapter differs (kill at ${delay}s)"
done
[ $lpartial -ge 1 ] && ok || bad "no LoRA kill landed mid-run"

# 4. malformed rows: file:line, or skipped on request
mkdir -p "$T/badd"; cp "$T/bad.jsonl" "$T/badd/"
"$XGD" -q dpo --data_dir "$T/badd" --model_name_or_path "$T/model" --output_dir "$T/c" --max_steps 1 2>"$T/err" >/dev/null
[ $? -eq 1 ] && grep -q "bad.jsonl:2" "$T/err" && ok || bad "malformed row not reported: $(cat "$T/err")"

finish train_dpo_cli
