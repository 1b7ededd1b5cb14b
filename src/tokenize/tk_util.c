/* Small containers for the tokenizer (hash maps, a byte trie, growable arrays) and the UTF-8 and
 * Unicode predicates the pipeline stages share. Categories come from utf8proc. */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 1099511628211ULL; }
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

/* ---- tk_strmap ---- */
static void strmap_grow(tk_strmap *m) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    tk_strslot *slots = xgd_calloc(ncap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (slots[j].key) j = (j + 1) & (ncap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots; m->cap = ncap;
}

void tk_strmap_put(tk_strmap *m, const char *s, size_t n, int32_t v) {
    if ((m->n + 1) * 2 > m->cap) strmap_grow(m);
    uint32_t h = (uint32_t)hash_bytes(s, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        tk_strslot *e = &m->slots[j];
        if (e->hash == h && e->len == n && memcmp(e->key, s, n) == 0) { e->val = v; return; }
        j = (j + 1) & (m->cap - 1);
    }
    char *k = xgd_malloc(n + 1);
    memcpy(k, s, n); k[n] = 0;
    m->slots[j] = (tk_strslot){k, (uint32_t)n, h, v};
    m->n++;
}

int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n) {
    if (!m->cap) return -1;
    uint32_t h = (uint32_t)hash_bytes(s, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        const tk_strslot *e = &m->slots[j];
        if (e->hash == h && e->len == n && memcmp(e->key, s, n) == 0) return e->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tk_strmap_free(tk_strmap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- tk_u64map ---- */
static void u64map_grow(tk_u64map *m) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    tk_u64slot *slots = xgd_malloc(ncap * sizeof *slots);
    for (size_t i = 0; i < ncap; i++) slots[i].k = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].k == UINT64_MAX) continue;
        size_t j = hash_u64(m->slots[i].k) & (ncap - 1);
        while (slots[j].k != UINT64_MAX) j = (j + 1) & (ncap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots; m->cap = ncap;
}

void tk_u64map_put(tk_u64map *m, uint64_t k, uint64_t v) {
    if ((m->n + 1) * 2 > m->cap) u64map_grow(m);
    size_t j = hash_u64(k) & (m->cap - 1);
    while (m->slots[j].k != UINT64_MAX) {
        if (m->slots[j].k == k) { m->slots[j].v = v; return; }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].k = k; m->slots[j].v = v; m->n++;
}

int tk_u64map_get(const tk_u64map *m, uint64_t k, uint64_t *v) {
    if (!m->cap) return 0;
    size_t j = hash_u64(k) & (m->cap - 1);
    while (m->slots[j].k != UINT64_MAX) {
        if (m->slots[j].k == k) { *v = m->slots[j].v; return 1; }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

void tk_u64map_free(tk_u64map *m) { free(m->slots); memset(m, 0, sizeof *m); }

/* ---- tk_trie ---- */
void tk_trie_init(tk_trie *t) {
    memset(t, 0, sizeof *t);
    t->cap = 64; t->n = 1;
    t->value = xgd_malloc(t->cap * sizeof *t->value);
    t->value[0] = -1;
    for (int c = 0; c < 256; c++) t->root[c] = -1;
}

void tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t id) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t next = tk_trie_step(t, node, (uint8_t)s[i]);
        if (next < 0) {
            if (t->n == t->cap) { t->cap *= 2; t->value = xgd_realloc(t->value, t->cap * sizeof *t->value); }
            next = (int32_t)t->n++;
            t->value[next] = -1;
            tk_u64map_put(&t->edges, ((uint64_t)node << 8) | (uint8_t)s[i], (uint64_t)next);
            if (node == 0) t->root[(uint8_t)s[i]] = next;
        }
        node = next;
    }
    t->value[node] = id; /* a later duplicate wins, as a HashMap insert does */
}

int32_t tk_trie_step(const tk_trie *t, int32_t node, uint8_t c) {
    if (node == 0) return t->root[c];
    uint64_t v;
    return tk_u64map_get(&t->edges, ((uint64_t)node << 8) | c, &v) ? (int32_t)v : -1;
}

void tk_trie_free(tk_trie *t) { tk_u64map_free(&t->edges); free(t->value); memset(t, 0, sizeof *t); }

