/* Row-wise and elementwise ops: LayerNorm (w+b, w only as Cohere, none), RMSNorm, the four
 * activations and the gated product, add/scale, row softmax, target log-probabilities with
 * -100 targets, embedding lookup/scatter. Forward against double-precision formulas and known
 * values; every backward by finite differences (ops_check.h, relative error <= 1e-3). */
#include "ops_check.h"
#include "ops/ops.h"
#include "ops/ops_internal.h"

/* ---- LayerNorm ---- */
typedef struct { float *x, *w, *b, *y, *lw; int64_t N, C; } norm_ctx;

static double ln_loss(void *p) {
    norm_ctx *c = p;
    xgd_layernorm(c->y, NULL, NULL, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    return t_wsum(c->lw, c->y, c->N * c->C);
}

static void test_layernorm(int with_w, int with_b) {
    const int64_t N = 4, C = 37;
    norm_ctx c = {t_randn(N * C, 2.0f), with_w ? t_randn(C, 1.0f) : NULL, with_b ? t_randn(C, 1.0f) : NULL,
                  t_zeros(N * C), t_randn(N * C, 1.0f), N, C};
    for (int64_t i = 0; i < N * C; i++) c.x[i] += 3.0f;   /* non-zero mean */
    float *mean = t_zeros(N), *rstd = t_zeros(N);
    xgd_layernorm(c.y, mean, rstd, c.x, c.w, c.b, N, C, 1e-5f);
    double worst = 0;
    for (int64_t n = 0; n < N; n++) {
        double mu = 0, var = 0;
        for (int64_t k = 0; k < C; k++) mu += c.x[n * C + k];
        mu /= C;
        for (int64_t k = 0; k < C; k++) var += (c.x[n * C + k] - mu) * (c.x[n * C + k] - mu);
        var /= C;
        CHECK_NEAR(mean[n], mu, 1e-6 * fabs(mu) + 1e-7);
        CHECK_NEAR(rstd[n], 1.0 / sqrt(var + 1e-5), 1e-6 / sqrt(var + 1e-5));
        for (int64_t k = 0; k < C; k++) {
            double r = (c.x[n * C + k] - mu) / sqrt(var + 1e-5) * (with_w ? c.w[k] : 1.0) + (with_b ? c.b[k] : 0.0);
            double d = fabs(r - c.y[n * C + k]);
            if (d > worst) worst = d;
        }
    }
    CHECK_MSG(worst <= 1e-5, "layernorm w=%d b=%d forward max diff %.3g", with_w, with_b, worst);
    float *dx = t_zeros(N * C), *dw = t_zeros(C), *db = t_zeros(C);
    xgd_layernorm_backward(dx, with_w ? dw : NULL, with_b ? db : NULL, c.lw, c.x, c.w, mean, rstd, N, C);
    CHECK_GRAD("layernorm dx", ln_loss, &c, c.x, dx, N * C, 1e-2f);
    if (with_w) CHECK_GRAD("layernorm dw", ln_loss, &c, c.w, dw, C, 1e-2f);
    if (with_b) CHECK_GRAD("layernorm db", ln_loss, &c, c.b, db, C, 1e-2f);
    free(c.x); free(c.w); free(c.b); free(c.y); free(c.lw); free(mean); free(rstd); free(dx); free(dw); free(db);
}

/* ---- RMSNorm ---- */
static double rms_loss(void *p) {
    norm_ctx *c = p;
    xgd_rmsnorm(c->y, NULL, c->x, c->w, c->N, c->C, 1e-6f);
    return t_wsum(c->lw, c->y, c->N * c->C);
}

static void test_rmsnorm(void) {
    const int64_t N = 5, C = 33;
    norm_ctx c = {t_randn(N * C, 2.0f), t_randn(C, 1.0f), NULL, t_zeros(N * C), t_randn(N * C, 1.0f), N, C};
    float *rstd = t_zeros(N);
    xgd_rmsnorm(c.y, rstd, c.x, c.w, N, C, 1e-6f);
    double worst = 0;
    for (int64_t n = 0; n < N; n++) {
        double ss = 0;
        for (int64_t k = 0; k < C; k++) ss += (double)c.x[n * C + k] * c.x[n * C + k];
        double r = 1.0 / sqrt(ss / C + 1e-6);
        CHECK_NEAR(rstd[n], r, 1e-6 * r);
        for (int64_t k = 0; k < C; k++) {
            double d = fabs(c.w[k] * c.x[n * C + k] * r - c.y[n * C + k]);
            if (d > worst) worst = d;
        }
    }
    CHECK_MSG(worst <= 1e-5, "rmsnorm forward max diff %.3g", worst);
    float *dx = t_zeros(N * C), *dw = t_zeros(C);
    xgd_rmsnorm_backward(dx, dw, c.lw, c.x, c.w, rstd, N, C);
    CHECK_GRAD("rmsnorm dx", rms_loss, &c, c.x, dx, N * C, 1e-2f);
    CHECK_GRAD("rmsnorm dw", rms_loss, &c, c.w, dw, C, 1e-2f);
    /* w = NULL means weight 1 */
    float *y2 = t_zeros(N * C);
    xgd_rmsnorm(y2, NULL, c.x, NULL, N, C, 1e-6f);
    CHECK_NEAR(y2[3], c.x[3] * rstd[0], 1e-6);
    free(c.x); free(c.w); free(c.y); free(c.lw); free(rstd); free(dx); free(dw); free(y2);
}

/* ---- activations ---- */
static double ref_act(int act, double x) {
    switch (act) {
    case XGD_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case XGD_ACT_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case XGD_ACT_SILU: return x / (1 + exp(-x));
    default: return x > 0 ? x : 0;
    }
}

typedef struct { int act, gated; float *x, *up, *y, *w; int64_t n; } act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    if (c->gated) xgd_gated(c->act, c->y, c->x, c->up, c->n);
    else xgd_act(c->act, c->y, c->x, c->n);
    return t_wsum(c->w, c->y, c->n);
}

