/* Pre-tokenizers: split each normalized piece into words (tokenizers' pre_tokenizers/).
 * Every splitter first marks a list of segments covering the piece, [(start, end, is_match)],
 * then a "behavior" turns segments into pieces (split semantics of normalizer.rs). */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

/* ---- the GPT-2 byte <-> char table ---- */
int32_t tk_byte_char(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67; /* 0xAD */
}

int tk_char_byte(int32_t c) {
    if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)) return c;
    if (c >= 0x100 && c <= 0x120) return c - 0x100;
    if (c >= 0x121 && c <= 0x142) return 0x7F + (c - 0x121);
    if (c == 0x143) return 0xAD;
    return -1;
}

/* ---- segments ---- */
typedef struct { size_t s, e; int m; } seg;
typedef struct { seg *v; size_t n, cap; } segs;

static void seg_add(segs *g, size_t s, size_t e, int m) {
    if (e <= s) return;
    if (g->n == g->cap) { g->cap = g->cap ? g->cap * 2 : 16; g->v = xgd_realloc(g->v, g->cap * sizeof *g->v); }
    g->v[g->n++] = (seg){s, e, m};
}

/* Segments from a pattern: matches and the gaps between them. */
static void segs_from_pattern(segs *g, const tk_pattern *p, const tk_nstr *x) {
    size_t pos = 0, ms, me;
    while (pos < x->n && tk_pattern_find(p, x->s, x->n, pos, &ms, &me)) {
        seg_add(g, pos, ms, 0);
        seg_add(g, ms, me, 1);
        pos = me;
    }
    seg_add(g, pos, x->n, 0);
}

/* Segments from a char predicate: each matching char is its own match. */
static void segs_from_pred(segs *g, const tk_nstr *x, int (*pred)(int32_t, const tk_pre *), const tk_pre *pt) {
    size_t gap = 0, i = 0;
    while (i < x->n) {
        int32_t c;
        int l = tk_utf8_next(x->s, x->n, i, &c);
        if (l < 0) { l = 1; c = 0xFFFD; }
        if (pred(c, pt)) { seg_add(g, gap, i, 0); seg_add(g, i, i + (size_t)l, 1); gap = i + (size_t)l; }
        i += (size_t)l;
    }
    seg_add(g, gap, x->n, 0);
}

/* Apply the behavior to the segments of x and append the resulting pieces to out. */
static void split_emit(const tk_nstr *x, segs *g, tk_behavior b, int invert, tk_pieces *out) {
    if (g->n == 0) return;
    if (invert) for (size_t k = 0; k < g->n; k++) g->v[k].m = !g->v[k].m;
    seg *v = g->v;
    size_t n = 0;
    switch (b) {
    case B_REMOVED:
        for (size_t k = 0; k < g->n; k++) if (!v[k].m) v[n++] = v[k];
        break;
    case B_ISOLATED:
        n = g->n;
        break;
    case B_MERGED_PREV: {
        int prev = 0;
        for (size_t k = 0; k < g->n; k++) {
            int m = v[k].m;
            if (m && !prev && n > 0) v[n - 1].e = v[k].e;
            else v[n++] = v[k];
            prev = m;
        }
        break;
    }
    case B_MERGED_NEXT: {
        /* Walk backwards: a match joins the following segment unless that one is a match. */
        int next = 0;
        size_t w = g->n;
        for (size_t k = g->n; k-- > 0;) {
            int m = v[k].m;
            if (m && !next && w < g->n) v[w].s = v[k].s;
            else v[--w] = v[k];
            next = m;
        }
        memmove(v, v + w, (g->n - w) * sizeof *v);
        n = g->n - w;
        break;
    }
    case B_CONTIGUOUS:
        for (size_t k = 0; k < g->n; k++) {
            if (n > 0 && v[n - 1].m == v[k].m) v[n - 1].e = v[k].e;
            else v[n++] = v[k];
        }
        break;
    }
    for (size_t k = 0; k < n; k++) {
        if (v[k].e <= v[k].s) continue; /* empty pieces are always dropped */
        tk_piece *p = tk_pieces_add(out);
        tk_nstr_push_range(&p->str, x, v[k].s, v[k].e);
    }
}

