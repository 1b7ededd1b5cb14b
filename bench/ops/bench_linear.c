/* bench_linear: throughput of xgd_linear at transformer shapes.
 *   prefill (large M): OpenBLAS sgemm on the f32 weight (the competitor, first rows), then
 *   xgd_linear with f32/f16/bf16 weights in exact mode (the own GEMM of linear_gemm.c where the CPU
 *   has AVX-512), the fast bf16 kernels called directly (AMX tiles where available; vdpbf16ps), in
 *   GFLOP/s and as a ratio to OpenBLAS's f32 dot form (the first row of the shape), same run;
 *   decode (M=1, small M): weight-streaming GEMV in GB/s of weight bytes read.
 * Medians of several runs; the machine is shared and noisy (perf-anchors.md).
 * Usage: bench_linear [reps] [decode]   ("decode": only the decode rows; XGD_NUM_THREADS limits our OpenMP threads; OpenBLAS has its own) */
#include "ops/ops.h"
#include "ops/process_env.h"
#include "ops/ops_internal.h"
#include "ops/linear_internal.h"
#include "base/log.h"
#include "base/rng.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { K_LINEAR, K_AMX, K_DOT, K_BLAS };

static void run(int kernel, float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b) {
    const int dotform = W->layout == XGD_W_OUT_IN;
    if (kernel == K_BLAS)   /* the competitor: OpenBLAS sgemm on the f32 weight as it lies */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, dotform ? CblasTrans : CblasNoTrans, (int)M, (int)W->out, (int)W->in,
                    1.0f, x, (int)W->in, W->data, (int)(dotform ? W->in : W->out), 0.0f, y, (int)W->out);
    else if (kernel == K_AMX) xgd_matmul_amx(y, x, M, W->data, W->out, W->in, dotform, 0.0f);
    else if (kernel == K_DOT) xgd_matmul_bf16dot(y, x, M, W->data, W->out, W->in, dotform, 0.0f);
    else xgd_linear(y, x, M, W, b);
}

/* median seconds of one call */
static double time_linear(int kernel, float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b, int reps) {
    double t[64];
    if (reps > 64) reps = 64;
    run(kernel, y, x, M, W, b);   /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = xgd_now();
        run(kernel, y, x, M, W, b);
        t[r] = xgd_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    return t[reps / 2];
}

static void *make_weight(xgd_dtype dt, int64_t n, xgd_rng *rng) {
    void *w = malloc((size_t)n * xgd_dtype_size(dt));
    for (int64_t i = 0; i < n; i++) {
        float v = 0.02f * xgd_rng_normal(rng);
        if (dt == XGD_F32) ((float *)w)[i] = v;
        else if (dt == XGD_BF16) ((uint16_t *)w)[i] = xgd_f32_to_bf16(v);
        else ((uint16_t *)w)[i] = xgd_f32_to_f16(v);
    }
    return w;
}

