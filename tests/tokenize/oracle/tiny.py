"""xgd tokenize vs the JS oracle on small tokenizer.json files of the non-byte-level model types,
built here from a small multilingual corpus (see test_oracle_tiny.sh):

- wordpiece: BertNormalizer(lowercase, strip accents, CJK padding) + BertPreTokenizer + WordPiece
  ("##"), BertProcessing [CLS] $A [SEP], WordPiece decoder. Some chars are left out of the vocab
  so that whole words become [UNK].
- bpe_fallback: the Llama-2 structure: Prepend("▁") + Replace(" "→"▁"), no pre-tokenizer, BPE
  with byte_fallback and fuse_unk, <s> $A, decoder Replace/ByteFallback/Fuse/Strip. Rare chars are
  left out (→ <0xXX> byte tokens) and so is <0xF0> (so 4-byte chars become one fused <unk>).
- unigram: NFKC + Metaspace(always) + Unigram (scores from substring counts), $A </s>, Metaspace
  decoder. Rare chars are left out (→ fused <unk>).
- unigram_xlmr: the same with XLM-R's extras: RobertaProcessing, "<mask>" with lstrip, and a
  non-special normalized added token.

The Precompiled normalizer (the SentencePiece charsmap of mT5/XLM-R) is not checked here: the
oracle's tokenizers.js ignores the charsmap and hard-codes an approximation of nmt_nfkc, so it
cannot judge xgd's charsmap interpreter; the oracle refuses Precompiled (see oracle.mjs)."""
import collections
import json
import math
import os
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import HANDWRITTEN, random_codepoints, random_strings  # noqa: E402
from compare import compare_tokenizer, main_exit  # noqa: E402

TMP = os.environ["XGD_TMP"]

CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "the cat sat on the mat, and the dog sat too!",
    "Tokenizers are running, tokenizing and tokenized text every day.", "I don't think it's there; we'll see.",
    "Der schnelle braune Fuchs springt über den faulen Hund.", "Ça va très bien, merci beaucoup.",
    "El niño comió una manzana en el jardín.", "Привет, как дела? Всё хорошо, спасибо.",
    "Γειά σου κόσμε, τι κάνεις;", "मैं हिंदी बोलता हूँ।", "我喜欢学习中文和日本語。", "東京は日本の首都です。",
    "한국어를 공부합니다.", "مرحبا كيف حالك اليوم", "1234 5678 3.14 2024-01-01", "hello hello hello world",
    "running runner runs ran", "unbelievable unhappiness undo", "playing played player plays",
]

ADDED_COMMON = dict(single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)


def char_counts(texts):
    return collections.Counter(c for t in texts for c in t)


def added(tokens):
    return [dict(id=i, content=c, **ADDED_COMMON) for c, i in tokens]


