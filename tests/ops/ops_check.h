/* Helpers shared by the ops tests: random tensors and a finite-difference gradient check.
 *
 * Gradient check: the loss is L = sum(w ⊙ y) with fixed random w, accumulated in double over the
 * op's f32 outputs. Each input element p_i is moved by ±eps and the central difference
 * (L(p+eps) - L(p-eps)) / 2eps is compared with the analytic gradient g_i:
 *     max_i |num_i - g_i| / max_i |g_i|  <=  1e-3   (FD_TOL)
 * (a norm-wise relative error, which is robust for the many near-zero entries). */
#ifndef XGD_TESTS_OPS_CHECK_H
#define XGD_TESTS_OPS_CHECK_H
#include "test.h"
#include "base/rng.h"
#include <stdint.h>
#include <stdlib.h>
#include <float.h>

#define FD_TOL 1e-3

static xgd_rng t_rng;

static inline float *t_randn(int64_t n, float scale) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = scale * xgd_rng_normal(&t_rng);
    return p;
}

/* uniform in [-scale, scale): cheaper than normals for the big weight matrices */
static inline float *t_randu(int64_t n, float scale) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = scale * (2.0f * xgd_rng_uniform(&t_rng) - 1.0f);
    return p;
}

static inline float *t_zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

/* sum w[i]*y[i] in double */
static inline double t_wsum(const float *w, const float *y, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)w[i] * (double)y[i];
    return s;
}

typedef double (*t_loss_fn)(void *ctx);

/* Returns the norm-wise relative error of the analytic gradient g of p (n values). */
static inline double t_fd_check(t_loss_fn loss, void *ctx, float *p, const float *g, int64_t n, float eps) {
    double maxdiff = 0, maxg = 0;
    for (int64_t i = 0; i < n; i++) {
        const float keep = p[i];
        p[i] = keep + eps;
        const double lp = loss(ctx);
        p[i] = keep - eps;
        const double lm = loss(ctx);
        p[i] = keep;
        /* divide by the eps actually applied (f32 rounding of keep±eps) */
        const double num = (lp - lm) / ((double)(keep + eps) - (double)(keep - eps));
        const double d = fabs(num - (double)g[i]);
        if (d > maxdiff || isnan(d)) maxdiff = isnan(d) ? INFINITY : d;
        if (fabs((double)g[i]) > maxg) maxg = fabs((double)g[i]);
    }
    return maxdiff / (maxg > 1e-12 ? maxg : 1e-12);
}

#define CHECK_GRAD(name, loss, ctx, p, g, n, eps) do { \
        double _e = t_fd_check(loss, ctx, p, g, n, eps); \
        CHECK_MSG(_e <= FD_TOL, "%s: finite-difference relative error %.3g > %g", name, _e, FD_TOL); \
    } while (0)

#endif
