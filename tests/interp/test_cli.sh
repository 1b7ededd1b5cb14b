#!/usr/bin/env bash
# The four explanation commands end to end on a tiny GPT-2-shaped model with the real GPT-2
# tokenizer (vocab 50257, hidden 32): xgd probe on the Jigsaw sample (comment_text/toxic),
# xgd vectors with the activation filter on the English parallel prompts, xgd activations over
# the 17 languages (base vs another model, SVG bars), xgd retrieval over the 17 parallel files
# (16 pairs with en, 60 lines, every hidden state); --help documents the flags; bad input gives a one-line
# error naming the file (and line) and a non-zero exit.
. "$(dirname "$0")/../common/lib.sh"
need_shared data/jigsaw-sample/test_examples.csv data/parallel-prompts/dpo_toxicity_pairwise_en_200.jsonl \
  models/tokenizers/gpt2/vocab.json
JIG="$S/data/jigsaw-sample/test_examples.csv"
PAR="$S/data/parallel-prompts"
TOKD="$S/models/tokenizers/gpt2"
tmpdir interp_cli m m2
PY=/usr/bin/python3

cp "$TOKD/vocab.json" "$TOKD/merges.txt" "$T/m/"
cp "$TOKD/vocab.json" "$TOKD/merges.txt" "$T/m2/"
echo '{"vocab_size": 50257, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 512, "initializer_range": 0.2}' >"$T/cfg.json"
"$XGD" -q init --family gpt2 --config "$T/cfg.json" --out "$T/m" --seed 1 >/dev/null || { echo "FAIL: init"; exit 1; }
"$XGD" -q init --family gpt2 --config "$T/cfg.json" --out "$T/m2" --seed 2 >/dev/null || { echo "FAIL: init"; exit 1; }

# --help documents every command's flags
for c in probe vectors activations retrieval; do
  h=$("$XGD" $c --help 2>&1)
  case $c in
    probe) flags="--model --train_fp --val_fp --text_column --label_column --pooling --layer --epochs --batch_size --learning_rate --seed --output";;
    vectors) flags="--model --probe --topk --prompts --steps --project";;
    activations) flags="--model --compare --neurons --prompt_dir --langs --steps";;
    retrieval) flags="--model --lang1 --lang2 --aligned_text_dir";;
  esac
  for fl in $flags; do echo "$h" | grep -q -- "$fl" && ok || bad "$c --help lacks $fl"; done
done

# 1. probe on the Jigsaw sample (random 90/10 split)
"$XGD" -q probe --model "$T/m" --train_fp "$JIG" --text_column comment_text --label_column toxic --epochs 4 \
  --learning_rate 1e-3 --output "$T/probe" >"$T/probe.out" 2>"$T/probe.err" && ok || bad "probe: $(cat "$T/probe.err")"
$PY - "$T/probe" <<'PY' && ok || bad "probe outputs"
import json, sys, numpy as np
d = sys.argv[1]
log = [json.loads(l) for l in open(f"{d}/log.jsonl")]
assert [e["epoch"] for e in log] == [1, 2, 3, 4], log
for e in log:
    assert all(k in e for k in ("train_loss", "train_acc", "val_loss", "val_acc", "best")), e
w = np.load(f"{d}/best-probe.npy")
assert w.shape == (32,) and w.dtype == np.float32, w.shape
best = min(range(4), key=lambda i: log[i]["val_loss"])
assert log[best]["best"], log
assert np.array_equal(w, np.load(f"{d}/probe-ep{best + 1}.npy"))
s = json.load(open(f"{d}/summary.json"))
assert s["n_train"] == 90 and s["n_val"] == 11 and s["hidden_state"] == 2, s
PY
# with a validation file and --layer 0 --pooling last
"$XGD" -q probe --model "$T/m" --train_fp "$JIG" --val_fp "$JIG" --text_column comment_text --label_column toxic --epochs 2 \
  --layer 0 --pooling last --output "$T/probe2" >/dev/null 2>&1 && ok || bad "probe with --val_fp"
grep -q '"n_val": 101' "$T/probe2/summary.json" && ok || bad "probe --val_fp: n_val"

# --feature_cache: the second run reuses the features (the model does not run) and trains the same
for i in 1 2; do
  "$XGD" probe --model "$T/m" --train_fp "$JIG" --text_column comment_text --label_column toxic --epochs 2 \
    --feature_cache "$T/fc.npy" --output "$T/pc$i" >/dev/null 2>"$T/pc$i.err" || bad "probe --feature_cache run $i"
done
grep -q "features from" "$T/pc2.err" && ok || bad "feature cache not reused: $(cat "$T/pc2.err")"
cmp -s "$T/pc1/log.jsonl" "$T/pc2/log.jsonl" && cmp -s "$T/pc1/best-probe.npy" "$T/pc2/best-probe.npy" && ok || bad "cached features trained differently"

