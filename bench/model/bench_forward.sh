#!/usr/bin/env bash
# Engine vs PyTorch on random models of two shapes (GPT-2 124M and a ~1.1B Llama, f32 and bf16),
# prefill (B=4, T=128) and single-stream decode (128-token cache), measured in the same run.
#   bash bench/model/bench_forward.sh [--small|--large]   (--small: GPT-2 shape only; --large: Llama only)
# Needs build/ (bash scripts/setup). Models are written once under ${XGD_BENCH_DIR:-/tmp/xgd-bench}
# (GPT-2: 0.25 + 0.5 GB; Llama: 2.2 + 4.4 GB). Runtime on a 2-core machine, quiet / busy: --small
# ~2.5 / 5 min, --large 3.5 / 11 min (GPT-2: 5 repetitions; the Llama shape uses 2 repetitions and 8
# decode steps and runs PyTorch once, to stay bounded), both about the sum; creating the models once
# adds ~1 min. Both sides run one untimed prefill first (page faults of the first call).
# The Llama shape needs ~10 GB of RAM (f32 weights plus PyTorch's copy), so its steps run under
# `flock /work/heavy.lock` when that file exists (shared machines: two big runs never meet; set
# XGD_HEAVY_LOCKED=1 when the caller already holds it).
#
# Rows: f32; bf16 = the exact mode, XGD_BF16_DOT=0 (f32 activations, bf16 weights widened to f32);
# bf16 fast = XGD_BF16_DOT=1, the default where the CPU has AMX-BF16 (activations rounded to bf16
# as transformers does on a bf16 model; AMX tiles). PyTorch (tests/oracle/hf_ref.py, torch 1.13) always computes in
# f32 (upcasting bf16 checkpoints; its bf16 CPU matmul is no faster in Debian's build), at its
# best thread setting. Decode is bandwidth-bound, so the script also prints how much of the DRAM
# bandwidth PyTorch's decode already streams and the largest decode ratio any engine could reach
# against it (the DRAM bound): where PyTorch streams more than 40 % of the bandwidth, a 2.5x ratio
# is physically out of reach in f32.
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_forward}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
echo '{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' >"$D/gpt2-124m.json"
echo '{"vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
       "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048}' >"$D/llama-1b.json"
shapes="gpt2:gpt2-124m llama:llama-1b"; [ "${1:-}" = --small ] && shapes="gpt2:gpt2-124m"
[ "${1:-}" = --large ] && shapes="llama:llama-1b"
printf "%-12s %-9s %12s %12s %8s %12s %12s %8s %10s\n" model mode "xgd pre t/s" "torch pre" ratio "xgd dec t/s" "torch dec" ratio "DRAM GB/s"
for s in $shapes; do
  fam=${s%%:*}; name=${s#*:}
  heavy=(); args=(--batch 4 --prompt 128 --decode 16 --reps 5)
  if [ "$name" = llama-1b ]; then
    args=(--batch 4 --prompt 128 --decode 8 --reps 2)
    [ -e /work/heavy.lock ] && [ "${XGD_HEAVY_LOCKED:-0}" != 1 ] && heavy=(flock /work/heavy.lock)
  fi
  for dt in f32 bf16; do
    m="$D/$name-$dt"
    [ -f "$m/model.safetensors" ] || "${heavy[@]}" "$XGD" -q init --family "$fam" --config "$D/$name.json" --out "$m" --dtype "$dt" >/dev/null
    # PyTorch computes in f32 on either checkpoint (same shapes, same speed): the Llama shape runs
    # it once, on the f32 model, and its bf16 rows reuse that timing (saves ~5 min)
    if [ "$dt" = f32 ] || [ "$name" != llama-1b ]; then
      t=$("${heavy[@]}" /usr/bin/python3 bench/model/torch_forward.py "$m" "${args[@]}")
    fi
    modes="exact"; [ "$dt" = bf16 ] && modes="exact fast"
    for mode in $modes; do
      x=$(XGD_BF16_DOT=$([ "$mode" = fast ] && echo 1 || echo 0) "${heavy[@]}" "$BENCH" "$m" "${args[@]}")
      label=$dt; [ "$mode" = fast ] && label="bf16 fast"
      /usr/bin/python3 - "$name" "$label" "$x" "$t" <<'PY'
import json, sys
n, label, x, t = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
dram = x['dram_read_gbs']
print(f"{n:<12} {label:<9} {x['prefill_tok_s']:12.1f} {t['prefill_tok_s']:12.1f} {x['prefill_tok_s']/t['prefill_tok_s']:7.2f}x"
      f" {x['decode_tok_s']:12.2f} {t['decode_tok_s']:12.2f} {x['decode_tok_s']/t['decode_tok_s']:7.2f}x {dram:10.1f}")
peak = x['f32_peak_gflops']
# shares: the median over the repetitions of (each repetition / the limit measured just before it),
# then best against best (the fastest repetition / the highest limit of the run)
share = (f"{100*x['prefill_peak_share']:.0f}% of the f32 FMA peak, best {100*x['prefill_peak_share_best']:.0f}%"
         f" (median {peak:.0f} GFLOP/s on these threads)") if peak else "f32 peak not measured"
print(f"   xgd prefill {x['prefill_gflops']:.1f} GFLOP/s ({share}); decode streams {x['decode_weight_gbs']:.1f} GB/s of weights"
      f" ({100*x['decode_dram_share']:.0f}% of DRAM read bandwidth, best {100*x['decode_dram_share_best']:.0f}%); BLAS core {x['blas_core']}")
# Per decoded token an engine streams decode_bytes (every weight but the input embeddings, in the
# checkpoint's dtype), so it can at most reach dram / decode_bytes tokens/s; PyTorch streams the
# same weights as f32 (4 bytes per parameter).
tgbs = x['decode_bytes'] * 4.0 * x['params'] / x['weight_bytes'] * t['decode_tok_s'] / 1e9
bound = dram * 1e9 / x['decode_bytes'] / t['decode_tok_s']
print(f"   torch decode streams {tgbs:.1f} GB/s ({100*tgbs/dram:.0f}% of DRAM): DRAM bound on the decode ratio {bound:.2f}x")
PY
    done
  done
done
