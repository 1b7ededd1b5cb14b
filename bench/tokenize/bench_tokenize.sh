#!/usr/bin/env bash
# Tokenizer benchmark (not a ctest test): encodes every prompt of the 28 RTP-LX locales with the
# Llama-3 (tokenizer.json, 9 MB) and GPT-2 (vocab.json + merges.txt) tokenizers, with
# `xgd tokenize` on one thread and with tokenizers.js (the test oracle) in the same run, and
# prints load times, MB/s, Mtokens/s and the speed ratio xgd/JS (the target is >= 5x).
#
# Method: JS times the encode calls in-process with performance.now() over texts already in
# memory, the load separately (bench_js.mjs). xgd is timed from outside: encode time = wall time
# of a run over all texts minus wall time of a load-only run (an empty JSONL); both are the best
# of BENCH_RUNS (default 5). The xgd time therefore still includes JSONL parsing and id printing.
# Both wall and CPU time (JS: process.cpuUsage; xgd: the child's rusage) are shown: on a shared,
# loaded machine the CPU-time ratio is the steadier one.
#   usage: bench/tokenize/bench_tokenize.sh   (XGD=path/to/xgd, default build/xgd)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export XGD="${XGD:-$ROOT/build/xgd}"
export XGD_SHARED="${XGD_SHARED:-$ROOT/../shared}"
export XGD_TMP="${XGD_TMP:-$(mktemp -d)}"
[ -x "$XGD" ] || { echo "bench_tokenize: no xgd binary at $XGD (build first or set XGD)"; exit 1; }
"$XGD" tokenize --help >/dev/null 2>&1 || { echo "bench_tokenize: '$XGD tokenize' is not available"; exit 1; }
[ -d "$ROOT/tests/tokenize/oracle/node_modules/@huggingface/tokenizers" ] ||
  { echo "bench_tokenize: run (cd tests/tokenize/oracle && npm ci) first"; exit 1; }
[ -d "$XGD_SHARED/data/rtp-lx" ] || { echo "bench_tokenize: no RTP-LX data under $XGD_SHARED"; exit 1; }
exec /usr/bin/python3 "$ROOT/bench/tokenize/bench_tokenize.py"