def template(single, specials):
    return {"type": "TemplateProcessing", "single": single,
            "pair": single + [{"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {c: {"id": c, "ids": [i], "tokens": [c]} for c, i in specials}}


# --- WordPiece -----------------------------------------------------------------------------------

def bert_normalize(t):
    """What BertNormalizer(lowercase, strip_accents) does to plain corpus text (for the vocab)."""
    t = unicodedata.normalize("NFD", t.lower())
    return "".join(c for c in t if unicodedata.category(c) != "Mn")


def wordpiece_json():
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {s: i for i, s in enumerate(specials)}
    norm = [bert_normalize(t) for t in CORPUS]
    counts = char_counts(norm)
    words = collections.Counter(w for t in norm for w in t.replace(",", " ").replace(".", " ").split())

    def add(tok):
        vocab.setdefault(tok, len(vocab))
    for c, n in sorted(counts.items()):
        if c.isspace() or n < 2:       # chars seen once are left out: their words become [UNK]
            continue
        add(c)
        add("##" + c)
    for w, n in sorted(words.items()):
        if n >= 2 and all(counts[c] >= 2 for c in w):
            add(w)
    for suffix in ("ing", "ed", "er", "s", "ness", "able", "ize", "ized"):
        add("##" + suffix)
    for prefix in ("un", "token", "run", "play", "happi"):
        add(prefix)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added((s, vocab[s]) for s in specials),
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


# --- SentencePiece-style BPE with byte fallback --------------------------------------------------

def train_bpe(seqs, n_merges):
    """Plain BPE training over char sequences: merge the most frequent adjacent pair (ties: the
    smallest pair), n_merges times. Returns the merges in rank order."""
    seqs = [list(s) for s in seqs]
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter((a, b) for s in seqs for a, b in zip(s, s[1:]))
        if not pairs:
            break
        (a, b), n = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if n < 2:
            break
        merges.append((a, b))
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if s[i] == a and s[i + 1] == b:
                    s[i:i + 2] = [a + b]
                i += 1
    return merges


def bpe_fallback_json():
    specials = [("<unk>", 0), ("<s>", 1), ("</s>", 2)]
    tokens = [c for c, _ in specials]
    # no <0xF0>: 4-byte chars cannot fall back to bytes and become <unk>
    tokens += [f"<0x{b:02X}>" for b in range(256) if b != 0xF0]
    seqs = ["▁" + t.replace(" ", "▁") for t in CORPUS]
    counts = char_counts(seqs)
    kept = sorted(c for c, n in counts.items() if n >= 2)   # rarer chars go through byte fallback
    tokens += kept
    keep = set(kept)
    merges = train_bpe([[c for c in s if c in keep] for s in seqs], 150)
    tokens += [a + b for a, b in merges]
    vocab = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added(specials),
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": template([{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}}], [("<s>", 1)]),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


# --- Unigram ---------------------------------------------------------------------------------------

def unigram_json():
    specials = [("<pad>", 0), ("</s>", 1), ("<unk>", 2)]
    words = [("▁" + w) for t in CORPUS for w in unicodedata.normalize("NFKC", t).split(" ")]
    subs = collections.Counter()
    for w in words:
        for i in range(len(w)):
            for j in range(i + 1, min(len(w), i + 8) + 1):
                s = w[i:j]
                if "▁" in s[1:]:
                    continue
                subs[s] += 1
    counts = char_counts(words)
    pieces = {s: n for s, n in subs.items() if (len(s) == 1 and counts[s] >= 2) or (len(s) > 1 and n >= 2)}
    pieces["▁"] = max(pieces.get("▁", 0), 1)
    total = sum(pieces.values())
    # Log-probabilities, made unique by a tiny rank-based offset so that no two paths tie.
    ordered = sorted(pieces.items(), key=lambda kv: (-kv[1], kv[0]))
    vocab = [[s, 0.0] for s, _ in specials]
    for r, (s, n) in enumerate(ordered):
        vocab.append([s, round(math.log(n / total) - len(s) * 0.01 - r * 1e-6, 6)])
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added(specials),
        "normalizer": {"type": "NFKC"},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": template([{"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}}], [("</s>", 1)]),
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": False},
    }


def unigram_xlmr_json():
    """The Unigram model with XLM-R's extras: <s> ... </s> by RobertaProcessing, "<mask>" with
    lstrip (a special token that swallows the spaces before it) and a non-special, normalized
    added token made of two words."""
    tok = unigram_json()
    n = len(tok["model"]["vocab"])
    tok["model"]["vocab"] += [["<s>", 0.0], ["<mask>", 0.0]]
    tok["added_tokens"] += [dict(id=n, content="<s>", **ADDED_COMMON),
                            dict(ADDED_COMMON, id=n + 1, content="<mask>", lstrip=True),
                            dict(ADDED_COMMON, id=n + 2, content="New York", special=False, normalized=True)]
    tok["model"]["vocab"].append(["New York", 0.0])
    tok["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 1], "cls": ["<s>", n],
                             "trim_offsets": True, "add_prefix_space": True}
    return tok


# Added-token contexts. Whitespace before <mask> is limited to chars on which JavaScript's trim and
# Rust's White_Space agree (not U+0085, U+FEFF), see README.md.
ADDED_TEXTS = [
    "a <mask> b", "a  <mask>b", "<mask>", " <mask>", "\t<mask>\n", "x\u00a0\u3000<mask> y", "<mask><mask>",
    "a <mask> <mask> c", "la <mask> est", "New York", "new york", "I love New York!", "NewYork New  York",
    "ＮＥＷ York", "<s>New York</s><mask>", "<mask>New York", "x<mask>", "[MASK] <mask> <unk>",
]


def main():
    texts = (CORPUS + [t.upper() for t in CORPUS] + HANDWRITTEN + random_strings(200, seed=99)
             + random_codepoints(300, seed=98) + ADDED_TEXTS)
    print("not checked: the Precompiled normalizer (SentencePiece charsmap): the oracle cannot "
          "reproduce it (tokenizers.js ignores the charsmap)")
    reports = []
    for name, build, specials in (("wordpiece", wordpiece_json, (2, 3)),
                                  ("bpe_fallback", bpe_fallback_json, (1, 2)),
                                  ("unigram", unigram_json, (1, 2)),
                                  ("unigram_xlmr", unigram_xlmr_json, (1, 2))):
        os.makedirs(os.path.join(TMP, f"tiny_{name}"), exist_ok=True)
        path = os.path.join(TMP, f"tiny_{name}", "tokenizer.json")
        tok = build()
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(tok, fh, ensure_ascii=False)
        reports.append(compare_tokenizer(name, path, texts, TMP, special_ids=specials, vocab_size=len(tok["model"]["vocab"])))
    main_exit(reports)


if __name__ == "__main__":
    main()