/* ---- UTF-8 ---- */
int tk_utf8_next(const char *s, size_t n, size_t i, int32_t *cp) {
    const uint8_t *u = (const uint8_t *)s + i;
    size_t left = n - i;
    if (u[0] < 0x80) { *cp = u[0]; return 1; }
    int len; int32_t c, min;
    if (u[0] >= 0xC2 && u[0] <= 0xDF) { len = 2; c = u[0] & 0x1F; min = 0x80; }
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) { len = 3; c = u[0] & 0x0F; min = 0x800; }
    else if (u[0] >= 0xF0 && u[0] <= 0xF4) { len = 4; c = u[0] & 0x07; min = 0x10000; }
    else return -1;
    if ((size_t)len > left) return -1;
    for (int k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (u[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *cp = c;
    return len;
}

int tk_utf8_put(int32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

long tk_utf8_invalid_at(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if ((uint8_t)s[i] < 0x80) { i++; continue; }
        int32_t c;
        int l = tk_utf8_next(s, n, i, &c);
        if (l < 0) return (long)i;
        i += (size_t)l;
    }
    return -1;
}

size_t xgd_utf8_byte_to_char(const char *text, size_t off) {
    size_t c = 0;
    for (size_t i = 0; i < off; i++) c += ((uint8_t)text[i] & 0xC0) != 0x80;
    return c;
}

/* ---- Unicode predicates ---- */
static int cat(int32_t c) { return utf8proc_category(c); }

int tk_is_letter(int32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

int tk_is_number(int32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

int tk_is_digit(int32_t c) { return c < 0x80 ? (c >= '0' && c <= '9') : cat(c) == UTF8PROC_CATEGORY_ND; }

int tk_is_space(int32_t c) {
    /* The White_Space property (PropList.txt): not the same as category Z* (it includes the
     * controls \t..\r, U+0085, and excludes U+200B). */
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int tk_is_mark(int32_t c) {
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME;
}

int tk_is_mn(int32_t c) { return cat(c) == UTF8PROC_CATEGORY_MN; }

int tk_is_word(int32_t c) {
    if (c < 0x80) return tk_is_letter(c) || (c >= '0' && c <= '9') || c == '_';
    int k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D;
}

int tk_is_punct(int32_t c) {
    if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                         (c >= 0x7B && c <= 0x7E);
    int k = cat(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

int tk_is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO;
}

/* ---- tk_nstr, pieces, token lists ---- */
void tk_nstr_push(tk_nstr *d, const char *b, size_t n, int32_t o0, int32_t o1) {
    if (d->n + n + 1 > d->cap) {
        size_t c = d->cap ? d->cap : 16;
        while (c < d->n + n + 1) c *= 2;
        d->s = xgd_realloc(d->s, c);
        d->o0 = xgd_realloc(d->o0, c * sizeof *d->o0);
        d->o1 = xgd_realloc(d->o1, c * sizeof *d->o1);
        d->cap = c;
    }
    if (n) memcpy(d->s + d->n, b, n); /* an empty source may be a NULL string */
    for (size_t k = 0; k < n; k++) { d->o0[d->n + k] = o0; d->o1[d->n + k] = o1; }
    d->n += n;
    d->s[d->n] = 0;
}

void tk_nstr_push_range(tk_nstr *d, const tk_nstr *src, size_t from, size_t to) {
    size_t base = d->n;
    if (to == from) { tk_nstr_push(d, "", 0, 0, 0); return; } /* src->s may be NULL */
    tk_nstr_push(d, src->s + from, to - from, 0, 0);
    memcpy(d->o0 + base, src->o0 + from, (to - from) * sizeof *d->o0);
    memcpy(d->o1 + base, src->o1 + from, (to - from) * sizeof *d->o1);
}

void tk_nstr_free(tk_nstr *d) { free(d->s); free(d->o0); free(d->o1); memset(d, 0, sizeof *d); }

tk_piece *tk_pieces_add(tk_pieces *p) {
    if (p->n == p->cap) { p->cap = p->cap ? p->cap * 2 : 8; p->v = xgd_realloc(p->v, p->cap * sizeof *p->v); }
    tk_piece *q = &p->v[p->n++];
    memset(q, 0, sizeof *q);
    q->added = -1;
    return q;
}

void tk_pieces_free(tk_pieces *p) {
    for (size_t i = 0; i < p->n; i++) tk_nstr_free(&p->v[i].str);
    free(p->v);
    memset(p, 0, sizeof *p);
}

void tk_toks_add(tk_toks *t, int32_t id, int32_t s, int32_t e) {
    if (t->n == t->cap) { t->cap = t->cap ? t->cap * 2 : 16; t->v = xgd_realloc(t->v, t->cap * sizeof *t->v); }
    t->v[t->n++] = (tk_tok){id, s, e};
}
