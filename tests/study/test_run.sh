#!/usr/bin/env bash
# xgd run STUDY.json on a tiny model made here: --dry-run lists the steps as missing, the run does
# DPO (LoRA, then merge), generation, scoring and metrics for two languages, then every analysis,
# writes summary.json and provenance.json that xgd report reads; recorded commands run alone give
# the same bytes; a second run skips every complete step and changes nothing; a changed setting
# makes its step and those downstream stale; an interrupted step is redone.
. "$(dirname "$0")/../common/lib.sh"
tmpdir study_run model data prompts lexicon

tiny_gpt2 "$T/model" 32 0.2
/usr/bin/python3 - "$T" <<'PY'
import json, random, sys
t = sys.argv[1]; random.seed(1)
with open(f"{t}/data/pairs.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"prompt": "the cat", "chosen": " is nice", "rejected": " is damn stupid"}) + "\n")
for lang in ("en", "de", "fr"):
    random.seed(1)   # the same prompts in every language: parallel texts for the retrieval step
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
           "scorer": {"backend": "lexicon", "lexicon": f"{t}/lexicon"},
           "diversity": {}, "perplexity": {"corrected": True},
           "probe": {"epochs": 3, "learning_rate": 0.01, "seed": 5}, "vectors": {"topk": 4, "project": 3, "steps": 3},
           "activations": {"steps": 3, "max_prompts": 4},
           "retrieval": {"aligned_text_dir": f"{t}/prompts", "pattern": "prompts_{lang}.jsonl", "lang1": "en", "lang2": ["de", "fr"]}},
          open(f"{t}/study.json", "w"))
PY
"$XGD" run "$T/study.json" --dry-run >"$T/dry" 2>&1 && grep -q "dpo .*would run" "$T/dry" && [ "$(grep -c 'would run' "$T/dry")" -eq 16 ] &&
  grep -q "probe .*would run (missing: .*dpo_pairs.csv is not made yet)" "$T/dry" && grep -q "retrieval .*would run (missing)" "$T/dry" && ok || bad "dry run: $(cat "$T/dry")"
[ ! -e "$T/out" ] && ok || bad "the dry run wrote files"
"$XGD" -q run "$T/study.json" >"$T/run1" 2>"$T/err" && ok || bad "run failed: $(tail -3 "$T/err")"
for f in summary.json provenance.json merged/config.json dpo/final_checkpoint/adapter_config.json; do
  [ -s "$T/out/$f" ] && ok || bad "missing $f"
done
[ "$(ls "$T/out/generations/base/model" 2>/dev/null | wc -l)" -eq 2 ] && ok || bad "expected 2 generation files (en, de; fr not asked)"
/usr/bin/python3 - "$T/out" <<'PY' && ok || bad "summary/provenance content"
import json, sys
o = sys.argv[1]
s = json.load(open(f"{o}/summary.json"))
assert set(s["languages"]) == {"en", "de"}, s["languages"].keys()
p = json.load(open(f"{o}/provenance.json"))
assert p["study_fnv1a64"] and len(p["steps"]) >= 6 and all("seconds" in x for x in p["steps"])
assert all(all(x["inputs"].values()) for x in p["steps"] if "inputs" in x)
assert p["cwd"] and p["status"] == "complete", p["status"]
assert set(p["versions"]) == {"xgd", "openblas", "jansson", "libcurl", "pcre2", "utf8proc"} and all(p["versions"].values()), p["versions"]
steps = {x["step"]: x for x in p["steps"]}
for name in ("dpo", "merge", "generate base", "score base", "toxicity base", "generate dpo", "score dpo", "toxicity dpo", "diversity base", "diversity dpo", "perplexity base", "perplexity dpo", "probe", "vectors", "activations", "retrieval"):
    assert steps[name]["command"].startswith("xgd "), (name, steps[name])
    assert "seconds" in steps[name]
for name in ("diversity base", "probe", "vectors", "activations", "retrieval"):
    assert steps[name]["state"] == "done (missing)" and all(steps[name]["inputs"].values()), steps[name]
