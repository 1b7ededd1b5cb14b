#!/usr/bin/env bash
# xgd tokenize on the Llama-2 SentencePiece tokenizer.model against the JS oracle running the
# tokenizer.json that transformers' LlamaConverter builds from the same file (legacy pipeline,
# byte_fallback BPE; the conversion is validated on HF's own ids by test_oracle_selfcheck.sh),
# over every RTP-LX prompt (every 4th under sanitizers) plus adversarial strings: ids
# (add_special_tokens false and true) and decoded text must be identical.
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require shared node xgd
exec /usr/bin/python3 "$ORACLE_DIR/llama2.py"
