/* xgd_linear and its backward: every weight dtype (f32/f16/bf16), both layouts, the M=1/small-M
 * kernels and the large-M (sgemm / f32-panel) paths, bias or none, against a double-precision
 * reference; gradients by finite differences; the opt-in bf16-dot mode against bf16(x)·W. */
#include "ops_check.h"
#include "ops/ops.h"
#include "ops/ops_internal.h"

typedef struct {
    xgd_wmat w;
    float *wide;     /* (N,K) logical values after rounding to the dtype, widened to f32 */
    void *store;
} tw;

static void make_w(tw *t, xgd_dtype dt, int layout, int64_t N, int64_t K) {
    float *src = t_randu(N * K, 0.8f);   /* logical (N,K) */
    t->wide = malloc((size_t)(N * K) * sizeof(float));
    t->store = malloc((size_t)(N * K) * xgd_dtype_size(dt));
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) {
            int64_t s = layout == XGD_W_OUT_IN ? o * K + k : k * N + o;
            float v = src[o * K + k];
            if (dt == XGD_F32) ((float *)t->store)[s] = v;
            else if (dt == XGD_BF16) { uint16_t h = xgd_f32_to_bf16(v); ((uint16_t *)t->store)[s] = h; v = xgd_bf16_to_f32(h); }
            else { uint16_t h = xgd_f32_to_f16(v); ((uint16_t *)t->store)[s] = h; v = xgd_f16_to_f32(h); }
            t->wide[o * K + k] = v;
        }
    free(src);
    t->w = (xgd_wmat){.data = t->store, .dtype = dt, .out = N, .in = K, .layout = layout};
}

static void free_w(tw *t) { free(t->wide); free(t->store); }

/* max over outputs of |y - ref| / (1e-5 * Σ|x·w| + 1e-6): <= 1 passes. round_x: use bf16(x). */
static double check_forward(const float *y, const float *x, int64_t M, const tw *t, const float *b, int round_x) {
    const int64_t N = t->w.out, K = t->w.in;
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < N; o++) {
            double s = b ? b[o] : 0, a = b ? fabs(b[o]) : 0;
            for (int64_t k = 0; k < K; k++) {
                double xv = round_x ? xgd_bf16_to_f32(xgd_f32_to_bf16(x[m * K + k])) : x[m * K + k];
                s += xv * t->wide[o * K + k];
                a += fabs(xv * t->wide[o * K + k]);
            }
            double r = fabs(y[m * N + o] - s) / (1e-5 * a + 1e-6);
            if (r > worst || isnan(r)) worst = isnan(r) ? INFINITY : r;
        }
    return worst;
}

static void test_forward_case(xgd_dtype dt, int layout, int64_t M, int64_t N, int64_t K, int bias) {
    tw t;
    make_w(&t, dt, layout, N, K);
    float *x = t_randn(M * K, 1.0f), *b = bias ? t_randn(N, 1.0f) : NULL, *y = t_randn(M * N, 1.0f);
    xgd_linear(y, x, M, &t.w, b);
    double r = check_forward(y, x, M, &t, b, 0);
    CHECK_MSG(r <= 1.0, "linear %s layout=%d M=%lld N=%lld K=%lld bias=%d: error %.3g x tolerance",
              xgd_dtype_st_name(dt), layout, (long long)M, (long long)N, (long long)K, bias, r);
    free(x); free(b); free(y); free_w(&t);
}

