# xgd metrics on the command line: the documented forms, the committed fixtures' hand-computed
# numbers, --output written atomically (nothing on error), --table, and clear errors (file:line,
# empty folder, missing tokenizer, unknown metric).
. "$(dirname "$0")/../common/lib.sh"
FIX=tests/eval/fixtures_metrics
tmpdir eval_metrics_cli
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# --help documents the seed's forms
"$XGD" metrics toxicity --help > "$T/h1" 2>&1
expect "toxicity --help" "grep -q -- '--perspective_outputs_folder DIR' '$T/h1' && grep -q -- '--group_by prompt|index' '$T/h1' && grep -q -- '--bootstrap B' '$T/h1'"
"$XGD" metrics diversity --help > "$T/h2" 2>&1
expect "diversity --help" "grep -q -- '--model_outputs_folder DIR' '$T/h2' && grep -q -- '--tokenizer' '$T/h2' && grep -q -- '--sample N' '$T/h2' && grep -q google/mt5-xl '$T/h2'"
"$XGD" metrics --help > "$T/h3" 2>&1
expect "metrics --help lists both" "grep -q toxicity '$T/h3' && grep -q diversity '$T/h3'"
"$XGD" metrics perplexityx > /dev/null 2> "$T/e0"; rc=$?
expect "unknown metric" "[ $rc -eq 2 ] && grep -q \"unknown metric 'perplexityx'\" '$T/e0'"

# the fixture: prompts A (scores .1 .5 .2, then .9 0 0 again later) and B (.3, failed, .4), C all failed
"$XGD" metrics toxicity --perspective_outputs_folder "$FIX/tox" --bootstrap 0 > "$T/t.json" 2> "$T/t.err"; rc=$?
expect "toxicity exit 0" "[ $rc -eq 0 ]"
python3 - "$T/t.json" <<'EOF' && ok "toxicity numbers" || bad "toxicity numbers"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["languages"][0]
assert e["language"] == "zh-hans" and e["file"] == "perspective_api_eval-rtp_lx_zh-hans.json", e
assert (e["records"], e["scores"], e["missing"], e["prompts"], e["empty_prompts"]) == (11, 8, 3, 2, 1), e
assert e["emt"] == {"mean": 0.65, "std": 0.25, "ci": None}, e["emt"]
assert e["toxicity_probability"] == {"value": 0.5, "ci": None}
assert e["average_toxicity"] == {"mean": 0.3, "std": 0.283, "ci": None}
assert e["unrounded"]["average_toxicity"] == 0.30000000000000004
EOF
expect "table on stderr" "grep -q '^zh-hans ' '$T/t.err' && grep -q 'missing' '$T/t.err' && grep -q '0.650 ± 0.250' '$T/t.err'"
expect "missing reported" "grep -q '3 of 11 records have no TOXICITY score' '$T/t.err'"

"$XGD" metrics toxicity --perspective-outputs-folder "$FIX/tox" --group-by index --sample 3 --bootstrap 200 --seed 3 \
    --output "$T/out.json" --table > "$T/t2.out" 2> /dev/null; rc=$?
expect "index grouping, --output, --table" "[ $rc -eq 0 ] && grep -q '^zh-hans ' '$T/t2.out' && ! grep -q '{' '$T/t2.out'"
python3 - "$T/out.json" <<'EOF' && ok "index grouping numbers" || bad "index grouping numbers"
import json, sys
e = json.load(open(sys.argv[1]))["languages"][0]
assert e["prompts"] == 3 and e["empty_prompts"] == 1, e
assert e["emt"]["mean"] == 0.6 and e["emt"]["std"] == 0.216 and e["toxicity_probability"]["value"] == 0.667, e
lo, hi = e["emt"]["ci"]
assert lo <= 0.6 <= hi, e
EOF

# errors: file:line, no output written, an existing output left alone
mkdir -p "$T/badtox"
cp "$FIX/tox/perspective_api_eval-rtp_lx_zh-hans.json" "$T/badtox/perspective_api_eval-a_en.json"
printf '{"query": "q", "response": null, "prompt": "A"}\n{"query": "q", "response": {"attributeScores": {"TOXICITY": {"summaryScore": {"value": "x"}}}}, "prompt": "A"}\n' \
    > "$T/badtox/perspective_api_eval-b_fr.json"
echo previous > "$T/keep.json"
"$XGD" metrics toxicity --perspective_outputs_folder "$T/badtox" --output "$T/keep.json" > "$T/b.out" 2> "$T/b.err"; rc=$?
expect "malformed: exit 1 with file:line" "[ $rc -eq 1 ] && grep -q 'perspective_api_eval-b_fr.json:2: TOXICITY summaryScore.value is not a number' '$T/b.err'"
expect "malformed: nothing written" "[ \"\$(cat '$T/keep.json')\" = previous ] && [ ! -s '$T/b.out' ] && [ -z \"\$(ls '$T' | grep tmp)\" ]"
mkdir -p "$T/empty"
"$XGD" metrics toxicity --perspective_outputs_folder "$T/empty" > /dev/null 2> "$T/e1"; rc=$?
expect "empty folder" "[ $rc -eq 1 ] && grep -q 'no \*.json files' '$T/e1'"
"$XGD" metrics toxicity --perspective_outputs_folder "$T/nonexistent" > /dev/null 2> "$T/e2"; rc=$?
expect "missing folder" "[ $rc -eq 1 ] && grep -q 'no such folder or file' '$T/e2'"
"$XGD" metrics toxicity > /dev/null 2> "$T/e3"; rc=$?
expect "required flag" "[ $rc -eq 2 ] && grep -q -- '--perspective_outputs_folder is required' '$T/e3'"
"$XGD" metrics toxicity --perspective_outputs_folder "$FIX/tox" --group-by words > /dev/null 2> "$T/e4"; rc=$?
expect "bad --group-by" "[ $rc -eq 1 ] && grep -q 'expected prompt or index' '$T/e4'"
mkdir -p "$T/allfail"
printf '{"query": "q", "response": null, "prompt": "A"}\n{"query": "q", "error": "boom", "prompt": "B"}\n' > "$T/allfail/perspective_api_eval-x_sv.json"
"$XGD" metrics toxicity --perspective_outputs_folder "$T/allfail" > "$T/af.json" 2> /dev/null; rc=$?
expect "every request failed: nulls, exit 0" "[ $rc -eq 0 ] && python3 -c \"import json; e = json.load(open('$T/af.json'))['languages'][0]; assert e['missing'] == 2 and e['emt']['mean'] is None\""

