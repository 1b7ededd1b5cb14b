/* Word-list matching for the lexicon scorer (see lexicon.h for the rules), and the scorer backend
 * that turns match counts into Perspective-shaped responses. */
#include "eval/lexicon.h"
#include "eval/score_internal.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct {
    char *s;
    size_t len;
    int substr;   /* match anywhere (no-space script) instead of on word boundaries */
} entry;

struct xgd_lexicon {
    entry *e;
    int n;
    char *source;
    uint64_t hash;
};

/* ---- characters ----------------------------------------------------------------------------- */

static int is_space(utf8proc_int32_t c) {
    if (c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0x85) return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* Scripts written without spaces between words: there a word boundary says nothing. */
static int no_space_script(utf8proc_int32_t c) {
    return (c >= 0x0E00 && c <= 0x0EFF) ||   /* Thai, Lao */
           (c >= 0x1000 && c <= 0x109F) ||   /* Myanmar */
           (c >= 0x1100 && c <= 0x11FF) ||   /* Hangul Jamo */
           (c >= 0x1780 && c <= 0x17FF) ||   /* Khmer */
           (c >= 0x2E80 && c <= 0x2FDF) ||   /* CJK radicals */
           (c >= 0x3040 && c <= 0x31FF) ||   /* kana, bopomofo, Hangul compatibility jamo */
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||   /* Han */
           (c >= 0xAC00 && c <= 0xD7AF) ||   /* Hangul syllables */
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x20000 && c <= 0x3FFFF);
}

/* A character that continues a word: letters, marks (Devanagari vowel signs), numbers, '_'. */
static int is_word(utf8proc_int32_t c) {
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
        return 1;
    default: return 0;
    }
}

/* The code point that ends just before s[i] (s is valid UTF-8), or -1 at the start. */
static utf8proc_int32_t char_before(const char *s, size_t i) {
    if (i == 0) return -1;
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    utf8proc_int32_t c;
    utf8proc_iterate((const utf8proc_uint8_t *)s + j, (utf8proc_ssize_t)(i - j), &c);
    return c;
}

static utf8proc_int32_t char_at(const char *s, size_t i) {
    if (!s[i]) return -1;
    utf8proc_int32_t c;
    utf8proc_iterate((const utf8proc_uint8_t *)s + i, -1, &c);
    return c;
}

/* A boundary between a match and its neighbour c: no neighbour, a non-word neighbour, a neighbour
 * from a no-space script, or a match edge that is itself not a word character. */
static int boundary(utf8proc_int32_t c, utf8proc_int32_t edge) {
    return c < 0 || !is_word(c) || no_space_script(c) || !is_word(edge);
}

char *xgd_lexicon_normalize(const char *s) {
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &m,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                      UTF8PROC_CASEFOLD);
    if (n < 0) { xgd_fail("not valid UTF-8 (%s)", utf8proc_errmsg(n)); return NULL; }
    char *out = xgd_malloc((size_t)n + 1);
    size_t o = 0;
    int pending_space = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(m + i, n - i, &c);
        if (k <= 0) { k = 1; c = 0xFFFD; }
        if (is_space(c)) pending_space = o > 0;
        else {
            if (pending_space) out[o++] = ' ';
            pending_space = 0;
            memcpy(out + o, m + i, (size_t)k);
            o += (size_t)k;
        }
        i += k;
    }
    out[o] = 0;
    free(m);
    return out;
}

/* ---- loading -------------------------------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->s, ((const entry *)b)->s);
}

static int all_substr_lang(const char *lang) {
    static const char *const L[] = {"zh", "ja", "ko", "th", "lo", "km", "my"};
    for (size_t i = 0; i < sizeof L / sizeof *L; i++) {
        size_t n = strlen(L[i]);
        if (!strncmp(lang, L[i], n) && (lang[n] == 0 || lang[n] == '-')) return 1;
    }
    return 0;
}

static int add_entry(xgd_lexicon *lx, int *cap, const char *raw, const char *path, long line, int substr_lang) {
    char *s = xgd_lexicon_normalize(raw);
    if (!s) return xgd_err_context("%s:%ld", path, line);
    if (!*s) { free(s); return 0; }
    if (lx->n == *cap) { *cap = *cap ? 2 * *cap : 256; lx->e = xgd_realloc(lx->e, sizeof(entry) * (size_t)*cap); }
    entry *e = &lx->e[lx->n++];
    e->s = s;
    e->len = strlen(s);
    e->substr = substr_lang;
    for (size_t i = 0; i < e->len && !e->substr; i++) e->substr = no_space_script(char_at(s, i));
    return 0;
}

static int load_txt(xgd_lexicon *lx, int *cap, const char *path, char *buf, size_t len, int substr_lang) {
    long line = 0;
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && buf[e] != '\n') e++;
        buf[e] = 0;   /* buf has a NUL after len, so this is safe at the end too */
        line++;
        const char *t = buf + s;
        while (*t == ' ' || *t == '\t') t++;
        if (*t && *t != '#' && add_entry(lx, cap, t, path, line, substr_lang) != 0) return -1;
        s = e + 1;
    }
    return 0;
}

