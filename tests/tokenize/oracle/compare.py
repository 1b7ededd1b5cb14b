"""Runs `xgd tokenize` and the JS oracle (encode.mjs) over the same texts and compares the results.

Each tool runs once per mode over one JSONL file holding every text (so one process per tokenizer
and mode, never one per text). Modes: encode with add_special_tokens false and true; decode of the
oracle's ids (plus the same ids wrapped in the tokenizer's special tokens) with
skip_special_tokens false and true, and without clean_up_tokenization_spaces; random id
sequences too. Any difference is a failure; the first few of each mode are
printed with the text and both outputs."""
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENCODE_MJS = os.path.join(HERE, "encode.mjs")
SHOW = 5  # mismatches printed per mode


def start(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p, what):
    out, err = p.communicate()
    if p.returncode != 0:
        err = err.decode("utf-8", "replace").strip()[-2000:]
        raise RuntimeError(f"{what} failed (exit {p.returncode}): {' '.join(p.args)}\n{err}")
    return [l for l in out.decode("utf-8").split("\n") if l.strip() != ""]


def oracle_cmd(tokenizer, jsonl, flags):
    return ["node", ENCODE_MJS, "--tokenizer", tokenizer, "--jsonl", jsonl] + list(flags)


def xgd_cmd(tokenizer, jsonl, flags):
    return [os.environ["XGD"], "tokenize", "--tokenizer", tokenizer, "--jsonl", jsonl] + list(flags)


def oracle(tokenizer, jsonl, flags):
    return finish(start(oracle_cmd(tokenizer, jsonl, flags)), "oracle")


def both(tokenizer, jsonl, flags, xgd_tokenizer=None):
    """Runs the oracle and xgd side by side (two cores) on the same input. Returns the oracle's
    lines and xgd's lines, or xgd's error message instead of its lines. xgd_tokenizer: the file
    xgd reads when it differs from the oracle's (a .model file converted for the oracle)."""
    po = start(oracle_cmd(tokenizer, jsonl, flags))
    px = start(xgd_cmd(xgd_tokenizer or tokenizer, jsonl, flags))
    try:
        got = finish(px, "xgd tokenize")
    except RuntimeError as e:
        got = str(e)
    return finish(po, "oracle"), got


def short(v, n=240):
    # JSON form, so that control chars, NULs and trailing spaces are visible
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


class Report:
    """Counts and prints mismatches per mode."""

    def __init__(self, name):
        self.name = name
        self.failures = 0
        self.checked = 0

    def compare(self, mode, inputs, want_lines, got_lines, key=None):
        if isinstance(got_lines, str):
            print(f"[{self.name}] {mode}: {got_lines}")
            self.failures += 1
            return
        if len(want_lines) != len(got_lines):
            # still compare the common prefix: the first differing lines tell where it went wrong
            print(f"[{self.name}] {mode}: the oracle printed {len(want_lines)} lines, xgd {len(got_lines)}")
            self.failures += 1
        bad = []
        for i, (w, g) in enumerate(zip(want_lines, got_lines)):
            wv = json.loads(w)
            try:
                gv = json.loads(g)
            except ValueError:
                gv = "(not JSON) " + g
            if key:
                gv = gv.get(key) if isinstance(gv, dict) else gv
                wv = wv[key]
            if wv != gv:
                bad.append((i, wv, gv))
        self.checked += len(want_lines)
        if not bad:
            print(f"[{self.name}] {mode}: {len(want_lines)} identical")
            return
        self.failures += len(bad)
        print(f"[{self.name}] {mode}: {len(bad)} of {len(want_lines)} differ; first {min(SHOW, len(bad))}:")
        for i, wv, gv in bad[:SHOW]:
            print(f"  #{i} input: {short(inputs[i])}")
            if isinstance(wv, list) and isinstance(gv, list):
                d = first_diff(wv, gv)
                print(f"     first difference at index {d}")
            print(f"     oracle: {short(wv)}")
            print(f"     xgd:    {short(gv)}")


def random_id_lists(vocab_size, n, seed=5):
    """Arbitrary id sequences, as a sampler may produce: invalid UTF-8 byte runs, stray specials."""
    rng = random.Random(seed)
    return [[rng.randrange(vocab_size) for _ in range(rng.randint(1, 24))] for _ in range(n)]


def compare_tokenizer(name, tokenizer, texts, tmp, special_ids=(), xgd_tokenizer=None, vocab_size=None):
    """Encode texts both ways (special tokens off/on), then decode the oracle's ids both ways.
    special_ids wrap every id list once more for the decode checks (skip_special_tokens);
    vocab_size adds 1000 random id lists to the decode checks."""
    rep = Report(name)
    tj = os.path.join(tmp, f"{name}.text.jsonl")
    with open(tj, "w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    try:
        encoded = None
        for flags, mode in (([], "encode"), (["--add-special-tokens"], "encode add_special_tokens")):
            want, got = both(tokenizer, tj, flags, xgd_tokenizer)
            rep.compare(mode, texts, want, got)
            if encoded is None:
                encoded = [json.loads(l) for l in want]
        id_lists = [ids for ids in encoded if ids]
        if special_ids:
            sp = list(special_ids)
            id_lists += [sp[:1] + ids + sp[1:] for ids in encoded[:2000] if ids]
        if vocab_size:
            id_lists += random_id_lists(vocab_size, 1000)
        ij = os.path.join(tmp, f"{name}.ids.jsonl")
        with open(ij, "w", encoding="utf-8") as fh:
            for ids in id_lists:
                fh.write(json.dumps({"ids": ids}) + "\n")
        for flags, mode in ((["--decode"], "decode"),
                            (["--decode", "--skip-special-tokens"], "decode skip_special_tokens"),
                            (["--decode", "--no-cleanup"], "decode no_cleanup")):
            want, got = both(tokenizer, ij, flags, xgd_tokenizer)
            rep.compare(mode, id_lists, want, got, key="text")
    except RuntimeError as e:
        print(f"[{name}] {e}")
        rep.failures += 1
    return rep


def main_exit(reports):
    total = sum(r.failures for r in reports)
    checked = sum(r.checked for r in reports)
    if total:
        print(f"FAIL: {total} mismatches (or errors) over {checked} comparisons")
        sys.exit(1)
    print(f"OK: {checked} comparisons identical")
    sys.exit(0)
