#!/usr/bin/env bash
# Validates the JS tokenizer oracle itself (no xgd involved): it must reproduce Hugging Face's own
# ids for the 46 GPT-2 reference cases (models/tokenizer-tests/gpt2.{inp,out}, produced with
# transformers' AutoTokenizer, add_special_tokens=False), a few well-known ids, and give back the
# text of every case from its ids (byte-level BPE is lossless).
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require shared node
exec /usr/bin/python3 "$ORACLE_DIR/selfcheck.py"
