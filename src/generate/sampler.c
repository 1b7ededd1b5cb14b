#include "generate/sampler.h"
#include "base/err.h"
#include "ops/ops_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* top-p bins (see nucleus_find): the top 16 bits of an f32 exponential in [0, 1] */
#define NUC_SHIFT 16
#define NUC_TOP (0x3F800000u >> NUC_SHIFT)   /* the bin of 1.0f, the max's exponential */

void xgd_sampler_work_init(xgd_sampler_work *w, int V) {
    w->p = xgd_malloc(sizeof(float) * (size_t)V);
    w->e = xgd_malloc(sizeof(float) * (size_t)V);
    w->idx = xgd_malloc(sizeof(int32_t) * (size_t)V);
    w->hist = xgd_calloc(NUC_TOP + 1, sizeof(double));
    w->hist_lo = NUC_TOP;
    w->V = V;
}

void xgd_sampler_work_free(xgd_sampler_work *w) {
    free(w->p);
    free(w->e);
    free(w->idx);
    free(w->hist);
    w->p = w->e = NULL;
    w->idx = NULL;
    w->hist = NULL;
}

static int32_t argmax(const float *x, int V) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (x[v] > x[best]) best = v;
    return best;
}

/* Order: descending value, ascending id on ties (a total order, so results are deterministic). */
static inline int before(const float *v, int32_t i, int32_t j) { return v[i] > v[j] || (v[i] == v[j] && i < j); }

static int cmp_desc(const void *a, const void *b, void *ctx) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    const float *v = ctx;
    return before(v, i, j) ? -1 : before(v, j, i) ? 1 : 0;
}

/* Partially order idx[0..n) so that its first c entries are the c first in the order above
 * (quickselect, expected O(n)), then sort those c. */
static void top_c(int32_t *idx, int n, int c, const float *v) {
    int lo = 0, hi = n - 1;
    while (c < n && lo < hi) {
        int32_t a = idx[lo], b = idx[(lo + hi) / 2], d = idx[hi], piv;
        /* median of three as pivot */
        if (before(v, a, b)) { if (before(v, b, d)) piv = b; else piv = before(v, a, d) ? d : a; }
        else { if (before(v, a, d)) piv = a; else piv = before(v, b, d) ? d : b; }
        int i = lo, j = hi;
        while (i <= j) {
            while (before(v, idx[i], piv)) i++;
            while (before(v, piv, idx[j])) j--;
            if (i <= j) { int32_t t = idx[i]; idx[i] = idx[j]; idx[j] = t; i++; j--; }
        }
        if (c - 1 <= j) hi = j;
        else if (c - 1 >= i) lo = i;
        else break;
    }
    qsort_r(idx, (size_t)(c < n ? c : n), sizeof(int32_t), cmp_desc, (void *)v);
}

/* ---- top-p alone (the study's setting): the nucleus from a histogram of the exponentials ----
 * Random and weakly trained models have flat distributions whose nucleus holds tens of thousands
 * of tokens; ordering them (quickselect by mass, then a walk) took a fifth of a decode step. Here
 * the exponentials e = exp(s - max) (the probabilities times z), all in [0, 1], are binned by
 * their top 16 bits (exponent and 7 mantissa bits: a bin is 1/128 of an octave), so the bins are
 * in the tokens' order. A walk down the bins' masses finds the one bin where the cumulative mass
 * crosses p; only that bin's tokens are sorted. The draw finds its bin the same way and sorts
 * only that one. The result is the definition in sampler.h, summed in double in another order
 * than a full sort would (a rounding-level difference at the boundary). */

static inline uint32_t bin_of(float e) {
    uint32_t u;
    memcpy(&u, &e, sizeof u);
    u >>= NUC_SHIFT;
    return u < NUC_TOP ? u : NUC_TOP;   /* a NaN (from a NaN logit) must not index past the bins */
}

/* The tokens of bin b, in the order of sampler.h, into idx; returns how many. */
static int bin_sorted(const float *e, int V, uint32_t b, int32_t *idx) {
    int n = 0;
    for (int v = 0; v < V; v++)
        if (bin_of(e[v]) == b) idx[n++] = v;
    qsort_r(idx, (size_t)n, sizeof(int32_t), cmp_desc, (void *)e);
    return n;
}

