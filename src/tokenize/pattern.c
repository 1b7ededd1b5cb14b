/* Patterns of Replace and Split: literal strings, general regexes (PCRE2 with UCP, for the rare
 * patterns of other tokenizers) and hand-coded scanners for the pre-tokenizer regexes of GPT-2,
 * Llama-3 and BLOOM. The scanners are linear in the input (a backtracking engine can blow up on
 * 1 MB without spaces) and reproduce Oniguruma's leftmost-first semantics; see pipeline-spec
 * §3.5 for the derivation of each step. */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define LLAMA3_RE "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define BLOOM_RE " ?[^(\\s|[.,!?…。，、।۔،])]+"

/* The char at i (valid UTF-8 is guaranteed upstream; stray bytes read as U+FFFD). */
static int32_t cp_at(const char *s, size_t n, size_t i, int *len) {
    int32_t c;
    int l = tk_utf8_next(s, n, i, &c);
    if (l < 0) { *len = 1; return 0xFFFD; }
    *len = l;
    return c;
}

static size_t run_while(const char *s, size_t n, size_t i, int (*pred)(int32_t)) {
    while (i < n) {
        int l;
        int32_t c = cp_at(s, n, i, &l);
        if (!pred(c)) break;
        i += (size_t)l;
    }
    return i;
}

static int is_other(int32_t c) { return !tk_is_space(c) && !tk_is_letter(c) && !tk_is_number(c); }
static int is_crlf(int32_t c) { return c == '\r' || c == '\n'; }

/* 's 't 're 've 'm 'll 'd at i: the match end, or 0. */
static size_t contraction(const char *s, size_t n, size_t i, int fold) {
    if (s[i] != '\'' || i + 1 >= n) return 0;
    char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
    if (fold) { a = (char)(a >= 'A' && a <= 'Z' ? a + 32 : a); b = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b); }
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    return 0;
}

/* The whitespace alternatives `\s+(?!\S)|\s+` at i (s[i] is whitespace): the maximal run, less
 * its last char when a non-space follows and the run has two or more chars. */
static size_t ws_tail(const char *s, size_t n, size_t i) {
    size_t j = i, last = i;
    int count = 0;
    while (j < n) {
        int l;
        int32_t c = cp_at(s, n, j, &l);
        if (!tk_is_space(c)) break;
        last = j; j += (size_t)l; count++;
    }
    if (j == n) return j;
    if (count >= 2) return last;
    return j;
}

static size_t scan_gpt2(const char *s, size_t n, size_t i) {
    size_t e = contraction(s, n, i, 0);
    if (e) return e;
    int l, l2;
    int32_t c = cp_at(s, n, i, &l);
    size_t k = i;
    if (c == ' ' && i + 1 < n) k = i + 1;
    int32_t d = k == i ? c : cp_at(s, n, k, &l2);
    if (tk_is_letter(d)) return run_while(s, n, k, tk_is_letter);
    if (tk_is_number(d)) return run_while(s, n, k, tk_is_number);
    if (is_other(d)) return run_while(s, n, k, is_other);
    if (tk_is_space(c)) return ws_tail(s, n, i);
    return i + (size_t)l;
}

static size_t scan_llama3(const char *s, size_t n, size_t i) {
    size_t e = contraction(s, n, i, 1);
    if (e) return e;
    int l, l2;
    int32_t c = cp_at(s, n, i, &l);
    if (tk_is_letter(c)) return run_while(s, n, i, tk_is_letter);
    if (!is_crlf(c) && !tk_is_number(c) && i + (size_t)l < n &&
        tk_is_letter(cp_at(s, n, i + (size_t)l, &l2)))
        return run_while(s, n, i + (size_t)l, tk_is_letter);
    if (tk_is_number(c)) {
        size_t j = i;
        for (int k = 0; k < 3 && j < n; k++) {
            int32_t d = cp_at(s, n, j, &l2);
            if (!tk_is_number(d)) break;
            j += (size_t)l2;
        }
        return j;
    }
    size_t k = (c == ' ' && i + 1 < n) ? i + 1 : i;
    if (is_other(k == i ? c : cp_at(s, n, k, &l2))) {
        size_t j = run_while(s, n, k, is_other);
        return run_while(s, n, j, is_crlf);
    }
    if (tk_is_space(c)) {
        size_t j = run_while(s, n, i, tk_is_space), p = i, after = 0;
        while (p < j) { int32_t d = cp_at(s, n, p, &l2); p += (size_t)l2; if (is_crlf(d)) after = p; }
        if (after) return after;
        return ws_tail(s, n, i);
    }
    return i + (size_t)l;
}

static int bloom_excluded(int32_t c) {
    if (tk_is_space(c)) return 1;
    switch (c) {
    case '(': case ')': case '|': case '.': case ',': case '!': case '?':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return 1;
    }
    return 0;
}
static int bloom_kept(int32_t c) { return !bloom_excluded(c); }

static size_t scan_bloom(const char *s, size_t n, size_t i) {
    size_t k = (s[i] == ' ') ? i + 1 : i;
    size_t e = run_while(s, n, k, bloom_kept);
    return e > k ? e : i;
}

int tk_pattern_init(tk_pattern *p, int is_regex, const char *s) {
    memset(p, 0, sizeof *p);
    p->str = xgd_strdup(s);
    p->len = strlen(s);
    if (!is_regex) { p->kind = PAT_STRING; return 0; }
    if (strcmp(s, GPT2_RE) == 0) { p->kind = PAT_GPT2; return 0; }
    if (strcmp(s, LLAMA3_RE) == 0) { p->kind = PAT_LLAMA3; return 0; }
    if (strcmp(s, BLOOM_RE) == 0) { p->kind = PAT_BLOOM; return 0; }
    p->kind = PAT_REGEX;
    int err; PCRE2_SIZE off;
    p->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return xgd_fail("regex /%s/: %s at offset %zu", s, (char *)msg, (size_t)off);
    }
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter works too */
    return 0;
}

void tk_pattern_free(tk_pattern *p) {
    free(p->str);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}

int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, size_t pos, size_t *ms, size_t *me) {
    switch (p->kind) {
    case PAT_STRING: {
        if (p->len == 0 || pos >= n) return 0;
        const char *f = memmem(s + pos, n - pos, p->str, p->len);
        if (!f) return 0;
        *ms = (size_t)(f - s); *me = *ms + p->len;
        return 1;
    }
    case PAT_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
        int found = 0;
        while (pos <= n) {
            int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[1] > ov[0]) { *ms = ov[0]; *me = ov[1]; found = 1; break; }
            /* An empty match: look again from the next char (empty matches never split). */
            if (ov[0] >= n) break;
            pos = ov[0] + (size_t)tk_utf8_len((uint8_t)s[ov[0]]);
        }
        pcre2_match_data_free(md);
        return found;
    }
    default: {
        size_t (*scan)(const char *, size_t, size_t) =
            p->kind == PAT_GPT2 ? scan_gpt2 : p->kind == PAT_LLAMA3 ? scan_llama3 : scan_bloom;
        for (size_t i = pos; i < n; i += (size_t)tk_utf8_len((uint8_t)s[i])) {
            size_t e = scan(s, n, i);
            if (e > i) { *ms = i; *me = e; return 1; }
        }
        return 0;
    }
    }
}