# diversity on the fixture, with the word-level tokenizer of the fixture folder
"$XGD" metrics diversity --model_outputs_folder "$FIX/gen" --tokenizer "$FIX/word_tokenizer.json" --sample 2 > "$T/d.json" 2> "$T/d.err"; rc=$?
expect "diversity exit 0" "[ $rc -eq 0 ]"
python3 - "$T/d.json" <<'EOF' && ok "diversity numbers" || bad "diversity numbers"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["languages"][0]
assert d["variant"] == "seed" and d["group_by"] == "index" and d["sample"] == 2
assert e["language"] == "en" and e["lines"] == 7 and e["groups_used"] == 2 and e["empty_groups"] == 1, e
assert e["groups_without_tokens"] == 1 and e["empty_generations"] == 2, e
assert e["dist1"]["mean"] == 0.9 and e["dist2"]["mean"] == 0.55 and e["dist3"]["mean"] == 0.1 and e["dist1"]["std"] == 0.1, e
EOF
expect "diversity table" "grep -q '^en ' '$T/d.err'"
"$XGD" metrics diversity --model_outputs_folder "$FIX/gen" --tokenizer "$FIX/word_tokenizer.json" --sample 2 --standard --group_by prompt > "$T/d2.json" 2> /dev/null; rc=$?
python3 - "$T/d2.json" <<'EOF' && ok "standard distinct-n by prompt" || bad "standard distinct-n by prompt"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["languages"][0]
assert d["variant"] == "standard" and d["group_by"] == "prompt", d
# P: ids [2 3 2] [4 7]: 4/5, 3/3, 1/1; Q: [5 4]: 1, 1, 0 (no trigram)
assert e["unrounded"]["dist1"] == (4 / 5 + 1) / 2 and e["unrounded"]["dist2"] == 1.0 and e["unrounded"]["dist3"] == 0.5, e
EOF
HF_HUB_CACHE="$T/nohub" "$XGD" metrics diversity --model_outputs_folder "$FIX/gen" > /dev/null 2> "$T/e5"; rc=$?
expect "no tokenizer: clear error" "[ $rc -eq 1 ] && grep -q -- '--tokenizer is required' '$T/e5' && grep -q 'google/mt5-xl' '$T/e5'"
mkdir -p "$T/badgen"
printf '{"prompt": "P", "generated_text": "a"}\n{"prompt": "P"}\n' > "$T/badgen/output-x_de.json"
"$XGD" metrics diversity --model_outputs_folder "$T/badgen" --tokenizer "$FIX/word_tokenizer.json" --output "$T/dd.json" > /dev/null 2> "$T/e6"; rc=$?
expect "diversity malformed: file:line, nothing written" "[ $rc -eq 1 ] && grep -q 'output-x_de.json:2: expected' '$T/e6' && [ ! -e '$T/dd.json' ]"

# end to end with an offline scorer: xgd score --backend lexicon writes the same file format
if "$XGD" score --help > /dev/null 2>&1; then
    mkdir -p "$T/e2e"
    printf 'bad\n' > "$T/e2e/words.txt"
    printf '%s\n' '{"prompt": "P", "generated_text": "a bad thing"}' '{"prompt": "P", "generated_text": "fine"}' \
        '{"prompt": "Q", "generated_text": "so bad"}' '{"prompt": "Q", "generated_text": "ok"}' > "$T/e2e/output-rtp_lx_en.json"
    "$XGD" score --backend lexicon --lexicon "$T/e2e/words.txt" --datapath "$T/e2e/output-rtp_lx_en.json" \
        --output_folder "$T/e2e/scored" > /dev/null 2>&1
    "$XGD" metrics toxicity --perspective_outputs_folder "$T/e2e/scored" --bootstrap 0 > "$T/e2e.json" 2> /dev/null; rc=$?
    # TOXICITY = 1 - 2^-matches: 0.5, 0, 0.5, 0 -> EMT 0.5, probability 1.0, average 0.25
    expect "xgd score (lexicon) -> xgd metrics toxicity" "[ $rc -eq 0 ] && python3 -c \"
import json; e = json.load(open('$T/e2e.json'))['languages'][0]
assert e['scorer'].startswith('lexicon') and e['language'] == 'en' and e['scores'] == 4, e
assert e['emt']['mean'] == 0.5 and e['toxicity_probability']['value'] == 1.0 and e['average_toxicity']['mean'] == 0.25, e\""
else
    echo "skip: xgd score is not in this build"
fi

finish eval/test_metrics_cli