typedef struct {
    double zz;      /* mass of the nucleus (sum of its e) */
    uint32_t cut;   /* bins above cut are kept whole */
    int kcut;       /* of cut's tokens, sorted in w->idx[0..), the first kcut are kept */
} nucleus;

/* Exponentials exp(logits / t - max) into w->e (f32, as vLLM's softmax; the probabilities are
 * e / z), their bin masses into w->hist, and the nucleus of top-p. */
static void nucleus_find(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, nucleus *nu) {
    const float t = sp->temperature;
    float *e = w->e;
    double *h = w->hist;
    float *sc = w->p;
#pragma omp simd
    for (int v = 0; v < V; v++) sc[v] = logits[v] / t;
    /* exp(s - max): vectorised and without threads (rows are already spread over them) */
    xgd_exp_sum(e, sc, V, xgd_max_f32(sc, V));
    /* bins [hist_lo, NUC_TOP] may hold the previous row's masses: zero just those (a small
     * vocabulary would otherwise pay for all 16k bins) */
    memset(h + w->hist_lo, 0, sizeof(double) * (NUC_TOP + 1 - w->hist_lo));
    double z = 0;
    uint32_t lo = NUC_TOP;
    for (int v = 0; v < V; v++) {
        uint32_t bv = bin_of(e[v]);
        z += e[v];
        h[bv] += e[v];
        lo = bv < lo ? bv : lo;
    }
    w->hist_lo = lo;
    /* keep token j iff the mass strictly before it is < p: every bin above the crossing bin,
     * then the crossing bin's tokens in order while the mass before them is < p */
    uint32_t b = NUC_TOP;
    while (b > lo && h[b] == 0) b--;       /* the bin of the most likely token */
    while (lo < b && h[lo] == 0) lo++;     /* the lowest bin with mass: the walk stops there */
    double thr = (double)sp->top_p * z, acc = 0;
    for (; b > lo && acc + h[b] < thr; b--) acc += h[b];
    int n = bin_sorted(e, V, b, w->idx), k = 0;   /* n >= 1: b has mass (see the walk) */
    for (; k < n && (acc < thr || k == 0); k++) acc += e[w->idx[k]];   /* the largest always stays */
    nu->cut = b;
    nu->kcut = k;
    nu->zz = acc;
}

/* Inversion of u in [0, 1) over the nucleus in the order of sampler.h, bins first. */
static int32_t nucleus_draw(const nucleus *nu, xgd_sampler_work *w, int V, double u) {
    const double target = u * nu->zz;
    const double *h = w->hist;
    double acc = 0;
    int32_t *idx = w->idx + nu->kcut;   /* after the cut bin's kept tokens: bins are disjoint */
    for (uint32_t b = NUC_TOP; b > nu->cut; b--) {
        if (acc + h[b] <= target) { acc += h[b]; continue; }
        int n = bin_sorted(w->e, V, b, idx);
        for (int i = 0; i < n; i++)
            if (target < (acc += w->e[idx[i]])) return idx[i];
        return idx[n - 1];   /* rounding: the tokens summed to slightly less than the bin */
    }
    for (int i = 0; i < nu->kcut; i++)
        if (target < (acc += w->e[w->idx[i]])) return w->idx[i];
    return w->idx[nu->kcut - 1];   /* rounding: u*zz reached zz */
}

/* The nucleus as probabilities: e/zz for the kept tokens, 0 for the rest. */
static void nucleus_probs(const nucleus *nu, const xgd_sampler_work *w, int V, float *probs) {
    for (int v = 0; v < V; v++) probs[v] = bin_of(w->e[v]) > nu->cut ? (float)(w->e[v] / nu->zz) : 0.0f;
    for (int i = 0; i < nu->kcut; i++) probs[w->idx[i]] = (float)(w->e[w->idx[i]] / nu->zz);
}

static int top_p_only(const xgd_sampling *sp, int V) {
    return !(sp->top_k > 0 && sp->top_k < V) && sp->top_p < 1.0f && sp->min_p <= 0.0f;
}

