#!/usr/bin/env bash
# xgd demo --quick end to end: the summary names every language with before/after numbers and its
# intervals, the DPO language's toxicity falls, the analyses ran (diversity, perplexity, probe,
# value vectors, activations per language before/after, retrieval), the run is reproducible, and a
# second run reuses the cached pretrained model and the complete steps (and is faster) with
# identical results. The report is checked in headless Chromium.
. "$(dirname "$0")/../common/lib.sh"
tmpdir study_demo

s1=$(date +%s.%N)
"$XGD" -q demo --quick --out "$T/a" >"$T/out1" 2>"$T/err1" || { bad "demo failed: $(tail -3 "$T/err1")"; finish study_demo; }
s2=$(date +%s.%N)
grep -q "| en (DPO data) |" "$T/out1" && grep -q "| dev |" "$T/out1" && ok || bad "the table lacks languages: $(head -5 "$T/out1")"
/usr/bin/python3 - "$T/a/summary.json" <<'PY' && ok || bad "summary.json"
import json, sys
s = json.load(open(sys.argv[1]))
langs = s["languages"]
assert set(langs) == {"en", "lat", "cyr", "grk", "dev"}, langs.keys()
for k, v in langs.items():
    for f in ("avg_before", "avg_after", "toxicity_prob_before", "toxicity_prob_after", "emt_before", "emt_after"):
        assert 0.0 <= v[f] <= 1.0, (k, f, v[f])
    lo, hi = v["avg_after_ci"]
    assert lo <= v["avg_after"] <= hi, (k, v)
en = langs["en"]
assert en["avg_before"] > 0.05, en            # the base model is toxic sometimes
assert en["avg_after"] < 0.5 * en["avg_before"], en   # and DPO on English pairs lowers it in English
assert 0 <= s["transferred_languages"] <= s["other_languages"] == 4
PY
/usr/bin/python3 - "$T/a" <<'PY' && ok || bad "the demo's analyses"
import json, sys
o = sys.argv[1]
langs = {"en", "lat", "cyr", "grk", "dev"}
p = json.load(open(f"{o}/provenance.json"))
steps = {x["step"]: x for x in p["steps"]}
for name in ("diversity base", "diversity dpo", "perplexity base", "perplexity dpo", "probe", "vectors", "activations", "retrieval"):
    assert steps[name]["state"].startswith("done"), steps[name]
for k in ("base", "dpo"):
    d = json.load(open(f"{o}/diversity/{k}/diversity.json"))
    assert {x["language"] for x in d["languages"]} == langs and all(0 < x["dist2"]["mean"] <= 1 for x in d["languages"]), d
    q = json.load(open(f"{o}/perplexity/{k}/perplexity.json"))
    assert all(x["kept"] > 0 and x["median"] >= 1 for x in q["languages"]), q
pr = json.load(open(f"{o}/probe/summary.json"))
assert pr["best_val_acc"] >= 0.9, pr          # chosen vs rejected endings are easy to tell apart
a = json.load(open(f"{o}/activations/activations.json"))
assert set(a["per_language"]) == langs and len(a["neurons"]) >= 1, a
r = json.load(open(f"{o}/retrieval/retrieval.json"))
assert set(r["languages"]) == langs - {"en"} and len(r["languages"]["dev"]["retrieval_acc"]) == 3, r
PY
for d in generations/base/model-base generations/dpo/dpo_final_checkpoint scores/base scores/dpo; do
  [ "$(ls "$T/a/$d" | wc -l)" -eq 5 ] && ok || bad "$d should hold 5 files"
done
# a second run in the same folder reuses the cached models and reproduces the numbers
"$XGD" -q demo --quick --out "$T/a" >"$T/out2" 2>/dev/null || bad "second run failed"
s3=$(date +%s.%N)
# the numbers (every table before the provenance, whose timings differ) are the same
diff <(sed '/^## Provenance/,$d' "$T/out1" | grep '^|') <(sed '/^## Provenance/,$d' "$T/out2" | grep '^|') >/dev/null && ok || bad "second run differs"
[ "$(grep -v '^|' "$T/out2" | grep -c "complete (skipped)")" -eq 15 ] && ok || bad "the second run should skip every step (15): $(grep -v '^|' "$T/out2" | head -30)"
/usr/bin/python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); sys.exit(0 if (c-b) < (b-a) else 1)" "$s1" "$s2" "$s3" && ok || bad "the cached run was not faster"
# the HTML report: self-contained, the tables and charts present; rendered in headless Chromium when
# it is installed (scripts/setup installs Debian's chromium)
"$XGD" -q report "$T/a" >/dev/null || bad "xgd report failed"
/usr/bin/python3 - "$T/a/report.html" <<'PY' && ok || bad "report.html structure"
import html.parser, sys
text = open(sys.argv[1], encoding="utf-8").read()
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.tags = {}; s.ids = set(); s.ext = []
    def handle_starttag(s, t, a):
        s.tags[t] = s.tags.get(t, 0) + 1
        d = dict(a)
        if "id" in d: s.ids.add(d["id"])
        for k in ("src", "href"):
            if k in d and d[k] and ("://" in d[k] or d[k].startswith("//")): s.ext.append(d[k])
p = P(); p.feed(text)
want = {"toxicity", "verdict", "perplexity", "diversity", "dpo-curve", "probe", "vectors", "activations", "activations-table",
        "activations-verdict", "retrieval", "retrieval-table", "provenance", "versions"}
assert want <= p.ids, want - p.ids
assert not any(i.endswith("-missing") for i in p.ids), p.ids
assert p.tags.get("svg", 0) >= 7, p.tags
assert not p.ext, f"network references: {p.ext}"
PY
[ -s "$T/a/report.md" ] && ok || bad "report.md missing"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$browser" ]; then
  flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$T/chrome"
  timeout 120 "$browser" $flags --dump-dom "file://$T/a/report.html" >"$T/dom.html" 2>/dev/null
  /usr/bin/python3 - "$T/dom.html" <<'PY' && ok || bad "Chromium's DOM lacks a table or a chart"
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.rows = {}; s.svg_in = set()
    def handle_starttag(s, t, a):
        d = dict(a)
        s.stack.append(d.get("id"))
        owner = next((i for i in reversed(s.stack) if i), None)
        if t == "tr": s.rows[owner] = s.rows.get(owner, 0) + 1
        if t == "svg": s.svg_in.add(owner)
    def handle_endtag(s, t):
        if s.stack: s.stack.pop()
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
# tables with a header row and one row per language (5), per neuron, per language pair (4), per step
for tid, n in (("toxicity", 6), ("perplexity", 6), ("diversity", 6), ("activations-table", 6), ("retrieval-table", 5)):
    assert p.rows.get(tid) == n, (tid, p.rows)
assert p.rows.get("vectors", 0) == 21 and p.rows.get("provenance", 0) == 16, p.rows
# the Figure-3 bars, the retrieval lines, the toxicity bars and the DPO curve are rendered SVG
assert {"activations", "retrieval", "toxicity-charts", "dpo-curve", "perplexity-chart", "diversity-chart"} <= p.svg_in, p.svg_in
PY
  timeout 120 "$browser" $flags --window-size=1100,1800 --screenshot="$T/report.png" "file://$T/a/report.html" >/dev/null 2>&1
  [ -s "$T/report.png" ] && ok || bad "no screenshot"
else
  echo "note: chromium is not installed; the report was checked without a browser"
fi
finish study_demo
