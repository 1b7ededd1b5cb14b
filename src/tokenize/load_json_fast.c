/* A fast path for the two big members of a tokenizer.json, model.vocab ({token: id}) and
 * model.merges (["a b", ...] or [["a", "b"], ...]): they are read straight from the text instead of
 * being built as jansson objects (a BLOOM-sized file has 250k of each; building and freeing them
 * was ~60 % of the load time). Everything else still goes through jansson. */
#include "tokenize/load_json_fast.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

static const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* Skip one JSON string starting at the quote; returns the position after the closing quote. */
static const char *skip_string(const char *p, const char *e) {
    for (p++; p < e; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return NULL;
}

/* Skip one JSON value; NULL if malformed. */
static const char *skip_value(const char *p, const char *e) {
    p = ws(p, e);
    if (p >= e) return NULL;
    if (*p == '"') return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < e; p++) {
            if (*p == '"') { p = skip_string(p, e); if (!p) return NULL; p--; }
            else if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') { if (--depth == 0) return p + 1; }
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
    return p;
}

/* Decode a JSON string at p (the quote) into out (UTF-8, NUL-terminated; out must hold the raw
 * length + 1). Returns the position after the closing quote, or NULL. *n gets the byte length. */
static const char *read_string(const char *p, const char *e, char *out, size_t *n) {
    size_t k = 0;
    for (p++; p < e; p++) {
        char c = *p;
        if (c == '"') { out[k] = 0; *n = k; return p + 1; }
        if (c != '\\') { out[k++] = c; continue; }
        if (++p >= e) return NULL;
        switch (*p) {
        case '"': out[k++] = '"'; break;
        case '\\': out[k++] = '\\'; break;
        case '/': out[k++] = '/'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'n': out[k++] = '\n'; break;
        case 'r': out[k++] = '\r'; break;
        case 't': out[k++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                if (++p >= e) return NULL;
                char h = *p;
                cp = cp * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
                if (cp > 0xFFFF) return NULL;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && p + 6 < e && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = 0;
                for (int i = 3; i < 7; i++) {
                    char h = p[i];
                    lo = lo * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
                }
                if (lo >= 0xDC00 && lo < 0xE000) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
            }
            if (cp < 0x80) out[k++] = (char)cp;
            else if (cp < 0x800) { out[k++] = (char)(0xC0 | (cp >> 6)); out[k++] = (char)(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) { out[k++] = (char)(0xE0 | (cp >> 12)); out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[k++] = (char)(0x80 | (cp & 0x3F)); }
            else { out[k++] = (char)(0xF0 | (cp >> 18)); out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F)); out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[k++] = (char)(0x80 | (cp & 0x3F)); }
            break;
        }
        default: return NULL;
        }
    }
    return NULL;
}

/* The value of key in the object starting at p ('{'), and its end in *vend when vend is non-NULL
 * (skipping a large value costs a pass over it: callers that only search inside it pass NULL).
 * NULL if absent. */
static const char *member(const char *p, const char *e, const char *key, const char **vend) {
    size_t kl = strlen(key);
    p = ws(p, e);
    if (p >= e || *p != '{') return NULL;
    p++;
    for (;;) {
        p = ws(p, e);
        if (p >= e || *p == '}') return NULL;
        if (*p != '"') return NULL;
        const char *ks = p + 1, *ke = skip_string(p, e);
        if (!ke) return NULL;
        p = ws(ke, e);
        if (p >= e || *p != ':') return NULL;
        const char *v = ws(p + 1, e);
        if ((size_t)(ke - 1 - ks) == kl && memcmp(ks, key, kl) == 0) {
            if (vend && !(*vend = skip_value(v, e))) return NULL;
            return v;
        }
        const char *ve = skip_value(v, e);
        if (!ve) return NULL;
        p = ws(ve, e);
        if (p < e && *p == ',') p++;
    }
}

int tk_fast_find(const char *text, size_t len, tk_fast_spans *s) {
    memset(s, 0, sizeof *s);
    const char *e = text + len, *m = member(text, e, "model", NULL);
    if (!m) return 0;
    /* searching inside "model" up to the end of the text: member() stops at the model's '}' */
    const char *ve = NULL, *v = member(m, e, "vocab", &ve), *me = NULL, *mg = member(m, e, "merges", &me);
    if (v && *v == '{') { s->vocab = v; s->vocab_end = ve; }
    if (mg && *mg == '[') { s->merges = mg; s->merges_end = me; }
    return s->vocab || s->merges;
}

