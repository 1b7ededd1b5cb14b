#!/usr/bin/env node
// The oracle's command line, in the format of `xgd tokenize`:
//   node encode.mjs --tokenizer PATH --jsonl IN.jsonl [--add-special-tokens]
//       reads {"text": ...} lines, prints one JSON array of ids per line;
//   node encode.mjs --tokenizer PATH --decode --jsonl IN.jsonl [--skip-special-tokens]
//       [--cleanup | --no-cleanup]
//       reads {"ids": [...]} lines, prints {"text": ...} lines (clean-up: as tokenizer_config.json
//       says, default on, as transformers' decode).
// PATH: tokenizer.json, vocab.json (merges.txt beside it), or a folder with either.
import fs from "node:fs";
import { load_tokenizer, encode_ids, decode_ids } from "./oracle.mjs";

function usage(msg) {
  process.stderr.write(`encode.mjs: ${msg}\nusage: node encode.mjs --tokenizer PATH --jsonl IN ` +
    "[--add-special-tokens] [--decode [--skip-special-tokens] [--cleanup|--no-cleanup]]\n");
  process.exit(2);
}

const opt = { tokenizer: null, jsonl: null, add_special: false, decode: false, skip: false, cleanup: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i].replace(/_/g, "-");
  if (a === "--tokenizer" || a === "--jsonl") {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    opt[a.slice(2)] = argv[++i];
  } else if (a === "--add-special-tokens") opt.add_special = true;
  else if (a === "--decode") opt.decode = true;
  else if (a === "--skip-special-tokens") opt.skip = true;
  else if (a === "--clean-up" || a === "--cleanup") opt.cleanup = true;
  else if (a === "--no-clean-up" || a === "--no-cleanup") opt.cleanup = false;
  else usage(`unknown argument ${argv[i]}`);
}
if (!opt.tokenizer || !opt.jsonl) usage("--tokenizer and --jsonl are required");

const { tok } = load_tokenizer(opt.tokenizer);
const lines = fs.readFileSync(opt.jsonl, "utf8").split("\n");
const out = [];
lines.forEach((line, i) => {
  if (line.trim() === "") return;
  let rec;
  try { rec = JSON.parse(line); } catch (e) {
    process.stderr.write(`${opt.jsonl}:${i + 1}: invalid JSON: ${e.message}\n`);
    process.exit(1);
  }
  if (opt.decode) {
    if (!Array.isArray(rec.ids)) { process.stderr.write(`${opt.jsonl}:${i + 1}: no "ids" array\n`); process.exit(1); }
    out.push(JSON.stringify({ text: decode_ids(tok, rec.ids, opt.skip, opt.cleanup) }));
  } else {
    if (typeof rec.text !== "string") { process.stderr.write(`${opt.jsonl}:${i + 1}: no "text" string\n`); process.exit(1); }
    out.push(JSON.stringify(encode_ids(tok, rec.text, opt.add_special)));
  }
});
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
