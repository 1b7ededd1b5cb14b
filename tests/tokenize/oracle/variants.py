"""xgd tokenize vs the JS oracle on the real GPT-2 and Llama-3 vocabularies assembled into the
pipelines of the project's other model families (see test_oracle_variants.sh):

- bloom_like: Split(BLOOM regex, Isolated) + ByteLevel(use_regex=false), as BLOOM's tokenizer.json;
- aya_like: NFC + Digits(individual_digits) + ByteLevel(use_regex=true) and a BOS template, as
  Aya-23 (CohereTokenizerFast);
- llama3_hub: the Llama-3 file with the hub's post-processor Sequence[ByteLevel,
  TemplateProcessing "<|begin_of_text|> $A"], so add_special_tokens adds the BOS.
The vocabularies are GPT-2's / Llama-3's, so the ids mean nothing for BLOOM or Aya: what is
compared is the pipeline (normalizer, pre-tokenizers, post-processor) on real-size BPE models."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import adversarial, rtp_lx_prompts  # noqa: E402
from compare import compare_tokenizer, main_exit  # noqa: E402

SHARED = os.environ["XGD_SHARED"]
TMP = os.environ["XGD_TMP"]
TOK = os.path.join(SHARED, "models", "tokenizers")
BLOOM_REGEX = " ?[^(\\s|[.,!?…。，、।۔،])]+"
BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def gpt2_model():
    with open(os.path.join(TOK, "gpt2", "vocab.json"), encoding="utf-8") as fh:
        vocab = json.load(fh)
    with open(os.path.join(TOK, "gpt2", "merges.txt"), encoding="utf-8") as fh:
        merges = [l for i, l in enumerate(fh.read().split("\n")) if l and not (i == 0 and l.startswith("#version"))]
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}


def base(model, normalizer, pre_tokenizer, post_processor):
    eot = {"id": 50256, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
           "normalized": False, "special": True}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [eot],
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
            "decoder": dict(BYTELEVEL), "model": model}


def bloom_like():
    return base(gpt2_model(), None, {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": BLOOM_REGEX}, "behavior": "Isolated", "invert": False},
        dict(BYTELEVEL, use_regex=False)]}, dict(BYTELEVEL, trim_offsets=False))


def aya_like():
    bos = [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]
    post = {"type": "TemplateProcessing", "single": bos, "pair": bos + [{"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}}
    return base(gpt2_model(), {"type": "NFC"}, {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, BYTELEVEL]}, post)


def llama3_hub():
    with open(os.path.join(TOK, "llama3", "tokenizer.json"), encoding="utf-8") as fh:
        tok = json.load(fh)
    bos = {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}
    tok["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                 "tokens": ["<|begin_of_text|>"]}}}]}
    return tok


def main():
    sanitized = os.environ.get("XGD_SANITIZED") in ("1", "ON", "TRUE", "true")
    stride = 16 if sanitized else 4
    rtp = rtp_lx_prompts(SHARED)[::stride]   # the BPE cores see every prompt in test_oracle_llama3/gpt2
    texts = rtp + adversarial()
    print(f"{len(texts)} texts (every {stride}th RTP-LX prompt + adversarial strings)")
    variants = [("bloom_like", bloom_like, (50256, 50256), 50257),
                ("aya_like", aya_like, (50256, 50256), 50257),
                ("llama3_hub", llama3_hub, (128000, 128001), 128256)]
    if sanitized:
        # ten loads of the 9 MB file are slow under ASan; its loader runs in test_oracle_llama3
        print("sanitized build: llama3_hub left out")
        variants = variants[:2]
    reports = []
    for name, build, specials, vocab_size in variants:
        os.makedirs(os.path.join(TMP, name), exist_ok=True)
        path = os.path.join(TMP, name, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(build(), fh, ensure_ascii=False)
        reports.append(compare_tokenizer(name, path, texts, TMP, special_ids=specials, vocab_size=vocab_size))
    main_exit(reports)


if __name__ == "__main__":
    main()
