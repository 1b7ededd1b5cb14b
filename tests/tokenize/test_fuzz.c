/* A standalone random-mutation fuzz driver (fixed seed, a few seconds) over the tokenizer.json
 * and .model loaders and encode/decode; it runs as a normal test, and under ASan/UBSan in the
 * sanitizer build. The same body is a libFuzzer target (fuzz_tokenizer.c, test_libfuzzer.sh).
 * Seeds: the tokenizer.json texts and tiny SentencePiece models of fuzz_body.h, and the shared
 * Llama-2 tokenizer.model when present. Passing = no crash, sanitizer report or leak. */
#include "test.h"
#include "fuzz_body.h"
#include "base/err.h"
#include "base/fs.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void) { g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17; return (uint32_t)(g_rng >> 16); }

/* Mutate buf (len n, capacity cap) in place: byte flips, interesting bytes, insertions, deletions,
 * duplicated chunks, truncation. Returns the new length. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap) {
    static const uint8_t interesting[] = {0, 0xFF, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, '"', '\\', '{', '[', ']', '}', ',', ':', '-', '1', ' '};
    int ops = 1 + (int)(rnd() % 6);
    for (int k = 0; k < ops && n > 1; k++) {
        size_t i = 1 + rnd() % (n - 1);
        switch (rnd() % 6) {
        case 0: buf[i] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: buf[i] = interesting[rnd() % sizeof interesting]; break;
        case 2: if (n < cap) { memmove(buf + i + 1, buf + i, n - i); buf[i] = (uint8_t)rnd(); n++; } break;
        case 3: memmove(buf + i, buf + i + 1, n - i - 1); n--; break;
        case 4: { size_t j = 1 + rnd() % (n - 1), l = 1 + rnd() % 16;
                  if (j + l <= n && n + l <= cap) { memmove(buf + i + l, buf + i, n - i); memmove(buf + i, buf + j + (j >= i ? l : 0), l); n += l; } break; }
        case 5: if (rnd() % 4 == 0) n = i; break;
        }
    }
    return n;
}

static int g_scale = 1; /* XGD_FUZZ_SCALE=N runs N times longer (and with another RNG seed) */

static void run_seed(const uint8_t *seed, size_t n, int iters) {
    iters *= g_scale;
    size_t cap = n + 4096;
    uint8_t *buf = malloc(cap);
    fuzz_one(seed, n); /* the seed itself must work */
    for (int it = 0; it < iters; it++) {
        memcpy(buf, seed, n);
        size_t m = mutate(buf, n, cap);
        fuzz_one(buf, m);
    }
    free(buf);
}

int main(void) {
    const char *san = getenv("XGD_SANITIZED");
    int heavy = !(san && strcmp(san, "1") == 0);
    if (getenv("XGD_FUZZ_SCALE")) { g_scale = atoi(getenv("XGD_FUZZ_SCALE")); g_rng += (uint64_t)g_scale; }
    if (g_scale < 1) g_scale = 1;
    uint8_t buf[4096];
    for (size_t k = 0; k < sizeof fuzz_json_seeds / sizeof fuzz_json_seeds[0]; k++) {
        size_t n = strlen(fuzz_json_seeds[k]);
        buf[0] = 0; memcpy(buf + 1, fuzz_json_seeds[k], n);
        run_seed(buf, n + 1, 1500);
        buf[0] = 2;
        run_seed(buf, n + 1, 300); /* the seed's bytes as text to encode */
    }
    for (int mt = 1; mt <= 2; mt++) {
        buf[0] = 1;
        size_t n = fuzz_spm_seed(buf + 1, mt);
        xgd_tokenizer *t = tk_tokenizer_from_memory(1, buf + 1, n);
        CHECK_MSG(t != NULL, "tiny spm seed (model_type %d): %s", mt, xgd_errmsg());
        if (t) {
            xgd_encoding e = {0};
            CHECK(xgd_encode(t, "ab a", 4, 0, &e) == 0 && e.n > 0);
            xgd_encoding_free(&e);
            xgd_tokenizer_free(t);
        }
        run_seed(buf, n + 1, 2000);
    }
    const char *shared = getenv("XGD_SHARED");
    if (shared) {
        char p[4096]; char *data; size_t len;
        snprintf(p, sizeof p, "%s/models/tokenizers/llama2/tokenizer.model", shared);
        if (xgd_is_file(p) && xgd_read_file(p, &data, &len) == 0) {
            uint8_t *seed = malloc(len + 1);
            seed[0] = 1; memcpy(seed + 1, data, len);
            run_seed(seed, len + 1, heavy ? 12 : 4);
            free(seed); free(data);
        }
    }
    CHECK(1);
    return test_done("tokenize/fuzz");
}
