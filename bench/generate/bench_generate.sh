#!/usr/bin/env bash
# Generation throughput: 25 samples x 20 tokens for RTP-LX-length prompts on a random GPT-2-124M-shaped
# model: xgd batched (as `xgd generate` runs), xgd one sample at a time, and PyTorch with a KV cache
# and the 25 samples of a prompt as one batch (HF generate(num_return_sequences=25)), same run.
#   bash bench/generate/bench_generate.sh [PROMPTS]    (default 50 prompts; needs ../shared for RTP-LX)
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}; BENCH=${BENCH:-build/bench/bench_generate}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
P=${1:-50}
echo '{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}' >"$D/gpt2-124m.json"
m="$D/gpt2-124m-f32"
[ -f "$m/model.safetensors" ] || "$XGD" -q init --family gpt2 --config "$D/gpt2-124m.json" --out "$m" >/dev/null
# prompt ids: the English RTP-LX prompts through the GPT-2 tokenizer (random ids if ../shared is absent)
if [ -f ../shared/data/rtp-lx/RTP_LX_EN.json ]; then
  head -n "$P" ../shared/data/rtp-lx/RTP_LX_EN.json | /usr/bin/python3 -c "
import json, sys
for l in sys.stdin: print(json.dumps({'text': json.loads(l)['Prompt']}))" >"$D/prompts.jsonl"
  "$XGD" tokenize --tokenizer ../shared/models/tokenizers/gpt2/vocab.json --jsonl "$D/prompts.jsonl" | tr -d '[]' | tr ',' ' ' >"$D/prompt_ids.txt"
else
  /usr/bin/python3 -c "
import random; random.seed(0)
for _ in range($P): print(' '.join(str(random.randrange(50257)) for _ in range(random.randint(8, 30))))" >"$D/prompt_ids.txt"
fi
x=$("$BENCH" "$m" "$D/prompt_ids.txt" --N 25 --max_tokens 20 --prompts "$P")
t=$(/usr/bin/python3 bench/generate/torch_generate.py "$m" "$D/prompt_ids.txt" --N 25 --max_tokens 20 --prompts_n "$P")
/usr/bin/python3 - "$x" "$t" <<'PY'
import json, sys
x, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"xgd batched {x['batched_tok_s']:.1f} tok/s; xgd one-by-one {x['one_by_one_tok_s']:.2f} tok/s ({x['ratio']:.1f}x);"
      f" PyTorch batched KV-cache {t['tok_s']:.1f} tok/s ({x['batched_tok_s']/t['tok_s']:.2f}x)")
PY