/* Candidates examined before falling back to a full sort: the top-p set of a language model at
 * temperature ~1 almost always lies within them; when it does not, the full sort decides. */
#define SAMPLER_CANDIDATES 1024

/* Fill w->p with the filtered, renormalised distribution; return how many tokens survive, with
 * their ids in w->idx[0..n) in descending probability. */
static int filter(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w) {
    float t = sp->temperature;
    float *s = w->p;
    for (int v = 0; v < V; v++) { s[v] = logits[v] / t; w->idx[v] = v; }
    int use_k = sp->top_k > 0 && sp->top_k < V;
    int c = V < SAMPLER_CANDIDATES ? V : SAMPLER_CANDIDATES;
    if (use_k && sp->top_k >= c) c = V;   /* k beyond the candidates: sort everything */
    for (int pass = 0; pass < 2; pass++) {
        top_c(w->idx, V, c, s);
        /* top-k: keep everything >= the k-th largest (ties stay); needs the tie run inside c */
        int n = V;
        if (use_k) {
            float kth = s[w->idx[sp->top_k - 1]];
            n = sp->top_k;
            while (n < c && s[w->idx[n]] >= kth) n++;
            if (n == c && c < V) { c = V; continue; }
        }
        /* softmax over the survivors (all of V when top-k is off): exp once per token, in f32 as
         * vLLM's softmax, summed in double */
        float mx = s[w->idx[0]];
        float *e = w->e;
        double z = 0;
        if (n == V) for (int v = 0; v < V; v++) { e[v] = expf(s[v] - mx); z += e[v]; }
        else for (int i = 0; i < n; i++) { int32_t v = w->idx[i]; e[v] = expf(s[v] - mx); z += e[v]; }
        /* top-p: keep j iff the mass strictly before j is < p; min-p: prob >= min_p * max */
        int keep = n;
        if (sp->top_p < 1.0f || sp->min_p > 0.0f) {
            double mass = 0, thr = (double)sp->min_p * (1.0 / z);
            keep = 0;
            while (keep < n) {
                if (keep == c) break;   /* ran past the sorted candidates */
                double pj = e[w->idx[keep]] / z;
                if (keep > 0 && (mass >= (double)sp->top_p || pj < thr)) break;
                mass += pj;
                keep++;
            }
            /* (top-p alone never comes here: nucleus_find serves it) */
            if (keep == c && c < n) { c = V; continue; }
        }
        /* with neither top-p nor min-p every token survives; the draw walks idx in the
         * (deterministic) order quickselect left it, so no full sort is needed */
        double zz = 0;
        for (int i = 0; i < keep; i++) zz += e[w->idx[i]];
        for (int i = 0; i < keep; i++) s[w->idx[i]] = (float)(e[w->idx[i]] / zz);
        /* zero the rest: tokens outside idx[0..keep) */
        for (int i = keep; i < V; i++) s[w->idx[i]] = 0.0f;
        return keep;
    }
    return 0; /* not reached: the second pass runs with c = V */
}

void xgd_sampling_probs(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, float *probs) {
    if (sp->temperature < 1e-5f) {
        for (int v = 0; v < V; v++) probs[v] = 0.0f;
        probs[argmax(logits, V)] = 1.0f;
        return;
    }
    if (top_p_only(sp, V)) {
        nucleus nu;
        nucleus_find(logits, V, sp, w, &nu);
        nucleus_probs(&nu, w, V, probs);
        return;
    }
    filter(logits, V, sp, w);
    for (int v = 0; v < V; v++) probs[v] = w->p[v];
}

int32_t xgd_sample(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, xgd_rng *rng) {
    if (sp->temperature < 1e-5f) return argmax(logits, V);
    if (top_p_only(sp, V)) {
        nucleus nu;
        nucleus_find(logits, V, sp, w, &nu);
        return nucleus_draw(&nu, w, V, xgd_rng_uniform_d(rng));
    }
    int n = filter(logits, V, sp, w);
    double u = xgd_rng_uniform_d(rng), c = 0;
    for (int i = 0; i < n; i++) {
        c += w->p[w->idx[i]];
        if (u < c) return w->idx[i];
    }
    return w->idx[n - 1]; /* rounding: the mass summed to slightly below u */
}
