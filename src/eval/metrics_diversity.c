/* Distinct-n diversity of the generations (pipeline-spec.md §5.4): the seed's variant, whose
 * tokens are the per-id decoded strings and whose n-grams are "_"-joined strings, all divided by
 * the unigram count; and the standard one (distinct id n-grams / total n-grams). */
#include "eval/metrics.h"
#include "base/jsonl.h"
#include "eval/metrics_strset.h"
#include "base/err.h"
#include "tokenize/tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct xgd_distinct {
    const xgd_tokenizer *tok;
    int standard;
    int32_t vocab;
    char **piece;          /* (vocab,) decode([id], skip_special_tokens=True), filled on first use */
    xgd_strset set[3];     /* distinct 1-, 2-, 3-grams of the current group */
    xgd_encoding enc;
    const char **ow;       /* the current generation's non-empty token strings */
    size_t ow_cap;
    char *join;            /* n-gram key buffer */
    size_t join_cap;
};

xgd_distinct *xgd_distinct_new(const xgd_tokenizer *t, int standard) {
    xgd_distinct *d = xgd_calloc(1, sizeof *d);
    d->tok = t;
    d->standard = standard;
    d->vocab = xgd_vocab_size(t);
    d->piece = xgd_calloc((size_t)(d->vocab > 0 ? d->vocab : 1), sizeof *d->piece);
    return d;
}

void xgd_distinct_free(xgd_distinct *d) {
    if (!d) return;
    for (int32_t i = 0; i < d->vocab; i++) free(d->piece[i]);
    free(d->piece);
    for (int k = 0; k < 3; k++) xgd_strset_free(&d->set[k]);
    xgd_encoding_free(&d->enc);
    free(d->ow);
    free(d->join);
    free(d);
}

/* The seed decodes each id alone with skip_special_tokens=True (and the tokenizer's default
 * clean-up): special tokens give "", and so does a lone Metaspace "▁" piece. */
static const char *piece_of(xgd_distinct *d, int32_t id) {
    if (id < 0 || id >= d->vocab) { xgd_fail("token id %d outside the vocabulary (%d)", id, d->vocab); return NULL; }
    if (!d->piece[id]) {
        d->piece[id] = xgd_decode(d->tok, &id, 1, 1, -1);
        if (!d->piece[id]) { xgd_err_context("decoding id %d", id); return NULL; }
    }
    return d->piece[id];
}

/* Add a[0] "_" a[1] ... "_" a[n-1] to the set: the seed's n-gram key. */
static void add_joined(xgd_distinct *d, xgd_strset *s, const char *const *a, int n) {
    size_t len = 0;
    for (int k = 0; k < n; k++) len += strlen(a[k]) + 1;
    if (len > d->join_cap) { d->join_cap = 2 * len; d->join = xgd_realloc(d->join, d->join_cap); }
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        if (k) d->join[at++] = '_';
        size_t m = strlen(a[k]);
        memcpy(d->join + at, a[k], m);
        at += m;
    }
    xgd_strset_add(s, d->join, at);
}

/* One generation, the seed's way: tokens = non-empty per-id strings of tok(gen) (with </s>).
 * Returns the token count, or -1. */
static long seed_generation(xgd_distinct *d, const char *text, size_t len) {
    if (xgd_encode(d->tok, text, len, 1, &d->enc)) return -1;
    if (d->enc.n > d->ow_cap) { d->ow_cap = 2 * d->enc.n; d->ow = xgd_realloc(d->ow, d->ow_cap * sizeof *d->ow); }
    size_t m = 0;
    for (size_t i = 0; i < d->enc.n; i++) {
        const char *p = piece_of(d, d->enc.ids[i]);
        if (!p) return -1;
        if (*p) d->ow[m++] = p;
    }
    for (size_t i = 0; i < m; i++) add_joined(d, &d->set[0], d->ow + i, 1);
    for (size_t i = 0; i + 1 < m; i++) add_joined(d, &d->set[1], d->ow + i, 2);
    for (size_t i = 0; i + 2 < m; i++) add_joined(d, &d->set[2], d->ow + i, 3);
    return (long)m;
}

/* One generation, the standard way: id n-grams of tok(gen) without special tokens; the n-gram
 * totals go to total[0..2]. */
static int standard_generation(xgd_distinct *d, const char *text, size_t len, size_t total[3]) {
    if (xgd_encode(d->tok, text, len, 0, &d->enc)) return -1;
    size_t m = d->enc.n;
    for (int n = 1; n <= 3; n++) {
        for (size_t i = 0; i + (size_t)n <= m; i++)
            xgd_strset_add(&d->set[n - 1], d->enc.ids + i, (size_t)n * sizeof(int32_t));
        total[n - 1] += m >= (size_t)n ? m - (size_t)n + 1 : 0;
    }
    return 0;
}

