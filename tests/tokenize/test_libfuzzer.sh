# Builds the libFuzzer target (tests/tokenize/fuzz_tokenizer.c) with clang, ASan and UBSan, and
# fuzzes the tokenizer loaders and encode/decode for XGD_FUZZ_SECONDS (default 10) from the seeds
# of fuzz_body.h, with a fixed -seed (XGD_FUZZ_SEED) so that CI runs the same inputs. Skips when
# clang or libFuzzer is missing, and in the sanitizer build (the target is sanitized itself).
set -u
if [ "${XGD_SANITIZED:-0}" = 1 ]; then echo "skip: runs in the release build's test run"; exit 77; fi
command -v clang >/dev/null || { echo "skip: clang is not installed"; exit 77; }
T="${XGD_TMP:-/tmp}/libfuzzer"
rm -rf "$T" && mkdir -p "$T/corpus"
flags=$(pkg-config --cflags --libs jansson libpcre2-8 libutf8proc) || { echo "skip: pkg-config"; exit 77; }
if ! clang -std=c11 -O1 -g -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -I src -I tests tests/tokenize/fuzz_tokenizer.c src/tokenize/*.c src/base/*.c -o "$T/fuzz" $flags -lm -fopenmp \
     2> "$T/build.log"; then
  if grep -q -i "fuzzer" "$T/build.log"; then echo "skip: libFuzzer unavailable"; cat "$T/build.log"; exit 77; fi
  cat "$T/build.log"; exit 1
fi
FUZZ_SEED_DIR="$T/corpus" "$T/fuzz" -seed="${XGD_FUZZ_SEED:-1}" -max_total_time="${XGD_FUZZ_SECONDS:-10}" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$T/" "$T/corpus" > "$T/fuzz.log" 2>&1
rc=$?
tail -5 "$T/fuzz.log"
if [ $rc -ne 0 ]; then echo "libFuzzer found a failure (artifact in $T):"; grep -A30 "ERROR" "$T/fuzz.log" | head -60; fi
exit $rc