assert steps["probe"]["seed"] == 5 and steps["dpo"]["seed"] == 0
# every analysis wrote its numbers
d = json.load(open(f"{o}/diversity/dpo/diversity.json"))
assert {x["language"] for x in d["languages"]} == {"en", "de"} and 0 < d["languages"][0]["dist1"]["mean"] <= 1, d
q = json.load(open(f"{o}/perplexity/base/perplexity.json"))
assert q["variant"] == "corrected" and q["languages"][0]["kept"] > 0 and q["languages"][0]["median"] > 1, q
v = json.load(open(f"{o}/vectors/vectors.json"))
assert len(v["vectors"]) == 4 and all("top_tokens" in x for x in v["vectors"] if x["kept"]), v
a = json.load(open(f"{o}/activations/activations.json"))
assert set(a["per_language"]) == {"en", "de"} and all(set(x) == {"base", "compare"} for x in a["per_language"].values()), a
r = json.load(open(f"{o}/retrieval/retrieval.json"))
assert set(r["languages"]) == {"de", "fr"} and len(r["languages"]["de"]["retrieval_acc"]) == 3, r
PY
# each step alone: the recorded command, run by hand in an empty folder, writes the same bytes
for step in dpo merge "generate dpo" "score base" "toxicity base" "diversity base" "perplexity dpo" probe vectors activations retrieval; do
  cmd=$(/usr/bin/python3 -c "import json,sys; print([x for x in json.load(open(sys.argv[1]))['steps'] if x['step']==sys.argv[2]][0]['command'])" "$T/out/provenance.json" "$step")
  dir=$(/usr/bin/python3 -c "import json,sys; print([x for x in json.load(open(sys.argv[1]))['steps'] if x['step']==sys.argv[2]][0]['output_dir'])" "$T/out/provenance.json" "$step")
  mv "$dir" "$T/alone"; mkdir -p "$dir"   # the step runner makes the folder; so does a person
  (xgd() { "$XGD" -q "$@"; }; eval "$cmd") >/dev/null 2>&1 && diff -r -x '.xgd-step*' "$T/alone" "$dir" >/dev/null && ok || bad "'$cmd' alone differs from the study's $step step"
  rm -rf "$dir"; mv "$T/alone" "$dir"
done
cp -r "$T/out/scores" "$T/scores1"
"$XGD" run "$T/study.json" >"$T/run2" 2>&1 && grep -q "dpo .*complete (skipped)" "$T/run2" && grep -q "merge .*complete (skipped)" "$T/run2" && ok || bad "second run: $(cat "$T/run2")"
diff -r "$T/scores1" "$T/out/scores" >/dev/null && ok || bad "the second run changed the scores"
[ "$(grep -c 'complete (skipped)' "$T/run2")" -eq 16 ] && ok || bad "second run: every analysis step should be complete: $(cat "$T/run2")"
# an interrupted generation resumes in place: its file is completed to the same bytes, and the
# steps downstream see the same inputs and stay complete
g=$(ls "$T/out/generations/base/model/"*en*)
cp "$g" "$T/gen_en"
head -n 7 "$T/gen_en" >"$g"
rm "$T/out/generations/base/.xgd-step"
"$XGD" run "$T/study.json" >"$T/run_resume" 2>&1 && grep -q "generate base .*done (interrupted: resumes)" "$T/run_resume" &&
  grep -q "score base .*complete (skipped)" "$T/run_resume" && cmp -s "$g" "$T/gen_en" && ok || bad "resume: $(cat "$T/run_resume")"
# a changed setting makes its step and the steps downstream stale; an interrupted step is redone
sed -i 's/"epochs": 3/"epochs": 4/' "$T/study.json"
rm "$T/out/retrieval/.xgd-step"
"$XGD" run "$T/study.json" --dry-run >"$T/dry2" 2>&1 && grep -q "probe .*would run (stale: the command changed)" "$T/dry2" &&
  grep -q "diversity dpo .*complete (skipped)" "$T/dry2" && grep -q "retrieval .*would run (interrupted)" "$T/dry2" && ok || bad "dry run after a change: $(cat "$T/dry2")"
"$XGD" run "$T/study.json" >"$T/run3" 2>&1 && grep -q "vectors .*done (stale: .*best-probe.npy changed)" "$T/run3" &&
  grep -q "activations .*done (stale: .*vectors.json changed)" "$T/run3" && grep -q "retrieval .*done (interrupted)" "$T/run3" && ok || bad "third run: $(cat "$T/run3")"
"$XGD" -q report "$T/out" >/dev/null && grep -q "| de |" "$T/out/report.md" && ok || bad "xgd report on the study output"
# a study without analyses: each is recorded as not configured, and the report says so in its section
/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
s = json.load(open(f"{t}/study.json"))
for k in ("diversity", "perplexity", "probe", "vectors", "activations", "retrieval"): s.pop(k)
s["output_dir"] = f"{t}/out2"
json.dump(s, open(f"{t}/study2.json", "w"))
PY
"$XGD" -q run "$T/study2.json" >"$T/run4" 2>&1 && [ "$(grep -c 'not configured' "$T/run4")" -eq 8 ] && ok || bad "study without analyses: $(cat "$T/run4")"
"$XGD" -q report "$T/out2" >/dev/null && grep -q 'Not run: step .perplexity base.: not configured (no "perplexity" in the study file)' "$T/out2/report.md" &&
  [ "$(grep -o 'id="[a-z-]*-missing"' "$T/out2/report.html" | sort -u | wc -l)" -eq 6 ] && ok || bad "report of a study without analyses: $(grep -o 'id="[a-z-]*-missing"' "$T/out2/report.html")"
finish study_run
