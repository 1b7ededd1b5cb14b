#include "generate/detok.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

/* vLLM's INITIAL_INCREMENTAL_DETOKENIZATION_OFFSET: the context is the last offset+2 prompt ids,
 * the first prefix read offset is offset tokens before the end of that context. */
#define DETOK_OFFSET 5

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Byte offset of character index ci in s. */
static size_t utf8_byte_at(const char *s, size_t ci) {
    size_t b = 0, c = 0;
    while (s[b] && c < ci) { b++; while (((unsigned char)s[b] & 0xC0) == 0x80) b++; c++; }
    return b;
}

static int ends_with_replacement(const char *s) {
    size_t n = strlen(s);
    return n >= 3 && (unsigned char)s[n - 3] == 0xEF && (unsigned char)s[n - 2] == 0xBF && (unsigned char)s[n - 1] == 0xBD;
}

char *xgd_detok_vllm(const xgd_tokenizer *t, const int32_t *prompt, int n_prompt, const int32_t *gen, int n_gen) {
    int32_t *toks = xgd_malloc(sizeof(int32_t) * (size_t)(DETOK_OFFSET + 2 + n_gen + 1));
    int nt = 0;
    for (int i = n_prompt - (DETOK_OFFSET + 2) < 0 ? 0 : n_prompt - (DETOK_OFFSET + 2); i < n_prompt; i++)
        if (!xgd_is_special(t, prompt[i])) toks[nt++] = prompt[i];
    int read = nt, prefix = read - DETOK_OFFSET > 0 ? read - DETOK_OFFSET : 0;
    size_t cap = 64, len = 0;
    char *text = xgd_malloc(cap);
    text[0] = 0;
    for (int k = 0; k < n_gen; k++) {
        if (xgd_is_special(t, gen[k])) continue;
        toks[nt++] = gen[k];
        char *now = xgd_decode(t, toks + prefix, (size_t)(nt - prefix), 1, 0);
        char *before = xgd_decode(t, toks + prefix, (size_t)(read - prefix), 1, 0);
        if (!now || !before) { free(now); free(before); free(text); free(toks); return NULL; }
        size_t cn = utf8_chars(now), cb = utf8_chars(before);
        if (cn > cb && !ends_with_replacement(now)) {
            const char *piece = now + utf8_byte_at(now, cb);
            size_t pl = strlen(piece);
            if (len + pl + 1 > cap) text = xgd_realloc(text, cap = 2 * (len + pl + 1));
            memcpy(text + len, piece, pl + 1);
            len += pl;
            prefix = read;
            read = nt;
        }
        free(now);
        free(before);
    }
    free(toks);
    return text;
}
