#!/usr/bin/env bash
# Generation throughput: 25 samples x 20 tokens for RTP-LX-length prompts on random models of two shapes,
#   gpt2-124m: GPT-2 124M (vocab 50257, 12 x 768), prompts through the GPT-2 tokenizer;
#   llama-1b:  TinyLlama 1.1B (vocab 32000, 22 x 2048, MLP 5632, 32 heads, 4 KV heads), f32 (4.4 GB),
#              prompts through the Llama-2 tokenizer with BOS;
# each timed as xgd batched (as `xgd generate` runs: one prefill per prompt, ~400 sequences per decode
# step), xgd one sample at a time (prefill + single-sequence decode per sample), and PyTorch with a KV
# cache and the 25 samples of a prompt as one batch (HF generate(num_return_sequences=25)), in the
# same run. PyTorch runs at its best setting here (torch.set_num_threads(1), OpenBLAS on 2 threads:
# perf-anchors.md). Tokens/s is a rate, so the slow sides time a subset of the prompts (printed with
# each figure): for gpt2-124m one-by-one runs 4 prompts x 25 samples and PyTorch 10 prompts; for
# llama-1b xgd batched runs 16 prompts, one-by-one 1 prompt x 5 samples, PyTorch 2 prompts, to keep
# the whole run near 10 minutes on a quiet 2-core machine.
#   bash bench/generate/bench_generate.sh [PROMPTS] [SHAPES]   (default: 50 "gpt2-124m llama-1b")
# Needs ../shared for RTP-LX and the tokenizers (random ids of RTP-LX-like lengths otherwise).
# Timed commands run under `flock /work/bench.lock`, and the whole ~1B shape (~5 GB) under one hold of
# `flock /work/heavy.lock`, when those files exist (shared machines; set XGD_BENCH_LOCKED=1 /
# XGD_HEAVY_LOCKED=1 when the caller already holds them).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_generate}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
P=${1:-50}
SHAPES=${2:-gpt2-124m llama-1b}
heavy=(); timed=()
[ -e /work/heavy.lock ] && [ "${XGD_HEAVY_LOCKED:-0}" != 1 ] && heavy=(flock /work/heavy.lock)
[ -e /work/bench.lock ] && [ "${XGD_BENCH_LOCKED:-0}" != 1 ] && timed=(flock /work/bench.lock)

# prompt texts: the first P English RTP-LX prompts
RTP=../shared/data/rtp-lx/RTP_LX_EN.json
if [ -f "$RTP" ]; then
  head -n "$P" "$RTP" | /usr/bin/python3 -c "
import json, sys
for l in sys.stdin: print(json.dumps({'text': json.loads(l)['Prompt']}))" >"$D/prompts.jsonl"
fi

# ids NAME TOKENIZER VOCAB [--add_special_tokens]: one line of ids per prompt into $D/NAME-ids.txt
ids() {
  local out="$D/$1-ids.txt"
  if [ -f "$RTP" ] && [ -e "$2" ]; then
    "$XGD" tokenize --tokenizer "$2" --jsonl "$D/prompts.jsonl" ${4:-} | tr -d '[]' | tr ',' ' ' >"$out"
  else
    /usr/bin/python3 -c "
import random; random.seed(0)
for _ in range($P): print(' '.join(str(random.randrange($3)) for _ in range(random.randint(8, 30))))" >"$out"
  fi
}

# shape NAME FAMILY CONFIG TOKENIZER VOCAB TOKARGS BATCHED_PROMPTS OB_PROMPTS OB_SAMPLES TORCH_PROMPTS
shape() {
  local name=$1 fam=$2 cfg=$3 tok=$4 vocab=$5 tokargs=$6 pa=$7 obp=$8 obs=$9 pt=${10}
  local run=("${timed[@]}") m="$D/$name-f32"
  echo "$cfg" >"$D/$name.json"
  [ -f "$m/model.safetensors" ] || "$XGD" -q init --family "$fam" --config "$D/$name.json" --out "$m" >/dev/null
  ids "$name" "$tok" "$vocab" "$tokargs"
  [ "$pa" -le "$P" ] || pa=$P
  [ "$pt" -le "$P" ] || pt=$P
  local t0=$SECONDS x t
  x=$("${run[@]}" "$BENCH" "$m" "$D/$name-ids.txt" --N 25 --max_tokens 20 --prompts "$pa" --ob_prompts "$obp" --ob_samples "$obs")
  t=$("${run[@]}" /usr/bin/python3 bench/generate/torch_generate.py "$m" "$D/$name-ids.txt" --N 25 --max_tokens 20 --prompts_n "$pt")
  /usr/bin/python3 - "$name" "$x" "$t" "$((SECONDS - t0))" <<'PY'
import json, sys
name, x, t, secs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
b, o, p = x['batched_tok_s'], x['one_by_one_tok_s'], t['tok_s']
print(f"{name}: xgd batched {b:.1f} tok/s ({x['prompts']} prompts, group {x['group']}); "
      f"xgd one-by-one {o:.2f} tok/s ({x['one_by_one_prompts']} prompts x {x['one_by_one_samples']} samples); "
      f"PyTorch batched KV-cache {p:.1f} tok/s ({t['prompts']} prompts) [{secs} s]")
print(f"{name}: ratio vs one-by-one {b / o:.1f}x (target >= 10x); ratio vs PyTorch {b / p:.2f}x (target >= 2x)")
PY
}

for s in $SHAPES; do
  case $s in
    gpt2-124m) shape gpt2-124m gpt2 '{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' \
                 ../shared/models/tokenizers/gpt2/vocab.json 50257 "" "$P" 4 25 10 ;;
    llama-1b) if [ ${#heavy[@]} -gt 0 ]; then   # the whole shape under one hold of the heavy lock
                "${heavy[@]}" env XGD_HEAVY_LOCKED=1 bash "$self" "$P" llama-1b; continue; fi
              shape llama-1b llama '{"vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
                 "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5}' \
                 ../shared/models/tokenizers/llama2/tokenizer.model 32000 --add_special_tokens 16 1 5 2 ;;
    *) echo "unknown shape $s (gpt2-124m, llama-1b)" >&2; exit 2 ;;
  esac
done