# several label columns: 1 when any is 1 (quoted multi-line texts with commas too)
printf 'text,a,b\n"one, two",0,1\n"multi\nline ""q""",0,0\nthree,1,0\nfour,1,1\nfive,0,0\n' >"$T/multi.csv"
"$XGD" -q probe --model "$T/m" --train_fp "$T/multi.csv" --val_fp "$T/multi.csv" --label_column a,b --epochs 1 --output "$T/pm" >/dev/null 2>&1 && \
  grep -q '"n_positive": 6' "$T/pm/summary.json" && ok || bad "--label_column a,b: $(cat "$T/pm/summary.json" 2>/dev/null)"

# bad inputs: wrong column, a bad label, an unterminated quote
"$XGD" -q probe --model "$T/m" --train_fp "$JIG" --output "$T/x" 2>"$T/err" && bad "missing column accepted" || \
  { grep -q "no column 'text'" "$T/err" && ok || bad "missing column message: $(cat "$T/err")"; }
printf 'text,label\n"fine, really",1\nnot fine,2\n' >"$T/badlabel.csv"
"$XGD" -q probe --model "$T/m" --train_fp "$T/badlabel.csv" --output "$T/x" 2>"$T/err" && bad "label 2 accepted" || \
  { grep -q "badlabel.csv:3" "$T/err" && ok || bad "bad label message: $(cat "$T/err")"; }
printf 'text,label\n"open,1\n' >"$T/badquote.csv"
"$XGD" -q probe --model "$T/m" --train_fp "$T/badquote.csv" --output "$T/x" 2>"$T/err" && bad "unterminated quote accepted" || \
  { grep -q "badquote.csv:2: unterminated" "$T/err" && ok || bad "quote message: $(cat "$T/err")"; }
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "error is not one line"

# 2. vectors: the probe's top 20, filtered on 10 English prompts, projections decoded
"$XGD" -q vectors --model "$T/m" --probe "$T/probe/best-probe.npy" --topk 20 --prompts "$PAR/dpo_toxicity_pairwise_en_200.jsonl" \
  --max_prompts 10 --steps 5 --project 8 --output "$T/vec" >"$T/vec.out" 2>"$T/err" && ok || bad "vectors: $(cat "$T/err")"
"$XGD" -q vectors --model "$T/m" --probe "$T/probe/best-probe.npy" --topk 20 --project 8 --output "$T/vec_all" >/dev/null 2>&1 && ok || bad "vectors unfiltered"
$PY - "$T/vec" "$T/vec_all" <<'PY' && ok || bad "vectors outputs"
import json, sys
v = json.load(open(f"{sys.argv[1]}/vectors.json"))
a = json.load(open(f"{sys.argv[2]}/vectors.json"))
assert len(v["vectors"]) == 20 and v["steps"] == 5
cos = [e["cos"] for e in v["vectors"]]
assert cos == sorted(cos, reverse=True)
assert [(e["layer"], e["neuron"]) for e in v["vectors"]] == [(e["layer"], e["neuron"]) for e in a["vectors"]]
kept = [(e["layer"], e["neuron"]) for e in v["vectors"] if e["mean_act"] > 0]
assert kept == [(e["layer"], e["neuron"]) for e in v["kept"]]
for e in v["vectors"]:
    assert e["kept"] == (e["mean_act"] > 0) and (("top_tokens" in e) == e["kept"])
for e in a["vectors"]:
    assert len(e["top_tokens"]) == 8 and all(isinstance(t["text"], str) for t in e["top_tokens"])
PY
grep -q "kept .* of 20" "$T/vec.out" && ok || bad "vectors table"

# 3. activations over the 17 languages, base vs another model
LANGS=ar,cs,de,en,es,fr,hi,id,it,ja,ko,nl,pl,pt,ru,sv,zh
"$XGD" -q activations --model "$T/m" --compare "$T/m2" --neurons "$T/vec_all/vectors.json" --prompt_dir "$PAR" --langs $LANGS \
  --max_prompts 4 --steps 3 --output "$T/act" >"$T/act.out" 2>"$T/err" && ok || bad "activations: $(cat "$T/err")"
$PY - "$T/act" <<'PY' && ok || bad "activations outputs"
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
j = json.load(open(f"{d}/activations.json"))
langs = "ar cs de en es fr hi id it ja ko nl pl pt ru sv zh".split()
assert list(j["per_language"]) == langs and len(j["neurons"]) == 20
for l in langs:
    for k in ("base", "compare"):
        per = j["per_neuron"][l][k]
        assert len(per) == 20 and abs(sum(per) / 20 - j["per_language"][l][k]) < 1e-9