static void test_activations(void) {
    /* known values (mpmath): gelu_tanh(1), gelu_erf(1), silu(1), gelu_tanh(-2) */
    float one = 1.0f, m2 = -2.0f, y;
    xgd_gelu_tanh(&y, &one, 1); CHECK_NEAR(y, 0.84119199, 1e-6);
    xgd_gelu_tanh(&y, &m2, 1); CHECK_NEAR(y, -0.04540230591222, 1e-6);
    xgd_gelu_erf(&y, &one, 1); CHECK_NEAR(y, 0.84134475, 1e-6);
    xgd_silu(&y, &one, 1); CHECK_NEAR(y, 0.73105858, 1e-6);
    xgd_relu(&y, &m2, 1); CHECK(y == 0.0f);
    const int64_t n = 300;
    for (int act = 0; act < 4; act++)
        for (int gated = 0; gated < 2; gated++) {
            act_ctx c = {act, gated, t_randn(n, 2.0f), t_randn(n, 1.0f), t_zeros(n), t_randn(n, 1.0f), n};
            if (act == XGD_ACT_RELU)   /* keep clear of the kink for finite differences */
                for (int64_t i = 0; i < n; i++) if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.5f;
            act_loss(&c);
            double worst = 0;
            for (int64_t i = 0; i < n; i++) {
                double r = ref_act(act, c.x[i]) * (gated ? c.up[i] : 1.0);
                if (fabs(r - c.y[i]) > worst) worst = fabs(r - c.y[i]);
            }
            CHECK_MSG(worst <= 2e-6 * (gated ? 4 : 1), "act %d gated %d forward max diff %.3g", act, gated, worst);
            float *dx = t_zeros(n), *dup = t_zeros(n);
            char name[64];
            snprintf(name, sizeof name, "act %d gated %d d(gate|x)", act, gated);
            if (gated) {
                xgd_gated_backward(act, dx, dup, c.w, c.x, c.up, n);
                CHECK_GRAD(name, act_loss, &c, c.x, dx, n, 1e-3f);
                CHECK_GRAD("gated dup", act_loss, &c, c.up, dup, n, 1e-2f);
            } else {
                xgd_act_backward(act, dx, c.w, c.x, n);
                CHECK_GRAD(name, act_loss, &c, c.x, dx, n, 1e-3f);
            }
            free(c.x); free(c.up); free(c.y); free(c.w); free(dx); free(dup);
        }
    /* the named wrappers are the same functions */
    float x[3] = {-1.5f, 0.2f, 3.0f}, a[3], b[3], dxa[3] = {0}, dxb[3] = {0}, g[3] = {1, 2, 3};
    xgd_silu(a, x, 3); xgd_act(XGD_ACT_SILU, b, x, 3);
    CHECK(memcmp(a, b, sizeof a) == 0);
    xgd_gelu_erf_backward(dxa, g, x, 3); xgd_act_backward(XGD_ACT_GELU_ERF, dxb, g, x, 3);
    CHECK(memcmp(dxa, dxb, sizeof dxa) == 0);
    xgd_relu_backward(dxa, g, x, 3);   /* accumulates: relu' = (0,1,1) */
    CHECK(dxa[0] == dxb[0] && dxa[1] == dxb[1] + 2.0f && dxa[2] == dxb[2] + 3.0f);
    xgd_gelu_tanh_backward(dxa, g, x, 3); xgd_silu_backward(dxa, g, x, 3);
    CHECK(!isnan(dxa[0]));
}

