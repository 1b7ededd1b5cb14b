"""xgd tokenize vs the JS oracle on Llama-3 or GPT-2 (argv[1]; see test_oracle_llama3.sh and
test_oracle_gpt2.sh)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import adversarial, rtp_lx_prompts  # noqa: E402
from compare import compare_tokenizer, main_exit  # noqa: E402

SHARED = os.environ["XGD_SHARED"]
TMP = os.environ["XGD_TMP"]


def main():
    rtp = rtp_lx_prompts(SHARED)
    if os.environ.get("XGD_SANITIZED") in ("1", "ON", "TRUE", "true"):
        # the ASan build is ~4x slower: every 4th prompt keeps all 28 locales within the time budget
        rtp = rtp[::4]
    texts = rtp + adversarial()
    print(f"{len(texts)} texts ({len(rtp)} RTP-LX prompts of 28 locales + adversarial strings)")
    tok_dir = os.path.join(SHARED, "models", "tokenizers")
    which = sys.argv[1] if len(sys.argv) > 1 else "llama3"
    if which == "llama3":
        rep = compare_tokenizer("llama3", os.path.join(tok_dir, "llama3", "tokenizer.json"), texts, TMP,
                                special_ids=(128000, 128001), vocab_size=128256)
    elif which == "gpt2":
        rep = compare_tokenizer("gpt2", os.path.join(tok_dir, "gpt2", "vocab.json"), texts, TMP,
                                special_ids=(50256, 50256), vocab_size=50257)
    else:
        raise SystemExit(f"bytelevel.py: unknown tokenizer {which!r} (llama3 or gpt2)")
    reports = [rep]
    main_exit(reports)


if __name__ == "__main__":
    main()
