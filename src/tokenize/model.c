/* The four tokenizer models (tokenizers' models/): BPE with the heap merge of word.rs (linear-
 * logarithmic: a 1 MB word is fine), Unigram with the Viterbi of encode_optimized, WordPiece
 * (greedy longest match first) and WordLevel. Each tokenizes one pre-tokenized word. */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tk_model_set_token(tk_model *m, int32_t id, const char *s, size_t n) {
    if (id >= m->nid) {
        int32_t nn = id + 1 > m->nid * 2 ? id + 1 : m->nid * 2;
        m->id2tok = xgd_realloc(m->id2tok, (size_t)nn * sizeof *m->id2tok);
        for (int32_t k = m->nid; k < nn; k++) m->id2tok[k] = NULL;
        m->nid = nn;
    }
    free(m->id2tok[id]);
    m->id2tok[id] = xgd_malloc(n + 1);
    memcpy(m->id2tok[id], s, n);
    m->id2tok[id][n] = 0;
    tk_strmap_put(&m->vocab, s, n, id);
}

void tk_model_finish_bytes(tk_model *m) {
    char b[8];
    for (int k = 0; k < 256; k++) {
        snprintf(b, sizeof b, "<0x%02X>", k);
        m->byte_ids[k] = tk_strmap_get(&m->vocab, b, 6);
    }
}

/* ---- BPE ---- */
int tk_bpe_add_merge(tk_model *m, const char *a, size_t na, const char *b, size_t nb, uint32_t rank) {
    int32_t ia = tk_strmap_get(&m->vocab, a, na), ib = tk_strmap_get(&m->vocab, b, nb);
    if (ia < 0) return xgd_fail("merge %u: token '%.*s' is not in the vocab", rank, (int)na, a);
    if (ib < 0) return xgd_fail("merge %u: token '%.*s' is not in the vocab", rank, (int)nb, b);
    size_t pl = m->prefix ? strlen(m->prefix) : 0;
    if (pl && nb >= pl && memcmp(b, m->prefix, pl) == 0) { b += pl; nb -= pl; }
    char *nw = xgd_malloc(na + nb + 1);
    memcpy(nw, a, na); memcpy(nw + na, b, nb);
    int32_t in = tk_strmap_get(&m->vocab, nw, na + nb);
    if (in < 0) { int r = xgd_fail("merge %u: '%.*s' is not in the vocab", rank, (int)(na + nb), nw); free(nw); return r; }
    free(nw);
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    /* a duplicate pair takes the later rank, as tokenizers' HashMap collect does */
    tk_u64map_put(&m->merges, key, (uint64_t)rank << 32 | (uint32_t)in);
    return 0;
}

typedef struct { int32_t id, s, e, prev, next; } sym;

/* The merge queue: a 4-ary min-heap of keys rank<<32 | position, i.e. ordered by (rank asc,
 * position asc) as tokenizers' BinaryHeap of Merge. The new id is not stored: a popped entry is
 * checked against the current pair anyway, and a pair that changed has a longer concatenation,
 * so its rank can only match when the pair is the same. 8-byte keys and a shallow tree keep a
 * 1 MB word (a million entries) cache-friendly. */
typedef struct { uint64_t *v; size_t n, cap; } heap;

static void heap_sift_down(heap *h, size_t i) {
    uint64_t x = h->v[i];
    for (;;) {
        size_t c = 4 * i + 1, best = c;
        if (c >= h->n) break;
        size_t end = c + 4 < h->n ? c + 4 : h->n;
        for (size_t k = c + 1; k < end; k++) if (h->v[k] < h->v[best]) best = k;
        if (h->v[best] >= x) break;
        h->v[i] = h->v[best]; i = best;
    }
    h->v[i] = x;
}

static void heap_push(heap *h, uint64_t x) {
    if (h->n == h->cap) { h->cap = h->cap ? h->cap * 2 : 16; h->v = xgd_realloc(h->v, h->cap * sizeof *h->v); }
    size_t i = h->n++;
    while (i > 0 && x < h->v[(i - 1) / 4]) { h->v[i] = h->v[(i - 1) / 4]; i = (i - 1) / 4; }
    h->v[i] = x;
}

