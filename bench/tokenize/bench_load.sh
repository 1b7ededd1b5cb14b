#!/usr/bin/env bash
# Tokenizer load time: a synthetic BLOOM-sized byte-level BPE tokenizer.json (250,680 vocabulary
# entries and as many merges, ~14.5 MB, written here), and the real Llama-3 tokenizer.json when
# ../shared is present. Times a whole `xgd tokenize` run over one short line (process start
# included), best of 5.
#   bash bench/tokenize/bench_load.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
XGD=${XGD:-build/xgd}
D=${XGD_BENCH_DIR:-/tmp/xgd-bench}; mkdir -p "$D"
[ -f "$D/bloom-sized.tokenizer.json" ] || /usr/bin/python3 - "$D/bloom-sized.tokenizer.json" <<'PY'
import json, random, sys
random.seed(0)
keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
table, extra = {}, 0
for b in range(256):
    if b in keep: table[b] = chr(b)
    else: table[b] = chr(256 + extra); extra += 1
vocab = {table[b]: b for b in range(256)}
toks, merges = list(vocab), []
while len(vocab) < 250680:
    a, b = random.choice(toks[:2000]), random.choice(toks)
    n = a + b
    if n in vocab or len(n) > 16: continue
    vocab[n] = len(vocab); toks.append(n); merges.append(f"{a} {b}")
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
json.dump({"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
           "pre_tokenizer": bl, "post_processor": None, "decoder": bl,
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}},
          open(sys.argv[1], "w"), ensure_ascii=False)
PY
echo '{"text": "hello"}' >"$D/one.jsonl"
best() {
  local b=999
  for i in 1 2 3 4 5; do
    local t0=$(date +%s.%N); "$XGD" tokenize --tokenizer "$1" --jsonl "$D/one.jsonl" >/dev/null; local t1=$(date +%s.%N)
    b=$(/usr/bin/python3 -c "print(min($b, $t1 - $t0))")
  done
  printf "%-40s %8.1f MB %8.3f s\n" "$(basename "$1")" "$(/usr/bin/python3 -c "import os; print(os.path.getsize('$1')/1e6)")" "$b"
}
best "$D/bloom-sized.tokenizer.json"
[ -f ../shared/models/tokenizers/llama3/tokenizer.json ] && best ../shared/models/tokenizers/llama3/tokenizer.json
