/* Added tokens (tokenizers' added_vocabulary.rs): split out of the text before the model sees
 * it, by leftmost-longest matching. Two matchers: the contents of normalized=false tokens, run
 * on the raw text, and the normalized contents of normalized=true tokens, run on each normalized
 * piece. A byte trie from every position gives leftmost-longest in O(n * longest token). */
#include "tokenize/tk.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

void tk_added_add(tk_added *a, int32_t id, const char *content, int single_word, int lstrip,
                  int rstrip, int normalized, int special) {
    int32_t k = tk_strmap_get(&a->by_content, content, strlen(content));
    if (k < 0) {
        if (a->n == a->cap) { a->cap = a->cap ? a->cap * 2 : 16; a->v = xgd_realloc(a->v, a->cap * sizeof *a->v); }
        k = (int32_t)a->n++;
        a->v[k].content = xgd_strdup(content);
        tk_strmap_put(&a->by_content, content, strlen(content), k);
    }
    tk_added_tok *t = &a->v[k];
    t->id = id; t->single_word = single_word; t->lstrip = lstrip; t->rstrip = rstrip;
    t->normalized = normalized; t->special = special;
}

void tk_added_build(tk_added *a, const tk_norm *nm) {
    if (a->raw.value) tk_trie_free(&a->raw);
    if (a->norm.value) tk_trie_free(&a->norm);
    tk_trie_init(&a->raw);
    tk_trie_init(&a->norm);
    tk_u64map_free(&a->by_id);
    for (size_t k = 0; k < a->n; k++) tk_u64map_put(&a->by_id, (uint64_t)(uint32_t)a->v[k].id, k);
    for (size_t k = 0; k < a->n; k++) {
        const char *c = a->v[k].content;
        size_t n = strlen(c);
        if (!n) continue;
        if (!a->v[k].normalized || !nm) { tk_trie_add(a->v[k].normalized ? &a->norm : &a->raw, c, n, (int32_t)k); continue; }
        tk_nstr in = {0}, out = {0};
        tk_nstr_push(&in, c, n, 0, 0);
        tk_norm_run(nm, &in, &out);
        if (out.n) tk_trie_add(&a->norm, out.s, out.n, (int32_t)k);
        tk_nstr_free(&in);
        tk_nstr_free(&out);
    }
}

static int32_t char_before(const char *s, size_t i) {
    size_t j = i;
    while (j > 0 && ((uint8_t)s[j - 1] & 0xC0) == 0x80) j--;
    if (j > 0) j--;
    int32_t c;
    return tk_utf8_next(s, i, j, &c) > 0 ? c : 0xFFFD;
}

static void add_range(tk_pieces *out, const tk_nstr *x, size_t s, size_t e, int32_t id) {
    if (e <= s) return;
    tk_piece *p = tk_pieces_add(out);
    tk_nstr_push_range(&p->str, x, s, e);
    p->added = id;
}

void tk_added_split(const tk_added *a, int normalized, const tk_piece *in, tk_pieces *out) {
    const tk_trie *tr = normalized ? &a->norm : &a->raw;
    const tk_nstr *x = &in->str;
    if (in->added >= 0 || tr->n <= 1) { add_range(out, x, 0, x->n, in->added); return; }
    size_t done = 0; /* end of the last accepted match */
    for (size_t i = 0; i < x->n;) {
        int32_t node = 0, best = -1;
        size_t best_e = 0;
        for (size_t e = i; e < x->n; e++) {
            node = tk_trie_step(tr, node, (uint8_t)x->s[e]);
            if (node < 0) break;
            if (tr->value[node] >= 0) { best = tr->value[node]; best_e = e + 1; }
        }
        if (best < 0) { i++; continue; }
        const tk_added_tok *t = &a->v[best];
        size_t s = i, e = best_e;
        i = best_e; /* matches never overlap, even a skipped one */
        if (t->single_word) {
            int32_t c;
            int before = s > 0 && tk_is_word(char_before(x->s, s));
            int after = e < x->n && tk_utf8_next(x->s, x->n, e, &c) > 0 && tk_is_word(c);
            if (before || after) continue;
        }
        if (t->lstrip) {
            while (s > done) {
                size_t j = s;
                while (j > 0 && ((uint8_t)x->s[j - 1] & 0xC0) == 0x80) j--;
                if (j > 0) j--;
                int32_t c;
                if (tk_utf8_next(x->s, x->n, j, &c) <= 0 || !tk_is_space(c)) break;
                s = j;
            }
        }
        if (t->rstrip) {
            int32_t c;
            int l;
            while (e < x->n && (l = tk_utf8_next(x->s, x->n, e, &c)) > 0 && tk_is_space(c)) e += (size_t)l;
            if (i < e) i = e;
        }
        if (s < done) s = done;
        add_range(out, x, done, s, -1);
        add_range(out, x, s, e, t->id);
        done = e;
    }
    add_range(out, x, done, x->n, -1);
}

void tk_added_free(tk_added *a) {
    for (size_t k = 0; k < a->n; k++) free(a->v[k].content);
    free(a->v);
    tk_strmap_free(&a->by_content);
    tk_u64map_free(&a->by_id);
    if (a->raw.value) tk_trie_free(&a->raw);
    if (a->norm.value) tk_trie_free(&a->norm);
    memset(a, 0, sizeof *a);
}