int xgd_distinct_n(xgd_distinct *d, const char *const *gens, const size_t *lens, size_t n, double dist[3]) {
    for (int k = 0; k < 3; k++) xgd_strset_clear(&d->set[k]);
    size_t total[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(gens[i]);
        if (!len) continue;   /* the seed's `if gen`: "" is dropped, whitespace is kept */
        if (d->standard) {
            if (standard_generation(d, gens[i], len, total)) return -1;
        } else {
            long m = seed_generation(d, gens[i], len);
            if (m < 0) return -1;
            total[0] += (size_t)m;
        }
    }
    if (!total[0]) return 1;
    for (int k = 0; k < 3; k++) {
        /* the seed divides every n by the unigram count */
        size_t den = d->standard ? total[k] : total[0];
        dist[k] = den ? (double)d->set[k].n / (double)den : 0.0;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------------------------------ */

typedef struct {
    char **text;
    size_t *len;
    int64_t *group;
    size_t n, cap, n_groups;
} gen_lines;

static void gen_lines_free(gen_lines *g) {
    for (size_t i = 0; i < g->n; i++) free(g->text[i]);
    free(g->text); free(g->len); free(g->group);
}

static int read_generations(const char *path, const xgd_div_opts *o, gen_lines *out) {
    xgd_jsonl r;
    if (xgd_jsonl_open(&r, path, 0)) return -1;
    xgd_strset prompts = {0};
    int rc = 0;
    json_t *obj;
    for (int got; (got = xgd_jsonl_next(&r, &obj)) != 0;) {
        if (got < 0) { rc = -1; break; }
        const json_t *gt = json_object_get(obj, "generated_text"), *p = json_object_get(obj, "prompt");
        if (!json_is_string(gt) || (o->by == XGD_GROUP_PROMPT && !json_is_string(p))) {
            json_decref(obj);
            rc = xgd_fail("%s:%ld: expected {\"prompt\": string, \"generated_text\": string}", path, r.line);
            break;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 1024;
            out->text = xgd_realloc(out->text, out->cap * sizeof *out->text);
            out->len = xgd_realloc(out->len, out->cap * sizeof *out->len);
            out->group = xgd_realloc(out->group, out->cap * sizeof *out->group);
        }
        size_t len = json_string_length(gt);
        char *t = xgd_malloc(len + 1);
        memcpy(t, json_string_value(gt), len + 1);
        int64_t g = o->by == XGD_GROUP_PROMPT ? xgd_strset_add(&prompts, json_string_value(p), json_string_length(p))
                                              : (int64_t)(out->n / (size_t)o->sample);
        json_decref(obj);
        out->text[out->n] = t;
        out->len[out->n] = len;
        out->group[out->n] = g;
        out->n++;
        if ((size_t)g + 1 > out->n_groups) out->n_groups = (size_t)g + 1;
    }
    xgd_jsonl_close(&r);
    xgd_strset_free(&prompts);
    return rc;
}

int xgd_diversity_file(const char *path, xgd_distinct *d, const xgd_div_opts *o, xgd_div_result *r) {
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 3; k++) r->mean[k] = r->std[k] = NAN;
    if (o->by == XGD_GROUP_INDEX && o->sample < 1) return xgd_fail("sample must be >= 1 (got %d)", o->sample);
    gen_lines L = {0};
    if (read_generations(path, o, &L)) { gen_lines_free(&L); return -1; }
    if (!L.n) { gen_lines_free(&L); return xgd_fail("%s: no generations", path); }
    r->n_lines = L.n;
    r->n_groups = L.n_groups;
    if (o->by == XGD_GROUP_INDEX && L.n % (size_t)o->sample) r->last_chunk = L.n % (size_t)o->sample;

    /* members of each group in file order: a counting sort by group */
    size_t *at = xgd_calloc(L.n_groups + 1, sizeof *at), *member = xgd_malloc(L.n * sizeof *member);
    for (size_t i = 0; i < L.n; i++) at[L.group[i] + 1]++;
    for (size_t g = 0; g < L.n_groups; g++) at[g + 1] += at[g];
    size_t *fill = xgd_malloc((L.n_groups + 1) * sizeof *fill);
    memcpy(fill, at, (L.n_groups + 1) * sizeof *fill);
    for (size_t i = 0; i < L.n; i++) member[fill[L.group[i]]++] = i;
    free(fill);

    double *dist[3];
    for (int k = 0; k < 3; k++) dist[k] = xgd_malloc(L.n_groups * sizeof(double));
    const char **gens = xgd_malloc(L.n * sizeof *gens);
    size_t *lens = xgd_malloc(L.n * sizeof *lens);
    int rc = 0;
    for (size_t g = 0; g < L.n_groups && !rc; g++) {
        size_t m = 0;
        for (size_t j = at[g]; j < at[g + 1]; j++) {
            size_t i = member[j];
            if (!L.len[i]) { r->n_empty_gens++; continue; }
            gens[m] = L.text[i];
            lens[m++] = L.len[i];
        }
        if (!m) { r->n_empty++; continue; }
        double dd[3];
        int s = xgd_distinct_n(d, gens, lens, m, dd);
        if (s < 0) { rc = xgd_err_context("%s: group %zu", path, g); break; }
        if (s > 0) { r->n_no_tokens++; continue; }
        for (int k = 0; k < 3; k++) dist[k][r->n_used] = dd[k];
        r->n_used++;
    }
    if (!rc && r->n_used)
        for (int k = 0; k < 3; k++) {
            r->mean[k] = xgd_np_mean(dist[k], r->n_used);
            r->std[k] = xgd_np_std(dist[k], r->n_used);
        }
    for (int k = 0; k < 3; k++) free(dist[k]);
    free(gens); free(lens); free(at); free(member);
    gen_lines_free(&L);
    return rc;
}

void xgd_div_round(xgd_div_result *r) {
    for (int k = 0; k < 3; k++) {
        r->mean[k] = xgd_np_round(r->mean[k], 3);
        r->std[k] = xgd_np_round(r->std[k], 3);
    }
}
