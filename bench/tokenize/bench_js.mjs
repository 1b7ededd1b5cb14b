#!/usr/bin/env node
// The JS side of bench_tokenize.sh: times tokenizers.js (the oracle) in-process with
// performance.now(). The tokenizer load is timed on its own; the encode timing covers only the
// encode calls over texts already in memory (no file reading, JSON parsing or printing).
//   node bench_js.mjs --tokenizer PATH --jsonl TEXTS.jsonl [--passes N]
// Prints one JSON line: load_ms, bytes, tokens, first_pass_ms (cold cache), best_ms and best_cpu_ms
// (best of the N passes that follow; tokenizers.js keeps an LRU cache of 10,000 words).
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { load_tokenizer, encode_ids } from "../../tests/tokenize/oracle/oracle.mjs";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) =>
  (a.startsWith("--") ? acc.concat([[a.slice(2), all[i + 1]]]) : acc), []));
if (!args.tokenizer || !args.jsonl) {
  process.stderr.write("usage: node bench_js.mjs --tokenizer PATH --jsonl TEXTS.jsonl [--passes N]\n");
  process.exit(2);
}
const passes = Number(args.passes ?? 3);
const texts = fs.readFileSync(args.jsonl, "utf8").split("\n").filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l).text);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);

const c_load = process.cpuUsage();
const { tok, load_ms } = load_tokenizer(args.tokenizer);
const load_cpu = process.cpuUsage(c_load);
const load_cpu_ms = (load_cpu.user + load_cpu.system) / 1e3;

// Wall time (performance.now) and the process's CPU time (process.cpuUsage: all threads, so the
// garbage collector's work counts too), which is steadier on a shared, loaded machine.
function pass() {
  let tokens = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const t of texts) tokens += encode_ids(tok, t, false).length;
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpu_ms: (c.user + c.system) / 1e3, tokens };
}
const first = pass();
let best = Infinity, best_cpu = Infinity;
for (let i = 0; i < passes; i++) {
  const p = pass();
  best = Math.min(best, p.ms);
  best_cpu = Math.min(best_cpu, p.cpu_ms);
}
process.stdout.write(JSON.stringify({ load_ms, load_cpu_ms, texts: texts.length, bytes, tokens: first.tokens,
  first_pass_ms: first.ms, best_ms: best, best_cpu_ms: best_cpu }) + "\n");