static uint64_t heap_pop(heap *h) {
    uint64_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    if (h->n) heap_sift_down(h, 0);
    return top;
}

static int pair_lookup(const tk_model *m, int32_t a, int32_t b, uint32_t *rank, int32_t *nid) {
    uint64_t v;
    if (!tk_u64map_get(&m->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v)) return 0;
    *rank = (uint32_t)(v >> 32); *nid = (int32_t)(uint32_t)v;
    return 1;
}

typedef struct { sym *v; size_t n, cap; } syms;
static void sym_add(syms *q, int32_t id, int32_t s, int32_t e) {
    if (q->n == q->cap) { q->cap = q->cap ? q->cap * 2 : 16; q->v = xgd_realloc(q->v, q->cap * sizeof *q->v); }
    q->v[q->n] = (sym){id, s, e, (int32_t)q->n - 1, (int32_t)q->n + 1};
    q->n++;
}

static int bpe_tokenize(const tk_model *m, const char *w, size_t n, tk_toks *out) {
    if (m->ignore_merges) {
        int32_t id = tk_strmap_get(&m->vocab, w, n);
        if (id >= 0) { tk_toks_add(out, id, 0, (int32_t)n); return 0; }
    }
    size_t pl = m->prefix ? strlen(m->prefix) : 0, sl = m->suffix ? strlen(m->suffix) : 0;
    char *buf = xgd_malloc(pl + sl + 8);
    /* one symbol per char at most, or per byte with byte_fallback (plus prefix/suffix bytes) */
    syms q = {.cap = n + (n + 1) * (pl + sl) + 1};
    q.v = xgd_malloc(q.cap * sizeof *q.v);
    int32_t unk_s = -1, unk_e = -1; /* a pending (fused) unknown */
    for (size_t i = 0; i < n;) {
        size_t l = (size_t)tk_utf8_len((uint8_t)w[i]);
        if (i + l > n) l = n - i;
        size_t bl = 0;
        if (pl && i > 0) { memcpy(buf, m->prefix, pl); bl = pl; }
        memcpy(buf + bl, w + i, l); bl += l;
        if (sl && i + l == n) { memcpy(buf + bl, m->suffix, sl); bl += sl; }
        int32_t id = tk_strmap_get(&m->vocab, buf, bl);
        int bytes_ok = 0;
        if (id < 0 && m->byte_fallback) {
            bytes_ok = 1;
            for (size_t k = 0; k < bl; k++) if (m->byte_ids[(uint8_t)buf[k]] < 0) bytes_ok = 0;
        }
        if (id >= 0 || bytes_ok) {
            if (unk_s >= 0) { sym_add(&q, m->unk_id, unk_s, unk_e); unk_s = -1; }
            if (id >= 0) sym_add(&q, id, (int32_t)i, (int32_t)(i + l));
            else for (size_t k = 0; k < bl; k++) {
                int32_t s = (int32_t)(i + (k < l ? k : l - 1));
                sym_add(&q, m->byte_ids[(uint8_t)buf[k]], s, s + 1);
            }
        } else if (m->unk_id >= 0) {
            if (unk_s >= 0 && m->fuse_unk) unk_e = (int32_t)(i + l);
            else {
                if (unk_s >= 0) sym_add(&q, m->unk_id, unk_s, unk_e);
                unk_s = (int32_t)i; unk_e = (int32_t)(i + l);
            }
        } else if (m->unk_missing) {
            free(buf); free(q.v);
            return xgd_fail("BPE: a char needs the unk token, which is not in the vocab");
        } /* no unk token at all: the char is dropped, as tokenizers does */
        i += l;
    }
    if (unk_s >= 0) sym_add(&q, m->unk_id, unk_s, unk_e);
    free(buf);
    if (q.n) q.v[q.n - 1].next = -1;

    heap h = {.cap = q.n + 16};
    h.v = xgd_malloc(h.cap * sizeof *h.v);
    for (size_t k = 0; k + 1 < q.n; k++) {
        uint32_t r; int32_t nid;
        if (!pair_lookup(m, q.v[k].id, q.v[k + 1].id, &r, &nid)) continue;
        if (h.n == h.cap) { h.cap = h.cap ? h.cap * 2 : 16; h.v = xgd_realloc(h.v, h.cap * sizeof *h.v); }
        h.v[h.n++] = (uint64_t)r << 32 | (uint32_t)k;
    }
    for (size_t k = h.n / 4 + 1; k-- > 0;) if (k < h.n) heap_sift_down(&h, k); /* heapify */
    while (h.n) {
        uint64_t top = heap_pop(&h);
        uint32_t rank = (uint32_t)(top >> 32);
        int32_t pos = (int32_t)(uint32_t)top;
        sym *cur = &q.v[pos];
        if (cur->e == cur->s || cur->next < 0) continue; /* removed, or the last symbol */
        sym *right = &q.v[cur->next];
        uint32_t r; int32_t nid;
        if (!pair_lookup(m, cur->id, right->id, &r, &nid) || r != rank) continue; /* stale */
        cur->id = nid;
        cur->e = right->e;
        cur->next = right->next;
        right->e = right->s; /* tag as removed */
        if (cur->next >= 0) q.v[cur->next].prev = pos;
        if (cur->prev >= 0 && pair_lookup(m, q.v[cur->prev].id, cur->id, &r, &nid))
            heap_push(&h, (uint64_t)r << 32 | (uint32_t)cur->prev);
        if (cur->next >= 0 && pair_lookup(m, cur->id, q.v[cur->next].id, &r, &nid))
            heap_push(&h, (uint64_t)r << 32 | (uint32_t)pos);
    }
    free(h.v);
    for (int32_t k = q.n ? 0 : -1; k >= 0; k = q.v[k].next) tk_toks_add(out, q.v[k].id, q.v[k].s, q.v[k].e);
    free(q.v);
    return 0;
}

