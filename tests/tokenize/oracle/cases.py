"""Test texts for the tokenizer oracle comparisons: the RTP-LX prompts and adversarial strings.

The adversarial strings target the places where tokenizers go wrong: regex classes (letters,
numbers, White_Space beyond ASCII), byte-level handling of multi-byte chars, added-token
extraction, whitespace-run backtracking, normalization. They are deterministic (fixed seed)."""
import glob
import json
import os
import random
import unicodedata


def rtp_lx_prompts(shared):
    """Every Prompt of the 28 RTP-LX locale files (JSON Lines), in file order."""
    files = sorted(glob.glob(os.path.join(shared, "data", "rtp-lx", "RTP_LX_*.json")))
    if len(files) != 28:
        raise SystemExit(f"expected 28 RTP-LX files under {shared}/data/rtp-lx, found {len(files)}")
    texts = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    texts.append(json.loads(line)["Prompt"])
    return texts


HANDWRITTEN = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n \n ", "\t\n\t ", "a\r\nb",
    "Hello world", " Hello world", "Hello  world", "Hello   world!", "  leading and trailing  ",
    "line1\nline2\r\nline3\rline4", "x \n\n y", "end with spaces   ", "end with newline\n",
    # apostrophes and contractions (case matters for GPT-2, not for Llama-3)
    "don't I'm you're we've they'll he'd it's", "DON'T I'M YOU'RE WE'VE THEY'LL HE'D IT'S",
    "'s 's 'S ''s '''", "l'homme d'accord dell'anno", "rock ’n’ roll ‘quoted’ ’s", "x'  y' 'z",
    # digits
    "1234567890", "12345678901234567890123456789012345678901234567890", "3.14159 2,718 1e-10",
    "٠١٢٣٤٥٦٧٨٩ ०१२३ ①②③ ½ ¾ ²³ Ⅻ", "a1b22c333d4444", "$1,000,000.00 (USD)",
    # whitespace zoo: NBSP, ideographic space, en/em spaces, NEL, ZWSP, BOM, line/para separators
    "a\u00a0b\u00a0\u00a0c", "日本\u3000語\u3000\u3000x", "a\u2002b\u2003c\u2009d\u202fe\u205ff",
    "a\u0085b\u0085", "zero\u200bwidth\u200cjoiner\u200dx", "\ufeffbom start", "mid\ufeffbom",
    "a\u2028b\u2029c", "\u3000", "\u00a0", " \u00a0 \u3000 ",
    # control chars
    "\x00nul", "bell\x07 esc\x1b[0m del\x7f", "\x01\x02\x03\x1f", "tab\tsep\tvalues\t",
    "\x0b\x0c vertical tab and form feed",
    # combining marks and normalization forms
    "e\u0301 é", "Ame\u0301lie", "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334a\u0315l\u0310g\u0357o",
    "한국어 \u1100\u1161\u11a8 각", "ﬁ ﬂ ﬀ Ⅸ ㎏ ｈｅｌｌｏ ＡＢＣ １２３", "Å Å Å", "İstanbul ıi ß ẞ ΣΑΣ σας ΟΔΟΣ",
    # scripts
    "Привет, мир! Їжак ґанок", "مرحبا بالعالم، كيف الحال؟", "שָׁלוֹם עוֹלָם", "नमस्ते दुनिया क्षत्रिय",
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง", "こんにちは世界、カタカナとひらがな。", "你好，世界！繁體字與简体字",
    "안녕하세요 세계", "Γειά σου Κόσμε", "Բարեւ աշխարհ", "გამარჯობა", "ሰላም ዓለም", "ᐊᐃᐅᐸ",
    "mixedСкриптыالعربية中文English123", "abcабвαβγ",
    # emoji, ZWJ sequences, flags, skin tones, variation selectors, supplementary planes
    "🦙", "👨‍👩‍👧‍👦 family", "👍🏽👍🏿", "🇫🇷🇯🇵🏴󠁧󠁢󠁳󠁣󠁴󠁿", "❤️ ❤ ☺️", "🙂🙃🙂🙃🙂🙃🙂🙃",
    "𝕳𝖊𝖑𝖑𝖔 𝓌𝑜𝓇𝓁𝒹", "𠜎𠜱𠝹𠱓", "text🦙text🦙", "#️⃣ 1️⃣ ©️",
    # punctuation runs and symbols
    "!!!???...,,,;;;", "«guillemets» „Anführung“ “quotes”", "—–-‐‑‒―", "(a)[b]{c}<d>",
    "http://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32",
    "<html><body>x</body></html>", "```code``` `inline`", "#hashtag @mention", "$€£¥₹₽",
    # very long words and repetitions
    "a" * 300, "ab" * 150, "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
    "ha" * 100 + "!", " " * 50 + "x", "x" + " " * 50, "\n" * 20, "-" * 80, "=" * 64,
    "😀" * 40, "日本語" * 50,
    # text that contains special-token strings
    "<|endoftext|>", "a<|endoftext|>b", "<|begin_of_text|>Hello<|end_of_text|>",
    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi", "<|endoftext|><|endoftext|>",
    "< |endoftext| >", "<|endoftext", "<s>x</s>", "[CLS] a [SEP] [MASK] [UNK] [PAD]", "<unk><pad>",
]

# Chars the random strings are drawn from: one or two of each category above.
POOL = list("aZé ñ\u00a0\u3000\t\n\r'’0９٣½.,!?-—«»()@#$€中日한ыЖαשعनไ🦙👍\u200d\u0301\u0308ß") + [
    "🏽", "️", "\u2028", "\x00", "\x7f", "\ufeff", "\u0085", "<|endoftext|>", "'s", "'LL", "  ", "\r\n",
]


def random_strings(n, seed=1234):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def random_codepoints(n, seed=77):
    """Strings of assigned code points from every plane (Python's Unicode tables), a third ASCII
    and a tenth whitespace-like, to probe the letter/number/space classes beyond the usual scripts."""
    rng = random.Random(seed)
    spaces = [0x20, 0x09, 0x0A, 0x0D, 0xA0, 0x3000, 0x2028, 0x85, 0x1680, 0x200B, 0xFEFF, 0x180E]

    def one():
        while True:
            r = rng.random()
            cp = (rng.randint(0x20, 0x7E) if r < 0.3 else rng.choice(spaces) if r < 0.4
                  else rng.randint(0xA0, 0xFFFF) if r < 0.8 else rng.randint(0x10000, 0x3134F))
            if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn":
                return chr(cp)
    return ["".join(one() for _ in range(rng.randint(1, 30))) for _ in range(n)]


def adversarial():
    return HANDWRITTEN + random_strings(1000) + random_codepoints(600)


def write_text_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
