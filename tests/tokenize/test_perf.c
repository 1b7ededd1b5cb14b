/* Linear time on long input: 1 MB without spaces is one pre-token word for every tokenizer here
 * (GPT-2 and Llama-3 regexes put a run of letters in one piece, Llama-2 has no pre-tokenizer), so
 * a quadratic BPE merge or a backtracking regex would take minutes. Each encode must finish within
 * a generous bound (2 s; 30 s for 256 KB under sanitizers), and decode must give the text back. */
#include "test.h"
#include "tokenize/tokenizer.h"
#include "base/err.h"
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 1 MB of pseudo-random text without spaces: Latin letters, or mixed scripts and punctuation. */
static char *make_text(size_t n, int mixed) {
    static const char *parts[] = {"a", "b", "e", "r", "t", "\xD0\xB6", "\xD0\xBE", "\xE4\xB8\xAD", "\xE6\x96\x87",
                                  "7", "3", ".", "!", "\xE0\xA4\x95", "\xE0\xA4\xBE", "\xF0\x9F\x98\x81"};
    char *s = malloc(n + 8);
    size_t l = 0;
    uint32_t x = 12345;
    while (l < n) {
        x = x * 1103515245u + 12345u;
        const char *p = parts[(x >> 16) % (mixed ? 16 : 5)];
        size_t pl = strlen(p);
        if (l + pl > n) break;
        memcpy(s + l, p, pl); l += pl;
    }
    s[l] = 0;
    return s;
}

int main(void) {
    const char *shared = test_shared();
    if (!shared) return 77;
    const char *san = getenv("XGD_SANITIZED");
    int sanitized = san && (!strcmp(san, "1") || !strcmp(san, "ON") || !strcmp(san, "TRUE"));
#ifdef __SANITIZE_ADDRESS__
    sanitized = 1;
#endif
    /* under sanitizers (10x slower) a quarter of the text: linearity is still visible */
    double bound = sanitized ? 30.0 : 2.0;
    size_t size = sanitized ? 1 << 18 : 1 << 20;
    static const char *toks[] = {"tokenizers/gpt2", "tokenizers/llama3", "tokenizers/llama2/tokenizer.model"};
    for (int k = 0; k < 3; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/models/%s", shared, toks[k]);
        xgd_tokenizer *t = xgd_tokenizer_load(p);
        CHECK_MSG(t != NULL, "%s", xgd_errmsg());
        if (!t) continue;
        for (int mixed = 0; mixed < 2; mixed++) {
            char *text = make_text(size, mixed);
            size_t len = strlen(text);
            xgd_encoding e = {0};
            double t0 = now();
            int r = xgd_encode(t, text, len, 0, &e);
            double dt = now() - t0;
            printf("%s, %s: %zu bytes -> %zu tokens in %.3f s\n", toks[k], mixed ? "mixed" : "latin", len, e.n, dt);
            CHECK(r == 0 && e.n > 0);
            CHECK_MSG(dt < bound, "%s took %.2f s (bound %.0f s)", toks[k], dt, bound);
            char *d = xgd_decode(t, e.ids, e.n, 0, 0);
            CHECK_MSG(strcmp(d, text) == 0, "%s: decode differs", toks[k]);
            free(d);
            xgd_encoding_free(&e);
            free(text);
        }
        xgd_tokenizer_free(t);
    }
    return test_done("tokenize/perf");
}
