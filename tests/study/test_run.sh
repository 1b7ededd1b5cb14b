#!/usr/bin/env bash
# xgd run STUDY.json on a tiny model made here: --dry-run lists the steps as missing, the run does
# DPO (LoRA, then merge), generation, scoring and metrics for two languages, writes summary.json and
# provenance.json that xgd report reads; a second run skips every complete step and changes nothing.
set -u
XGD=${XGD:?}
here=$(cd "$(dirname "$0")" && pwd)
T=${XGD_TMP:-/tmp/xgd-test}/study_run
rm -rf "$T"; mkdir -p "$T/model" "$T/data" "$T/prompts" "$T/lexicon"
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

V=$(/usr/bin/python3 "$here/../generate/make_tiny_tokenizer.py" "$T/model")
echo "{\"vocab_size\": $V, \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 128, \"initializer_range\": 0.2,
       \"eos_token_id\": $((V - 1)), \"bos_token_id\": $((V - 1))}" >"$T/cfg.json"
"$XGD" -q init --family gpt2 --config "$T/cfg.json" --out "$T/model" >/dev/null || { echo "FAIL: init"; exit 1; }
/usr/bin/python3 - "$T" <<'PY'
import json, random, sys
t = sys.argv[1]; random.seed(1)
with open(f"{t}/data/pairs.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"prompt": "the cat", "chosen": " is nice", "rejected": " is damn stupid"}) + "\n")
for lang in ("en", "de", "fr"):
    with open(f"{t}/prompts/prompts_{lang}.jsonl", "w") as f:
        for i in range(6):
            f.write(json.dumps({"prompt": random.choice(["the cat", "a dog", "the man"])}) + "\n")
    open(f"{t}/lexicon/{lang}.txt", "w").write("damn\nstupid\n")
json.dump({"output_dir": f"{t}/out", "base_model": f"{t}/model",
           "dpo": {"data_dir": f"{t}/data", "use_lora": True, "lora_r": 4, "lora_alpha": 8, "max_steps": 6,
                   "learning_rate": 1e-3, "warmup_steps": 1, "eval_steps": 3, "save_steps": 3, "max_length": 16,
                   "max_prompt_length": 6},
           "prompts": {"path": f"{t}/prompts", "languages": ["en", "de"]},
           "generation": {"N": 3, "max_tokens": 4, "temperature": 1.0, "top_p": 0.9, "seed": 2},
           "scorer": {"backend": "lexicon", "lexicon": f"{t}/lexicon"}}, open(f"{t}/study.json", "w"))
PY
"$XGD" run "$T/study.json" --dry-run >"$T/dry" 2>&1 && grep -q "dpo .*would run" "$T/dry" && [ "$(grep -c 'would run' "$T/dry")" -eq 6 ] && ok || bad "dry run: $(cat "$T/dry")"
[ ! -e "$T/out" ] && ok || bad "the dry run wrote files"
"$XGD" -q run "$T/study.json" >"$T/run1" 2>"$T/err" && ok || bad "run failed: $(tail -3 "$T/err")"
for f in summary.json provenance.json merged/config.json dpo/final_checkpoint/adapter_config.json; do
  [ -s "$T/out/$f" ] && ok || bad "missing $f"
done
[ "$(ls "$T/out/generations/base/base" 2>/dev/null | wc -l)" -eq 2 ] && ok || bad "expected 2 generation files (en, de; fr not asked)"
/usr/bin/python3 - "$T/out" <<'PY' && ok || bad "summary/provenance content"
import json, sys
o = sys.argv[1]
s = json.load(open(f"{o}/summary.json"))
assert set(s["languages"]) == {"en", "de"}, s["languages"].keys()
p = json.load(open(f"{o}/provenance.json"))
assert p["study_fnv1a64"] and len(p["steps"]) >= 6 and all("seconds" in x for x in p["steps"])
assert any(x.get("fnv1a64") for x in p["steps"])
PY
cp -r "$T/out/scores" "$T/scores1"
"$XGD" run "$T/study.json" >"$T/run2" 2>&1 && grep -q "dpo .*complete (skipped)" "$T/run2" && grep -q "merge .*complete (skipped)" "$T/run2" && ok || bad "second run: $(cat "$T/run2")"
diff -r "$T/scores1" "$T/out/scores" >/dev/null && ok || bad "the second run changed the scores"
"$XGD" -q report "$T/out" >/dev/null && grep -q "| de |" "$T/out/report.md" && ok || bad "xgd report on the study output"
echo "study_run: $pass passed, $fail failed"
[ $fail -eq 0 ]
