/* xgd tokenize: encode JSONL text to token ids, or decode ids to text, with a HF tokenizer.
 * One output line per input line, in order. Offsets (--offsets) are printed in characters, as
 * Python's tokenizers report them. */
#include "cli/args.h"
#include "base/err.h"
#include "base/json.h"
#include "tokenize/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *o_tok, *o_jsonl;
static int o_add_special, o_decode, o_skip_special, o_offsets, o_no_cleanup;

static const opt_spec g_opts[] = {
    {"tokenizer", OPT_STR, &o_tok, "PATH", "model folder, tokenizer.json, *.model, or vocab.json (merges.txt beside it)"},
    {"jsonl", OPT_STR, &o_jsonl, "FILE", "input: {\"text\": ...} lines (encode) or {\"ids\": [...]} lines (--decode); - for stdin"},
    {"add_special_tokens", OPT_FLAG, &o_add_special, NULL, "encode: add the post-processor's special tokens (BOS/EOS), as tok(text) does"},
    {"offsets", OPT_FLAG, &o_offsets, NULL, "encode: print {\"ids\": [...], \"offsets\": [[start, end], ...]} (char offsets)"},
    {"decode", OPT_FLAG, &o_decode, NULL, "decode ids to {\"text\": ...} lines instead of encoding"},
    {"skip_special_tokens", OPT_FLAG, &o_skip_special, NULL, "decode: drop special tokens"},
    {"no_cleanup", OPT_FLAG, &o_no_cleanup, NULL, "decode: no clean_up_tokenization_spaces (default: tokenizer_config.json's)"},
    {0},
};

static const cmd_spec g_spec = {
    "tokenize",
    "xgd tokenize --tokenizer PATH --jsonl IN.jsonl [--add-special-tokens] [--offsets] | --decode [--skip-special-tokens]",
    "Encode {\"text\": ...} lines to one JSON array of ids per line, or with --decode, {\"ids\": [...]} lines to\n"
    "{\"text\": ...} lines, with the semantics of transformers' fast tokenizers.",
    g_opts, 0, 0,
};

/* The ids as a JSON array ("[1,2,3]"), written without printf (the hot path of a big JSONL). */
static void put_ids(const int32_t *ids, size_t n) {
    char buf[16];
    putchar('[');
    for (size_t k = 0; k < n; k++) {
        uint32_t v = (uint32_t)ids[k];
        int l = 0;
        do { buf[l++] = (char)('0' + v % 10); v /= 10; } while (v);
        if (k) putchar(',');
        while (l) putchar(buf[--l]);
    }
    putchar(']');
}

static int encode_line(const xgd_tokenizer *t, json_t *j, const char *path, long line, xgd_encoding *e) {
    json_t *s = json_object_get(j, "text");
    if (!json_is_string(s)) return xgd_fail("%s:%ld: expected {\"text\": string}", path, line);
    const char *text = json_string_value(s);
    size_t len = json_string_length(s);
    if (xgd_encode(t, text, len, o_add_special, e)) return xgd_err_context("%s:%ld", path, line);
    if (!o_offsets) {
        put_ids(e->ids, e->n);
        putchar('\n');
        return 0;
    }
    /* byte -> char offsets via one prefix count over the text */
    size_t *cpos = malloc((len + 1) * sizeof *cpos);
    if (!cpos) return xgd_fail("out of memory");
    cpos[0] = 0;
    for (size_t i = 0; i < len; i++) cpos[i + 1] = cpos[i] + ((((unsigned char)text[i]) & 0xC0) != 0x80);
    fputs("{\"ids\":", stdout);
    put_ids(e->ids, e->n);
    fputs(",\"offsets\":[", stdout);
    for (size_t k = 0; k < e->n; k++) printf(k ? ",[%zu,%zu]" : "[%zu,%zu]", cpos[e->start[k]], cpos[e->end[k]]);
    fputs("]}\n", stdout);
    free(cpos);
    return 0;
}

static int decode_line(const xgd_tokenizer *t, json_t *j, const char *path, long line) {
    json_t *a = json_object_get(j, "ids");
    if (!json_is_array(a)) return xgd_fail("%s:%ld: expected {\"ids\": [int, ...]}", path, line);
    size_t n = json_array_size(a);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids) return xgd_fail("out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *v = json_array_get(a, k);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            free(ids);
            return xgd_fail("%s:%ld: ids[%zu] is not a non-negative integer", path, line, k);
        }
        ids[k] = (int32_t)json_integer_value(v);
    }
    size_t tl;
    char *text = xgd_decode_len(t, ids, n, o_skip_special, o_no_cleanup ? 0 : -1, &tl);
    free(ids);
    json_t *out = json_object();
    json_object_set_new(out, "text", json_stringn(text, tl));
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    free(text);
    if (!s) return xgd_fail("%s:%ld: cannot write the decoded text as JSON", path, line);
    puts(s);
    free(s);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *pos[1];
    int npos, r = args_parse(&g_spec, argc, argv, pos, &npos);
    if (r) return r > 0 ? 0 : 2;
    if (args_require(&g_spec, "tokenizer", o_tok) || args_require(&g_spec, "jsonl", o_jsonl)) return 2;
    xgd_tokenizer *t = xgd_tokenizer_load(o_tok);
    if (!t) return cli_error();
    FILE *in = strcmp(o_jsonl, "-") == 0 ? stdin : fopen(o_jsonl, "r");
    if (!in) { xgd_tokenizer_free(t); xgd_fail("%s: cannot open", o_jsonl); return cli_error(); }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    long line = 0;
    int rc = 0;
    xgd_encoding e = {0};
    while ((got = getline(&buf, &cap, in)) >= 0) {
        line++;
        size_t n = (size_t)got;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        if (n == 0) continue;
        json_t *j = xgd_json_parse_line(buf, n, o_jsonl, line);
        if (!j) { rc = 1; break; }
        int bad = o_decode ? decode_line(t, j, o_jsonl, line) : encode_line(t, j, o_jsonl, line, &e);
        json_decref(j);
        if (bad) { rc = 1; break; }
    }
    fflush(stdout);
    free(buf);
    xgd_encoding_free(&e);
    if (in != stdin) fclose(in);
    xgd_tokenizer_free(t);
    return rc ? cli_error() : 0;
}