int main(int argc, char **argv) {
    xgd_process_env(argv);   /* OpenBLAS core type and GOMP_SPINCOUNT before the libraries start */
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    xgd_rng rng;
    xgd_rng_init(&rng, 1, 0);
    printf("threads %d, avx512 %d, avx512bf16 %d, amx %d, OpenBLAS core %s\n", xgd_num_threads(), xgd_cpu_avx512(),
           xgd_cpu_avx512bf16(), xgd_cpu_amx(), xgd_blas_core());
    const int64_t prefill[4][3] = {{512, 768, 3072}, {512, 3072, 768}, {256, 2048, 2048}, {64, 768, 768}};
    printf("\n%-24s %6s %6s %6s %10s %9s %9s\n", "prefill", "M", "K", "N", "ms", "GFLOP/s", "vs sgemm");
    const int decode_only = argc > 2 && !strcmp(argv[2], "decode");
    for (int s = 0; s < (decode_only ? 0 : 4); s++) {
        int64_t M = prefill[s][0], K = prefill[s][1], N = prefill[s][2];
        float *x = malloc((size_t)(M * K) * 4), *y = malloc((size_t)(M * N) * 4), *b = calloc((size_t)N, 4);
        for (int64_t i = 0; i < M * K; i++) x[i] = xgd_rng_normal(&rng);
        struct { const char *name; xgd_dtype dt; int layout, kernel; } v[10] = {
            {"f32 out,in (OpenBLAS)", XGD_F32, XGD_W_OUT_IN, K_BLAS}, {"f32 in,out (OpenBLAS)", XGD_F32, XGD_W_IN_OUT, K_BLAS},
            {"f32 out,in (xgd)", XGD_F32, XGD_W_OUT_IN, K_LINEAR}, {"f32 in,out (xgd)", XGD_F32, XGD_W_IN_OUT, K_LINEAR},
            {"f16 exact", XGD_F16, XGD_W_OUT_IN, K_LINEAR}, {"bf16 exact", XGD_BF16, XGD_W_OUT_IN, K_LINEAR},
            {"bf16 AMX out,in", XGD_BF16, XGD_W_OUT_IN, K_AMX}, {"bf16 AMX in,out", XGD_BF16, XGD_W_IN_OUT, K_AMX},
            {"bf16 vdpbf16ps out,in", XGD_BF16, XGD_W_OUT_IN, K_DOT}, {"bf16 vdpbf16ps in,out", XGD_BF16, XGD_W_IN_OUT, K_DOT}};
        double base = 0;
        xgd_ops_set_fast_bf16(0);
        for (int i = 0; i < 10; i++) {
            if ((v[i].kernel == K_AMX && !xgd_cpu_amx()) || (v[i].kernel == K_DOT && !xgd_cpu_avx512bf16())) continue;
            void *w = make_weight(v[i].dt, N * K, &rng);
            xgd_wmat W = {w, v[i].dt, N, K, v[i].layout};
            double t = time_linear(v[i].kernel, y, x, M, &W, b, reps), gf = 2.0 * M * N * K / t * 1e-9;
            if (i == 0) base = gf;
            printf("%-24s %6lld %6lld %6lld %10.2f %9.1f %8.2fx\n", v[i].name, (long long)M, (long long)K, (long long)N,
                   t * 1e3, gf, gf / base);
            free(w);
        }
        free(x); free(y); free(b);
    }
    const int64_t dec[4][3] = {{1, 2048, 8192}, {1, 8192, 2048}, {4, 2048, 8192}, {8, 2048, 8192}};
    printf("\n%-24s %6s %6s %6s %10s %9s %7s\n", "decode", "M", "K", "N", "ms", "GB/s", "GFLOP/s");
    for (int s = 0; s < 4; s++) {
        int64_t M = dec[s][0], K = dec[s][1], N = dec[s][2];
        float *x = malloc((size_t)(M * K) * 4), *y = malloc((size_t)(M * N) * 4);
        for (int64_t i = 0; i < M * K; i++) x[i] = xgd_rng_normal(&rng);
        struct { const char *name; xgd_dtype dt; int layout; } v[4] = {
            {"f32 out,in", XGD_F32, XGD_W_OUT_IN}, {"f32 in,out", XGD_F32, XGD_W_IN_OUT},
            {"bf16 out,in", XGD_BF16, XGD_W_OUT_IN}, {"bf16 in,out", XGD_BF16, XGD_W_IN_OUT}};
        for (int i = 0; i < 4; i++) {
            void *w = make_weight(v[i].dt, N * K, &rng);
            xgd_wmat W = {w, v[i].dt, N, K, v[i].layout};
            double t = time_linear(K_LINEAR, y, x, M, &W, NULL, reps * 3);
            printf("%-24s %6lld %6lld %6lld %10.3f %9.1f %9.1f\n", v[i].name, (long long)M, (long long)K, (long long)N,
                   t * 1e3, (double)(N * K) * xgd_dtype_size(v[i].dt) / t * 1e-9, 2.0 * M * N * K / t * 1e-9);
            free(w);
        }
        free(x); free(y);
    }
    return 0;
}
