/* Sampler: exact filtered distributions on hand-made logits (vLLM semantics), greedy ties, the
 * fallback beyond the sorted candidates, and a chi-square test of drawn frequencies. */
#include "test.h"
#include "base/err.h"
#include "generate/sampler.h"
#include "ops/ops_internal.h"
#include <math.h>
#include <stdlib.h>
#include <stdint.h>

static void probs(const float *logits, int V, xgd_sampling sp, float *out) {
    xgd_sampler_work w;
    xgd_sampler_work_init(&w, V);
    xgd_sampling_probs(logits, V, &sp, &w, out);
    xgd_sampler_work_free(&w);
}

static void test_exact(void) {
    /* softmax of log(p) is p: logits = log of these probabilities */
    const float p[6] = {0.05f, 0.4f, 0.1f, 0.25f, 0.15f, 0.05f};
    float lg[6], out[6];
    for (int i = 0; i < 6; i++) lg[i] = logf(p[i]);
    /* no filtering, temperature 1: the same distribution */
    probs(lg, 6, (xgd_sampling){1.0f, 1.0f, -1, 0}, out);
    for (int i = 0; i < 6; i++) CHECK_NEAR(out[i], p[i], 1e-6);
    /* top-p 0.6: descending 0.4 (before 0), 0.25 (before 0.4 < 0.6), 0.15 (before 0.65 >= 0.6: dropped) */
    probs(lg, 6, (xgd_sampling){1.0f, 0.6f, -1, 0}, out);
    CHECK_NEAR(out[1], 0.4 / 0.65, 1e-6);
    CHECK_NEAR(out[3], 0.25 / 0.65, 1e-6);
    CHECK(out[0] == 0 && out[2] == 0 && out[4] == 0 && out[5] == 0);
    /* top-p exactly at a boundary: mass before 0.15 is 0.65; p = 0.65 drops it (not < p) */
    probs(lg, 6, (xgd_sampling){1.0f, 0.65f, -1, 0}, out);
    CHECK(out[4] == 0);
    probs(lg, 6, (xgd_sampling){1.0f, 0.66f, -1, 0}, out);
    CHECK_NEAR(out[4], 0.15 / 0.8, 1e-6);
    /* a tiny top-p always keeps the most likely token */
    probs(lg, 6, (xgd_sampling){1.0f, 1e-6f, -1, 0}, out);
    CHECK_NEAR(out[1], 1.0, 1e-7);
    /* top-k 3 keeps 0.4, 0.25, 0.15 renormalised */
    probs(lg, 6, (xgd_sampling){1.0f, 1.0f, 3, 0}, out);
    CHECK_NEAR(out[1], 0.4 / 0.8, 1e-6);
    CHECK_NEAR(out[4], 0.15 / 0.8, 1e-6);
    CHECK(out[2] == 0);
    /* top-k keeps ties at the k-th value: k = 5 keeps both 0.05 tokens? no: 5th largest is 0.05 (id 0 and 5 tie) */
    probs(lg, 6, (xgd_sampling){1.0f, 1.0f, 5, 0}, out);
    CHECK(out[0] > 0 && out[5] > 0);
    /* top-k then top-p: within top-3 (0.5, 0.3125, 0.1875), p 0.7 keeps 0.5 and 0.3125 */
    probs(lg, 6, (xgd_sampling){1.0f, 0.7f, 3, 0}, out);
    CHECK_NEAR(out[1], 0.4 / 0.65, 1e-6);
    CHECK(out[4] == 0);
    /* temperature 2: p^(1/2) renormalised */
    probs(lg, 6, (xgd_sampling){2.0f, 1.0f, -1, 0}, out);
    double z = 0;
    for (int i = 0; i < 6; i++) z += sqrt(p[i]);
    for (int i = 0; i < 6; i++) CHECK_NEAR(out[i], sqrt(p[i]) / z, 1e-6);
    /* min-p 0.5: keep p >= 0.2 */
    probs(lg, 6, (xgd_sampling){1.0f, 1.0f, -1, 0.5f}, out);
    CHECK_NEAR(out[1], 0.4 / 0.65, 1e-6);
    CHECK(out[4] == 0);
    /* greedy: argmax, lowest id on ties */
    float tie[4] = {1, 3, 3, 2};
    xgd_sampler_work w;
    xgd_sampler_work_init(&w, 4);
    xgd_rng r;
    xgd_rng_init(&r, 1, 0);
    xgd_sampling g = {0.0f, 0.8f, -1, 0};
    CHECK(xgd_sample(tie, 4, &g, &w, &r) == 1);
    /* a NaN logit (a broken model) gives some token id, never a crash */
    float nan_lg[4] = {1, NAN, 3, 2};
    g.temperature = 1.0f;
    int32_t got = xgd_sample(nan_lg, 4, &g, &w, &r);
    CHECK(got >= 0 && got < 4);
    xgd_sampler_work_free(&w);
}

