/* The AMX bf16 GEMM (src/ops/linear_amx.c) against a double-precision reference of bf16(x)·W,
 * both weight layouts, beta 0 and 1, on shapes that hit every edge: M = 1..3 and M, N, K off the
 * 16/32 tile and 64..256-output panel sizes, K odd, K = 1, large K (4099 = 128 tile steps + 3).
 * Products of bf16 values are exact in f32, so only the f32 sums differ from the reference:
 *     |y - ref| <= 1e-5 · Σ_k |x_k·w_k| + 1e-6   for every output.
 * Also through xgd_linear in fast mode (the dispatcher's AMX branch) and against the exact mode
 * at the bf16 rounding tolerance. Skips (77) where AMX is unavailable. */
#include "ops_check.h"
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "ops/linear_internal.h"

/* weight with logical (N,K) values v: stored bf16 in `layout`; returns the widened values */
static float *make_bf16_w(uint16_t **store, int layout, int64_t N, int64_t K) {
    float *v = t_randu(N * K, 0.8f);
    *store = malloc((size_t)(N * K > 0 ? N * K : 1) * sizeof(uint16_t));
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) {
            uint16_t h = xgd_f32_to_bf16(v[o * K + k]);
            (*store)[layout == XGD_W_OUT_IN ? o * K + k : k * N + o] = h;
            v[o * K + k] = xgd_bf16_to_f32(h);
        }
    return v;
}

/* worst |y - ref| / tolerance over all outputs; y0 is y before the call (for beta = 1) */
static double worst_err(const float *y, const float *y0, float beta, const float *x, const float *w, int64_t M,
                        int64_t N, int64_t K) {
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < N; o++) {
            double s = beta != 0.0f ? y0[m * N + o] : 0.0, a = fabs(s);
            for (int64_t k = 0; k < K; k++) {
                double p = (double)xgd_bf16_to_f32(xgd_f32_to_bf16(x[m * K + k])) * w[o * K + k];
                s += p;
                a += fabs(p);
            }
            double r = fabs(y[m * N + o] - s) / (1e-5 * a + 1e-6);
            if (r > worst || isnan(r)) worst = isnan(r) ? INFINITY : r;
        }
    return worst;
}

static void amx_case(int64_t M, int64_t N, int64_t K, int layout, float beta) {
    uint16_t *A;
    float *w = make_bf16_w(&A, layout, N, K);
    float *x = t_randn(M * K, 1.0f), *y = t_randn(M * N, 1.0f), *y0 = malloc((size_t)(M * N) * sizeof(float));
    memcpy(y0, y, (size_t)(M * N) * sizeof(float));
    xgd_matmul_amx(y, x, M, A, N, K, layout == XGD_W_OUT_IN, beta);
    double r = worst_err(y, y0, beta, x, w, M, N, K);
    CHECK_MSG(r <= 1.0, "amx M=%lld N=%lld K=%lld layout=%d beta=%g: error %.3g x tolerance", (long long)M,
              (long long)N, (long long)K, layout, beta, r);
    free(A); free(w); free(x); free(y); free(y0);
}

static void test_shapes(void) {
    const int64_t shapes[][3] = {
        {1, 1, 1},   {1, 16, 32},  {2, 45, 70},    {3, 64, 64},    {3, 130, 31},  {5, 7, 33},
        {16, 32, 32}, {17, 65, 97}, {31, 100, 200}, {32, 128, 256}, {33, 47, 1},  {40, 96, 63},
        {64, 200, 768}, {70, 33, 129}, {100, 257, 513}, {9, 40, 4099}, {48, 64, 4099},
        {20, 700, 100}, {3, 1100, 40},   /* wider panels (160, 256 outputs) with a partial last one */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int layout = 0; layout < 2; layout++)
            for (int b = 0; b < 2; b++) amx_case(shapes[s][0], shapes[s][1], shapes[s][2], layout, (float)b);
}

/* the dispatcher: xgd_linear with fast mode on takes the AMX branch for M >= 16 and matches the
 * exact mode within the bf16 rounding of x (relative error of a sum ~2^-8 / sqrt(terms), bounded
 * here by 4e-3 of Σ|x·w|) */
static void test_dispatch(void) {
    const int64_t M = 40, N = 150, K = 300;
    for (int layout = 0; layout < 2; layout++) {
        uint16_t *A;
        float *w = make_bf16_w(&A, layout, N, K);
        float *x = t_randn(M * K, 1.0f), *b = t_randn(N, 1.0f), *yf = t_zeros(M * N), *ye = t_zeros(M * N),
              *bias_y = malloc((size_t)(M * N) * sizeof(float));
        for (int64_t m = 0; m < M; m++) memcpy(bias_y + m * N, b, (size_t)N * sizeof(float));
        xgd_wmat W = {A, XGD_BF16, N, K, layout};
        xgd_ops_set_fast_bf16(1);
        xgd_linear(yf, x, M, &W, b);
        double r = worst_err(yf, bias_y, 1.0f, x, w, M, N, K);
        CHECK_MSG(r <= 1.0, "xgd_linear fast (AMX) layout=%d: error %.3g x tolerance", layout, r);
        xgd_ops_set_fast_bf16(0);
        xgd_linear(ye, x, M, &W, b);
        double worst = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < N; o++) {
                double a = fabs(b[o]);
                for (int64_t k = 0; k < K; k++) a += fabs((double)x[m * K + k] * w[o * K + k]);
                double d = fabs(yf[m * N + o] - ye[m * N + o]) / (4e-3 * a);
                if (d > worst) worst = d;
            }
        CHECK_MSG(worst <= 1.0, "fast vs exact layout=%d: difference %.3g x the bf16 tolerance", layout, worst);
        free(A); free(w); free(x); free(b); free(yf); free(ye); free(bias_y);
    }
}

int main(void) {
    if (!xgd_cpu_amx()) {
        fprintf(stderr, "skip: no AMX-BF16 here (or the kernel refused the tile state, or XGD_NO_AMX/XGD_NO_AVX512)\n");
        return 77;
    }
    xgd_rng_init(&t_rng, 4321, 0);
    test_shapes();
    test_dispatch();
    return test_done("ops/linear_amx");
}
