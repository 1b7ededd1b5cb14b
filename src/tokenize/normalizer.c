/* Normalizers (tokenizers' normalizers/). Each one rewrites a tk_nstr char by char; an output
 * char keeps the original span of the input char (or grapheme) it came from, so offsets still
 * point into the caller's text after normalization. */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Iterate the chars of x: body sees c (code point), i (byte index), l (byte length), a0/a1 (the
 * char's original span). Invalid bytes cannot reach a normalizer (encode validates first). */
#define FOR_CHARS(x, body) do { \
    for (size_t i = 0; i < (x)->n;) { \
        int32_t c; int l = tk_utf8_next((x)->s, (x)->n, i, &c); \
        if (l < 0) { l = 1; c = 0xFFFD; } \
        int32_t a0 = (x)->o0[i], a1 = (x)->o1[i + (size_t)l - 1]; (void)a0; (void)a1; \
        body \
        i += (size_t)l; \
    } } while (0)

static void push_cp(tk_nstr *y, int32_t c, int32_t a0, int32_t a1) {
    char b[4];
    tk_nstr_push(y, b, (size_t)tk_utf8_put(c, b), a0, a1);
}

/* Rust char::to_lowercase: utf8proc's simple mapping, plus the one unconditional multi-char
 * lowercase of SpecialCasing.txt (U+0130 -> "i" U+0307). */
static void push_lower(tk_nstr *y, int32_t c, int32_t a0, int32_t a1) {
    if (c == 0x130) { push_cp(y, 'i', a0, a1); push_cp(y, 0x307, a0, a1); return; }
    push_cp(y, c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : utf8proc_tolower(c), a0, a1);
}

/* End of the extended grapheme cluster that starts at byte i. */
static size_t grapheme_end(const tk_nstr *x, size_t i) {
    int32_t state = 0, prev, c;
    int l = tk_utf8_next(x->s, x->n, i, &prev);
    if (l < 0) return i + 1;
    size_t j = i + (size_t)l;
    while (j < x->n) {
        l = tk_utf8_next(x->s, x->n, j, &c);
        if (l < 0 || utf8proc_grapheme_break_stateful(prev, c, &state)) break;
        prev = c;
        j += (size_t)l;
    }
    return j;
}

/* NFC/NFD/NFKC/NFKD, one grapheme cluster at a time (composition never crosses a cluster
 * boundary), so that each output char can be aligned to the cluster it came from. */
static void unicode_norm(tk_norm_kind k, const tk_nstr *x, tk_nstr *y) {
    int opt = UTF8PROC_STABLE;
    opt |= (k == N_NFC || k == N_NFKC) ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    if (k == N_NFKC || k == N_NFKD) opt |= UTF8PROC_COMPAT;
    for (size_t i = 0; i < x->n;) {
        size_t j = grapheme_end(x, i);
        if (j == i + 1 && (uint8_t)x->s[i] < 0x80) { tk_nstr_push_range(y, x, i, j); i = j; continue; }
        utf8proc_uint8_t *r = NULL;
        utf8proc_ssize_t rn = utf8proc_map((const utf8proc_uint8_t *)x->s + i, (utf8proc_ssize_t)(j - i), &r, opt);
        if (rn < 0 || ((size_t)rn == j - i && memcmp(r, x->s + i, j - i) == 0)) tk_nstr_push_range(y, x, i, j);
        else tk_nstr_push(y, (const char *)r, (size_t)rn, x->o0[i], x->o1[j - 1]);
        free(r);
        i = j;
    }
}