/* A flat distribution over 3000 tokens: top-p 0.9 needs 2700 tokens, beyond the sorted candidates. */
static void test_fallback(void) {
    int V = 3000;
    float *lg = xgd_malloc(sizeof(float) * (size_t)V), *out = xgd_malloc(sizeof(float) * (size_t)V);
    for (int i = 0; i < V; i++) lg[i] = (float)(i % 7) * 1e-3f;
    probs(lg, V, (xgd_sampling){1.0f, 0.9f, -1, 0}, out);
    int kept = 0;
    double s = 0;
    for (int i = 0; i < V; i++) { kept += out[i] > 0; s += out[i]; }
    CHECK_NEAR(s, 1.0, 1e-5);
    CHECK_MSG(kept > 2600 && kept < 2750, "kept %d", kept);
    /* the kept set is the top of the order: no kept token has a lower logit than a dropped one */
    float min_kept = 1e9f, max_dropped = -1e9f;
    for (int i = 0; i < V; i++) {
        if (out[i] > 0 && lg[i] < min_kept) min_kept = lg[i];
        if (out[i] == 0 && lg[i] > max_dropped) max_dropped = lg[i];
    }
    CHECK(min_kept >= max_dropped);
    /* top-k 2000 (beyond the candidates) */
    probs(lg, V, (xgd_sampling){1.0f, 1.0f, 2000, 0}, out);
    kept = 0;
    for (int i = 0; i < V; i++) kept += out[i] > 0;
    CHECK_MSG(kept >= 2000 && kept <= 2000 + 3000 / 7, "top-k kept %d", kept);
    free(lg);
    free(out);
}

/* Chi-square: 200k draws from a top-p/temperature filtered distribution over 50 tokens. */
static void test_chi_square(void) {
    int V = 50, n = 200000;
    float lg[50], want[50];
    xgd_rng r;
    xgd_rng_init(&r, 3, 0);
    for (int i = 0; i < V; i++) lg[i] = 2.0f * xgd_rng_normal(&r);
    xgd_sampling sp = {0.9f, 0.8f, -1, 0};
    probs(lg, V, sp, want);
    long cnt[50] = {0};
    xgd_sampler_work w;
    xgd_sampler_work_init(&w, V);
    xgd_rng_init(&r, 99, 1);
    for (int i = 0; i < n; i++) cnt[xgd_sample(lg, V, &sp, &w, &r)]++;
    xgd_sampler_work_free(&w);
    double chi = 0;
    int df = -1, bad = 0;
    for (int i = 0; i < V; i++) {
        if (want[i] == 0) { bad += cnt[i] != 0; continue; }
        double e = want[i] * n;
        chi += (cnt[i] - e) * (cnt[i] - e) / e;
        df++;
    }
    CHECK_MSG(bad == 0, "a filtered-out token was drawn");
    /* p < 0.001 critical value for df <= 49 is below 86 */
    CHECK_MSG(chi < 86.0, "chi-square %.1f with %d degrees of freedom", chi, df);
}