/* ---- Unigram ---- */
int tk_unigram_init(tk_model *m) {
    tk_trie_init(&m->trie);
    double mn = 0;
    int first = 1;
    for (int32_t id = 0; id < m->nid; id++) {
        if (!m->id2tok[id]) continue;
        tk_trie_add(&m->trie, m->id2tok[id], strlen(m->id2tok[id]), id);
        if (first || m->scores[id] < mn) mn = m->scores[id];
        first = 0;
    }
    m->unk_score = mn - 10.0;
    return 0;
}

typedef struct { double score; int32_t start, id; } vnode;

static int unigram_tokenize(const tk_model *m, const char *w, size_t n, tk_toks *out) {
    vnode *best = xgd_malloc((n + 1) * sizeof *best);
    for (size_t k = 0; k <= n; k++) best[k] = (vnode){0, -1, -1};
    for (size_t st = 0; st < n;) {
        size_t ml = (size_t)tk_utf8_len((uint8_t)w[st]);
        if (st + ml > n) ml = n - st;
        double base = best[st].score;
        int single = 0;
        int32_t node = 0;
        for (size_t e = st; e < n; e++) {
            node = tk_trie_step(&m->trie, node, (uint8_t)w[e]);
            if (node < 0) break;
            int32_t id = m->trie.value[node];
            if (id < 0) continue;
            vnode *t = &best[e + 1];
            double cand = base + m->scores[id];
            if (t->start < 0 || cand > t->score) *t = (vnode){cand, (int32_t)st, id};
            if (e + 1 - st == ml) single = 1;
        }
        if (!single) {
            if (m->unk_id < 0) { free(best); return xgd_fail("Unigram: a char has no piece and the model has no unk_id"); }
            vnode *t = &best[st + ml];
            double cand = base + m->unk_score;
            if (t->start < 0 || cand > t->score) *t = (vnode){cand, (int32_t)st, m->unk_id};
        }
        st += ml;
    }
    /* Backtrack; consecutive unk nodes fuse into one string. Collect spans right to left. */
    size_t cnt = 0, cap = 16;
    int32_t (*sp)[2] = xgd_malloc(cap * sizeof *sp);
    int32_t fuse_e = -1, fuse_s = -1;
    for (int32_t e = (int32_t)n; e > 0;) {
        int32_t s = best[e].start;
        if (cnt + 2 >= cap) { cap *= 2; sp = xgd_realloc(sp, cap * sizeof *sp); }
        if (m->unk_id >= 0 && best[e].id == m->unk_id) {
            if (fuse_e < 0) fuse_e = e;
            fuse_s = s;
        } else {
            if (fuse_e >= 0) { sp[cnt][0] = fuse_s; sp[cnt][1] = fuse_e; cnt++; fuse_e = -1; }
            sp[cnt][0] = s; sp[cnt][1] = e; cnt++;
        }
        e = s;
    }
    if (fuse_e >= 0) { sp[cnt][0] = fuse_s; sp[cnt][1] = fuse_e; cnt++; }
    free(best);
    for (size_t k = cnt; k-- > 0;) {
        int32_t s = sp[k][0], e = sp[k][1];
        int32_t id = tk_strmap_get(&m->vocab, w + s, (size_t)(e - s));
        if (id < 0 && m->byte_fallback) {
            int ok = 1;
            for (int32_t b = s; b < e; b++) if (m->byte_ids[(uint8_t)w[b]] < 0) ok = 0;
            if (ok) {
                for (int32_t b = s; b < e; b++) tk_toks_add(out, m->byte_ids[(uint8_t)w[b]], s, e);
                continue;
            }
        }
        if (id < 0) id = m->unk_id;
        if (id < 0) { free(sp); return xgd_fail("Unigram: unknown piece and no unk_id"); }
        tk_toks_add(out, id, s, e);
    }
    free(sp);
    return 0;
}

