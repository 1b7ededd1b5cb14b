#!/usr/bin/env bash
# One DPO step (4 pairs, 64-token prompts, 20-64-token answers) on a random model of the chosen
# shape: xgd against the same step in PyTorch, each in its own process, one after the other (never
# together: at ~1B both sides need several GB). Cases: full fine-tuning from an f32 and from a bf16
# checkpoint (both train an f32 copy; PyTorch's full step is the f32 one), LoRA r=64 on an f32 base
# and on a bf16 base. Each line gives the best step time of REPS and the peak resident memory
# (VmHWM) of each process: "peak" = the whole process, loading included; "train" = from the end
# of loading on (the loaders differ: PyTorch's oracle loader goes through numpy copies).
#   bash bench/train/bench_dpo.sh                 # GPT-2-124M shape, 3 reps (about 15 min on 2 busy cores)
#   REPS=1 CASES="full lora-bf16" bash bench/train/bench_dpo.sh llama-1b
#       # TinyLlama-1.1B shape: 6.6 GB of checkpoints, up to ~17 GB of RAM (PyTorch's full step)
# XGD_LOCK=FILE runs every process under `flock FILE` (a shared machine's heavy-job lock).
# PyTorch runs with 1 intra-op thread (its best f32 setting here, perf-anchors.md: OpenBLAS keeps
# its own 2 threads). On a bf16 base its LoRA step runs in both forms (PEFT's unmerged
# x·W + s·(x·Aᵀ)·Bᵀ and the merged W + s·B·A) with each thread count of TORCH_THREADS (default
# "1 2": its bf16 products go through oneDNN, which 1 thread limits to one core), and the fastest
# of those is the one compared: PyTorch's fastest LoRA step.
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_dpo_step}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
SHAPE=${1:-gpt2-124m}; REPS=${REPS:-3}; LEN=${LEN:-64}
case "$SHAPE" in
  gpt2-124m) fam=gpt2; cfg='{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' ;;
  llama-1b) fam=llama; cfg='{"vocab_size": 32000, "hidden_size": 2048, "num_hidden_layers": 22, "intermediate_size": 5632, "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048, "tie_word_embeddings": false}' ;;
  tiny) fam=llama; cfg='{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": false}' ;;
  *) echo "bench_dpo.sh: unknown shape '$SHAPE' (gpt2-124m, llama-1b, tiny: a smoke test)" >&2; exit 2 ;;
esac
run() { if [ -n "${XGD_LOCK:-}" ]; then flock "$XGD_LOCK" "$@"; else "$@"; fi; }
echo "$cfg" >"$D/$SHAPE.json"
for dt in f32 bf16; do
  m="$D/$SHAPE-$dt"
  [ -f "$m/model.safetensors" ] || run "$XGD" -q init --family $fam --config "$D/$SHAPE.json" --out "$m" --dtype $dt >/dev/null
done
X="$BENCH --reps $REPS --len $LEN"; T="/usr/bin/python3 bench/train/torch_dpo_step.py --reps $REPS --len $LEN"
# CASES picks a subset (a ~1B run takes minutes per process): full full-bf16 lora lora-bf16
CASES=" ${CASES:-full full-bf16 lora lora-bf16} "
has() { [[ "$CASES" == *" $1 "* ]]; }
xf=null tf=null xb=null xl=null tl=null xlb=null xlf=null tlb=null tall="[]"
if has full || has full-bf16; then tf=$(run $T "$D/$SHAPE-f32"); fi
if has full; then xf=$(run $X "$D/$SHAPE-f32"); fi
if has full-bf16; then xb=$(run $X "$D/$SHAPE-bf16"); fi
if has lora; then xl=$(run $X "$D/$SHAPE-f32" --lora); tl=$(run $T "$D/$SHAPE-f32" --lora); fi
# bf16 base: xgd as `xgd dpo` runs it (fast bf16 math: bf16 activations, AMX, as PyTorch's bf16
# step computes) and with --bf16_math exact (f32 math); PyTorch unmerged and merged
if has lora-bf16; then
  xlf=$(run $X "$D/$SHAPE-bf16" --lora); xlb=$(run $X "$D/$SHAPE-bf16" --lora --bf16_math exact)
  for th in ${TORCH_THREADS:-1 2}; do
    for f in unmerged merged; do tall="${tall%]}$([ "$tall" = "[]" ] || echo ,)$(run $T "$D/$SHAPE-bf16" --lora --bf16 --lora_form $f --threads $th)]"; done
  done
fi
/usr/bin/python3 - "$SHAPE" "$xf" "$tf" "$xb" "$xl" "$tl" "$xlb" "$tlb" "$xlf" "$tall" <<'PY'
import json, sys
shape = sys.argv[1]
xf, tf, xb, xl, tl, xlb, tlb, xlf, tall = (json.loads(a) for a in sys.argv[2:])
if tall:  # PyTorch's fastest LoRA step on the bf16 base, over its forms and thread counts
    print(f"{shape} PyTorch LoRA bf16 base: " + ", ".join(
        f"{t['lora_form']} {t['threads']} thread(s) {t['step_s']:.2f} s/step" for t in tall))
    tlb = min(tall, key=lambda r: r["step_s"])
def peak(r):
    return max(r["load_peak_mb"], r["train_peak_mb"])
def mem(r):
    return f"peak {peak(r) / 1024:.2f} GiB (after loading {r['train_peak_mb'] / 1024:.2f})"
def line(title, x, t):
    if x and t:
        print(f"{shape} {title}: xgd {x['step_s']:.2f} s/step ({x['tokens']} tokens), {mem(x)}; "
              f"PyTorch {t['step_s']:.2f} s/step ({t['tokens']} tokens), {mem(t)}; "
              f"speed {t['step_s'] / x['step_s']:.2f}x, peak memory {peak(x) / peak(t):.2f} of PyTorch's")
line("full fine-tuning, f32 checkpoint", xf, tf)
line("full fine-tuning, bf16 checkpoint (xgd trains an f32 copy; PyTorch's f32 step)", xb, tf)
line("LoRA r=64, f32 base", xl, tl)
def form(t):
    return f", PyTorch {t.get('lora_form')} LoRA, {t.get('threads')} thread(s)" if t else ""
line("LoRA r=64, bf16 base, xgd default (bf16 math fast, as PyTorch's bf16 step)" + form(tlb), xlf, tlb)
line("LoRA r=64, bf16 base, xgd exact f32 math (xgd --bf16-math exact)" + form(tlb), xlb, tlb)
if xlf and (tl or tlb):
    fast = min((r for r in (tl, tlb) if r), key=lambda r: r["step_s"])
    for name, x in (("default, fast bf16 math", xlf), ("exact f32 math", xlb)):
        if x:
            print(f"{shape} LoRA, xgd bf16 base ({name}) against PyTorch's fastest LoRA step measured "
                  f"({fast['weights']} base, {fast.get('lora_form')}): {fast['step_s'] / x['step_s']:.2f}x")
PY