root = ET.parse(f"{d}/activations.svg").getroot()
rects = [e for e in root.iter() if e.tag.endswith("rect")]
assert len(rects) >= 1 + 2 + 2 * 17, len(rects)
PY
# --intervene: +5 on the first neuron shifts its recorded mean by 5 (one step: the prompt pass only), the others in
# its layer and below stay the same
read -r L0 N0 < <($PY -c "import json,sys; v=json.load(open(sys.argv[1]))['vectors'][0]; print(v['layer'], v['neuron'])" "$T/vec_all/vectors.json")
for off in 0 5; do
  "$XGD" -q activations --model "$T/m" --neurons "$T/vec_all/vectors.json" --prompt_dir "$PAR" --langs en,de --max_prompts 6 --steps 1 \
    --intervene "layer.$L0.mlp.post_act[$N0]+=$off" --output "$T/iv$off" >/dev/null 2>"$T/err" || bad "activations --intervene: $(cat "$T/err")"
done
"$XGD" -q activations --model "$T/m" --neurons "$T/vec_all/vectors.json" --prompt_dir "$PAR" --langs en,de --max_prompts 6 --steps 1 \
  --output "$T/iv" >/dev/null 2>&1 || bad "activations without --intervene"
$PY - "$T" "$L0" <<'PY' && ok || bad "activations --intervene values"
import json, sys
t, L0 = sys.argv[1], int(sys.argv[2])
a, z, f = (json.load(open(f"{t}/{d}/activations.json")) for d in ("iv", "iv0", "iv5"))
for lang in ("en", "de"):
    base, zero, five = (x["per_neuron"][lang]["base"] for x in (a, z, f))
    assert base == zero, "offset 0 changed the values"
    assert abs(five[0] - base[0] - 5) < 1e-5, (five[0], base[0])
    for k, n in enumerate(a["neurons"]):
        if k and n["layer"] <= L0 and n != a["neurons"][0]:
            assert five[k] == base[k], (k, n, five[k], base[k])
PY
"$XGD" -q activations --model "$T/m" --neurons "$T/vec_all/vectors.json" --prompt_dir "$PAR" --langs en,xx 2>"$T/err" >/dev/null && \
  bad "missing language accepted" || { grep -q "no prompt file for language 'xx'" "$T/err" && ok || bad "missing language message: $(cat "$T/err")"; }
echo '[{"layer": 2, "neuron": 0}]' >"$T/badn.json"
"$XGD" -q activations --model "$T/m" --neurons "$T/badn.json" --prompt_dir "$PAR" --langs en 2>"$T/err" >/dev/null && \
  bad "neuron outside the model accepted" || { grep -q "outside" "$T/err" && ok || bad "bad neuron message: $(cat "$T/err")"; }

# the README's intervention example shape: a group of neurons, offsets 0 and 5, greedy, 10 new tokens
echo '{"prompt": "I want to"}' >"$T/iwant.jsonl"
for off in none 0 5; do
  iv=(); [ $off = none ] || iv=(--intervene "layer.1.mlp.post_act[5]+=$off,layer.0.mlp.post_act[7]+=$off,layer.1.mlp.post_act[100]+=$off")
  "$XGD" -q generate --prompt_file "$T/iwant.jsonl" --model "$T/m" --N 1 --temperature 0 --max_tokens 10 --output_dir "$T/gen$off" \
    "${iv[@]}" >/dev/null 2>"$T/err" || bad "generate --intervene $off: $(cat "$T/err")"
done
cmp -s "$T/gennone/m/output-iwant.json" "$T/gen0/m/output-iwant.json" && ok || bad "offset 0 changed the greedy text"

# 4. retrieval: en against the 16 others, the first 60 aligned lines, every hidden state
"$XGD" -q retrieval --model "$T/m" --lang1 en --lang2 ${LANGS/en,/} --aligned_text_dir "$PAR" --max_sentences 60 --output "$T/ret" \
  >"$T/ret.out" 2>"$T/err" && ok || bad "retrieval: $(cat "$T/err")"
$PY - "$T/ret" <<'PY' && ok || bad "retrieval outputs"
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
j = json.load(open(f"{d}/retrieval.json"))
assert j["sentences"] == 60 and len(j["languages"]) == 16, (j["sentences"], list(j["languages"]))
for l, r in j["languages"].items():
    for k in ("paired_cos_mean", "retrieval_acc", "retrieval_acc_reverse"):
        assert len(r[k]) == 3, (l, k)
    assert all(0 <= a <= 1 for a in r["retrieval_acc"] + r["retrieval_acc_reverse"])
    assert all(-1 <= c <= 1 for c in r["paired_cos_mean"])
for f in ("retrieval.svg", "retrieval_cos.svg"):
    root = ET.parse(f"{d}/{f}").getroot()
    assert sum(1 for e in root.iter() if e.tag.endswith("polyline")) == 16
PY
"$XGD" -q retrieval --model "$T/m" --lang2 xx --aligned_text_dir "$PAR" 2>"$T/err" >/dev/null && bad "missing file accepted" || \
  { grep -q "dpo_toxicity_pairwise_xx_200.jsonl" "$T/err" && ok || bad "missing file message: $(cat "$T/err")"; }

finish "interp cli"
