#!/usr/bin/env bash
# xgd dpo --use_lora on a tiny bf16 base in both bf16 math modes (`xgd --bf16-math`): fast (the
# default where the CPU has AMX-BF16: activations rounded to bf16, products on AMX tiles or
# vdpbf16ps) and exact (f32 math on the widened weights). Both runs train (eval loss falls); their logged training losses agree within a bf16
# tolerance, |fast - exact| <= 0.02 + 0.02 |exact| (bf16 keeps 8 significant bits, 2^-9 relative
# per rounding; a few roundings per layer on a 2-layer model, and the log-prob sums that enter
# the loss cancel most of it between policy and reference, both computed in the same mode); on a
# CPU with bf16 dot products the two runs must differ (the mode is really switched); a mode other
# than fast|exact is refused.
. "$(dirname "$0")/../common/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
tmpdir train_dpo_bf16_math model data

tiny_gpt2 "$T/model" 64 0.1 bf16
/usr/bin/python3 "$here/tools/tiny_pairs.py" --seed 1 --rows 120 "$T/data/pairs.jsonl"
run() { "$XGD" -q --bf16-math "$1" dpo --data_dir "$T/data" --model_name_or_path "$T/model" --max_steps 30 --learning_rate 3e-3 \
        --warmup_steps 2 --eval_steps 10 --save_steps 100 --logging_steps 5 --max_length 32 --max_prompt_length 8 \
        --seed 3 --use_lora --lora_r 8 --lora_alpha 16 --output_dir "$T/$1"; }

run fast >/dev/null 2>"$T/fast.err" || bad "fast run failed: $(cat "$T/fast.err")"
run exact >/dev/null 2>"$T/exact.err" || bad "exact run failed: $(cat "$T/exact.err")"
bf16hw=0
grep -qE '(^| )(amx_bf16|avx512_bf16)( |$)' /proc/cpuinfo && bf16hw=1
/usr/bin/python3 - "$T/fast/log.jsonl" "$T/exact/log.jsonl" "$bf16hw" <<'PY' && ok || bad "fast and exact losses disagree (or the mode did not change)"
import json, sys
def rows(p):
    return [json.loads(l) for l in open(p)]
fast, exact = rows(sys.argv[1]), rows(sys.argv[2])
tf = [r["loss"] for r in fast if "learning_rate" in r]
te = [r["loss"] for r in exact if "learning_rate" in r]
assert len(tf) == len(te) >= 5, (len(tf), len(te))
for a, b in zip(tf, te):
    assert abs(a - b) <= 0.02 + 0.02 * abs(b), (a, b)
ev = [r["eval_loss"] for r in fast if "eval_loss" in r]
assert ev[-1] < ev[0], ev                           # the fast run trains
lf = [r["logps/chosen"] for r in fast if "learning_rate" in r]
le = [r["logps/chosen"] for r in exact if "learning_rate" in r]
if sys.argv[3] == "1":
    assert lf != le, "identical logps: fast mode did not change the products"
print("max |loss fast - exact|:", max(abs(a - b) for a, b in zip(tf, te)))
PY
"$XGD" -q --bf16-math half dpo --data_dir "$T/data" --model_name_or_path "$T/model" --output_dir "$T/x" --use_lora \
  >/dev/null 2>"$T/bad.err"
[ $? -eq 2 ] && grep -q "bf16-math" "$T/bad.err" && ok || bad "--bf16-math half was not refused: $(cat "$T/bad.err")"

finish train_dpo_bf16_math
