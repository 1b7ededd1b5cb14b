/* Decoders (tokenizers' decoders/): each rewrites the list of token strings; the final text is
 * their concatenation. Strings in the list are owned (malloc'ed). */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

typedef struct { char *s; size_t n, cap; } sbuf;
static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 32;
        while (c < b->n + n + 1) c *= 2;
        b->s = xgd_realloc(b->s, c); b->cap = c;
    }
    memcpy(b->s + b->n, s, n); b->n += n; b->s[b->n] = 0;
}
static char *sb_take(sbuf *b) { if (!b->s) sb_put(b, "", 0); return b->s; }

/* Token strings are C strings, so a decoded NUL byte travels through the decoder chain as the
 * overlong pair C0 80 (no valid token string contains it) and xgd_decode_len turns it back. */
#define NUL_MARK "\xC0\x80"

/* Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD. */
static void put_lossy(sbuf *b, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if (s[i] == 0) { sb_put(b, NUL_MARK, 2); i++; continue; }
        int32_t c;
        int l = tk_utf8_next((const char *)s, n, i, &c);
        if (l > 0) { sb_put(b, (const char *)s + i, (size_t)l); i += (size_t)l; continue; }
        uint8_t b0 = s[i];
        int width = b0 >= 0xC2 && b0 <= 0xDF ? 2 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : 1;
        size_t k = 1;
        if (width > 1 && i + 1 < n) {
            uint8_t lo = 0x80, hi = 0xBF, b1 = s[i + 1];
            if (b0 == 0xE0) lo = 0xA0; else if (b0 == 0xED) hi = 0x9F;
            else if (b0 == 0xF0) lo = 0x90; else if (b0 == 0xF4) hi = 0x8F;
            if (b1 >= lo && b1 <= hi) {
                k = 2;
                while ((int)k < width && i + k < n && (s[i + k] & 0xC0) == 0x80) k++;
            }
        }
        sb_put(b, "\xEF\xBF\xBD", 3);
        i += k;
    }
}

/* transformers' clean_up_tokenization (and the WordPiece decoder's, which also has "do not"). */
char *tk_cleanup(const char *s, int wordpiece);
char *tk_cleanup(const char *s, int wordpiece) {
    static const char *from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
    static const char *to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    char *cur = xgd_strdup(s);
    for (int k = 0; k < 11; k++) {
        if (k == 7 && !wordpiece) continue;
        size_t fl = strlen(from[k]);
        sbuf b = {0};
        const char *p = cur, *f;
        while ((f = strstr(p, from[k]))) { sb_put(&b, p, (size_t)(f - p)); sb_put(&b, to[k], strlen(to[k])); p = f + fl; }
        sb_put(&b, p, strlen(p));
        free(cur);
        cur = sb_take(&b);
    }
    return cur;
}

static void set_list(char ***toks, size_t *n, char **nv, size_t nn) {
    for (size_t k = 0; k < *n; k++) free((*toks)[k]);
    free(*toks);
    *toks = nv; *n = nn;
}

static int32_t first_cp(const char *s) { int32_t c; return tk_utf8_next(s, strlen(s), 0, &c) > 0 ? c : -1; }