static int nmt_drop(int32_t c) {
    return (c >= 1 && c <= 8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F;
}
static int nmt_space(int32_t c) {
    return c == 9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
           c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
}

/* The CJK ranges of BERT's _is_chinese_char. */
static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static void bert(const tk_norm *nm, const tk_nstr *x, tk_nstr *y) {
    tk_nstr a = {0}, b = {0};
    FOR_CHARS(x, {
        if (nm->clean && (c == 0 || c == 0xFFFD || tk_is_control(c))) { /* dropped */ }
        else if (nm->clean && tk_is_space(c)) push_cp(&a, ' ', a0, a1);
        else if (nm->chinese && is_cjk(c)) { push_cp(&a, ' ', a0, a1); push_cp(&a, c, a0, a1); push_cp(&a, ' ', a0, a1); }
        else tk_nstr_push_range(&a, x, i, i + (size_t)l);
    });
    if (nm->accents) {
        unicode_norm(N_NFD, &a, &b);
        tk_nstr_free(&a);
        FOR_CHARS(&b, { if (!tk_is_mn(c)) tk_nstr_push_range(&a, &b, i, i + (size_t)l); });
        tk_nstr_free(&b);
    }
    if (nm->lower) FOR_CHARS(&a, { push_lower(y, c, a0, a1); });
    else tk_nstr_push_range(y, &a, 0, a.n);
    tk_nstr_free(&a);
}

/* ---- Precompiled: SentencePiece's normalization charsmap (a Darts double array + a pool) ---- */
int tk_norm_precompiled_init(tk_norm *nm, const uint8_t *blob, size_t n) {
    nm->kind = N_PRECOMPILED;
    if (n < 4) return xgd_fail("precompiled_charsmap: %zu bytes, too short", n);
    uint32_t ts = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (ts % 4 || ts > n - 4 || ts == 0) return xgd_fail("precompiled_charsmap: bad trie size %u (blob %zu bytes)", ts, n);
    nm->charsmap = xgd_malloc(n);
    memcpy(nm->charsmap, blob, n);
    nm->charsmap_n = n;
    nm->trie_n = ts / 4;
    nm->trie = xgd_malloc(ts);
    for (size_t k = 0; k < nm->trie_n; k++) {
        const uint8_t *u = blob + 4 + 4 * k;
        nm->trie[k] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    nm->pool = (const char *)nm->charsmap + 4 + ts;
    nm->pool_n = n - 4 - ts;
    return 0;
}

static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* The replacement for the whole chunk, from the shortest matching prefix (spm_precompiled's
 * quirk: the chunk is replaced even when only a prefix matched); NULL when none. */
static const char *pc_transform(const tk_norm *nm, const char *s, size_t n, size_t *rn) {
    const uint32_t *a = nm->trie;
    size_t pos = u_offset(a[0]);
    for (size_t k = 0; k < n; k++) {
        uint8_t c = (uint8_t)s[k];
        if (c == 0) break;
        pos ^= c;
        if (pos >= nm->trie_n) return NULL;
        uint32_t u = a[pos];
        if ((u & (0x80000000u | 0xFF)) != c) return NULL;
        pos ^= u_offset(u);
        if (pos >= nm->trie_n) return NULL;
        if ((u >> 8) & 1) {
            size_t v = a[pos] & 0x7FFFFFFF, e = v;
            if (v >= nm->pool_n) return NULL;
            while (e < nm->pool_n && nm->pool[e]) e++;
            *rn = e - v;
            return nm->pool + v;
        }
    }
    return NULL;
}

static void precompiled(const tk_norm *nm, const tk_nstr *x, tk_nstr *y) {
    for (size_t i = 0; i < x->n;) {
        size_t j = grapheme_end(x, i), rn;
        const char *r;
        if (j - i < 6 && (r = pc_transform(nm, x->s + i, j - i, &rn))) {
            tk_nstr_push(y, r, rn, x->o0[i], x->o1[j - 1]);
            i = j;
            continue;
        }
        while (i < j) {
            size_t l = (size_t)tk_utf8_len((uint8_t)x->s[i]);
            if (i + l > j) l = j - i;
            if ((r = pc_transform(nm, x->s + i, l, &rn))) tk_nstr_push(y, r, rn, x->o0[i], x->o1[i + l - 1]);
            else tk_nstr_push_range(y, x, i, i + l);
            i += l;
        }
    }
}

static void run_one(const tk_norm *nm, const tk_nstr *x, tk_nstr *y) {
    switch (nm->kind) {
    case N_NFC: case N_NFD: case N_NFKC: case N_NFKD: unicode_norm(nm->kind, x, y); break;
    case N_LOWERCASE: FOR_CHARS(x, { push_lower(y, c, a0, a1); }); break;
    case N_STRIP: {
        size_t s = 0, e = x->n;
        if (nm->left) { s = x->n; FOR_CHARS(x, { if (!tk_is_space(c)) { s = i; break; } }); }
        if (nm->right) { e = 0; FOR_CHARS(x, { if (!tk_is_space(c)) e = i + (size_t)l; }); }
        tk_nstr_push_range(y, x, s, e > s ? e : s);
        break;
    }
    case N_STRIP_ACCENTS: FOR_CHARS(x, { if (!tk_is_mark(c)) tk_nstr_push_range(y, x, i, i + (size_t)l); }); break;
    case N_REPLACE: {
        size_t pos = 0, ms, me, cl = strlen(nm->content);
        while (pos < x->n && tk_pattern_find(&nm->pat, x->s, x->n, pos, &ms, &me)) {
            tk_nstr_push_range(y, x, pos, ms);
            tk_nstr_push(y, nm->content, cl, x->o0[ms], x->o1[me - 1]);
            pos = me;
        }
        tk_nstr_push_range(y, x, pos, x->n);
        break;
    }
    case N_PREPEND:
        if (x->n) tk_nstr_push(y, nm->content, strlen(nm->content), x->o0[0], x->o1[tk_utf8_len((uint8_t)x->s[0]) - 1]);
        tk_nstr_push_range(y, x, 0, x->n);
        break;
    case N_NMT:
        FOR_CHARS(x, {
            if (nmt_drop(c)) {}
            else if (nmt_space(c)) push_cp(y, ' ', a0, a1);
            else tk_nstr_push_range(y, x, i, i + (size_t)l);
        });
        break;
    case N_BERT: bert(nm, x, y); break;
    case N_PRECOMPILED: precompiled(nm, x, y); break;
    case N_SEQUENCE: break;
    }
}

void tk_norm_run(const tk_norm *nm, const tk_nstr *in, tk_nstr *out) {
    if (nm->kind != N_SEQUENCE) { run_one(nm, in, out); return; }
    tk_nstr cur = {0};
    tk_nstr_push_range(&cur, in, 0, in->n);
    for (int k = 0; k < nm->nsub; k++) {
        tk_nstr next = {0};
        tk_norm_run(&nm->sub[k], &cur, &next);
        tk_nstr_free(&cur);
        cur = next;
    }
    tk_nstr_push_range(out, &cur, 0, cur.n);
    tk_nstr_free(&cur);
}

void tk_norm_free(tk_norm *nm) {
    if (!nm) return;
    tk_pattern_free(&nm->pat);
    free(nm->content);
    free(nm->charsmap);
    free(nm->trie);
    for (int k = 0; k < nm->nsub; k++) tk_norm_free(&nm->sub[k]);
    free(nm->sub);
}
