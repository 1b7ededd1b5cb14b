#include "eval/perplexity.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/npy.h"
#include "eval/metrics.h"
#include "base/jsonl.h"
#include "model/runtime.h"
#include "model/t5.h"
#include "tokenize/tokenizer.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct xgd_ppl {
    int corrected;
    xgd_t5 *t5;          /* seed mode */
    xgd_model *lm;       /* corrected mode */
    xgd_tokenizer *tok;
    /* The seed scores 25 generations per prompt: meanCE(P) of the last prompt is kept and reused
     * (the same computation, so the same float). */
    char *last_prompt;
    size_t last_plen;
    float last_loss;
};

/* ---- opening ---------------------------------------------------------------------------------- */

xgd_ppl *xgd_ppl_open(const char *model, const char *tokenizer, int corrected) {
    char *dir = xgd_resolve_model(model);
    if (!dir) return NULL;
    char *cpath = xgd_path_join(dir, "config.json");
    json_t *cfg = xgd_is_file(cpath) ? xgd_json_load(cpath) : NULL;
    xgd_ppl *p = xgd_calloc(1, sizeof *p);
    p->corrected = corrected;
    int rc = -1;
    if (!cfg) {
        if (!xgd_is_file(cpath)) xgd_fail("%s: no config.json in this folder", dir);
        goto done;
    }
    if (!corrected) {
        if (!xgd_t5_is_config(cfg)) {
            xgd_fail("%s: the seed's perplexity needs an mT5/T5 encoder-decoder (use --corrected for a causal LM)", cpath);
            goto done;
        }
        if (xgd_t5_load(&p->t5, dir)) goto done;
    } else {
        if (xgd_t5_is_config(cfg)) {
            xgd_fail("%s: --corrected needs a causal LM (a decoder-only model), not T5", cpath);
            goto done;
        }
        if (xgd_model_load(&p->lm, dir)) goto done;
    }
    p->tok = xgd_tokenizer_load(tokenizer ? tokenizer : dir);
    if (!p->tok) { xgd_err_context("tokenizer of %s", tokenizer ? tokenizer : dir); goto done; }
    rc = 0;
done:
    json_decref(cfg);
    free(cpath);
    free(dir);
    if (rc) { xgd_ppl_close(p); return NULL; }
    return p;
}

void xgd_ppl_close(xgd_ppl *p) {
    if (!p) return;
    xgd_t5_free(p->t5);
    xgd_model_free(p->lm);
    xgd_tokenizer_free(p->tok);
    free(p->last_prompt);
    free(p);
}

const char *xgd_ppl_model_path(const xgd_ppl *p) { return p->t5 ? p->t5->path : p->lm->path; }

/* ---- the formulas ----------------------------------------------------------------------------- */

float xgd_ppl_seed_formula(float mean_f, size_t nf, float mean_p, size_t np) {
    /* torch: loss (f32 tensor) * int -> f32; the difference of lengths is an int, 0 gives inf/nan */
    volatile float full = mean_f * (float)((double)nf - 1), pr = mean_p * (float)((double)np - 1);
    volatile float diff = full - pr;
    volatile float loss = diff / (float)((double)nf - (double)np);
    return expf(loss);
}

/* Python's str.isspace() code points. */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

int xgd_ppl_blank(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t c = u[i];
        int k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (k > 1) {
            if (i + (size_t)k > len) return 0;
            c &= 0x3f >> (k - 1);
            for (int j = 1; j < k; j++) c = (c << 6) | (u[i + (size_t)j] & 0x3f);
        }
        if (!py_space(c)) return 0;
        i += (size_t)k;
    }
    return 1;
}

double xgd_percentile_midpoint(const double *a, size_t n, double q) {
    if (!n) return NAN;
    double v = q * (double)(n - 1);
    size_t lo = (size_t)floor(v), hi = (size_t)ceil(v);
    return (a[lo] + a[hi]) / 2;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void xgd_ppl_stats(const float *v, size_t n, xgd_ppl_result *r) {
    double *s = xgd_malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) s[i] = v[i];
    r->mean = xgd_np_mean(s, n);
    qsort(s, n, sizeof *s, cmp_double);
    r->median = xgd_percentile_midpoint(s, n, 0.5);
    r->q1 = xgd_percentile_midpoint(s, n, 0.25);
    r->q3 = xgd_percentile_midpoint(s, n, 0.75);
    free(s);
}

