"""Writes a tiny byte-level BPE tokenizer.json (GPT-2 byte alphabet, a few merges, an
<|endoftext|> special token) into a folder, with a tokenizer_config.json naming it EOS.
Used by the generation tests, which need text without any third-party tokenizer."""
import json
import sys


def byte_chars():
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def main(out):
    bc = byte_chars()
    vocab = {bc[b]: b for b in range(256)}
    merges = []
    for a, b in [(" ", "t"), ("h", "e"), (" t", "he"), ("i", "n"), (" ", "a"), ("e", "r"), ("o", "n"), (" ", "s")]:
        x = "".join(bc[c] for c in a.encode())
        y = "".join(bc[c] for c in b.encode())
        merges.append(f"{x} {y}")
        vocab[x + y] = len(vocab)
    eos = len(vocab)
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges},
    }
    json.dump(tok, open(f"{out}/tokenizer.json", "w"), ensure_ascii=False)
    json.dump({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer",
               "model_max_length": 1024}, open(f"{out}/tokenizer_config.json", "w"))
    print(eos + 1)


if __name__ == "__main__":
    main(sys.argv[1])