int tk_fast_vocab(tk_model *m, const tk_fast_spans *s) {
    const char *p = s->vocab + 1, *e = s->vocab_end;
    size_t cap = 256;
    char *buf = xgd_malloc(cap);
    int rc = 0;
    for (;;) {
        p = ws(p, e);
        if (p >= e || *p == '}') break;
        const char *q = skip_string(p, e);
        if (*p != '"' || !q) { rc = xgd_fail("model vocab: malformed key"); break; }
        if ((size_t)(q - p) + 1 > cap) buf = xgd_realloc(buf, cap = (size_t)(q - p) + 1);
        size_t n;
        if (!read_string(p, e, buf, &n)) { rc = xgd_fail("model vocab: malformed key"); break; }
        p = ws(q, e);
        if (p >= e || *p != ':') { rc = xgd_fail("model vocab: expected ':' after '%s'", buf); break; }
        p = ws(p + 1, e);
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || id < 0 || id >= TK_MAX_ID || (*end == '.' || *end == 'e' || *end == 'E')) {
            rc = xgd_fail("model vocab: token '%s' has a bad id", buf);
            break;
        }
        tk_model_set_token(m, (int32_t)id, buf, n);
        p = ws(end, e);
        if (p < e && *p == ',') p++;
    }
    free(buf);
    return rc;
}

int tk_fast_merges(tk_model *m, const tk_fast_spans *s) {
    const char *p = s->merges + 1, *e = s->merges_end;
    size_t cap = 256;
    char *a = xgd_malloc(cap), *b = xgd_malloc(cap);
    uint32_t rank = 0;
    size_t k = 0;
    int rc = 0;
    for (;; k++) {
        p = ws(p, e);
        if (p >= e || *p == ']') break;
        size_t na, nb;
        if (*p == '"') {
            const char *q = skip_string(p, e);
            if (!q) { rc = xgd_fail("BPE merge %zu: malformed string", k); break; }
            if ((size_t)(q - p) + 1 > cap) { cap = (size_t)(q - p) + 1; a = xgd_realloc(a, cap); b = xgd_realloc(b, cap); }
            size_t n;
            if (!read_string(p, e, a, &n)) { rc = xgd_fail("BPE merge %zu: malformed string", k); break; }
            p = q;
            if (strncmp(a, "#version", 8) == 0) { p = ws(p, e); if (p < e && *p == ',') p++; continue; }
            char *sp = memchr(a, ' ', n);
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - a))) { rc = xgd_fail("BPE merge %zu: '%s' is not two tokens", k, a); break; }
            na = (size_t)(sp - a);
            nb = n - na - 1;
            memcpy(b, sp + 1, nb + 1);
            a[na] = 0;
        } else if (*p == '[') {
            const char *q0 = ws(p + 1, e), *q1 = q0 < e && *q0 == '"' ? skip_string(q0, e) : NULL;
            const char *c = q1 ? ws(q1, e) : NULL, *r0 = c && c < e && *c == ',' ? ws(c + 1, e) : NULL;
            const char *r1 = r0 && r0 < e && *r0 == '"' ? skip_string(r0, e) : NULL, *close = r1 ? ws(r1, e) : NULL;
            if (!close || close >= e || *close != ']') { rc = xgd_fail("BPE merge %zu: expected \"a b\" or [\"a\", \"b\"]", k); break; }
            size_t need = (size_t)(close - p) + 1;
            if (need > cap) { cap = need; a = xgd_realloc(a, cap); b = xgd_realloc(b, cap); }
            if (!read_string(q0, e, a, &na) || !read_string(r0, e, b, &nb)) { rc = xgd_fail("BPE merge %zu: malformed string", k); break; }
            p = close + 1;
        } else { rc = xgd_fail("BPE merge %zu: expected \"a b\" or [\"a\", \"b\"]", k); break; }
        if (tk_bpe_add_merge(m, a, na, b, nb, rank++)) { rc = -1; break; }
        p = ws(p, e);
        if (p < e && *p == ',') p++;
    }
    free(a);
    free(b);
    return rc;
}