/* ---- WordPiece and WordLevel ---- */
static int wordpiece_tokenize(const tk_model *m, const char *w, size_t n, tk_toks *out) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((uint8_t)w[i] & 0xC0) != 0x80;
    if ((long)chars > m->max_chars) {
        if (m->unk_id < 0) return xgd_fail("WordPiece: a word needs the unk token, which is not in the vocab");
        tk_toks_add(out, m->unk_id, 0, (int32_t)n);
        return 0;
    }
    size_t pl = m->prefix ? strlen(m->prefix) : 0, first = out->n;
    char *buf = xgd_malloc(pl + n + 1);
    for (size_t st = 0; st < n;) {
        size_t e = n;
        int32_t id = -1;
        while (st < e) {
            size_t bl = 0;
            if (st > 0) { memcpy(buf, m->prefix, pl); bl = pl; }
            memcpy(buf + bl, w + st, e - st); bl += e - st;
            if ((id = tk_strmap_get(&m->vocab, buf, bl)) >= 0) break;
            do e--; while (e > st && ((uint8_t)w[e] & 0xC0) == 0x80); /* drop the last char */
        }
        if (id < 0) {
            out->n = first;
            if (m->unk_id < 0) { free(buf); return xgd_fail("WordPiece: a word needs the unk token, which is not in the vocab"); }
            tk_toks_add(out, m->unk_id, 0, (int32_t)n);
            break;
        }
        tk_toks_add(out, id, (int32_t)st, (int32_t)e);
        st = e;
    }
    free(buf);
    return 0;
}

int tk_model_tokenize(const tk_model *m, const char *w, size_t n, tk_toks *out) {
    if (n == 0) return 0;
    switch (m->kind) {
    case M_BPE: return bpe_tokenize(m, w, n, out);
    case M_UNIGRAM: return unigram_tokenize(m, w, n, out);
    case M_WORDPIECE: return wordpiece_tokenize(m, w, n, out);
    case M_WORDLEVEL: {
        int32_t id = tk_strmap_get(&m->vocab, w, n);
        if (id < 0) id = m->unk_id;
        if (id < 0) return xgd_fail("WordLevel: '%.*s' is not in the vocab and there is no unk token", (int)(n > 40 ? 40 : n), w);
        tk_toks_add(out, id, 0, (int32_t)n);
        return 0;
    }
    }
    return xgd_fail("unknown model kind");
}

void tk_model_free(tk_model *m) {
    tk_strmap_free(&m->vocab);
    for (int32_t k = 0; k < m->nid; k++) free(m->id2tok[k]);
    free(m->id2tok);
    tk_u64map_free(&m->merges);
    free(m->prefix); free(m->suffix); free(m->scores);
    if (m->trie.value) tk_trie_free(&m->trie);
    memset(m, 0, sizeof *m);
}
