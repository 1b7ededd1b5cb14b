#!/usr/bin/env bash
# xgd tokenize against the JS oracle for the byte-level BPE tokenizer GPT-2 (vocab.json + merges.txt), over every
# prompt of the 28 RTP-LX locales plus adversarial strings and random id sequences: ids
# (add_special_tokens false and true) and decoded text (skip_special_tokens false and true, and
# without clean-up) must be identical. Under sanitizers (XGD_SANITIZED=1) every 4th prompt is used.
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require shared node xgd
exec /usr/bin/python3 "$ORACLE_DIR/bytelevel.py" gpt2