static void dec_one(const tk_dec *d, char ***toks_p, size_t *n) {
    char **toks = *toks_p;
    switch (d->kind) {
    case D_BYTELEVEL: {
        sbuf raw = {0};
        for (size_t k = 0; k < *n; k++) {
            const char *t = toks[k];
            size_t tl = strlen(t), start = raw.n;
            int ok = 1;
            for (size_t i = 0; i < tl && ok;) {
                int32_t c;
                int l = tk_utf8_next(t, tl, i, &c);
                int b = l > 0 ? tk_char_byte(c) : -1;
                if (b < 0) ok = 0;
                else { char ch = (char)b; sb_put(&raw, &ch, 1); i += (size_t)l; }
            }
            if (!ok) { raw.n = start; sb_put(&raw, t, tl); }
        }
        sbuf out = {0};
        put_lossy(&out, (const uint8_t *)raw.s, raw.n);
        free(raw.s);
        char **nv = xgd_malloc(sizeof *nv);
        nv[0] = sb_take(&out);
        set_list(toks_p, n, nv, 1);
        return;
    }
    case D_METASPACE: {
        size_t rl = strlen(d->repl);
        for (size_t k = 0; k < *n; k++) {
            sbuf b = {0};
            const char *t = toks[k];
            for (const char *p = t; *p;) {
                if (rl && strncmp(p, d->repl, rl) == 0) {
                    if (!(k == 0 && d->prepend_scheme != PREPEND_NEVER)) sb_put(&b, " ", 1);
                    p += rl;
                } else { sb_put(&b, p, 1); p++; }
            }
            free(toks[k]); toks[k] = sb_take(&b);
        }
        return;
    }
    case D_BYTEFALLBACK: {
        char **nv = xgd_malloc((*n + 1) * sizeof *nv);
        size_t nn = 0;
        sbuf bytes = {0};
        size_t nbytes = 0;
        for (size_t k = 0; k <= *n; k++) {
            const char *t = k < *n ? toks[k] : NULL;
            int byte = -1;
            if (t && strlen(t) == 6 && strncmp(t, "<0x", 3) == 0 && t[5] == '>') {
                char hex[3] = {t[3], t[4], 0}, *end;
                long v = strtol(hex, &end, 16);
                if (*end == 0 && hex[0] != '-' && hex[0] != '+' && hex[0] != ' ') byte = (int)v;
            }
            if (byte >= 0) { char ch = (char)byte; sb_put(&bytes, &ch, 1); nbytes++; continue; }
            if (nbytes) {
                /* at most one output per input token, so nv never overflows */
                if (tk_utf8_invalid_at(bytes.s, bytes.n) < 0) {
                    sbuf v = {0};
                    put_lossy(&v, (const uint8_t *)bytes.s, bytes.n); /* valid: only marks NULs */
                    nv[nn++] = sb_take(&v);
                }
                else for (size_t q = 0; q < nbytes; q++) nv[nn++] = xgd_strdup("\xEF\xBF\xBD");
                bytes.n = 0; nbytes = 0;
            }
            if (t) nv[nn++] = xgd_strdup(t);
        }
        free(bytes.s);
        set_list(toks_p, n, nv, nn);
        return;
    }
    case D_FUSE: {
        sbuf b = {0};
        for (size_t k = 0; k < *n; k++) sb_put(&b, toks[k], strlen(toks[k]));
        char **nv = xgd_malloc(sizeof *nv);
        nv[0] = sb_take(&b);
        set_list(toks_p, n, nv, 1);
        return;
    }
    case D_STRIP: {
        int32_t content = first_cp(d->content);
        for (size_t k = 0; k < *n; k++) {
            const char *t = toks[k];
            size_t tl = strlen(t), nch = 0;
            int32_t *cps = xgd_malloc((tl + 1) * sizeof *cps);
            int *pos = xgd_malloc((tl + 2) * sizeof *pos);
            for (size_t i = 0; i < tl;) {
                int32_t c; int l = tk_utf8_next(t, tl, i, &c);
                if (l < 0) { l = 1; c = -1; }
                pos[nch] = (int)i; cps[nch++] = c; i += (size_t)l;
            }
            pos[nch] = (int)tl;
            size_t sc = 0, ec = 0;
            while ((int)sc < d->start && sc < nch && cps[sc] == content) sc++;
            while ((int)ec < d->stop && ec < nch && cps[nch - 1 - ec] == content) ec++;
            /* tokenizers takes len_bytes - cuts chars after the start cut (a quirk: with
             * multi-byte chars the stop cut has no effect). */
            size_t take = tl >= sc + ec ? tl - sc - ec : 0, endc = sc + take < nch ? sc + take : nch;
            char *nt = xgd_malloc(tl + 1);
            size_t nl = (size_t)(pos[endc] - pos[sc]);
            memcpy(nt, t + pos[sc], nl); nt[nl] = 0;
            free(cps); free(pos); free(toks[k]); toks[k] = nt;
        }
        return;
    }
    case D_REPLACE:
        for (size_t k = 0; k < *n; k++) {
            sbuf b = {0};
            const char *t = toks[k];
            size_t tl = strlen(t), pos = 0, ms, me;
            while (pos < tl && tk_pattern_find(&d->pat, t, tl, pos, &ms, &me)) {
                sb_put(&b, t + pos, ms - pos); sb_put(&b, d->with, strlen(d->with)); pos = me;
            }
            sb_put(&b, t + pos, tl - pos);
            free(toks[k]); toks[k] = sb_take(&b);
        }
        return;
    case D_WORDPIECE:
        for (size_t k = 0; k < *n; k++) {
            sbuf b = {0};
            const char *t = toks[k];
            size_t pl = strlen(d->prefix);
            if (k > 0) {
                if (pl && strncmp(t, d->prefix, pl) == 0) sb_put(&b, t + pl, strlen(t + pl));
                else { sb_put(&b, " ", 1); sb_put(&b, t, strlen(t)); }
            } else sb_put(&b, t, strlen(t));
            char *s = sb_take(&b);
            if (d->cleanup) { char *c = tk_cleanup(s, 1); free(s); s = c; }
            free(toks[k]); toks[k] = s;
        }
        return;
    case D_BPE:
        for (size_t k = 0; k < *n; k++) {
            sbuf b = {0};
            const char *t = toks[k], *f, *rep = k + 1 == *n ? "" : " ";
            size_t sl = strlen(d->prefix);
            while (sl && (f = strstr(t, d->prefix))) { sb_put(&b, t, (size_t)(f - t)); sb_put(&b, rep, strlen(rep)); t = f + sl; }
            sb_put(&b, t, strlen(t));
            free(toks[k]); toks[k] = sb_take(&b);
        }
        return;
    case D_CTC: {
        /* dedup consecutive tokens, drop the pad token, the word delimiter becomes a space */
        char **nv = xgd_malloc((*n + 1) * sizeof *nv);
        size_t nn = 0;
        for (size_t k = 0; k < *n; k++) {
            if (k > 0 && strcmp(toks[k], toks[k - 1]) == 0) continue;
            if (strcmp(toks[k], d->content ? d->content : "<pad>") == 0) continue;
            if (strcmp(toks[k], d->with ? d->with : "|") == 0) nv[nn++] = xgd_strdup(" ");
            else if (d->cleanup) nv[nn++] = tk_cleanup(toks[k], 1);
            else nv[nn++] = xgd_strdup(toks[k]);
        }
        set_list(toks_p, n, nv, nn);
        return;
    }
    case D_SEQUENCE:
        for (int k = 0; k < d->nsub; k++) dec_one(&d->sub[k], toks_p, n);
        return;
    }
}

void tk_dec_run(const tk_dec *d, char ***toks, size_t *n) { dec_one(d, toks, n); }

void tk_dec_free(tk_dec *d) {
    if (!d) return;
    free(d->content); free(d->with); free(d->prefix);
    tk_pattern_free(&d->pat);
    for (int k = 0; k < d->nsub; k++) tk_dec_free(&d->sub[k]);
    free(d->sub);
}
