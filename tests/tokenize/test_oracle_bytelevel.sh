#!/usr/bin/env bash
# xgd tokenize against the JS oracle for the byte-level BPE tokenizers: Llama-3 (tokenizer.json)
# and GPT-2 (vocab.json + merges.txt), over every prompt of the 28 RTP-LX locales plus adversarial
# strings: ids (add_special_tokens false and true) and decoded text (skip_special_tokens false and
# true) must be identical. Under sanitizers (XGD_SANITIZED=1) every 4th RTP-LX prompt is used.
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require shared node xgd
exec /usr/bin/python3 "$ORACLE_DIR/bytelevel.py"