void xgd_ppl_round(xgd_ppl_result *r) {
    r->median = xgd_np_round(r->median, 2);
    r->q1 = xgd_np_round(r->q1, 2);
    r->q3 = xgd_np_round(r->q3, 2);
    r->mean = xgd_np_round(r->mean, 2);
}

/* ---- one continuation ------------------------------------------------------------------------- */

static int encode(const xgd_ppl *p, const char *s, size_t len, xgd_encoding *e) {
    memset(e, 0, sizeof *e);
    return xgd_encode(p->tok, s, len, 1, e);
}

/* model(ids, labels=ids).loss of the encoder-decoder, as the f32 the seed's tensor holds */
static int copy_loss(const xgd_ppl *p, const xgd_encoding *e, float *loss) {
    if (e->n == 0) { *loss = NAN; return 0; }   /* torch: mean over no label */
    double l;
    if (xgd_t5_loss(p->t5, e->ids, NULL, 1, (int)e->n, e->ids, (int)e->n, &l, NULL)) return -1;
    *loss = (float)l;
    return 0;
}

static int seed_one(xgd_ppl *p, const xgd_encoding *f, const xgd_encoding *pe, const char *prompt, size_t plen,
                    float *ppl) {
    float lf, lp;
    int same = p->last_prompt && p->last_plen == plen && memcmp(p->last_prompt, prompt, plen) == 0;
    if (same) lp = p->last_loss;
    else {
        if (copy_loss(p, pe, &lp)) return -1;
        free(p->last_prompt);
        p->last_prompt = xgd_malloc(plen + 1);
        memcpy(p->last_prompt, prompt, plen);
        p->last_plen = plen;
        p->last_loss = lp;
    }
    if (copy_loss(p, f, &lf)) return -1;
    *ppl = xgd_ppl_seed_formula(lf, f->n, lp, pe->n);
    return 0;
}

static size_t strip_special(const xgd_ppl *p, const xgd_encoding *e) {
    size_t n = e->n;
    while (n && xgd_is_special(p->tok, e->ids[n - 1])) n--;
    return n;
}

/* A causal LM's perplexity of tokens [start, n) of each sequence given the tokens before them.
 * B sequences share one pass, left-padded (the runtime's positions then equal each sequence's own:
 * cumsum(mask)-1), so each gets what it gets alone. */
typedef struct { const int32_t *ids; size_t n, start; float ppl; } causal_seq;

static int causal_batch(const xgd_ppl *p, causal_seq *sq, int B) {
    const xgd_model *m = p->lm;
    size_t T = 0;
    for (int b = 0; b < B; b++) if (sq[b].n > T) T = sq[b].n;
    int64_t V = m->hp.vocab;
    int32_t *ids = xgd_malloc(sizeof(int32_t) * (size_t)B * T);
    uint8_t *mask = xgd_calloc((size_t)B * T, 1);
    float *logits = xgd_malloc(sizeof(float) * (size_t)B * T * (size_t)V);
    float *lp = xgd_malloc(sizeof(float) * T);
    int32_t pad = m->hp.pad_id >= 0 && m->hp.pad_id < m->hp.vocab ? m->hp.pad_id : 0;   /* never attended */
    for (int b = 0; b < B; b++) {
        size_t off = T - sq[b].n;
        for (size_t t = 0; t < T; t++) {
            ids[(size_t)b * T + t] = t < off ? pad : sq[b].ids[t - off];
            mask[(size_t)b * T + t] = (uint8_t)(t >= off);
        }
    }
    xgd_state *st = xgd_state_new(m, B, (int)T);
    xgd_fwd fw = {.ids = ids, .mask = mask, .T = (int)T, .logits = logits, .all_logits = 1};
    int rc = xgd_forward(st, &fw);
    for (int b = 0; !rc && b < B; b++) {
        /* the row of token t-1 predicts token t */
        size_t off = T - sq[b].n, n = sq[b].n - sq[b].start;
        const float *z = logits + ((size_t)b * T + off + sq[b].start - 1) * (size_t)V;
        xgd_logprob_gather(lp, NULL, z, sq[b].ids + sq[b].start, (int64_t)n, V);
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += lp[i];
        sq[b].ppl = (float)exp(-sum / (double)n);
    }
    xgd_state_free(st);
    free(ids); free(mask); free(logits); free(lp);
    return rc;
}

