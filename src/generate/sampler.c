#include "generate/sampler.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>

void xgd_sampler_work_init(xgd_sampler_work *w, int V) {
    w->p = xgd_malloc(sizeof(float) * (size_t)V);
    w->e = xgd_malloc(sizeof(float) * (size_t)V);
    w->idx = xgd_malloc(sizeof(int32_t) * (size_t)V);
    w->V = V;
}

void xgd_sampler_work_free(xgd_sampler_work *w) {
    free(w->p);
    free(w->e);
    free(w->idx);
    w->p = w->e = NULL;
    w->idx = NULL;
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

/* Reorder idx[0..n) so that its first k entries are the shortest prefix of the order above whose
 * probability mass exp(s - mx)/z reaches p, and return k (quickselect on mass: expected O(n), no
 * sort). e[v] = exp(s[v] - max), z their sum. The prefix is what top-p keeps: token j stays iff
 * the mass strictly before it is < p. */
static int top_mass(int32_t *idx, int n, const float *s, const float *e, double z, double p) {
    int lo = 0, hi = n;          /* invariant: k lies in (lo, hi]; mass of idx[0..lo) is acc < p */
    double acc = 0;
    while (hi - lo > 1) {
        int32_t piv = idx[lo + (hi - lo) / 2];
        int i = lo;
        for (int j = lo; j < hi; j++)
            if (before(s, idx[j], piv)) { int32_t t = idx[i]; idx[i] = idx[j]; idx[j] = t; i++; }
        for (int j = i; j < hi; j++)   /* the pivot right after the elements before it */
            if (idx[j] == piv) { idx[j] = idx[i]; idx[i] = piv; break; }
        double left = 0;
        for (int j = lo; j < i; j++) left += e[idx[j]];
        left /= z;
        if (acc + left >= p) { hi = i; continue; }
        acc += left + e[piv] / z;
        if (acc >= p) return i + 1;
        lo = i + 1;
    }
    return hi;
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
    if (!use_k && sp->top_p < 1.0f && sp->min_p <= 0.0f) {
        /* top-p alone (the study's setting): one quickselect on probability mass over the
         * vocabulary finds the nucleus; the draw walks it in that (deterministic) order */
        float mx = s[0];
        for (int v = 1; v < V; v++) if (s[v] > mx) mx = s[v];
        double z = 0;
        for (int v = 0; v < V; v++) { w->e[v] = expf(s[v] - mx); z += w->e[v]; }
        int keep = top_mass(w->idx, V, s, w->e, z, (double)sp->top_p);
        double zz = 0;
        for (int i = 0; i < keep; i++) zz += w->e[w->idx[i]];
        for (int v = 0; v < V; v++) s[v] = 0.0f;
        for (int i = 0; i < keep; i++) s[w->idx[i]] = (float)(w->e[w->idx[i]] / zz);
        return keep;
    }
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
            if (keep == c && c < n) {
                if (use_k || sp->min_p > 0.0f) { c = V; continue; }
                /* the nucleus is larger than the sorted candidates (a flat distribution): find it
                 * by mass instead of sorting the whole vocabulary */
                keep = top_mass(w->idx, n, s, e, z, (double)sp->top_p);
            }
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
    filter(logits, V, sp, w);
    for (int v = 0; v < V; v++) probs[v] = w->p[v];
}

int32_t xgd_sample(const float *logits, int V, const xgd_sampling *sp, xgd_sampler_work *w, xgd_rng *rng) {
    if (sp->temperature < 1e-5f) return argmax(logits, V);
    int n = filter(logits, V, sp, w);
    double u = xgd_rng_uniform_d(rng), c = 0;
    for (int i = 0; i < n; i++) {
        c += w->p[w->idx[i]];
        if (u < c) return w->idx[i];
    }
    return w->idx[n - 1]; /* rounding: the mass summed to slightly below u */
}