/* ---- the pre-tokenizers, one piece at a time ---- */
static int pred_space(int32_t c, const tk_pre *pt) { (void)pt; return tk_is_space(c); }
static int pred_punct(int32_t c, const tk_pre *pt) { (void)pt; return tk_is_punct(c); }
static int pred_digit(int32_t c, const tk_pre *pt) { (void)pt; return tk_is_number(c); }
static int pred_delim(int32_t c, const tk_pre *pt) { return c == pt->delim; }

/* `\w+|[^\w\s]+`: the runs kept by the Whitespace pre-tokenizer. */
static void segs_whitespace(segs *g, const tk_nstr *x) {
    size_t i = 0, gap = 0;
    while (i < x->n) {
        int32_t c;
        int l = tk_utf8_next(x->s, x->n, i, &c);
        if (l < 0) { l = 1; c = 0xFFFD; }
        if (tk_is_space(c)) { i += (size_t)l; continue; }
        int word = tk_is_word(c);
        size_t j = i;
        while (j < x->n) {
            int32_t d;
            int l2 = tk_utf8_next(x->s, x->n, j, &d);
            if (l2 < 0) { l2 = 1; d = 0xFFFD; }
            if (word ? !tk_is_word(d) : (tk_is_word(d) || tk_is_space(d))) break;
            j += (size_t)l2;
        }
        seg_add(g, gap, i, 0);
        seg_add(g, i, j, 1);
        gap = i = j;
    }
    seg_add(g, gap, x->n, 0);
}

/* ' ' -> the replacement, prepend it as the scheme says, then split before each one. */
static void metaspace(const tk_pre *pt, const tk_nstr *x, tk_pieces *out) {
    tk_nstr y = {0};
    size_t rl = strlen(pt->repl);
    if (x->n > 0) {
        int starts = (x->s[0] == ' ') || (x->n >= rl && memcmp(x->s, pt->repl, rl) == 0);
        int pre = pt->prepend_scheme == PREPEND_ALWAYS || (pt->prepend_scheme == PREPEND_FIRST && x->o0[0] == 0);
        if (pre && !starts) {
            int l = tk_utf8_len((uint8_t)x->s[0]);
            tk_nstr_push(&y, pt->repl, rl, x->o0[0], x->o1[l - 1]);
        }
    }
    for (size_t i = 0; i < x->n; i++) {
        if (x->s[i] == ' ') tk_nstr_push(&y, pt->repl, rl, x->o0[i], x->o1[i]);
        else tk_nstr_push_range(&y, x, i, i + 1);
    }
    if (!pt->split) {
        if (y.n) { tk_piece *p = tk_pieces_add(out); p->str = y; } else tk_nstr_free(&y);
        return;
    }
    tk_pattern pat = {.kind = PAT_STRING, .str = (char *)pt->repl, .len = rl};
    segs g = {0};
    segs_from_pattern(&g, &pat, &y);
    split_emit(&y, &g, B_MERGED_NEXT, 0, out);
    free(g.v);
    tk_nstr_free(&y);
}

/* Map every byte to its byte-char; each char keeps the span of its byte. */
static void bytelevel_map(tk_nstr *x) {
    tk_nstr y = {0};
    char buf[4];
    for (size_t i = 0; i < x->n; i++) {
        int l = tk_utf8_put(tk_byte_char((uint8_t)x->s[i]), buf);
        tk_nstr_push(&y, buf, (size_t)l, x->o0[i], x->o1[i]);
    }
    tk_nstr_free(x);
    *x = y;
}