static void test_elementwise(void) {
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {.5f, -1, 0, 2, 1}, y[5];
    xgd_add(y, a, b, 5);
    CHECK(y[0] == 1.5f && y[1] == 1 && y[4] == 6);
    xgd_add(a, a, b, 5);                 /* aliasing allowed */
    CHECK(a[3] == 6);
    xgd_add_inplace(y, b, 5);
    CHECK(y[0] == 2.0f && y[1] == 0);
    xgd_scale(y, 2.0f, 5);
    CHECK(y[0] == 4.0f && y[4] == 14);
    /* large n goes through the threaded branch */
    const int64_t n = 1 << 20;
    float *p = t_zeros(n), *q = t_zeros(n);
    for (int64_t i = 0; i < n; i++) { p[i] = (float)i; q[i] = 1; }
    xgd_add_inplace(p, q, n); xgd_scale(p, 0.5f, n);
    CHECK(p[n - 1] == (float)n * 0.5f && p[0] == 0.5f);
    free(p); free(q);
}

/* ---- softmax and log-probabilities ---- */
typedef struct { float *z, *lp, *w; int32_t *tgt; int64_t N, V; } lp_ctx;

static double lp_loss(void *p) {
    lp_ctx *c = p;
    xgd_logprob_gather(c->lp, NULL, c->z, c->tgt, c->N, c->V);
    return t_wsum(c->w, c->lp, c->N);
}

static void test_softmax_logprob(void) {
    float r[4] = {1, 2, 3, 1000}, r2[3] = {-FLT_MAX, -FLT_MAX, -FLT_MAX};
    xgd_softmax_rows(r, 1, 4);           /* max shift: no overflow */
    CHECK_NEAR(r[3], 1.0, 1e-7);
    CHECK_NEAR(r[0], exp(-999.0), 1e-30);
    xgd_softmax_rows(r2, 1, 3);          /* all -FLT_MAX: uniform */
    CHECK_NEAR(r2[1], 1.0 / 3, 1e-7);
    float s[6] = {0.1f, -0.4f, 2.0f, 1.0f, 1.0f, 1.0f};
    xgd_softmax_rows(s, 2, 3);
    double den = exp(0.1) + exp(-0.4) + exp(2.0);
    CHECK_NEAR(s[2], exp(2.0) / den, 1e-7);
    CHECK_NEAR(s[4], 1.0 / 3, 1e-7);

    const int64_t N = 6, V = 50;
    int32_t tgt[6] = {3, -100, 49, 0, -1, 17};
    lp_ctx c = {t_randn(N * V, 3.0f), t_zeros(N), t_randn(N, 1.0f), tgt, N, V};
    float *lse = t_zeros(N);
    xgd_logprob_gather(c.lp, lse, c.z, tgt, N, V);
    for (int64_t n = 0; n < N; n++) {
        if (tgt[n] < 0) { CHECK(c.lp[n] == 0.0f); continue; }
        double s2 = 0;
        for (int64_t v = 0; v < V; v++) s2 += exp((double)c.z[n * V + v]);
        CHECK_NEAR(lse[n], log(s2), 2e-6 * fabs(log(s2)) + 1e-6);
        CHECK_NEAR(c.lp[n], c.z[n * V + tgt[n]] - log(s2), 2e-6 * fabs(log(s2)) + 1e-6);
    }
    float *dz = t_zeros(N * V), *dz2 = t_zeros(N * V);
    xgd_logprob_gather_backward(dz, c.w, c.z, lse, tgt, N, V);
    xgd_logprob_gather_backward(dz2, c.w, c.z, NULL, tgt, N, V);   /* lse recomputed */
    CHECK(t_maxdiff(dz, dz2, N * V) < 1e-7);
    CHECK(dz[1 * V + 5] == 0.0f && dz[4 * V + 7] == 0.0f);        /* ignored rows untouched */
    CHECK_GRAD("logprob dlogits", lp_loss, &c, c.z, dz, N * V, 1e-2f);
    free(c.z); free(c.lp); free(c.w); free(lse); free(dz); free(dz2);
}