/* F's tokens to score: after the longest common prefix with P (trailing specials removed from
 * both); position 0 has no context. start >= n means nothing to score. */
static causal_seq corrected_seq(const xgd_ppl *p, const xgd_encoding *f, const xgd_encoding *pe) {
    size_t nf = strip_special(p, f), np = strip_special(p, pe), ctx = 0;
    while (ctx < np && ctx < nf && f->ids[ctx] == pe->ids[ctx]) ctx++;
    return (causal_seq){f->ids, nf, ctx ? ctx : 1, NAN};
}

static int corrected_one(const xgd_ppl *p, const xgd_encoding *f, const xgd_encoding *pe, float *ppl) {
    causal_seq s = corrected_seq(p, f, pe);
    if (s.start >= s.n) { *ppl = NAN; return 0; }   /* no continuation token: dropped */
    int rc = causal_batch(p, &s, 1);
    *ppl = s.ppl;
    return rc;
}

int xgd_ppl_one(xgd_ppl *p, const char *prompt, size_t plen, const char *gen, size_t glen, float *ppl) {
    char *full = xgd_malloc(plen + glen + 1);
    memcpy(full, prompt, plen);
    memcpy(full + plen, gen, glen);
    full[plen + glen] = 0;
    xgd_encoding f, pe;
    int rc = encode(p, full, plen + glen, &f);
    if (!rc) rc = encode(p, prompt, plen, &pe);
    else memset(&pe, 0, sizeof pe);
    if (!rc) rc = p->corrected ? corrected_one(p, &f, &pe, ppl) : seed_one(p, &f, &pe, prompt, plen, ppl);
    xgd_encoding_free(&f);
    xgd_encoding_free(&pe);
    free(full);
    return rc;
}

/* ---- one file --------------------------------------------------------------------------------- */

static int read_values(const char *path, xgd_ppl_result *r) {
    xgd_npy a;
    if (xgd_npy_read(path, &a)) return -1;
    if (a.ndim != 1 || (a.dtype != XGD_F32 && a.dtype != XGD_F64)) {
        xgd_npy_free(&a);
        return xgd_fail("%s: expected a 1-D float array of perplexities (delete it to recompute)", path);
    }
    float *v = xgd_malloc(sizeof(float) * (size_t)(a.numel ? a.numel : 1));
    for (int64_t i = 0; i < a.numel; i++) v[i] = a.dtype == XGD_F32 ? ((float *)a.data)[i] : (float)((double *)a.data)[i];
    r->n_kept = (size_t)a.numel;
    r->resumed = 1;
    xgd_ppl_stats(v, (size_t)a.numel, r);
    free(v);
    xgd_npy_free(&a);
    return 0;
}

static const char *str_field(json_t *o, const char *key, size_t *len) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* The non-blank records of a generation file, in order. */
typedef struct { char *prompt, *gen; size_t plen, glen; } ppl_rec;

