#!/usr/bin/env bash
# xgd tokenize against the JS oracle on the real GPT-2 / Llama-3 BPE vocabularies put into the
# pipelines of BLOOM (Split regex + ByteLevel), Aya-23 (NFC + Digits + ByteLevel, BOS template) and
# the hub's Llama-3 (post-processor Sequence with the BOS template), over every 4th RTP-LX prompt
# (16th, without the Llama-3 variant, under sanitizers) and the adversarial strings.
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require shared node xgd
exec /usr/bin/python3 "$ORACLE_DIR/variants.py"
