# The preamble every shell test shares (the bash twin of tests/test.h and tests/common/xgdtest.py).
# A test sources it first:   . "$(dirname "$0")/../common/lib.sh"
# and ends with:             finish NAME    (prints `NAME: P passed, F failed`; exit 1 on a failure)
# (`done` is a bash keyword, hence `finish`.) This folder holds no test_* file, so CMake's test
# globs never register it as a test.
set -u
XGD=${XGD:?XGD is the path of the xgd binary (run through ctest)}
pass=0
fail=0

# ok [MSG]: count a passed check (MSG, when given, is echoed as `ok: MSG`). Always succeeds, so
# `cond && ok || bad "..."` runs bad only when cond fails.
ok() {
  pass=$((pass + 1))
  [ $# -eq 0 ] || echo "ok: $*"
  return 0
}

# bad MSG: count a failed check and say which.
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*"
  return 0
}

# tmpdir NAME [SUB...]: T=$XGD_TMP/NAME (or /tmp/xgd-test/NAME), emptied, with the given subfolders.
tmpdir() {
  T=${XGD_TMP:-/tmp/xgd-test}/$1
  shift
  rm -rf "$T" && mkdir -p "$T" || { echo "FAIL: cannot create $T"; exit 1; }
  local d
  for d in "$@"; do mkdir -p "$T/$d" || exit 1; done
}

# skip WHY: exit 77 (ctest: skipped) with the reason.
skip() {
  echo "skip: $*"
  exit 77
}

# need_shared [REL...]: S=$XGD_SHARED (or ../shared from the repo root); skip unless S and every
# REL below it exist.
need_shared() {
  S=${XGD_SHARED:-../shared}
  [ -d "$S" ] || skip "$S is absent (set XGD_SHARED to the shared data folder)"
  local r
  for r in "$@"; do
    [ -e "$S/$r" ] || skip "$S/$r is absent (set XGD_SHARED to the shared data folder)"
  done
}

# tiny_gpt2 DIR N_EMBD INIT_RANGE [DTYPE]: a random 2-layer GPT-2 (4 heads, 128 positions) in DIR
# with the tiny tokenizer of tests/generate/make_tiny_tokenizer.py (eos = bos = its last id), as
# `xgd init` writes it (DTYPE f32 unless given); exits the test on failure.
tiny_gpt2() {
  local dir=$1 embd=$2 range=$3 dt=${4:-f32} lib V
  lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$dir"
  V=$(/usr/bin/python3 "$lib/../generate/make_tiny_tokenizer.py" "$dir") || { echo "FAIL: tiny tokenizer"; exit 1; }
  echo "{\"vocab_size\": $V, \"n_embd\": $embd, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 128,
         \"initializer_range\": $range, \"eos_token_id\": $((V - 1)), \"bos_token_id\": $((V - 1))}" >"$dir.cfg.json"
  "$XGD" -q init --family gpt2 --config "$dir.cfg.json" --out "$dir" --dtype "$dt" >/dev/null || { echo "FAIL: init $dir"; exit 1; }
}

# finish NAME: the closing count line; the exit status is the test's result.
finish() {
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ] && exit 0
  exit 1
}
