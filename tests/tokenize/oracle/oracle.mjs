// The independent tokenizer oracle: Hugging Face's tokenizers.js (a pure JavaScript implementation
// of tokenizer.json), loaded from the same files that `xgd tokenize` reads.
//
// tokenizers.js is written for the browser and differs from the Rust `tokenizers` crate (the
// reference that transformers uses) in a few documented places. Where such a difference would
// make the oracle disagree with Rust on inputs the tests use, it is corrected below, each fix
// stating the Rust behaviour it restores (fixes 1-8 below). Components the oracle cannot reproduce
// faithfully (the Precompiled charsmap, which tokenizers.js ignores) are refused, not guessed.
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import {
  Tokenizer, MetaspacePreTokenizer, MetaspaceDecoder,
  ByteFallbackDecoder, BertNormalizer, BertPreTokenizer, LowercaseNormalizer,
} from "@huggingface/tokenizers";

// ---------------------------------------------------------------------------------------------
// Fidelity fixes (applied once, to the classes).

// (1) GPT-2 ByteLevel regex: tokenizers.js writes it as a JavaScript regex whose \s adds U+FEFF
// and lacks U+0085. The Rust crate compiles it with Oniguruma, where \s is Unicode White_Space.
// Set on each instance by fix_instances().
const GPT2_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

// (2) Metaspace pre-tokenizer: Rust splits the piece at every replacement char, keeping it at the
// start of the next word (MergedWithNext) when `split` is true (the default), and treats the
// legacy `add_prefix_space: false` as prepend_scheme "never". tokenizers.js keeps one word.
// `split` and the scheme are set on each instance by fix_instances().
{
  const orig = MetaspacePreTokenizer.prototype.pre_tokenize_text;
  MetaspacePreTokenizer.prototype.pre_tokenize_text = function (text, options) {
    const [s] = orig.call(this, text, options);
    if (this.split === false) return [s];
    const words = [];
    let cur = "";
    for (const c of s) {
      if (c === this.replacement && cur !== "") { words.push(cur); cur = ""; }
      cur += c;
    }
    if (cur !== "") words.push(cur);
    return words;
  };
}

// (8) Digits pre-tokenizer: Rust tests char::is_numeric (Unicode N: Nd, Nl, No); tokenizers.js
// uses the JavaScript \d, which is ASCII 0-9 only. Set on each instance by fix_instances().
const digits_pattern = (individual) => new RegExp(`[^\\p{N}]+|\\p{N}${individual ? "" : "+"}`, "gu");

// Walks the pre-tokenizer instances beside their JSON configs (tokenizers.js drops some fields).
function fix_instances(inst, cfg) {
  if (!inst || !cfg) return;
  if (cfg.type === "Sequence") {
    (cfg.pretokenizers ?? []).forEach((c, i) => fix_instances(inst.tokenizers[i], c));
  } else if (cfg.type === "ByteLevel") {
    inst.pattern = GPT2_PATTERN;
  } else if (cfg.type === "Digits") {
    inst.pattern = digits_pattern(cfg.individual_digits ?? false);
  } else if (cfg.type === "Metaspace") {
    inst.split = cfg.split ?? true;
    if (cfg.prepend_scheme === undefined && cfg.add_prefix_space === false) inst.prepend_scheme = "never";
  }
}

// (3) Metaspace decoder: Rust drops every replacement char of token 0 (unless the scheme is
// "never") and turns the others into spaces; tokenizers.js only strips one leading space.
MetaspaceDecoder.prototype.decode_chain = function (tokens) {
  const never = this.config.prepend_scheme === "never" || this.config.add_prefix_space === false;
  return tokens.map((t, i) =>
    Array.from(t, (c) => (c === this.replacement ? (i === 0 && !never ? "" : " ") : c)).join(""));
};

// (4) ByteFallback decoder: Rust turns a run of <0xHH> tokens that is not valid UTF-8 into one
// U+FFFD per byte; tokenizers.js decodes it lossily (one U+FFFD per maximal invalid subpart).
{
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const flush = (bytes, out) => {
    if (bytes.length === 0) return;
    try { out.push(strict.decode(Uint8Array.from(bytes))); }
    catch { out.push("\uFFFD".repeat(bytes.length)); }
    bytes.length = 0;
  };
  ByteFallbackDecoder.prototype.decode_chain = function (tokens) {
    const out = [], bytes = [];
    for (const t of tokens) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (m) { bytes.push(parseInt(m[1], 16)); continue; }
      flush(bytes, out);
      out.push(t);
    }
    flush(bytes, out);
    return out;
  };
}

// (5) Lowercasing: Rust maps each char on its own (char::to_lowercase); JavaScript's
// String.toLowerCase applies the context-dependent final-sigma rule (word-final Σ → ς).
const lower_per_char = (s) => Array.from(s, (c) => c.toLowerCase()).join("");
LowercaseNormalizer.prototype.normalize = function (text) { return lower_per_char(text); };