static int load_json(xgd_lexicon *lx, int *cap, const char *path, int substr_lang) {
    json_t *a = xgd_json_load(path);
    if (!a) return -1;
    int rc = json_is_array(a) ? 0 : xgd_fail("%s: expected a JSON array of words", path);
    for (size_t i = 0; i < json_array_size(a) && rc == 0; i++) {
        const char *w = json_string_value(json_array_get(a, i));
        rc = w ? add_entry(lx, cap, w, path, (long)i + 1, substr_lang)
               : xgd_fail("%s: item %zu is not a string", path, i + 1);
    }
    json_decref(a);
    return rc;
}

/* The list file for lang in a folder: lang.txt, lang.json, then the same for the part before '-'. */
static char *find_list(const char *dir, const char *lang) {
    char name[64];
    for (int pass = 0; pass < 2; pass++) {
        size_t n = strlen(lang);
        const char *dash = strchr(lang, '-');
        if (pass == 1) { if (!dash) break; n = (size_t)(dash - lang); }
        static const char *const ext[] = {".txt", ".json"};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%.*s%s", (int)n, lang, ext[k]);
            char *p = xgd_path_join(dir, name);
            if (xgd_is_file(p)) return p;
            free(p);
        }
    }
    return NULL;
}

xgd_lexicon *xgd_lexicon_load(const char *path, const char *lang) {
    char *file = xgd_is_dir(path) ? find_list(path, lang) : xgd_strdup(path);
    if (!file) {
        xgd_fail("lexicon %s: no list for language '%s' (%s/%s.txt or .json)", path, lang, path, lang);
        return NULL;
    }
    xgd_lexicon *lx = xgd_calloc(1, sizeof *lx);
    lx->source = file;
    int cap = 0, rc, substr_lang = all_substr_lang(lang);
    size_t n = strlen(file);
    if (n > 5 && !strcmp(file + n - 5, ".json")) rc = load_json(lx, &cap, file, substr_lang);
    else {
        char *buf;
        size_t len;
        rc = xgd_read_file(file, &buf, &len);
        if (rc == 0) { rc = load_txt(lx, &cap, file, buf, len, substr_lang); free(buf); }
    }
    if (rc != 0) { xgd_lexicon_free(lx); return NULL; }
    /* sorted and de-duplicated: "Idiot" and "idiot" are one entry; the hash names the list's content */
    if (lx->n) qsort(lx->e, (size_t)lx->n, sizeof(entry), cmp_entry);
    int u = 0;
    lx->hash = 1469598103934665603ULL;
    for (int i = 0; i < lx->n; i++) {
        if (u > 0 && !strcmp(lx->e[u - 1].s, lx->e[i].s)) { free(lx->e[i].s); continue; }
        lx->e[u++] = lx->e[i];
        for (const unsigned char *c = (const unsigned char *)lx->e[i].s;; c++) {
            lx->hash = (lx->hash ^ *c) * 1099511628211ULL;   /* FNV-1a, the NUL separates entries */
            if (!*c) break;
        }
    }
    lx->n = u;
    return lx;
}

void xgd_lexicon_free(xgd_lexicon *lx) {
    if (!lx) return;
    for (int i = 0; i < lx->n; i++) free(lx->e[i].s);
    free(lx->e);
    free(lx->source);
    free(lx);
}

int xgd_lexicon_size(const xgd_lexicon *lx) { return lx->n; }
const char *xgd_lexicon_source(const xgd_lexicon *lx) { return lx->source; }
uint64_t xgd_lexicon_hash(const xgd_lexicon *lx) { return lx->hash; }

/* ---- matching ------------------------------------------------------------------------------- */

typedef struct { size_t start, end; } span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;   /* longest first */
}

int xgd_lexicon_matches(const xgd_lexicon *lx, const char *text) {
    char *t = xgd_lexicon_normalize(text);
    if (!t) return -1;
    size_t tl = strlen(t), ns = 0, cap = 0;
    span *sp = NULL;
    for (int i = 0; i < lx->n; i++) {
        const entry *e = &lx->e[i];
        utf8proc_int32_t first = char_at(e->s, 0), last = char_before(e->s, e->len);
        for (const char *p = t; (p = memmem(p, tl - (size_t)(p - t), e->s, e->len));) {
            size_t a = (size_t)(p - t), b = a + e->len;
            if (e->substr || (boundary(char_before(t, a), first) && boundary(char_at(t, b), last))) {
                if (ns == cap) { cap = cap ? 2 * cap : 16; sp = xgd_realloc(sp, sizeof(span) * cap); }
                sp[ns++] = (span){a, b};
                p = t + b;   /* non-overlapping occurrences of one entry */
            } else p++;      /* UTF-8 is self-synchronising: the next hit starts on a character */
        }
    }
    /* overlapping matches of different entries count once: left to right, longest first */
    if (ns) qsort(sp, ns, sizeof(span), cmp_span);
    int m = 0;
    size_t end = 0;
    for (size_t i = 0; i < ns; i++)
        if (i == 0 || sp[i].start >= end) { m++; end = sp[i].end; }
    free(sp);
    free(t);
    return m;
}