static char *dup_bytes(const char *s, size_t n) {
    char *d = xgd_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void free_recs(ppl_rec *v, size_t n) {
    for (size_t i = 0; i < n; i++) { free(v[i].prompt); free(v[i].gen); }
    free(v);
}

static int read_records(const char *path, ppl_rec **out, size_t *n_out, xgd_ppl_result *r) {
    xgd_jsonl in;
    *out = NULL;
    *n_out = 0;
    if (xgd_jsonl_open(&in, path, 0)) return -1;
    ppl_rec *v = NULL;
    size_t n = 0, cap = 0;
    json_t *o;
    int got, rc = 0;
    while ((got = xgd_jsonl_next(&in, &o)) > 0) {
        size_t plen = 0, glen = 0;
        const char *prompt = str_field(o, "prompt", &plen), *gen = str_field(o, "generated_text", &glen);
        r->n_lines++;
        if (!prompt || !gen) rc = xgd_fail("%s:%ld: expected string fields \"prompt\" and \"generated_text\"", path, in.line);
        else if (xgd_ppl_blank(gen, glen)) r->n_blank++;   /* the seed: `if not g.strip(): continue` */
        else {
            if (n == cap) v = xgd_realloc(v, sizeof *v * (cap = cap ? 2 * cap : 256));
            v[n++] = (ppl_rec){dup_bytes(prompt, plen), dup_bytes(gen, glen), plen, glen};
        }
        json_decref(o);
        if (rc) break;
    }
    if (got < 0) rc = -1;
    xgd_jsonl_close(&in);
    if (rc) { free_recs(v, n); return -1; }
    *out = v;
    *n_out = n;
    return 0;
}

/* The seed's metric over many records with shared passes over the weights: every F and every
 * distinct consecutive P is a "job" (a sequence whose copy loss is needed); jobs are sorted by
 * length and run as right-padded batches (xgd_t5_loss_rows gives each its own loss). */
typedef struct { xgd_encoding e; float loss; } ppl_job;

#define BATCH_TOKENS 2048
#define BATCH_MAX 32

typedef struct { size_t len, idx; } job_key;

static int cmp_key(const void *a, const void *b) {
    const job_key *x = a, *y = b;
    if (x->len != y->len) return (x->len > y->len) - (x->len < y->len);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* job indices by ascending length (ties in job order) */
static void sort_by_len(size_t *idx, size_t n, const ppl_job *jobs) {
    job_key *k = xgd_malloc(sizeof *k * (n ? n : 1));
    for (size_t i = 0; i < n; i++) k[i] = (job_key){jobs[i].e.n, i};
    qsort(k, n, sizeof *k, cmp_key);
    for (size_t i = 0; i < n; i++) idx[i] = k[i].idx;
    free(k);
}

static int run_jobs(const xgd_ppl *p, ppl_job *jobs, size_t nj, const char *label) {
    size_t *idx = xgd_malloc(sizeof(size_t) * (nj ? nj : 1));
    sort_by_len(idx, nj, jobs);
    xgd_progress bar;
    xgd_progress_start(&bar, label, (int64_t)nj, "seqs");
    int rc = 0;
    for (size_t at = 0; at < nj && !rc;) {
        size_t T = jobs[idx[at]].e.n, B = 0;
        if (T == 0) { jobs[idx[at]].loss = NAN; at++; continue; }   /* torch: mean over no label */
        /* sorted ascending: the last job of the batch is the longest */
        while (at + B < nj && B < BATCH_MAX && (B + 1) * jobs[idx[at + B]].e.n <= BATCH_TOKENS) B++;
        if (!B) B = 1;
        T = jobs[idx[at + B - 1]].e.n;
        int32_t *ids = xgd_malloc(sizeof(int32_t) * B * T), *labels = xgd_malloc(sizeof(int32_t) * B * T);
        uint8_t *mask = xgd_calloc(B * T, 1);
        double *loss = xgd_malloc(sizeof(double) * B);
        for (size_t b = 0; b < B; b++) {
            const xgd_encoding *e = &jobs[idx[at + b]].e;
            for (size_t t = 0; t < T; t++) {
                int real = t < e->n;
                ids[b * T + t] = real ? e->ids[t] : p->t5->hp.pad_id;
                labels[b * T + t] = real ? e->ids[t] : -100;
                mask[b * T + t] = (uint8_t)real;
            }
        }
        rc = xgd_t5_loss_rows(p->t5, ids, mask, (int)B, (int)T, labels, (int)T, loss);
        for (size_t b = 0; !rc && b < B; b++) jobs[idx[at + b]].loss = (float)loss[b];
        free(ids); free(labels); free(mask); free(loss);
        at += B;
        xgd_progress_add(&bar, (int64_t)B);
    }
    xgd_progress_end(&bar);
    free(idx);
    return rc;
}

static int seed_batched(xgd_ppl *p, const ppl_rec *v, size_t n, float *ppl, const char *path) {
    ppl_job *jobs = xgd_calloc(2 * n + 1, sizeof *jobs);
    size_t *fj = xgd_malloc(sizeof(size_t) * (n ? n : 1)), *pj = xgd_malloc(sizeof(size_t) * (n ? n : 1)), nj = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *full = xgd_malloc(v[i].plen + v[i].glen + 1);
        memcpy(full, v[i].prompt, v[i].plen);
        memcpy(full + v[i].plen, v[i].gen, v[i].glen);
        fj[i] = nj;
        rc = encode(p, full, v[i].plen + v[i].glen, &jobs[nj++].e);
        free(full);
        int same = i && v[i].plen == v[i - 1].plen && memcmp(v[i].prompt, v[i - 1].prompt, v[i].plen) == 0;
        if (!rc && same) pj[i] = pj[i - 1];
        else if (!rc) { pj[i] = nj; rc = encode(p, v[i].prompt, v[i].plen, &jobs[nj++].e); }
        if (rc) xgd_err_context("%s: record %zu", path, i + 1);
    }
    if (!rc) rc = run_jobs(p, jobs, nj, path);
    for (size_t i = 0; !rc && i < n; i++)
        ppl[i] = xgd_ppl_seed_formula(jobs[fj[i]].loss, jobs[fj[i]].e.n, jobs[pj[i]].loss, jobs[pj[i]].e.n);
    for (size_t j = 0; j < nj; j++) xgd_encoding_free(&jobs[j].e);
    free(jobs); free(fj); free(pj);
    return rc;
}

/* The corrected metric over many records: sequences sorted by length, batches of up to BATCH_MAX
 * sequences and BATCH_TOKENS tokens whose logits (B*T*V floats) stay under 256 MB. */
static int corrected_batched(xgd_ppl *p, const ppl_rec *v, size_t n, float *ppl, const char *path) {
    xgd_encoding *f = xgd_calloc(n ? n : 1, sizeof *f);
    causal_seq *sq = xgd_calloc(n ? n : 1, sizeof *sq);
    job_key *k = xgd_malloc(sizeof *k * (n ? n : 1));
    size_t nk = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *full = xgd_malloc(v[i].plen + v[i].glen + 1);
        memcpy(full, v[i].prompt, v[i].plen);
        memcpy(full + v[i].plen, v[i].gen, v[i].glen);
        xgd_encoding pe;
        rc = encode(p, full, v[i].plen + v[i].glen, &f[i]);
        if (!rc) rc = encode(p, v[i].prompt, v[i].plen, &pe);
        else memset(&pe, 0, sizeof pe);
        free(full);
        if (rc) { xgd_err_context("%s: record %zu", path, i + 1); xgd_encoding_free(&pe); break; }
        sq[i] = corrected_seq(p, &f[i], &pe);
        xgd_encoding_free(&pe);
        if (sq[i].start < sq[i].n) k[nk++] = (job_key){sq[i].n, i};
        else ppl[i] = NAN;   /* nothing to score: dropped */
    }
    qsort(k, nk, sizeof *k, cmp_key);
    int64_t V = p->lm->hp.vocab;
    xgd_progress bar;
    xgd_progress_start(&bar, path, (int64_t)nk, "seqs");
    causal_seq *batch = xgd_malloc(sizeof *batch * BATCH_MAX);
    for (size_t at = 0; at < nk && !rc;) {
        size_t B = 0;
        while (at + B < nk && B < BATCH_MAX && (B + 1) * k[at + B].len <= BATCH_TOKENS &&
               (double)(B + 1) * (double)k[at + B].len * (double)V <= (double)(1 << 26)) B++;
        if (!B) B = 1;
        for (size_t b = 0; b < B; b++) batch[b] = sq[k[at + b].idx];
        rc = causal_batch(p, batch, (int)B);
        for (size_t b = 0; !rc && b < B; b++) ppl[k[at + b].idx] = batch[b].ppl;
        if (rc) xgd_err_context("%s", path);
        xgd_progress_add(&bar, (int64_t)B);
        at += B;
    }
    xgd_progress_end(&bar);
    for (size_t i = 0; i < n; i++) xgd_encoding_free(&f[i]);
    free(f); free(sq); free(k); free(batch);
    return rc;
}

int xgd_ppl_file(xgd_ppl *p, const char *path, const char *values_path, double max_ppl, xgd_ppl_result *r) {
    memset(r, 0, sizeof *r);
    if (values_path && xgd_is_file(values_path)) return read_values(values_path, r);
    ppl_rec *v;
    size_t n;
    if (read_records(path, &v, &n, r)) return -1;
    float *ppl = xgd_malloc(sizeof(float) * (n ? n : 1));
    int rc = p->corrected ? corrected_batched(p, v, n, ppl, path) : seed_batched(p, v, n, ppl, path);
    /* keep values < max_ppl in file order (false for inf and nan too) */
    size_t k = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (ppl[i] < max_ppl) ppl[k++] = ppl[i];
        else r->n_dropped++;
    }
    r->n_kept = k;
    if (!rc) {
        xgd_ppl_stats(ppl, k, r);
        int64_t shape[1] = {(int64_t)k};
        if (values_path && xgd_npy_write(values_path, XGD_F32, ppl, 1, shape)) rc = -1;
    }
    free(ppl);
    free_recs(v, n);
    return rc;
}
