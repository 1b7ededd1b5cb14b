"""xgd tokenize (reading the Llama-2 tokenizer.model) vs the JS oracle (reading the tokenizer.json
that transformers' LlamaConverter builds from it, see spm_to_json.py), see test_oracle_llama2.sh."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import adversarial, rtp_lx_prompts  # noqa: E402
from compare import compare_tokenizer, main_exit  # noqa: E402
from spm_to_json import llama_tokenizer_json  # noqa: E402

SHARED = os.environ["XGD_SHARED"]
TMP = os.environ["XGD_TMP"]


def main():
    rtp = rtp_lx_prompts(SHARED)
    if os.environ.get("XGD_SANITIZED") in ("1", "ON", "TRUE", "true"):
        rtp = rtp[::4]  # the ASan build is ~4x slower
    texts = rtp + adversarial()
    print(f"{len(texts)} texts ({len(rtp)} RTP-LX prompts of 28 locales + adversarial strings)")
    model = os.path.join(SHARED, "models", "tokenizers", "llama2", "tokenizer.model")
    os.makedirs(os.path.join(TMP, "llama2_json"), exist_ok=True)
    converted = os.path.join(TMP, "llama2_json", "tokenizer.json")
    with open(converted, "w", encoding="utf-8") as fh:
        json.dump(llama_tokenizer_json(model), fh, ensure_ascii=False)
    main_exit([compare_tokenizer("llama2", converted, texts, TMP, special_ids=(1, 2), xgd_tokenizer=model, vocab_size=32000)])


if __name__ == "__main__":
    main()
