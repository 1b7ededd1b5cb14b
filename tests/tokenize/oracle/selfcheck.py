"""Checks the JS oracle against Hugging Face's own GPT-2 and Llama-2 ids (see
test_oracle_selfcheck.sh)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import oracle, short  # noqa: E402
from spm_to_json import llama_tokenizer_json  # noqa: E402

SHARED = os.environ["XGD_SHARED"]
TMP = os.environ["XGD_TMP"]
SEP = "\n__ggml_vocab_test__\n"

# Ids that are quoted everywhere (GPT-2's and Llama-3's model cards and tokenizer docs).
KNOWN = {
    "gpt2": [("Hello world", [15496, 995]), (" Hello world", [18435, 995]),
             ("<|endoftext|>", [50256])],
    "llama3/tokenizer.json": [("Hello world", [9906, 1917]), ("<|begin_of_text|>", [128000])],
}


def read_cases(stem):
    """The llama.cpp vocab test format: cases separated by SEP, one line of ids per case."""
    base = os.path.join(SHARED, "models", "tokenizer-tests", stem)
    with open(base + ".inp", encoding="utf-8") as fh:
        texts = fh.read().split(SEP)
    with open(base + ".out", encoding="utf-8") as fh:
        ids = [[int(x) for x in line.split()] for line in fh.read().split("\n")]
    # both files end with a separator / newline: the last split part is empty
    if texts[-1] != "" or ids[-1] != []:
        raise SystemExit(f"{base}: unexpected layout (no trailing separator)")
    texts, ids = texts[:-1], ids[:-1]
    if len(texts) != len(ids):
        raise SystemExit(f"{base}: {len(texts)} cases but {len(ids)} id lines")
    return texts, ids


def run_oracle(tok, texts, flags=()):
    p = os.path.join(TMP, "selfcheck.jsonl")
    with open(p, "w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return [json.loads(l) for l in oracle(tok, p, list(flags))]


def run_decode(tok, id_lists):
    p = os.path.join(TMP, "selfcheck.ids.jsonl")
    with open(p, "w") as fh:
        for ids in id_lists:
            fh.write(json.dumps({"ids": ids}) + "\n")
    return [json.loads(l)["text"] for l in oracle(tok, p, ["--decode", "--no-cleanup"])]


def check_reference(stem, tok):
    """The oracle's ids for the HF reference cases, and decode(ids) == text (byte-level BPE is
    lossless; so is Llama-2's, whose decoder strips the one space its normalizer prepends).
    Returns the number of failures."""
    fails = 0
    texts, want = read_cases(stem)
    got = run_oracle(tok, texts)
    for i, (t, w, g) in enumerate(zip(texts, want, got)):
        if w != g:
            fails += 1
            print(f"{stem} case {i}: {short(t)}\n  HF:     {w}\n  oracle: {g}")
    print(f"{stem} reference cases: {len(texts) - fails} of {len(texts)} identical to HF")
    kept = [(t, w) for t, w in zip(texts, want) if w]
    back = run_decode(tok, [w for _, w in kept])
    for (t, _), b in zip(kept, back):
        if t != b:
            fails += 1
            print(f"{stem} decode(encode(x)) != x: {short(t)} -> {short(b)}")
    return fails


def main():
    tok_dir = os.path.join(SHARED, "models", "tokenizers")
    fails = check_reference("gpt2", os.path.join(tok_dir, "gpt2"))
    # Llama-2: the oracle reads the tokenizer.json that transformers' LlamaConverter would build
    os.makedirs(os.path.join(TMP, "llama2_json"), exist_ok=True)
    l2 = os.path.join(TMP, "llama2_json", "tokenizer.json")
    with open(l2, "w", encoding="utf-8") as fh:
        json.dump(llama_tokenizer_json(os.path.join(tok_dir, "llama2", "tokenizer.model")), fh,
                  ensure_ascii=False)
    fails += check_reference("llama2", l2)
    for tok, cases in KNOWN.items():
        got = run_oracle(os.path.join(tok_dir, tok), [t for t, _ in cases])
        for (t, w), g in zip(cases, got):
            if w != g:
                fails += 1
                print(f"{tok}: {t!r}: expected {w}, oracle {g}")
    if fails:
        print(f"FAIL: {fails} differences: the oracle does not reproduce Hugging Face")
        sys.exit(1)
    print("OK: the oracle reproduces Hugging Face's ids")


if __name__ == "__main__":
    main()
