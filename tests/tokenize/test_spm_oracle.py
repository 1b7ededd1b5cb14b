"""Independent oracle: Debian's python3-sentencepiece encodes the RTP-LX prompts of many locales
with the Llama-2 tokenizer.model; `xgd tokenize` (LlamaTokenizerFast semantics) must give the same
ids, and decode must give the text sentencepiece's decode gives (up to 400 prompts a locale).

What is comparable: HF's legacy Llama pipeline (Prepend("▁") + Replace(" ", "▁"), BPE with
byte_fallback) equals sentencepiece's add_dummy_prefix + identity normalizer + BPE, except that HF
splits the special tokens "<s>", "</s>", "<unk>" out of the text while sentencepiece encodes
them as plain characters. Prompts containing those strings are excluded (and counted). Llama-2's
decoder strips the one leading space that the prefix "▁" leaves, as sentencepiece's decode does."""
import json, os, subprocess, sys, tempfile

try:
    import sentencepiece as spm
except ImportError:
    print("skip: python3-sentencepiece is not installed (scripts/setup installs it)")
    sys.exit(77)

shared = os.environ.get("XGD_SHARED", "../shared")
xgd = os.environ.get("XGD", "build/xgd")
model = os.path.join(shared, "models/tokenizers/llama2/tokenizer.model")
rtp = os.path.join(shared, "data/rtp-lx")
if not os.path.exists(model) or not os.path.isdir(rtp):
    print("skip: shared Llama-2 tokenizer or RTP-LX data absent")
    sys.exit(77)

LOCALES = ["AR", "CS", "DE", "EN", "ES", "FR", "HI", "ID", "IT", "JA", "KO", "NL", "PL", "PT", "RU",
           "SV", "ZH-Hans", "TH", "HE", "SW", "UK", "TR", "ZH-Hant", "BCMS"]
per_locale = 200 if os.environ.get("XGD_SANITIZED") in ("1", "ON", "TRUE", "true") else 400
prompts = []
for loc in LOCALES:
    path = os.path.join(rtp, f"RTP_LX_{loc}.json")
    if not os.path.exists(path):
        continue
    with open(path, encoding="utf-8") as f:
        n = 0
        for line in f:
            if line.strip() and n < per_locale:
                prompts.append((loc, json.loads(line)["Prompt"]))
                n += 1
excluded = [p for p in prompts if any(s in p[1] for s in ("<s>", "</s>", "<unk>"))]
prompts = [p for p in prompts if p not in excluded]

sp = spm.SentencePieceProcessor(model_file=model)
tmp = os.environ.get("XGD_TMP", tempfile.gettempdir())
os.makedirs(tmp, exist_ok=True)
inp = os.path.join(tmp, "spm_oracle.jsonl")
with open(inp, "w", encoding="utf-8") as f:
    for _, p in prompts:
        f.write(json.dumps({"text": p}, ensure_ascii=False) + "\n")
out = subprocess.run([xgd, "tokenize", "--tokenizer", model, "--jsonl", inp], capture_output=True, text=True)
if out.returncode != 0:
    print("xgd tokenize failed:", out.stderr)
    sys.exit(1)
got = [json.loads(l) for l in out.stdout.split("\n") if l]
assert len(got) == len(prompts), (len(got), len(prompts))

bad = 0
for (loc, p), ids in zip(prompts, got):
    want = sp.encode(p)
    if ids != want:
        bad += 1
        if bad <= 5:
            print(f"MISMATCH {loc}: {p!r}\n  xgd: {ids}\n  spm: {want}")

# decode: the ids back to text (Llama-2's decoder; clean_up_tokenization_spaces is false for it)
dec_in = os.path.join(tmp, "spm_oracle_ids.jsonl")
with open(dec_in, "w") as f:
    for ids in got:
        f.write(json.dumps({"ids": ids}) + "\n")
out = subprocess.run([xgd, "tokenize", "--tokenizer", model, "--decode", "--no-cleanup", "--jsonl", dec_in],
                     capture_output=True, text=True)
assert out.returncode == 0, out.stderr
texts = [json.loads(l)["text"] for l in out.stdout.split("\n") if l]
bad_dec = 0
for (loc, p), t in zip(prompts, texts):
    want = sp.decode(sp.encode(p))
    if t != want:
        bad_dec += 1
        if bad_dec <= 5:
            print(f"DECODE MISMATCH {loc}: {t!r} vs spm {want!r}")

print(f"spm oracle: {len(prompts)} prompts of {len(LOCALES)} locales, {bad} id mismatches, "
      f"{bad_dec} decode mismatches, {len(excluded)} excluded (contain <s>/</s>/<unk>)")
sys.exit(1 if bad or bad_dec or not prompts else 0)
