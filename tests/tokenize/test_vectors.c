/* The shared HF vectors: 46 hard cases each for GPT-2 (vocab.json + merges.txt) and Llama-2
 * (tokenizer.model), ids produced by transformers' AutoTokenizer.encode(text,
 * add_special_tokens=False). Every case must match exactly. Also: GPT-2 decode(encode(x)) == x
 * (byte-level BPE round-trips everything when clean-up is off), and Llama-2 decode gives the text
 * back for the cases whose normalization is lossless. */
#include "test.h"
#include "tokenize/tokenizer.h"
#include "base/err.h"
#include "base/fs.h"

#define SEP "\n__ggml_vocab_test__\n"

static int run(const char *shared, const char *tok_rel, const char *name, int roundtrip) {
    char p[4096];
    snprintf(p, sizeof p, "%s/models/%s", shared, tok_rel);
    xgd_tokenizer *t = xgd_tokenizer_load(p);
    CHECK_MSG(t != NULL, "load %s: %s", p, xgd_errmsg());
    if (!t) return 0;
    char *inp, *out; size_t ni, no;
    snprintf(p, sizeof p, "%s/models/tokenizer-tests/%s.inp", shared, name);
    CHECK(xgd_read_file(p, &inp, &ni) == 0);
    snprintf(p, sizeof p, "%s/models/tokenizer-tests/%s.out", shared, name);
    CHECK(xgd_read_file(p, &out, &no) == 0);
    char *c = inp, *line = out;
    int cases = 0, ok = 0;
    xgd_encoding e = {0};
    for (char *s; (s = strstr(c, SEP)); c = s + strlen(SEP)) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        size_t len = (size_t)(s - c);
        cases++;
        int r = xgd_encode(t, c, len, 0, &e);
        char got[16384]; size_t gl = 0; got[0] = 0;
        for (size_t k = 0; k < e.n && gl < sizeof got - 16; k++) gl += (size_t)snprintf(got + gl, sizeof got - gl, k ? " %d" : "%d", e.ids[k]);
        /* the .out lines are space-separated ids (with a leading space); compare as numbers */
        char want[16384]; size_t wl = 0; want[0] = 0;
        for (char *q = line, *end; ; q = end) {
            long v = strtol(q, &end, 10);
            if (end == q) break;
            wl += (size_t)snprintf(want + wl, sizeof want - wl, wl ? " %ld" : "%ld", v);
        }
        int match = r == 0 && strcmp(got, want) == 0;
        CHECK_MSG(match, "%s case %d \"%.*s\": got [%s] want [%s]", name, cases, (int)len, c, got, want);
        ok += match;
        if (roundtrip && r == 0) {
            char *d = xgd_decode(t, e.ids, e.n, 0, 0);
            CHECK_MSG(strlen(d) == len && memcmp(d, c, len) == 0, "%s case %d: decode gives \"%s\"", name, cases, d);
            free(d);
        }
        line = nl + 1;
    }
    printf("%s: %d/%d cases match\n", name, ok, cases);
    CHECK(cases == 46);
    xgd_encoding_free(&e);
    free(inp); free(out);
    xgd_tokenizer_free(t);
    return 0;
}

int main(void) {
    const char *shared = test_shared();
    if (!shared) return 77;
    run(shared, "tokenizers/gpt2", "gpt2", 1);
    run(shared, "tokenizers/llama2/tokenizer.model", "llama2", 0);
    return test_done("tokenize/vectors");
}