// (6) BertNormalizer: Rust pads CJK ideographs of the supplementary planes too (tokenizers.js
// walks UTF-16 units and misses them; its ranges are kept), treats unassigned chars (Cn) as
// control chars too, and lowercases per char (5).
{
  const is_cjk = (cp) => (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
    (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
    (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
    (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  const is_control = (c) => c !== "\t" && c !== "\n" && c !== "\r" && /^[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}]$/u.test(c);
  BertNormalizer.prototype.normalize = function (text) {
    const cfg = this.config;
    let out = "";
    for (const c of text) {
      const cp = c.codePointAt(0);
      if (cfg.clean_text && (cp === 0 || cp === 0xFFFD || is_control(c))) continue;
      let s = cfg.clean_text && /^[\p{White_Space}\t\n\r]$/u.test(c) ? " " : c;
      if (cfg.handle_chinese_chars && is_cjk(cp)) s = " " + s + " ";
      out += s;
    }
    const strip = cfg.strip_accents ?? cfg.lowercase;
    if (strip) out = out.normalize("NFD").replace(/\p{Mn}/gu, "");
    if (cfg.lowercase) out = lower_per_char(out);
    return out;
  };
}

// (7) BertPreTokenizer: split on Unicode White_Space (Rust char::is_whitespace), not JS \s.
{
  const P = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";
  const re = new RegExp(`[^\\p{White_Space}${P}]+|[${P}]`, "gu");
  BertPreTokenizer.prototype.pre_tokenize_text = (text) => text.match(re) || [];
}

// ---------------------------------------------------------------------------------------------
// Loading.

function read_json(p) { return JSON.parse(fs.readFileSync(p, "utf8")); }

// GPT-2 vocab.json + merges.txt → the tokenizer.json that transformers' GPT2Converter builds:
// byte-level BPE, no normalizer, ByteLevel(add_prefix_space=false) pre-tokenizer and decoder, and
// <|endoftext|> as the special added token (the slow GPT2Tokenizer's bos/eos/unk).
function gpt2_tokenizer_json(vocab_path, merges_path) {
  const vocab = read_json(vocab_path);
  const merges = fs.readFileSync(merges_path, "utf8").split("\n")
    .filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith("#version")));
  const added = [];
  if ("<|endoftext|>" in vocab)
    added.push({ id: vocab["<|endoftext|>"], content: "<|endoftext|>", single_word: false,
                 lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "",
             end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

// Refuses what tokenizers.js would only approximate, so that a comparison never passes or fails
// because of the oracle.
function check_supported(json) {
  const bad = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      if (v.type === "Precompiled") bad.push("the Precompiled normalizer (tokenizers.js ignores the charsmap)");
      if (v.type === "Unigram" && v.byte_fallback) bad.push("Unigram byte_fallback (not implemented in tokenizers.js)");
      if (v.type === "BPE" && v.continuing_subword_prefix) bad.push("BPE continuing_subword_prefix (not implemented in tokenizers.js)");
      if (v.single_word === true) bad.push("added tokens with single_word (not implemented in tokenizers.js)");
      if (v.type === "Split" && v.behavior && v.behavior !== "Isolated" && v.behavior !== "Removed")
        bad.push(`Split behavior ${v.behavior} (not implemented in tokenizers.js)`);
      for (const k of Object.keys(v)) if (k !== "vocab" && k !== "merges") walk(v[k]);
    }
  };
  walk({ ...json, model: { ...json.model, vocab: null, merges: null } });
  if (bad.length) throw new Error(`oracle: cannot reproduce ${[...new Set(bad)].join("; ")}`);
}

// path: a tokenizer.json, a vocab.json (merges.txt beside it), or a folder holding either.
// tokenizer_config.json beside the files supplies clean_up_tokenization_spaces, as in transformers.
export function load_tokenizer(p) {
  const t0 = performance.now();
  let dir = p, json;
  if (fs.statSync(p).isDirectory()) {
    if (fs.existsSync(path.join(p, "tokenizer.json"))) json = read_json(path.join(p, "tokenizer.json"));
    else json = gpt2_tokenizer_json(path.join(p, "vocab.json"), path.join(p, "merges.txt"));
  } else {
    dir = path.dirname(p);
    if (path.basename(p) === "vocab.json") json = gpt2_tokenizer_json(p, path.join(dir, "merges.txt"));
    else json = read_json(p);
  }
  check_supported(json);
  const cfg_path = path.join(dir, "tokenizer_config.json");
  const file_cfg = fs.existsSync(cfg_path) ? read_json(cfg_path) : {};
  // Only the decode clean-up is taken from the config: everything else comes from tokenizer.json.
  const config = { clean_up_tokenization_spaces: file_cfg.clean_up_tokenization_spaces ?? true };
  const tok = new Tokenizer(json, config);
  fix_instances(tok.pre_tokenizer, json.pre_tokenizer);
  return { tok, load_ms: performance.now() - t0 };
}

export function encode_ids(tok, text, add_special_tokens) {
  return tok.encode(text, { add_special_tokens }).ids;
}

// cleanup: true/false forces transformers' clean_up_tokenization; null takes the config's.
export function decode_ids(tok, ids, skip_special_tokens, cleanup) {
  if (ids.length === 0) return "";
  const opts = { skip_special_tokens };
  if (cleanup !== null) opts.clean_up_tokenization_spaces = cleanup;
  return tok.decode(ids, opts);
}