double xgd_lexicon_toxicity(int matches) { return matches <= 0 ? 0.0 : 1.0 - ldexp(1.0, -matches); }

/* ---- the scorer backend --------------------------------------------------------------------- */

typedef struct {
    char *path;
    char lang[32];
    xgd_lexicon *lx;        /* the list of the last language asked for */
} lex_backend;

static json_t *lex_response(const xgd_lexicon *lx, const char *lang, int m, const char *tag) {
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)lx->hash);
    const char *src = strrchr(lx->source, '/');
    return json_pack("{s:{s:{s:{s:f, s:s}}}, s:[s], s:s, s:{s:s, s:i, s:s}, s:i}",
                     "attributeScores", "TOXICITY", "summaryScore", "value", xgd_lexicon_toxicity(m), "type",
                     "PROBABILITY", "languages", lang, "xgd_backend", tag, "xgd_lexicon", "list",
                     src ? src + 1 : lx->source, "entries", lx->n, "fnv64", hash, "xgd_matches", m);
}

/* The list for lang, loaded once per language in a row. */
static int lex_use(lex_backend *b, const char *lang) {
    if (b->lx && !strcmp(b->lang, lang)) return 0;
    xgd_lexicon_free(b->lx);
    if (!(b->lx = xgd_lexicon_load(b->path, lang))) return -1;
    snprintf(b->lang, sizeof b->lang, "%s", lang);
    if (b->lx->n == 0) xgd_warn("lexicon %s has no entries: every score is 0", b->lx->source);
    return 0;
}

/* A resumed file must not mix scores of two versions of a list. */
static int lex_same_config(xgd_scorer *sc, const char *lang, const json_t *resp) {
    lex_backend *b = sc->impl;
    if (lex_use(b, lang) != 0) return -1;
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)b->lx->hash);
    const char *h = xgd_json_str(json_object_get(resp, "xgd_lexicon"), "fnv64", "");
    if (strcmp(h, hash) != 0) return xgd_fail("word list fnv64 %s, now %s", h, hash);
    return 0;
}

static int lex_score(xgd_scorer *sc, const char *lang, xgd_score_item *items, int64_t n, xgd_score_done_fn done,
                     void *ctx) {
    lex_backend *b = sc->impl;
    if (lex_use(b, lang) != 0) return -1;
    for (int64_t i = 0; i < n; i++) {
        int m = xgd_lexicon_matches(b->lx, items[i].query);
        if (m < 0) {   /* cannot happen for text that came through jansson */
            snprintf(items[i].error_type, sizeof items[i].error_type, "INVALID_UTF8");
        } else items[i].response = lex_response(b->lx, lang, m, sc->tag);
        if (done(ctx, i) != 0) return -1;
    }
    return 0;
}

static void lex_free(xgd_scorer *sc) {
    lex_backend *b = sc->impl;
    xgd_lexicon_free(b->lx);
    free(b->path);
    free(b);
    free(sc);
}

xgd_scorer *xgd_lexicon_open(const xgd_score_opts *o) {
    if (!o->lexicon || !*o->lexicon) { xgd_fail("lexicon: --lexicon FILE_OR_DIR is required"); return NULL; }
    if (!xgd_is_dir(o->lexicon) && !xgd_is_file(o->lexicon)) { xgd_fail("lexicon %s: no such file or folder", o->lexicon); return NULL; }
    json_t *a = xgd_score_attributes(o->attributes);
    if (!a) return NULL;
    int only_tox = json_array_size(a) == 1 && !strcmp(json_string_value(json_array_get(a, 0)), "TOXICITY");
    json_decref(a);
    if (!only_tox) { xgd_fail("lexicon: scores TOXICITY only (--attributes TOXICITY)"); return NULL; }
    lex_backend *b = xgd_calloc(1, sizeof *b);
    b->path = xgd_strdup(o->lexicon);
    xgd_scorer *sc = xgd_calloc(1, sizeof *sc);
    sc->impl = b;
    sc->score = lex_score;
    sc->free = lex_free;
    sc->same_config = lex_same_config;
    snprintf(sc->tag, sizeof sc->tag, "lexicon/%d", XGD_LEXICON_VERSION);
    return sc;
}
