#!/usr/bin/env bash
# One DPO step (4 pairs, 64-token prompts, 20-64-token answers) on a random GPT-2-124M-shaped model:
# xgd full fine-tuning (f32) and LoRA (bf16 base), against the same step in PyTorch, same run.
#   bash bench/train/bench_dpo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_dpo_step}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
echo '{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' >"$D/gpt2-124m.json"
for dt in f32 bf16; do
  m="$D/gpt2-124m-$dt"
  [ -f "$m/model.safetensors" ] || "$XGD" -q init --family gpt2 --config "$D/gpt2-124m.json" --out "$m" --dtype $dt >/dev/null
done
xf=$("$BENCH" "$D/gpt2-124m-f32" --reps 3)
tf=$(/usr/bin/python3 bench/train/torch_dpo_step.py "$D/gpt2-124m-f32" --reps 3)
xl=$("$BENCH" "$D/gpt2-124m-bf16" --reps 3 --lora)
tl=$(/usr/bin/python3 bench/train/torch_dpo_step.py "$D/gpt2-124m-f32" --reps 3 --lora)
/usr/bin/python3 - "$xf" "$tf" "$xl" "$tl" <<'PY'
import json, sys
xf, tf, xl, tl = (json.loads(a) for a in sys.argv[1:])
print(f"full fine-tuning (f32): xgd {xf['step_s']:.2f} s/step, PyTorch {tf['step_s']:.2f} s/step ({tf['step_s']/xf['step_s']:.2f}x)")
print(f"LoRA r=64 (xgd bf16 base, PyTorch f32 base): xgd {xl['step_s']:.2f} s/step, PyTorch {tl['step_s']:.2f} s/step ({tl['step_s']/xl['step_s']:.2f}x)")
PY
