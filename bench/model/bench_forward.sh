#!/usr/bin/env bash
# Engine vs PyTorch on random models of two shapes (GPT-2 124M and a ~1.1B Llama, f32 and bf16),
# prefill (B=4, T=128) and single-stream decode (128-token cache), measured in the same run.
#   bash bench/model/bench_forward.sh [--small]     (--small: the GPT-2 shape only)
# Needs build/ (bash scripts/setup). Models are written once under ${XGD_BENCH_DIR:-/tmp/xgd-bench}.
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_forward}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
echo '{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' >"$D/gpt2-124m.json"
echo '{"vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
       "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048}' >"$D/llama-1b.json"
shapes="gpt2:gpt2-124m llama:llama-1b"; [ "${1:-}" = --small ] && shapes="gpt2:gpt2-124m"
printf "%-16s %-5s %12s %12s %8s %12s %12s %8s %10s\n" model dtype "xgd pre t/s" "torch pre" ratio "xgd dec t/s" "torch dec" ratio "DRAM GB/s"
for s in $shapes; do
  fam=${s%%:*}; name=${s#*:}
  for dt in f32 bf16; do
    m="$D/$name-$dt"
    [ -f "$m/model.safetensors" ] || "$XGD" -q init --family "$fam" --config "$D/$name.json" --out "$m" --dtype "$dt" >/dev/null
    x=$("$BENCH" "$m" --batch 4 --prompt 128 --decode 16 --reps 3)
    t=$(/usr/bin/python3 bench/model/torch_forward.py "$m" --batch 4 --prompt 128 --decode 16 --reps 3)
    /usr/bin/python3 - "$name" "$dt" "$x" "$t" <<'PY'
import json, sys
n, dt, x, t = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"{n:<16} {dt:<5} {x['prefill_tok_s']:12.1f} {t['prefill_tok_s']:12.1f} {x['prefill_tok_s']/t['prefill_tok_s']:7.2f}x"
      f" {x['decode_tok_s']:12.2f} {t['decode_tok_s']:12.2f} {x['decode_tok_s']/t['decode_tok_s']:7.2f}x {x['dram_read_gbs']:10.1f}")
print(f"   xgd prefill {x['prefill_gflops']:.1f} GFLOP/s; decode streams {x['decode_weight_gbs']:.1f} GB/s of weights"
      f" ({100*x['decode_weight_gbs']/x['dram_read_gbs']:.0f}% of DRAM read bandwidth); BLAS core {x['blas_core']}")
PY
  done
done
