#!/usr/bin/env bash
# examples/study.json (the paper's mGPT study) on the shared third-party data: it parses, --dry-run
# lists every step with the exact xgd command it would run (the 17 RTP-LX languages, the parallel
# prompts for activations and retrieval, the Jigsaw sample for the probe) and writes nothing.
. "$(dirname "$0")/../common/lib.sh"
need_shared data/rtp-lx data/parallel-prompts
here=$(cd "$(dirname "$0")" && pwd)
tmpdir study_example
/usr/bin/python3 - "$here/../../examples/study.json" "$S/data" "$T" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); d = sys.argv[2]; t = sys.argv[3]
s["output_dir"] = f"{t}/out"
s["dpo"]["data_dir"] = f"{d}/parallel-prompts"
s["prompts"]["path"] = f"{d}/rtp-lx"
s["probe"]["train_fp"] = f"{d}/jigsaw-sample/test_examples.csv"
s["activations"]["prompt_dir"] = s["retrieval"]["aligned_text_dir"] = f"{d}/parallel-prompts"
json.dump(s, open(f"{t}/study.json", "w"))
PY
"$XGD" run "$T/study.json" --dry-run >"$T/dry" 2>&1 && ok || bad "dry run failed: $(tail -3 "$T/dry")"
[ "$(grep -c 'would run' "$T/dry")" -eq 15 ] && ok || bad "expected 15 steps to run (full DPO: no merge): $(grep -v '^    ' "$T/dry")"
[ ! -e "$T/out" ] && ok || bad "the dry run wrote files"
grep -q "^    xgd generate --prompt_file $S/data/rtp-lx/RTP_LX_AR.json,.*RTP_LX_ZH-Hans.json --model ai-forever/mGPT .*--N 25 --max_tokens 20 --temperature 0.9 --top_p 0.8 --seed 0$" "$T/dry" && ok || bad "generate command"
[ "$(grep -o 'xgd score --backend classifier' "$T/dry" | wc -l)" -eq 2 ] && ok || bad "one score command per model over its 17 generation files (2)"
grep -q "^    xgd vectors .*--prompts $S/data/rtp-lx/RTP_LX_EN.json " "$T/dry" && ok || bad "the vectors' kept filter should use English RTP-LX"
grep -q "^    xgd activations .*--langs ar,cs,de,en,es,fr,hi,id,it,ja,ko,nl,pl,pt,ru,sv,zh --steps 20 " "$T/dry" && ok || bad "activations command"
grep -q "^    xgd metrics perplexity .*--eval_model_id google/mt5-xl " "$T/dry" && ok || bad "perplexity command"
grep -q -- "--max_grad_norm 10 " "$T/dry" && ok || bad "numbers as flags"
finish study_example
