"""Builds the tokenizer.json that transformers' LlamaConverter (legacy Llama-2 pipeline) makes from a
SentencePiece BPE tokenizer.model, so that the JS oracle can tokenize what `xgd tokenize` reads
from the .model file directly.

The .model file is a protobuf ModelProto; only field 1 (repeated SentencePiece: 1 piece, 2 score,
3 type) is needed, so a minimal wire-format reader is used (no protobuf dependency).

The conversion, as transformers 4.41 does it:
- vocab: "<unk>", "<s>", "</s>" with score 0, then pieces[3:], id = position;
- merges (SentencePieceExtractor): for every piece, every split into two pieces that are both in
  the vocab, ordered by (id of the left part, id of the right part); then all merges stably sorted
  by the score of the merged piece, highest first;
- normalizer Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer, BPE with byte_fallback and
  fuse_unk, TemplateProcessing "<s> $A", decoder Replace("▁"→" ") + ByteFallback + Fuse +
  Strip(" ", 1, 0); "<unk>", "<s>", "</s>" are special added tokens (normalized false)."""
import json
import struct
import sys


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield num, wt, v


def read_pieces(path):
    """[(piece, score, type)] in id order."""
    with open(path, "rb") as fh:
        buf = fh.read()
    pieces = []
    for num, wt, v in _fields(buf):
        if num == 1 and wt == 2:
            piece, score, typ = "", 0.0, 1
            for n2, w2, v2 in _fields(v):
                if n2 == 1:
                    piece = v2.decode("utf-8")
                elif n2 == 2 and w2 == 5:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3:
                    typ = v2
            pieces.append((piece, score, typ))
    if len(pieces) < 3:
        raise ValueError(f"{path}: no SentencePiece pieces found")
    return pieces


def llama_tokenizer_json(model_path):
    pieces = read_pieces(model_path)
    vocab_scores = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0)] + [(p, s) for p, s, _ in pieces[3:]]
    vocab = {p: i for i, (p, _) in enumerate(vocab_scores)}
    merges = []
    for piece, score in vocab_scores:
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece))
                 if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b, _ in merges]},
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: spm_to_json.py tokenizer.model out/tokenizer.json")
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(llama_tokenizer_json(sys.argv[1]), fh, ensure_ascii=False)