static void test_forward(void) {
    const xgd_dtype dts[3] = {XGD_F32, XGD_F16, XGD_BF16};
    const int64_t Ms[6] = {1, 2, 3, 5, 16, 33};
    for (int d = 0; d < 3; d++)
        for (int layout = 0; layout < 2; layout++) {
            for (int mi = 0; mi < 6; mi++)
                for (int bias = 0; bias < 2; bias++) test_forward_case(dts[d], layout, Ms[mi], 45, 70, bias);
            test_forward_case(dts[d], layout, 2, 2100, 30, 1);    /* several axpy-form column blocks */
            if (dts[d] == XGD_BF16) test_forward_case(dts[d], layout, 16, 240, 9000, 1);  /* two f32 panels (f16 shares the code) */
            if (dts[d] == XGD_BF16) test_forward_case(dts[d], layout, 1, 7, 4099, 0);   /* decode: 4-row pair kernel, row and element tails */
            if (dts[d] == XGD_BF16) test_forward_case(dts[d], layout, 1, 1000, 333, 1); /* decode: 8-row axpy pairs, 31 full blocks + tail, rows % 8 */
            if (dts[d] == XGD_BF16) {   /* few rows: 4x4 dot pairs with row tails, 8-row axpy pairs for M rows */
                test_forward_case(dts[d], layout, 5, 130, 333, 1);
                test_forward_case(dts[d], layout, 7, 1000, 97, 0);
                test_forward_case(dts[d], layout, 15, 66, 64, 1);
            }
        }
}

/* fast bf16 mode (AMX tiles, or vdpbf16ps under XGD_NO_AMX=1 as test_portable.sh runs it): exact
 * products of bf16 values, f32 sums, so compared with bf16(x)·W */
static void test_fast_bf16(void) {
    if (!xgd_cpu_avx512bf16()) { printf("note: no avx512bf16 here, fast bf16 path not exercised\n"); return; }
    /* rows < 16 (the small-row kernels, on bf16-rounded activations) and >= 16 (tiles) */
    const int64_t shapes[7][3] = {{20, 45, 70}, {16, 130, 257}, {37, 64, 1100}, {100, 200, 33},
                                  {1, 100, 333}, {3, 45, 70}, {15, 64, 1100}};
    xgd_ops_set_fast_bf16(1);
    CHECK(xgd_ops_fast_bf16() == 1);
    for (int layout = 0; layout < 2; layout++)
        for (int s = 0; s < 7; s++) {
            tw t;
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            make_w(&t, XGD_BF16, layout, N, K);
            float *x = t_randn(M * K, 1.0f), *b = t_randn(N, 1.0f), *y = t_zeros(M * N);
            xgd_linear(y, x, M, &t.w, s == 1 ? NULL : b);
            double r = check_forward(y, x, M, &t, s == 1 ? NULL : b, 1);
            CHECK_MSG(r <= 1.0, "fast bf16 layout=%d M=%lld N=%lld K=%lld: error %.3g x tolerance", layout,
                      (long long)M, (long long)N, (long long)K, r);
            free(x); free(b); free(y); free_w(&t);
        }
    xgd_ops_set_fast_bf16(0);
}

/* fast mode is batch-invariant: each row of a 40-row product (tiles) equals that row alone (the
 * single-row kernel) up to f32 summation order, 1e-5 of sum|x·w| */
static void test_fast_bf16_batch_invariance(void) {
    if (!xgd_cpu_avx512bf16()) return;
    const int64_t M = 40, N = 130, K = 257;
    xgd_ops_set_fast_bf16(1);
    for (int layout = 0; layout < 2; layout++) {
        tw t;
        make_w(&t, XGD_BF16, layout, N, K);
        float *x = t_randn(M * K, 1.0f), *y = t_zeros(M * N), *y1 = t_zeros(N);
        xgd_linear(y, x, M, &t.w, NULL);
        double worst = 0;
        for (int64_t m = 0; m < M; m++) {
            xgd_linear(y1, x + m * K, 1, &t.w, NULL);
            for (int64_t o = 0; o < N; o++) {
                double a = 0;
                for (int64_t k = 0; k < K; k++) a += fabs(x[m * K + k] * t.wide[o * K + k]);
                double r = fabs(y[m * N + o] - y1[o]) / (1e-5 * a + 1e-6);
                worst = r > worst ? r : worst;
            }
        }
        CHECK_MSG(worst <= 1.0, "fast bf16 layout=%d: a row batched with 39 others differs from it alone by %.3g x tolerance",
                  layout, worst);
        free(x); free(y); free(y1); free_w(&t);
    }
    xgd_ops_set_fast_bf16(0);
}

/* ---- gradients ---- */
typedef struct { tw *t; float *x, *b, *y, *w; int64_t M; } lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    xgd_linear(c->y, c->x, c->M, &c->t->w, c->b);
    return t_wsum(c->w, c->y, c->M * c->t->w.out);
}

