"""Oracle on SentencePiece models trained here: python3-sentencepiece trains a small Unigram model
with the nmt_nfkc normalization rules (so the .model carries a precompiled charsmap, as mT5's
does) and a small BPE model with byte_fallback, on RTP-LX prompts of several scripts. `xgd
tokenize` loads each .model (Unigram -> transformers' T5Converter pipeline: Precompiled + Strip +
Replace, Metaspace; BPE -> LlamaConverter) and must give sentencepiece's ids on held-out prompts.

Comparable, and where HF and sentencepiece differ by design:
- sentencepiece's remove_extra_whitespaces (strip both ends, collapse runs of spaces) equals HF's
  Strip(right) + Replace(/ {2,}/, "▁") + Metaspace(always) for runs of U+0020; the Unigram model
  is trained with that default. The BPE model is trained with remove_extra_whitespaces=false and
  the identity normalizer, as Llama-2's was.
- HF's Precompiled applies the charsmap per grapheme cluster, sentencepiece by longest match; and
  HF's Viterbi sums f64 scores where sentencepiece sums float32, so paths of equal score (runs
  like "*****" split as *,*,*** or ***,*,*) may resolve differently. Both are rare: < 1% allowed.
- Unigram: HF's <extra_id_N> and T5's </s> are not part of a raw sentencepiece encode; we encode
  with add_special_tokens off."""
import json, os, subprocess, sys, tempfile

try:
    import sentencepiece as spm
except ImportError:
    print("skip: python3-sentencepiece is not installed (scripts/setup installs it)")
    sys.exit(77)

shared = os.environ.get("XGD_SHARED", "../shared")
xgd = os.environ.get("XGD", "build/xgd")
rtp = os.path.join(shared, "data/rtp-lx")
if not os.path.isdir(rtp):
    print("skip: RTP-LX data absent")
    sys.exit(77)
tmp = os.path.join(os.environ.get("XGD_TMP", tempfile.gettempdir()), "spm_trained")
os.makedirs(tmp, exist_ok=True)

LOCALES = ["EN", "DE", "RU", "HI", "JA", "AR", "KO", "TH", "ZH-Hans", "PL"]
train, test = [], []
for loc in LOCALES:
    with open(os.path.join(rtp, f"RTP_LX_{loc}.json"), encoding="utf-8") as f:
        rows = [json.loads(l)["Prompt"] for l in f if l.strip()]
    train += rows[:300]
    test += rows[300:400]
# Hard cases: compatibility chars for NFKC, runs of spaces, leading/trailing spaces, tabs.
test += ["  two  leading", "trailing   ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﬁ ligature ①", "tab\there", "x", "",
         "e\u0301 combining", "Ǆ Å Ω", "multi    space   run"]
with open(os.path.join(tmp, "train.txt"), "w", encoding="utf-8") as f:
    for t in train:
        f.write(t.replace("\n", " ") + "\n")

def run_xgd(model, texts):
    inp = os.path.join(tmp, "in.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    out = subprocess.run([xgd, "tokenize", "--tokenizer", model, "--jsonl", inp], capture_output=True, text=True)
    if out.returncode != 0:
        print("xgd tokenize failed:", out.stderr)
        sys.exit(1)
    return [json.loads(l) for l in out.stdout.split("\n") if l]

def charsmap_of(model_path):
    """normalizer_spec.precompiled_charsmap (ModelProto field 3, its field 2), read by hand."""
    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]; i += 1; v |= (c & 0x7F) << s; s += 7
            if c < 0x80:
                return v, i
    def fields(b):
        i = 0
        while i < len(b):
            key, i = varint(b, i)
            wt = key & 7
            if wt == 0:
                v, i = varint(b, i)
            elif wt == 1:
                v, i = b[i:i + 8], i + 8
            elif wt == 5:
                v, i = b[i:i + 4], i + 4
            else:
                n, i = varint(b, i)
                v, i = b[i:i + n], i + n
            yield key >> 3, v
    data = open(model_path, "rb").read()
    for f, v in fields(data):
        if f == 3:
            for g, w in fields(v):
                if g == 2:
                    return w
    return b""

def write_t5_json(sp, model_path, out):
    """The tokenizer.json that transformers' T5Converter writes for this model (no extra ids)."""
    import base64
    vocab = [[sp.id_to_piece(i), sp.get_score(i)] for i in range(sp.get_piece_size())]
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True}
                            for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)],
           "normalizer": {"type": "Sequence", "normalizers": [
               {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap_of(model_path)).decode()},
               {"type": "Strip", "strip_left": False, "strip_right": True},
               {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]},
           "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
           "post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}},
                              {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [],
                              "special_tokens": {"</s>": {"id": "</s>", "ids": [sp.eos_id()], "tokens": ["</s>"]}}},
           "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
           "model": {"type": "Unigram", "unk_id": sp.unk_id(), "vocab": vocab, "byte_fallback": False}}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)

fails = 0
for kind, extra in [("unigram", dict(normalization_rule_name="nmt_nfkc")),
                    ("bpe", dict(byte_fallback=True, normalization_rule_name="identity",
                                 remove_extra_whitespaces=False))]:
    prefix = os.path.join(tmp, kind)
    spm.SentencePieceTrainer.train(input=os.path.join(tmp, "train.txt"), model_prefix=prefix, vocab_size=2000,
                                   model_type=kind, character_coverage=0.995, minloglevel=2, **extra)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    got = run_xgd(prefix + ".model", test)
    assert len(got) == len(test), (len(got), len(test))
    bad = 0
    for t, ids in zip(test, got):
        want = sp.encode(t)
        if ids != want:
            bad += 1
            if bad <= 5:
                print(f"{kind} MISMATCH: {t!r}\n  xgd: {ids}\n  spm: {want}")
    limit = len(test) // 100 if kind == "unigram" else 0
    print(f"{kind}: {len(test)} prompts, {bad} mismatches (allowed {limit})")
    fails += bad > limit
    if kind == "unigram":
        # The same model as a tokenizer.json (Precompiled charsmap in base64): identical ids.
        write_t5_json(sp, prefix + ".model", prefix + ".json")
        got_json = run_xgd(prefix + ".json", test)
        same = sum(a == b for a, b in zip(got, got_json))
        print(f"unigram tokenizer.json: {same} of {len(test)} identical to the .model path")
        fails += same != len(test)
sys.exit(1 if fails else 0)