/* The vectorised exp behind every softmax: within 2 ulp of exp over the whole f32 range, exact 0
 * far below (masked scores at -FLT_MAX), and the sums it returns match double sums. */
static void test_exp(void) {
    enum { N = 20000 };
    static float x[N], e[N];
    for (int i = 0; i < N; i++) x[i] = -103.0f + 191.0f * (float)i / N;   /* up to 88 */
    xgd_exp_sum(e, x, N, 0.0f);
    double s = xgd_exp_sum(NULL, x, N, 88.0f), ref = 0, worst = 0;   /* sums use a max shift */
    for (int i = 0; i < N; i++) {
        double r = exp((double)x[i]);
        ref += exp((double)(x[i] - 88.0f));
        if (r > 1.2e-38) worst = fmax(worst, fabs(e[i] - r) / r);
        else CHECK_MSG(fabs(e[i] - r) <= 1.5e-45, "exp(%g) subnormal %g vs %g", x[i], e[i], r);
    }
    CHECK_MSG(worst <= 2.4e-7, "exp max relative error %.3g", worst);
    CHECK_NEAR(s / ref, 1.0, 1e-7);
    float m[3] = {-FLT_MAX, 0.0f, -FLT_MAX}, em[3];
    xgd_exp_sum(em, m, 3, 1.0f);
    CHECK(em[0] == 0.0f && em[2] == 0.0f && fabsf(em[1] - expf(-1.0f)) <= 1e-7f);
    CHECK(xgd_max_f32(x, N) == x[N - 1] && xgd_max_f32(m, 3) == 0.0f);
}

/* ---- embedding ---- */
static void test_embedding(void) {
    const int64_t V = 11, C = 20, N = 6;
    float *tab = t_randn(V * C, 1.0f);
    uint16_t *tb = malloc((size_t)(V * C) * 2);
    for (int64_t i = 0; i < V * C; i++) tb[i] = xgd_f32_to_bf16(tab[i]);
    int32_t ids[6] = {3, 0, 10, 3, 7, 3};
    float *out = t_zeros(N * C);
    xgd_wmat E = {tab, XGD_F32, V, C, XGD_W_OUT_IN}, Eb = {tb, XGD_BF16, V, C, XGD_W_OUT_IN};
    xgd_embedding(out, ids, N, &E);
    CHECK(memcmp(out + 2 * C, tab + 10 * C, (size_t)C * 4) == 0);
    xgd_embedding(out, ids, N, &Eb);
    CHECK(out[4 * C + 5] == xgd_bf16_to_f32(tb[7 * C + 5]));
    float *dout = t_randn(N * C, 1.0f), *dE = t_zeros(V * C);
    for (int64_t i = 0; i < V * C; i++) dE[i] = 1.0f;
    xgd_embedding_backward(dE, dout, ids, N, C);
    /* id 3 appears three times: contributions summed onto the prior 1 */
    CHECK_NEAR(dE[3 * C + 4], 1.0 + dout[0 * C + 4] + dout[3 * C + 4] + dout[5 * C + 4], 1e-6);
    CHECK(dE[1 * C + 4] == 1.0f);
    free(tab); free(tb); free(out); free(dout); free(dE);
}

int main(void) {
    xgd_rng_init(&t_rng, 99, 0);
    test_layernorm(1, 1);
    test_layernorm(1, 0);
    test_layernorm(0, 0);
    test_rmsnorm();
    test_activations();
    test_elementwise();
    test_softmax_logprob();
    test_embedding();
    test_exp();
    return test_done("ops/norm_act");
}
