"""Tokenizer benchmark: xgd tokenize (one thread) vs tokenizers.js, see bench_tokenize.sh."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tokenize", "oracle"))
from cases import rtp_lx_prompts, write_text_jsonl  # noqa: E402

XGD = os.environ["XGD"]
SHARED = os.environ["XGD_SHARED"]
TMP = os.environ["XGD_TMP"]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ENV1 = dict(os.environ, XGD_NUM_THREADS="1", OMP_NUM_THREADS="1")


def timed(cmd):
    """Best wall time and best CPU time (user + system, from the child's rusage) of RUNS runs."""
    best_wall = best_cpu = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV1)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, ru.ru_utime + ru.ru_stime)
        if p.returncode != 0:
            raise SystemExit(f"exit {p.returncode}: {' '.join(cmd)}")
    return best_wall, best_cpu


def xgd_side(tok, texts_jsonl, empty_jsonl):
    """Encode time = time(all texts) - time(load only, an empty input): the same process start,
    tokenizer load and teardown are in both. The xgd figure still includes reading and parsing
    the JSONL and printing the ids, which the JS figure does not (so the ratio favours JS)."""
    base = [XGD, "tokenize", "--tokenizer", tok, "--jsonl"]
    load_wall, load_cpu = timed(base + [empty_jsonl])
    full_wall, full_cpu = timed(base + [texts_jsonl])
    p = subprocess.run(base + [texts_jsonl], stdout=subprocess.PIPE, env=ENV1, check=True)
    tokens = sum(len(json.loads(l)) for l in p.stdout.decode().split("\n") if l.strip())
    return {"load_ms": load_wall * 1e3, "load_cpu_ms": load_cpu * 1e3, "encode_s": max(full_wall - load_wall, 1e-9),
            "encode_cpu_s": max(full_cpu - load_cpu, 1e-9), "tokens": tokens}


def js_side(tok, texts_jsonl):
    p = subprocess.run(["node", os.path.join(HERE, "bench_js.mjs"), "--tokenizer", tok,
                        "--jsonl", texts_jsonl, "--passes", str(RUNS)],
                       stdout=subprocess.PIPE, check=True)
    r = json.loads(p.stdout)
    return {"load_ms": r["load_ms"], "load_cpu_ms": r["load_cpu_ms"], "encode_s": r["best_ms"] / 1e3, "encode_cpu_s": r["best_cpu_ms"] / 1e3,
            "first_s": r["first_pass_ms"] / 1e3, "tokens": r["tokens"], "bytes": r["bytes"]}


def main():
    texts = rtp_lx_prompts(SHARED)
    texts_jsonl = os.path.join(TMP, "bench_rtp_lx.jsonl")
    empty_jsonl = os.path.join(TMP, "bench_empty.jsonl")
    write_text_jsonl(texts_jsonl, texts)
    write_text_jsonl(empty_jsonl, [])
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    print(f"corpus: {len(texts)} RTP-LX prompts (28 locales), {nbytes / 1e6:.2f} MB UTF-8; "
          f"best of {RUNS} runs; xgd with XGD_NUM_THREADS=1")
    tok_dir = os.path.join(SHARED, "models", "tokenizers")
    rows = []
    for name, tok in (("llama3", os.path.join(tok_dir, "llama3", "tokenizer.json")),
                      ("gpt2", os.path.join(tok_dir, "gpt2", "vocab.json"))):
        js = js_side(tok, texts_jsonl)
        xg = xgd_side(tok, texts_jsonl, empty_jsonl)
        note = "" if xg["tokens"] == js["tokens"] else f"  (token counts differ: xgd {xg['tokens']}, js {js['tokens']})"
        for tool, r in (("xgd", xg), ("tokenizers.js", js)):
            rows.append((name, tool, r["load_ms"], r["load_cpu_ms"], r["encode_s"], r["encode_cpu_s"],
                         nbytes / r["encode_s"] / 1e6, r["tokens"] / r["encode_s"] / 1e6))
        rows.append((name, "ratio xgd/js", js["encode_s"] / xg["encode_s"],
                     js["encode_cpu_s"] / xg["encode_cpu_s"]))
        print(f"{name}: js first (cold-cache) pass {js['first_s']:.2f} s{note}")
    print("load: wall and CPU ms (xgd: a whole run on an empty input, process start included); "
          "encode: wall and CPU s; MB/s and Mtok/s from the wall time")
    print(f"{'tokenizer':10} {'tool':14} {'load ms':>9} {'cpu ms':>8} {'encode s':>9} {'cpu s':>8} {'MB/s':>8} {'Mtok/s':>8}")
    for row in rows:
        if len(row) == 4:
            name, tool, r_wall, r_cpu = row
            print(f"{name:10} {tool:14} {'':>9} {'':>8} {r_wall:8.2f}x {r_cpu:7.2f}x   (wall, cpu; target >= 5x)")
        else:
            name, tool, load, load_cpu, enc, cpu, mbs, mts = row
            print(f"{name:10} {tool:14} {load:9.1f} {load_cpu:8.1f} {enc:9.3f} {cpu:8.3f} {mbs:8.2f} {mts:8.3f}")


if __name__ == "__main__":
    main()
