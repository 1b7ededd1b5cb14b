# xgd tokenize: encode/decode JSONL in order, --add-special-tokens, --offsets (char offsets),
# --skip-special-tokens, and errors that name file:line with a non-zero exit.
set -u
: "${XGD:?}" "${XGD_SHARED:?}"
T="${XGD_TMP:-/tmp}/tokenize_cli"
rm -rf "$T" && mkdir -p "$T"
L2="$XGD_SHARED/models/tokenizers/llama2/tokenizer.model"
G2="$XGD_SHARED/models/tokenizers/gpt2"
if [ ! -f "$L2" ] || [ ! -d "$G2" ]; then echo "skip: shared tokenizers absent"; exit 77; fi
fail=0
check() { # name got want
  if [ "$2" == "$3" ]; then echo "ok: $1"; else echo "FAIL: $1"; echo "  got:  $2"; echo "  want: $3"; fail=1; fi
}

printf '%s\n' '{"text": "Hello world"}' '{"text": ""}' '{"text": " Hello, world!"}' > "$T/in.jsonl"
check "gpt2 encode" "$("$XGD" tokenize --tokenizer "$G2" --jsonl "$T/in.jsonl")" \
'[15496,995]
[]
[18435,11,995,0]'
# Llama-2: BOS with --add-special-tokens (LlamaTokenizerFast's add_bos_token)
check "llama2 bos" "$("$XGD" tokenize --tokenizer "$L2" --jsonl "$T/in.jsonl" --add-special-tokens)" \
'[1,15043,3186]
[1]
[1,29871,15043,29892,3186,29991]'
# offsets in characters: "Ünï ab" -> tokens of the first word cover chars 0..3
printf '%s\n' '{"text": "a\u00fcb c"}' > "$T/off.jsonl"
check "gpt2 offsets" "$("$XGD" tokenize --tokenizer "$G2" --jsonl "$T/off.jsonl" --offsets)" \
'{"ids":[64,9116,65,269],"offsets":[[0,1],[1,2],[2,3],[3,5]]}'
# decode, with and without special tokens
printf '%s\n' '{"ids": [1, 15043, 3186, 2]}' '{"ids": []}' > "$T/ids.jsonl"
check "llama2 decode" "$("$XGD" tokenize --tokenizer "$L2" --decode --jsonl "$T/ids.jsonl")" \
'{"text":"<s> Hello world</s>"}
{"text":""}'
check "llama2 decode skip" "$("$XGD" tokenize --tokenizer "$L2" --decode --skip-special-tokens --jsonl "$T/ids.jsonl")" \
'{"text":"Hello world"}
{"text":""}'
# stdin
check "stdin" "$(echo '{"text": "Hi"}' | "$XGD" tokenize --tokenizer "$G2" --jsonl -)" '[17250]'

# errors: file:line named, non-zero exit
printf '%s\n' '{"text": "ok"}' '{"txt": "no text"}' > "$T/bad1.jsonl"
out=$("$XGD" tokenize --tokenizer "$G2" --jsonl "$T/bad1.jsonl" 2>&1); rc=$?
check "missing text field" "$rc $(echo "$out" | grep -c "bad1.jsonl:2")" "1 1"
printf '%s\n' '{"text": "ok"' > "$T/bad2.jsonl"
out=$("$XGD" tokenize --tokenizer "$G2" --jsonl "$T/bad2.jsonl" 2>&1); rc=$?
check "malformed JSON" "$rc $(echo "$out" | grep -c "bad2.jsonl:1")" "1 1"
printf '{"text": "a\xffb"}\n' > "$T/bad3.jsonl"
out=$("$XGD" tokenize --tokenizer "$G2" --jsonl "$T/bad3.jsonl" 2>&1); rc=$?
check "invalid UTF-8" "$rc $(echo "$out" | grep -c "bad3.jsonl:1")" "1 1"
printf '%s\n' '{"ids": [1, "x"]}' > "$T/bad4.jsonl"
out=$("$XGD" tokenize --tokenizer "$L2" --decode --jsonl "$T/bad4.jsonl" 2>&1); rc=$?
check "bad ids" "$rc $(echo "$out" | grep -c "bad4.jsonl:1")" "1 1"
out=$("$XGD" tokenize --tokenizer "$T/nothing" --jsonl "$T/in.jsonl" 2>&1); rc=$?
check "missing tokenizer" "$rc" "1"
out=$("$XGD" tokenize --jsonl "$T/in.jsonl" 2>&1); rc=$?
check "missing flag" "$rc" "2"
"$XGD" tokenize --help | grep -q -- "--skip_special_tokens" && echo "ok: help" || { echo "FAIL: help"; fail=1; }
exit $fail
