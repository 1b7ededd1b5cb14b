#!/usr/bin/env bash
# xgd tokenize against the JS oracle for small tokenizer.json files of the other model types,
# written by the test itself: WordPiece (BertNormalizer + BertPreTokenizer), SentencePiece-style
# BPE with byte_fallback (Llama-2 structure), Unigram with Metaspace, and Unigram with XLM-R's
# RobertaProcessing and added tokens (<mask> with lstrip, a normalized non-special token).
set -euo pipefail
source "$(dirname "$0")/oracle/env.sh"
oracle_require node xgd
exec /usr/bin/python3 "$ORACLE_DIR/tiny.py"