/* Top-p alone (the study's setting, served by the histogram of nucleus_find) against a full sort:
 * normal logits at several spreads, many exact ties (rounded logits), a tiny p (only the largest
 * stays) and p near 1. The kept set must be exactly the sorted prefix whose mass before each
 * token is < p, the probabilities e/zz within 1e-6, and every draw the inversion of the same
 * uniform in descending-probability, ascending-id order. */
static const float *g_e;
static int by_prob(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    return g_e[i] != g_e[j] ? (g_e[i] > g_e[j] ? -1 : 1) : (i > j) - (i < j);
}

static void test_top_p_sorted(int V, int trials) {
    float *lg = xgd_malloc(sizeof(float) * (size_t)V), *e = xgd_malloc(sizeof(float) * (size_t)V);
    float *out = xgd_malloc(sizeof(float) * (size_t)V);
    int32_t *idx = xgd_malloc(sizeof(int32_t) * (size_t)V);
    xgd_sampler_work w;
    xgd_sampler_work_init(&w, V);
    xgd_rng r;
    xgd_rng_init(&r, 7, (uint64_t)V);
    int bad_set = 0, bad_draw = 0;
    double worst = 0;
    for (int trial = 0; trial < trials; trial++) {
        xgd_sampling sp = {0.9f, trial % 5 == 4 ? 1e-9f : trial % 7 == 3 ? 0.999f : 0.8f, -1, 0};
        float sd = trial % 3 == 0 ? 3.0f : trial % 3 == 1 ? 0.3f : 0.02f;
        for (int i = 0; i < V; i++) {
            lg[i] = sd * xgd_rng_normal(&r);
            if (trial % 4 == 1) lg[i] = roundf(lg[i] * 4.0f);   /* many exact ties */
        }
        /* the reference: exponentials as the sampler computes them, a full sort, a walk */
        for (int i = 0; i < V; i++) { e[i] = lg[i] / sp.temperature; idx[i] = i; }
        xgd_exp_sum(e, e, V, xgd_max_f32(e, V));
        g_e = e;
        qsort(idx, (size_t)V, sizeof(int32_t), by_prob);
        double z = 0, zz = 0;
        for (int i = 0; i < V; i++) z += e[i];
        int k = 0;
        for (; k < V && (zz < (double)sp.top_p * z || k == 0); k++) zz += e[idx[k]];
        xgd_sampling_probs(lg, V, &sp, &w, out);
        int kept = 0;
        for (int i = 0; i < V; i++) kept += out[i] > 0;
        for (int i = 0; i < k; i++) worst = fmax(worst, fabs(out[idx[i]] - e[idx[i]] / zz));
        bad_set += kept != k;
        xgd_rng ahead = r;
        double u = xgd_rng_uniform_d(&ahead) * zz, c = 0;
        int32_t want = idx[k - 1];
        for (int i = 0; i < k; i++)
            if (u < (c += e[idx[i]])) { want = idx[i]; break; }
        bad_draw += xgd_sample(lg, V, &sp, &w, &r) != want;
    }
    CHECK_MSG(bad_set == 0, "V=%d: %d kept sets differ from the sorted prefix", V, bad_set);
    CHECK_MSG(worst < 1e-6, "V=%d: probabilities off by %g", V, worst);
    CHECK_MSG(bad_draw == 0, "V=%d: %d draws differ from the sorted inversion", V, bad_draw);
    xgd_sampler_work_free(&w);
    free(lg); free(e); free(out); free(idx);
}

int main(void) {
    test_exact();
    test_top_p_sorted(101, 300);
    test_top_p_sorted(3000, 100);
    test_top_p_sorted(50257, 12);
    test_fallback();
    test_chi_square();
    return test_done("sampler");
}
