/* bench_rowops: the non-matmul ops of a transformer layer at GPT-2-small prefill shapes (T=512,
 * C=768, 4C=3072) and the loss over a 50257-token vocabulary, in ms per call and GB/s of f32
 * data touched. Compare with XGD_NO_AVX512=1 to see the vector kernels' share.
 * Usage: bench_rowops [reps] */
#include "ops/ops.h"
#include "ops/process_env.h"
#include "base/log.h"
#include "base/rng.h"
#include <stdio.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { T = 512, C = 768, F = 3072, V = 50257 };
static float *x, *y, *g, *w, *b, *mean, *rstd, *logits, *lp, *lse;
static int32_t tgt[T];

static void run(int op) {
    switch (op) {
    case 0: xgd_gelu_tanh(y, x, (int64_t)T * F); break;
    case 1: xgd_gelu_tanh_backward(g, y, x, (int64_t)T * F); break;
    case 2: xgd_gated(XGD_ACT_SILU, y, x, g, (int64_t)T * F); break;
    case 3: xgd_layernorm(y, mean, rstd, x, w, b, T, C, 1e-5f); break;
    case 4: xgd_layernorm_backward(g, w, b, y, x, w, mean, rstd, T, C); break;
    case 5: xgd_rmsnorm(y, rstd, x, w, T, C, 1e-5f); break;
    case 6: xgd_logprob_gather(lp, lse, logits, tgt, T, V); break;
    case 7: xgd_logprob_gather_backward(logits, lp, logits, lse, tgt, T, V); break;
    default: xgd_softmax_rows(y, T * 12, T); break;
    }
}

int main(int argc, char **argv) {
    xgd_process_env(argv);   /* OpenBLAS core type and GOMP_SPINCOUNT before the libraries start */
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 64) reps = 5;
    xgd_rng r;
    xgd_rng_init(&r, 9, 0);
    const int64_t big = (int64_t)T * V > (int64_t)T * 12 * T ? (int64_t)T * V : (int64_t)T * 12 * T;
    x = malloc((size_t)big * 4); y = malloc((size_t)big * 4); g = calloc((size_t)big, 4);
    w = malloc(C * 4); b = malloc(C * 4); mean = malloc(T * 4); rstd = malloc(T * 4);
    logits = malloc((size_t)T * V * 4); lp = malloc(T * 4); lse = malloc(T * 4);
    for (int64_t i = 0; i < big; i++) { x[i] = xgd_rng_normal(&r); y[i] = x[i]; }
    for (int64_t i = 0; i < (int64_t)T * V; i++) logits[i] = 3 * x[i];
    for (int i = 0; i < C; i++) { w[i] = 1; b[i] = 0; }
    for (int i = 0; i < T; i++) { tgt[i] = (int32_t)(i * 97 % V); lp[i] = 1e-3f; }
    const struct { const char *name; double bytes; } ops[9] = {
        {"gelu_tanh fwd (T,4C)", 8.0 * T * F}, {"gelu_tanh bwd (T,4C)", 16.0 * T * F}, {"swiglu fwd (T,4C)", 12.0 * T * F},
        {"layernorm fwd (T,C)", 8.0 * T * C}, {"layernorm bwd (T,C)", 16.0 * T * C}, {"rmsnorm fwd (T,C)", 8.0 * T * C},
        {"logprob fwd (T,50257)", 4.0 * T * V}, {"logprob bwd (T,50257)", 8.0 * T * V}, {"softmax (12T,T)", 8.0 * 12 * T * T}};
    printf("threads %d\n%-26s %10s %8s\n", xgd_num_threads(), "op", "ms", "GB/s");
    for (int op = 0; op < 9; op++) {
        double t[64];
        run(op);
        for (int i = 0; i < reps; i++) { double t0 = xgd_now(); run(op); t[i] = xgd_now() - t0; }
        qsort(t, (size_t)reps, sizeof t[0], cmp_d);
        printf("%-26s %10.3f %8.1f\n", ops[op].name, t[reps / 2] * 1e3, ops[op].bytes / t[reps / 2] * 1e-9);
    }
    return 0;
}
