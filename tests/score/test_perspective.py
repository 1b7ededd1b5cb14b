"""xgd score --backend perspective against a local fake server (fake_perspective.py, 127.0.0.1 only):
faults injected (429, 500, 503, slow answers past the timeout, malformed bodies, connection resets,
400 COMMENT_EMPTY), every record present once and in order, byte-equal to what Python's json.dumps
writes for the fake's deterministic answers; kill -9 and resume gives the uninterrupted run's bytes;
the token bucket holds the QPS; the key never appears in any output, message or the process's
command line; bad input lines are reported with file:line and nothing is written."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_perspective import Fake, response_for  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

XGD = xt.need_xgd()
T = xt.tmpdir("score_perspective")
KEY = "AIzaFAKE-test_key-0123456789abcdefghijk"
KEYFILE = os.path.join(T, "key.txt")
with open(KEYFILE, "w") as f:
    f.write(KEY + "\n")

everything_seen = []   # every stdout/stderr, to grep for the key at the end


def xgd(args, env=None, timeout=120):
    e = dict(os.environ)
    e.pop("PERSPECTIVE_API_KEY", None)
    e.update(env or {})
    p = subprocess.run([XGD, "score"] + args, capture_output=True, text=True, env=e, timeout=timeout)
    everything_seen.extend([p.stdout, p.stderr])
    return p


def write_gen(path, rows):
    with open(path, "w") as f:
        for prompt, text in rows:
            f.write(json.dumps({"prompt": prompt, "generated_text": text}) + "\n")


def make_rows(n, per_prompt=5, tag=""):
    rows = []
    for i in range(n):
        prompt = f"Prompt {i // per_prompt}{tag} — “quoted” ü"
        if i % 17 == 3:
            text = ""                                # sent as " ", answered COMMENT_EMPTY
        elif i % 23 == 5:
            text = f"EMPTY! {i}"
        else:
            text = f"generation {i}{tag}: Ünïcödé 😀 \t\"q\" \\ {'x' * (i % 7)}"
        rows.append((prompt, text))
    return rows


def expected_lines(rows, lang, attrs=("TOXICITY",)):
    out = []
    for prompt, text in rows:
        q = text if text else " "
        if not q.strip() or "EMPTY!" in q:
            rec = {"query": q, "response": None, "prompt": prompt, "error": {"errorType": "COMMENT_EMPTY", "status": 400}}
        elif "TOOLONG!" in q:
            rec = {"query": q, "response": None, "prompt": prompt, "error": {"errorType": "COMMENT_TOO_LONG", "status": 400}}
        elif "ALWAYS503!" in q:
            rec = {"query": q, "response": None, "prompt": prompt, "error": {"errorType": "SERVER_ERROR", "status": 503}}
        else:
            resp = response_for({"comment": {"text": q}, "languages": [lang], "requestedAttributes": {a: {} for a in attrs}})
            resp["xgd_backend"] = "perspective"
            rec = {"query": q, "response": resp, "prompt": prompt}
        out.append(json.dumps(rec))
    return out


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


fake = Fake(KEY, fault_rate=0.35, slow_s=1.0)
# every run talks to the fake only (--endpoint is on every command line)
FAST = ["--endpoint", fake.url, "--timeout", "0.5", "--backoff", "0.02", "--max_backoff", "0.1"]
try:
    # 1. faults everywhere: each record once, in order, byte-equal to json.dumps of the answers
    rows = make_rows(90)
    gen = os.path.join(T, "output-rtp_lx_zh-Hans.json")
    write_gen(gen, rows)
    out = os.path.join(T, "a", "perspective_api_eval-output-rtp_lx_zh-Hans.json")
    p = xgd(["--datapath", gen, "--output_folder", os.path.join(T, "a"), "--api_key_file", KEYFILE,
             "--qps", "100", "--concurrency", "6"] + FAST)
    check(p.returncode == 0, f"faulty run failed: {p.stderr}")
    lines = read_lines(out) if os.path.exists(out) else []
    want = expected_lines(rows, "zh")
    check(lines == want, f"output differs from the expected records ({len(lines)} lines, want {len(want)})")
    for i, (a, b) in enumerate(zip(lines, want)):
        if a != b:
            print(f"  first difference at line {i + 1}:\n  got  {a[:300]}\n  want {b[:300]}")
            break
    summary = json.loads(p.stdout) if p.returncode == 0 else {}
    n_empty = sum(1 for _, t in rows if not t or "EMPTY!" in t)
    check(summary.get("scored") == len(rows) - n_empty and summary.get("failed") == n_empty,
          f"summary counts: {summary}")
    check(summary.get("failed_by_type") == {"COMMENT_EMPTY": n_empty}, f"failures by type: {summary}")
    # the server's view: every text asked until it got an answer, never again after it; faults retried
    with fake.lock:
        log = list(fake.log)
    ok_per_text = {}
    faults = 0
    for _, text, outcome, req, headers, path in log:
        if outcome == "ok":
            ok_per_text[text] = ok_per_text.get(text, 0) + 1
        elif outcome not in ("400",):
            faults += 1
    check(all(v == 1 for v in ok_per_text.values()) and len(ok_per_text) == len(rows) - n_empty,
          "a text was scored twice or not at all on the server")
    check(faults >= 10, f"only {faults} faults were injected: the test does not test retries")
    # libcurl itself resends once when a reused keep-alive connection turns out to be reset, so those
    # resets need not count as our retries; every other fault must
    resets = sum(1 for e in log if e[2] == "reset")
    check(faults - resets <= summary.get("retried", -1) <= faults,
          f"retried {summary.get('retried')} but the server injected {faults} faults ({resets} resets)")
    kinds = {o for _, _, o, _, _, _ in log}
    check({"429", "500x2", "503", "slow", "malformed", "reset"} <= kinds, f"fault kinds seen: {sorted(kinds)}")
    # 400s are not retried
    empties = [t for _, t, o, _, _, _ in log if o == "400"]
    check(len(empties) == n_empty, f"400 answers: {len(empties)}, texts: {n_empty} (a 400 was retried)")
    # the requests: as the spec says, plus doNotStore; the key in the header, not in the URL
    reqs = [r for _, _, o, r, _, _ in log if r]
    check(all(r.get("doNotStore") is True and r["languages"] == ["zh"] and r["requestedAttributes"] == {"TOXICITY": {}}
              and set(r) == {"comment", "languages", "requestedAttributes", "doNotStore"} for r in reqs),
          "request body")
    check(all(h.get("x-goog-api-key") == KEY and "key=" not in pth for _, _, _, _, h, pth in log), "key in header only")
    check(all(l == json.dumps(json.loads(l)) for l in lines), "lines are not json.dumps-faithful")
    full = lines

    # 2. rerun of a complete file: nothing sent, nothing appended
    fake.reset_log()
    p = xgd(["--datapath", gen, "--output_folder", os.path.join(T, "a"), "--api_key_file", KEYFILE] + FAST)
    check(p.returncode == 0 and read_lines(out) == full and len(fake.log) == 0, "rerun of a complete file changed it")
    check(p.returncode == 0 and json.loads(p.stdout)["resumed_after"] == len(rows), "resumed_after")

    # other attributes than the file was started with: refused, file unchanged
    p = xgd(["--datapath", gen, "--output_folder", os.path.join(T, "a"), "--api_key_file", KEYFILE,
             "--attributes", "TOXICITY,INSULT"] + FAST)
    check(p.returncode != 0 and "attributes differ" in p.stderr and read_lines(out) == full, f"attributes changed: {p.stderr}")

    # 3. kill -9 at several points, tear the last line, resume: the uninterrupted run's bytes
    fake.fault_rate = 0.15
    for k, delay in enumerate([0.3, 0.8, 1.5]):
        d = os.path.join(T, f"kill{k}")
        o = os.path.join(d, "perspective_api_eval-output-rtp_lx_zh-Hans.json")
        e = dict(os.environ)
        e.pop("PERSPECTIVE_API_KEY", None)
        proc = subprocess.Popen([XGD, "-q", "score", "--datapath", gen, "--output_folder", d, "--api_key_file", KEYFILE,
                                 "--qps", "60", "--concurrency", "4"] + FAST, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=e)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        before = read_lines(o) if os.path.exists(o) else []
        if k == 1 and os.path.exists(o):
            with open(o, "a") as f:
                f.write('{"query": "torn line, as a crash in the middle of a write lea')
        p = xgd(["--datapath", gen, "--output_folder", d, "--api_key_file", KEYFILE, "--qps", "100"] + FAST)
        check(p.returncode == 0, f"resume after kill at {delay}s failed: {p.stderr}")
        after = read_lines(o)
        check(after == full, f"kill at {delay}s + resume: {len(after)} lines, not the uninterrupted run's bytes")
        check(p.returncode != 0 or json.loads(p.stdout)["resumed_after"] == len(before), "resumed_after after a kill")
        print(f"kill at {delay}s: {len(before)} records before the resume, {len(after)} after")

    # 4. the token bucket: N requests at --qps 20 take at least (N-1)/20 s, in parallel when slow
    fake.fault_rate = 0.0
    fake.latency_s = 0.15
    fake.reset_log()
    rows20 = [("p", f"rate test {i}") for i in range(21)]
    g20 = os.path.join(T, "gen_en.json")
    write_gen(g20, rows20)
    t0 = time.monotonic()
    e = dict(os.environ)
    e.pop("PERSPECTIVE_API_KEY", None)
    proc = subprocess.Popen([XGD, "score", "--datapath", g20, "--output_folder", os.path.join(T, "q"), "--api_key", KEY,
                             "--qps", "20"] + FAST, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    # once the first request is in, the arguments have been parsed and the key wiped from them
    for _ in range(200):
        if fake.log or proc.poll() is not None:
            break
        time.sleep(0.05)
    try:
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        check(KEY.encode() not in cmdline, "the key is still in /proc/PID/cmdline")
    except OSError:
        pass
    so, se = proc.communicate(timeout=60)
    everything_seen.extend([so, se])
    wall = time.monotonic() - t0
    check(proc.returncode == 0, f"qps run failed: {se}")
    arrivals = sorted(t for t, *_ in fake.log)
    span = arrivals[-1] - arrivals[0] if arrivals else 0
    check(len(arrivals) == 21, f"{len(arrivals)} requests for 21 texts")
    check(wall >= 20 / 20 and span >= 20 / 20 - 0.02, f"21 requests at 20 QPS took {wall:.3f}s (span {span:.3f}s)")
    worst = max(sum(1 for b in arrivals if a <= b < a + 0.5) for a in arrivals)
    check(worst <= 0.5 * 20 + 2, f"{worst} requests in one half second at 20 QPS")
    check(wall < 20 / 20 + 2.0, f"21 requests of 0.15s each at 20 QPS took {wall:.2f}s: not concurrent")
    print(f"qps 20: 21 requests in {wall:.3f}s (server span {span:.3f}s, at most {worst} per 0.5s)")
    # fractional QPS, key from the environment
    fake.latency_s = 0.0
    rows6 = [("p", f"slow rate {i}") for i in range(6)]
    g6 = os.path.join(T, "gen_de.json")
    write_gen(g6, rows6)
    t0 = time.monotonic()
    p = xgd(["--datapath", g6, "--output_folder", os.path.join(T, "q"), "--qps", "2.5"] + FAST,
            env={"PERSPECTIVE_API_KEY": KEY})
    wall = time.monotonic() - t0
    check(p.returncode == 0 and wall >= 5 / 2.5, f"6 requests at 2.5 QPS took {wall:.3f}s: {p.stderr}")
    check(p.returncode == 0 and read_lines(os.path.join(T, "q", "perspective_api_eval-gen_de.json")) ==
          expected_lines(rows6, "de"), "fractional-qps output")

    # 5. options: --store, --attributes, --key_in_query, --language
    fake.reset_log()
    p = xgd(["--datapath", g6, "--output_folder", os.path.join(T, "opt"), "--api_key_file", KEYFILE, "--qps", "50",
             "--store", "--attributes", "toxicity,INSULT", "--key_in_query", "--language", "FR"] + FAST)
    check(p.returncode == 0, f"options run: {p.stderr}")
    reqs = [(r, h, pth) for _, _, _, r, h, pth in fake.log]
    check(all("doNotStore" not in r and r["requestedAttributes"] == {"TOXICITY": {}, "INSULT": {}} and
              r["languages"] == ["fr"] and f"key={KEY}" in pth and "x-goog-api-key" not in {k.lower() for k in h}
              for r, h, pth in reqs), "--store/--attributes/--key_in_query/--language requests")
    check(p.returncode == 0 and read_lines(os.path.join(T, "opt", "perspective_api_eval-gen_de.json")) ==
          expected_lines(rows6, "fr", ("TOXICITY", "INSULT")), "two-attribute output")

    # 6. retries exhausted: recorded as a failure with its kind; 400 COMMENT_TOO_LONG kept as the API says
    rows_x = [("p", "fine 1"), ("p", "ALWAYS503! x"), ("p", "TOOLONG! y"), ("p", "fine 2")]
    gx = os.path.join(T, "gen_en_x.json")
    write_gen(gx, rows_x)
    fake.reset_log()
    p = xgd(["--datapath", gx, "--output_folder", os.path.join(T, "x"), "--api_key_file", KEYFILE, "--qps", "50",
             "--language", "en", "--max_retries", "2"] + FAST)
    s = json.loads(p.stdout) if p.returncode == 0 else {}
    check(s.get("failed_by_type") == {"SERVER_ERROR": 1, "COMMENT_TOO_LONG": 1} and s.get("retried") == 2,
          f"exhausted retries: {p.stdout} {p.stderr}")
    recs = [json.loads(l) for l in read_lines(os.path.join(T, "x", "perspective_api_eval-gen_en_x.json"))]
    check([r.get("error") for r in recs] == [None, {"errorType": "SERVER_ERROR", "status": 503},
                                              {"errorType": "COMMENT_TOO_LONG", "status": 400}, None], f"{recs}")
    check(sum(1 for e in fake.log if e[1] == "ALWAYS503! x") == 3, "ALWAYS503 not sent 1 + 2 times")
    # --retry_failed: the server is back; only that record is sent again, the 400 is kept, order unchanged
    fake.always503 = False
    fake.reset_log()
    p = xgd(["--datapath", gx, "--output_folder", os.path.join(T, "x"), "--api_key_file", KEYFILE, "--qps", "50",
             "--language", "en", "--retry_failed"] + FAST)
    s = json.loads(p.stdout) if p.returncode == 0 else {}
    check(s.get("rescored") == 1 and s.get("scored") == 1 and s.get("failed_in_file") == 1, f"--retry_failed: {p.stdout} {p.stderr}")
    check([e[1] for e in fake.log] == ["ALWAYS503! x"], f"--retry_failed sent {[e[1] for e in fake.log]}")
    want_x = expected_lines(rows_x, "en")
    want_x[1] = json.dumps({"query": "ALWAYS503! x", "response": dict(response_for(
        {"comment": {"text": "ALWAYS503! x"}, "languages": ["en"], "requestedAttributes": {"TOXICITY": {}}}),
        xgd_backend="perspective"), "prompt": "p"})
    check(read_lines(os.path.join(T, "x", "perspective_api_eval-gen_en_x.json")) == want_x, "file after --retry_failed")
    fake.always503 = True

    # 7. a bad key stops the run with a message that does not repeat it; nothing recorded
    bad_key = "AIzaWRONG-key-that-must-not-leak-42"
    bk = os.path.join(T, "bad_key.txt")
    with open(bk, "w") as f:
        f.write(bad_key)
    p = xgd(["--datapath", g6, "--output_folder", os.path.join(T, "bad"), "--api_key_file", bk] + FAST)
    check(p.returncode != 0 and "HTTP 403" in p.stderr and bad_key not in p.stderr + p.stdout and "***" in p.stderr,
          f"bad key: rc={p.returncode} stderr={p.stderr!r}")
    bo = os.path.join(T, "bad", "perspective_api_eval-gen_de.json")
    check(not os.path.exists(bo) or os.path.getsize(bo) == 0, "records written with a bad key")
    p = xgd(["--datapath", g6, "--output_folder", os.path.join(T, "bad")] + FAST)
    check(p.returncode != 0 and "no API key" in p.stderr, "no key given")

    # an endpoint that never answers stops the run instead of recording every text as failed
    import socket
    sk = socket.socket()
    sk.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{sk.getsockname()[1]}/v1alpha1/comments:analyze"
    sk.close()
    p = xgd(["--datapath", g6, "--output_folder", os.path.join(T, "dead"), "--api_key_file", KEYFILE, "--max_retries", "1",
             "--backoff", "0.01", "--endpoint", dead])
    do = os.path.join(T, "dead", "perspective_api_eval-gen_de.json")
    check(p.returncode != 0 and "never answered" in p.stderr and (not os.path.exists(do) or os.path.getsize(do) == 0),
          f"dead endpoint: {p.stderr}")

    # 8. malformed input: file:line, nothing written; --skip_bad_lines skips it
    gb = os.path.join(T, "gen_bad_en.json")
    with open(gb, "w") as f:
        f.write(json.dumps({"prompt": "a", "generated_text": "ok 1"}) + "\n")
        f.write(json.dumps({"prompt": "a", "generated_text": "ok 2"}) + "\n")
        f.write('{"prompt": "a", "generated_text": \n')
        f.write(json.dumps({"prompt": "a", "text": "no field"}) + "\n")
        f.write(json.dumps({"prompt": "a", "generated_text": "ok 3"}) + "\n")
    p = xgd(["--datapath", gb, "--output_folder", os.path.join(T, "b"), "--api_key_file", KEYFILE] + FAST)
    check(p.returncode != 0 and "gen_bad_en.json:3:" in p.stderr, f"bad line: {p.stderr}")
    check(not os.path.exists(os.path.join(T, "b", "perspective_api_eval-gen_bad_en.json")), "output written for bad input")
    p = xgd(["--datapath", gb, "--output_folder", os.path.join(T, "b"), "--api_key_file", KEYFILE, "--skip_bad_lines",
             "--qps", "50"] + FAST)
    s = json.loads(p.stdout) if p.returncode == 0 else {}
    check(s.get("records") == 3 and s.get("skipped_lines") == 2 and "gen_bad_en.json:4:" in p.stderr,
          f"--skip_bad_lines: {p.stdout} {p.stderr}")

    # 9. an output that belongs to another input is refused, and left as it was
    rows_m = list(rows)
    rows_m[1] = (rows_m[1][0], "changed text")
    gm = os.path.join(T, "m", "output-rtp_lx_zh-Hans.json")
    os.makedirs(os.path.dirname(gm))
    write_gen(gm, rows_m)
    p = xgd(["--datapath", gm, "--output_folder", os.path.join(T, "a"), "--api_key_file", KEYFILE] + FAST)
    check(p.returncode != 0 and "input record 2" in p.stderr and "--overwrite" in p.stderr and read_lines(out) == full,
          f"mismatched output: {p.stderr}")

    # 10. --help documents every flag
    p = xgd(["--help"])
    for flag in ["--backend", "--datapath", "--output_folder", "--language", "--attributes", "--api_key", "--api_key_file",
                 "--endpoint", "--qps", "--concurrency", "--max_retries", "--timeout", "--backoff", "--max_backoff",
                 "--store", "--key_in_query", "--lexicon", "--overwrite", "--skip_bad_lines", "--retry_failed"]:
        check(flag + " " in p.stdout, f"--help lacks {flag}")
finally:
    fake.close()

# the key is nowhere: not in any output file, message or summary
leaks = [s for s in everything_seen if KEY in (s or "")]
for root, _, files in os.walk(T):
    for name in files:
        if name in ("key.txt",):
            continue
        with open(os.path.join(root, name), "rb") as f:
            if KEY.encode() in f.read():
                leaks.append(os.path.join(root, name))
check(not leaks, f"the key appears in: {leaks[:3]}")
check(all("\r" not in (s or "") for s in everything_seen), "a progress bar was drawn into a pipe")

xt.done("score_perspective")
