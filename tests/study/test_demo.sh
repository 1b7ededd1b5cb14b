#!/usr/bin/env bash
# xgd demo --quick end to end: the summary names every language with before/after numbers and its
# intervals, the DPO language's toxicity falls, the run is reproducible, and a second run reuses
# the cached pretrained model (and is faster) with identical results.
set -u
XGD=${XGD:?}
T=${XGD_TMP:-/tmp/xgd-test}/study_demo
rm -rf "$T"; mkdir -p "$T"
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

s1=$(date +%s.%N)
"$XGD" -q demo --quick --out "$T/a" >"$T/out1" 2>"$T/err1" || { bad "demo failed: $(tail -3 "$T/err1")"; echo "study_demo: $pass passed, $fail failed"; exit 1; }
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
for d in generations/base generations/dpo scores/base scores/dpo; do
  [ "$(ls "$T/a/$d" | wc -l)" -eq 5 ] && ok || bad "$d should hold 5 files"
done
# a second run in the same folder reuses the cached models and reproduces the numbers
"$XGD" -q demo --quick --out "$T/a" >"$T/out2" 2>/dev/null || bad "second run failed"
s3=$(date +%s.%N)
diff <(grep '^|' "$T/out1") <(grep '^|' "$T/out2") >/dev/null && ok || bad "second run differs"
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
assert {"toxicity", "verdict"} <= p.ids, p.ids
assert p.tags.get("svg", 0) >= 3 and p.tags.get("tr", 0) == 6, p.tags
assert not p.ext, f"network references: {p.ext}"
PY
[ -s "$T/a/report.md" ] && ok || bad "report.md missing"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$browser" ]; then
  flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$T/chrome"
  timeout 120 "$browser" $flags --dump-dom "file://$T/a/report.html" >"$T/dom.html" 2>/dev/null
  grep -q 'id="toxicity"' "$T/dom.html" && grep -q "<svg" "$T/dom.html" && ok || bad "Chromium's DOM lacks the table or the charts"
  timeout 120 "$browser" $flags --window-size=1100,1800 --screenshot="$T/report.png" "file://$T/a/report.html" >/dev/null 2>&1
  [ -s "$T/report.png" ] && ok || bad "no screenshot"
else
  echo "note: chromium is not installed; the report was checked without a browser"
fi
echo "study_demo: $pass passed, $fail failed"
[ $fail -eq 0 ]