static void test_backward_case(xgd_dtype dt, int layout, int64_t M) {
    const int64_t N = 5, K = 7;
    const float c0 = 0.25f;   /* grads start at c0: backward must accumulate */
    tw t;
    make_w(&t, dt, layout, N, K);
    lin_ctx c = {&t, t_randn(M * K, 1.0f), t_randn(N, 1.0f), t_zeros(M * N), t_randn(M * N, 1.0f), M};
    float *dx = t_zeros(M * K), *dW = t_zeros(N * K), *db = t_zeros(N);
    for (int64_t i = 0; i < M * K; i++) dx[i] = c0;
    for (int64_t i = 0; i < N * K; i++) dW[i] = c0;
    for (int64_t i = 0; i < N; i++) db[i] = c0;
    xgd_linear_backward(dx, dt == XGD_F32 ? dW : NULL, db, c.w, c.x, M, &t.w);
    for (int64_t i = 0; i < M * K; i++) dx[i] -= c0;
    for (int64_t i = 0; i < N * K; i++) dW[i] -= c0;
    for (int64_t i = 0; i < N; i++) db[i] -= c0;
    char name[96];
    snprintf(name, sizeof name, "linear %s layout=%d M=%lld dx", xgd_dtype_st_name(dt), layout, (long long)M);
    CHECK_GRAD(name, lin_loss, &c, c.x, dx, M * K, 1e-2f);
    snprintf(name, sizeof name, "linear %s layout=%d M=%lld db", xgd_dtype_st_name(dt), layout, (long long)M);
    CHECK_GRAD(name, lin_loss, &c, c.b, db, N, 1e-2f);
    if (dt == XGD_F32) {   /* dW is f32 in the weight's storage layout: perturb the storage */
        snprintf(name, sizeof name, "linear F32 layout=%d M=%lld dW", layout, (long long)M);
        CHECK_GRAD(name, lin_loss, &c, (float *)t.store, dW, N * K, 1e-2f);
    }
    /* NULL gradients are skipped */
    xgd_linear_backward(NULL, NULL, NULL, c.w, c.x, M, &t.w);
    free(c.x); free(c.b); free(c.y); free(c.w); free(dx); free(dW); free(db); free_w(&t);
}

/* dx through the f16/bf16 panel path at a size where FD would be slow: against double dy·W */
static void test_backward_half_large(xgd_dtype dt, int layout) {
    const int64_t M = 24, N = 150, K = 90;
    tw t;
    make_w(&t, dt, layout, N, K);
    float *x = t_randn(M * K, 1.0f), *dy = t_randn(M * N, 1.0f), *dx = t_zeros(M * K);
    xgd_linear_backward(dx, NULL, NULL, dy, x, M, &t.w);
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            double s = 0, a = 0;
            for (int64_t o = 0; o < N; o++) { s += (double)dy[m * N + o] * t.wide[o * K + k]; a += fabs((double)dy[m * N + o] * t.wide[o * K + k]); }
            double r = fabs(dx[m * K + k] - s) / (1e-5 * a + 1e-6);
            if (r > worst) worst = r;
        }
    CHECK_MSG(worst <= 1.0, "linear backward %s layout=%d M=24 dx: error %.3g x tolerance", xgd_dtype_st_name(dt), layout, worst);
    free(x); free(dy); free(dx); free_w(&t);
}

int main(void) {
    xgd_rng_init(&t_rng, 1234, 0);
    /* the exact bf16 mode (the default only without AMX): everything but test_fast_bf16 checks
     * f32 math at 1e-5 */
    xgd_ops_set_fast_bf16(0);
    test_forward();
    test_fast_bf16();
    test_fast_bf16_batch_invariance();
    const xgd_dtype dts[3] = {XGD_F32, XGD_F16, XGD_BF16};
    for (int d = 0; d < 3; d++)
        for (int layout = 0; layout < 2; layout++) {
            test_backward_case(dts[d], layout, 1);
            test_backward_case(dts[d], layout, 3);
            test_backward_case(dts[d], layout, 20);
            if (d) test_backward_half_large(dts[d], layout);
        }
    return test_done("ops/linear");
}