static void bytelevel(const tk_pre *pt, const tk_nstr *x, tk_pieces *out) {
    tk_nstr y = {0};
    if (pt->add_prefix_space && x->n > 0 && x->s[0] != ' ') {
        int l = tk_utf8_len((uint8_t)x->s[0]);
        tk_nstr_push(&y, " ", 1, x->o0[0], x->o1[l - 1]);
    }
    tk_nstr_push_range(&y, x, 0, x->n);
    size_t first = out->n;
    if (pt->use_regex) {
        tk_pattern pat = {.kind = PAT_GPT2};
        segs g = {0};
        segs_from_pattern(&g, &pat, &y);
        split_emit(&y, &g, B_ISOLATED, 0, out);
        free(g.v);
        tk_nstr_free(&y);
    } else if (y.n) {
        tk_piece *p = tk_pieces_add(out);
        p->str = y;
    } else tk_nstr_free(&y);
    for (size_t k = first; k < out->n; k++) bytelevel_map(&out->v[k].str);
}

static void pre_piece(const tk_pre *pt, const tk_nstr *x, tk_pieces *out) {
    segs g = {0};
    switch (pt->kind) {
    case P_BYTELEVEL: bytelevel(pt, x, out); break;
    case P_METASPACE: metaspace(pt, x, out); break;
    case P_SPLIT:
        segs_from_pattern(&g, &pt->pat, x);
        split_emit(x, &g, pt->behavior, pt->invert, out);
        break;
    case P_WHITESPACE:
        segs_whitespace(&g, x);
        split_emit(x, &g, B_REMOVED, 1, out);
        break;
    case P_WSSPLIT:
        segs_from_pred(&g, x, pred_space, pt);
        split_emit(x, &g, B_REMOVED, 0, out);
        break;
    case P_PUNCT:
        segs_from_pred(&g, x, pred_punct, pt);
        split_emit(x, &g, pt->behavior, 0, out);
        break;
    case P_DIGITS:
        segs_from_pred(&g, x, pred_digit, pt);
        split_emit(x, &g, pt->individual ? B_ISOLATED : B_CONTIGUOUS, 0, out);
        break;
    case P_CHARDELIM:
        segs_from_pred(&g, x, pred_delim, pt);
        split_emit(x, &g, B_REMOVED, 0, out);
        break;
    case P_BERT: {
        tk_pieces tmp = {0};
        segs_from_pred(&g, x, pred_space, pt);
        split_emit(x, &g, B_REMOVED, 0, &tmp);
        for (size_t k = 0; k < tmp.n; k++) {
            g.n = 0;
            segs_from_pred(&g, &tmp.v[k].str, pred_punct, pt);
            split_emit(&tmp.v[k].str, &g, B_ISOLATED, 0, out);
        }
        tk_pieces_free(&tmp);
        break;
    }
    case P_SEQUENCE: break; /* handled by tk_pre_run */
    }
    free(g.v);
}

void tk_pre_run(const tk_pre *pt, tk_pieces *ps) {
    if (pt->kind == P_SEQUENCE) {
        for (int k = 0; k < pt->nsub; k++) tk_pre_run(&pt->sub[k], ps);
        return;
    }
    tk_pieces out = {0};
    for (size_t k = 0; k < ps->n; k++) {
        tk_piece *p = &ps->v[k];
        if (p->added >= 0) { /* added tokens are never split again */
            tk_piece *q = tk_pieces_add(&out);
            *q = *p;
            memset(&p->str, 0, sizeof p->str);
            continue;
        }
        pre_piece(pt, &p->str, &out);
    }
    tk_pieces_free(ps);
    *ps = out;
}

void tk_pre_free(tk_pre *pt) {
    if (!pt) return;
    tk_pattern_free(&pt->pat);
    for (int k = 0; k < pt->nsub; k++) tk_pre_free(&pt->sub[k]);
    free(pt->sub);
}
